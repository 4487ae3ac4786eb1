//! RabbitMQ destination names, as the messaging conventions spell them.

/// The conventions' name for the default (nameless) exchange.
pub const DEFAULT_EXCHANGE: &str = "amq.default";

fn exchange_name(exchange: &str) -> &str {
    if exchange.is_empty() {
        DEFAULT_EXCHANGE
    } else {
        exchange
    }
}

/// `{exchange}:{routing_key}` (or the exchange alone when there is no routing key).
pub fn publish_destination(exchange: &str, routing_key: &str) -> String {
    joined(&[exchange_name(exchange), routing_key])
}

/// `{exchange}:{routing_key}:{queue}` (parts that are empty are left out, the exchange never).
pub fn consume_destination(exchange: &str, routing_key: &str, queue: &str) -> String {
    joined(&[exchange_name(exchange), routing_key, queue])
}

/// The non-empty `parts` joined by `:`, in one allocation of the exact size: made for every
/// message, where `format!` and a push cost several times as much.
fn joined(parts: &[&str]) -> String {
    let parts = || parts.iter().filter(|p| !p.is_empty());
    let mut name = String::with_capacity(parts().map(|p| p.len() + 1).sum());
    for part in parts() {
        if !name.is_empty() {
            name.push(':');
        }
        name.push_str(part);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(publish_destination("", "payments"), "amq.default:payments");
        assert_eq!(publish_destination("shop", ""), "shop");
        assert_eq!(consume_destination("shop", "pay", "q1"), "shop:pay:q1");
        assert_eq!(consume_destination("", "q1", "q1"), "amq.default:q1:q1");
        assert_eq!(consume_destination("shop", "", "q1"), "shop:q1");
        assert_eq!(consume_destination("shop", "", ""), "shop");
    }
}
