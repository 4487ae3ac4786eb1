//! RabbitMQ destination names, as the messaging conventions spell them.

use std::borrow::Cow;

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

/// Room for a publish's destination name: an exchange and a routing key are AMQP short strings,
/// at most 255 bytes each.
pub(crate) const PUBLISH_NAME_ROOM: usize = 2 * 255 + 1;

/// [`publish_destination`] written into `room`: a publish names its destination for every
/// message, and this costs no allocation (one only for parts longer than a short string, which
/// the broker refuses anyway).
pub(crate) fn publish_destination_in<'r>(
    room: &'r mut [u8; PUBLISH_NAME_ROOM],
    exchange: &str,
    routing_key: &str,
) -> Cow<'r, str> {
    let exchange = exchange_name(exchange);
    let len = exchange.len() + usize::from(!routing_key.is_empty()) * (1 + routing_key.len());
    let Some(name) = room.get_mut(..len) else {
        return Cow::Owned(publish_destination(exchange, routing_key));
    };
    let (head, tail) = name.split_at_mut(exchange.len());
    head.copy_from_slice(exchange.as_bytes());
    if let Some((colon, key)) = tail.split_first_mut() {
        *colon = b':';
        key.copy_from_slice(routing_key.as_bytes());
    }
    // Two `str`s and an ASCII colon: always UTF-8.
    Cow::Borrowed(std::str::from_utf8(name).unwrap_or_default())
}

/// `{exchange}:{routing_key}:{queue}` (parts that are empty are left out, the exchange never).
pub fn consume_destination(exchange: &str, routing_key: &str, queue: &str) -> String {
    joined(&[exchange_name(exchange), routing_key, queue])
}

/// A consumer's destination name, made again only when a delivery's exchange or routing key
/// differs from the last delivery's (the queue is the consumer's own): a consumer's deliveries
/// mostly share both, and the name is otherwise an allocation per delivery.
#[derive(Debug, Default)]
pub(crate) struct LastDestination {
    exchange: String,
    routing_key: String,
    name: String,
}

impl LastDestination {
    /// [`consume_destination`] of these parts.
    pub(crate) fn of(&mut self, exchange: &str, routing_key: &str, queue: &str) -> &str {
        if self.name.is_empty() || self.exchange != exchange || self.routing_key != routing_key {
            self.exchange.clear();
            self.exchange.push_str(exchange);
            self.routing_key.clear();
            self.routing_key.push_str(routing_key);
            self.name = consume_destination(exchange, routing_key, queue);
        }
        &self.name
    }
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

    #[test]
    fn a_publish_names_its_destination_in_place_and_past_the_room_allocates() {
        let mut room = [0; PUBLISH_NAME_ROOM];
        for (exchange, key) in [("", "payments"), ("shop", ""), ("shop", "pay.eu"), ("", "")] {
            let name = publish_destination_in(&mut room, exchange, key);
            assert!(matches!(name, Cow::Borrowed(_)));
            assert_eq!(name, publish_destination(exchange, key));
        }
        let (long, key) = ("x".repeat(300), "y".repeat(300));
        let name = publish_destination_in(&mut room, &long, &key);
        assert!(matches!(name, Cow::Owned(_)));
        assert_eq!(name, format!("{long}:{key}"));
    }

    #[test]
    fn the_last_destination_follows_the_deliveries() {
        let mut last = LastDestination::default();
        assert_eq!(last.of("shop", "pay", "q1"), "shop:pay:q1");
        assert_eq!(last.of("shop", "pay", "q1"), "shop:pay:q1");
        assert_eq!(last.of("shop", "refund", "q1"), "shop:refund:q1");
        assert_eq!(last.of("", "refund", "q1"), "amq.default:refund:q1");
    }
}
