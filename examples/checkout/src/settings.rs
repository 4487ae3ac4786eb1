//! Where the brokers are (defaults: the ports docker-compose.yml publishes), the names of the
//! topic, queue and subject, and a fail-fast reachability check.

use std::net::ToSocketAddrs;
use std::time::Duration;

/// Broker addresses and destination names for one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `KAFKA_BROKERS`.
    pub kafka: String,
    /// `AMQP_URL`.
    pub amqp: String,
    /// `NATS_URL`.
    pub nats: String,
    /// Kafka topic.
    pub orders: String,
    /// RabbitMQ queue.
    pub payments: String,
    /// NATS JetStream subject.
    pub fulfillment: String,
    /// JetStream stream.
    pub stream: String,
    /// Prefix for consumer groups and durable consumers.
    pub namespace: String,
    /// `KAFKA_BROKERS` was given: a Kafka that is not there is an error, not a reason to embed one.
    pub kafka_given: bool,
    /// Kafka is librdkafka's in-process mock cluster (topics made by it, not the admin API).
    pub kafka_embedded: bool,
}

impl Settings {
    /// From the environment; `namespace` isolates one run's names (empty: the plain names).
    pub fn from_env(namespace: &str) -> Self {
        let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
        let name = |base: &str| {
            if namespace.is_empty() {
                base.to_owned()
            } else {
                format!("{namespace}-{base}")
            }
        };
        Settings {
            kafka_given: std::env::var_os("KAFKA_BROKERS").is_some(),
            kafka_embedded: false,
            kafka: var("KAFKA_BROKERS", "127.0.0.1:9092"),
            amqp: var("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            nats: var("NATS_URL", "nats://127.0.0.1:4222"),
            orders: name("orders"),
            payments: name("payments"),
            fulfillment: if namespace.is_empty() {
                "fulfillment.requested".into()
            } else {
                format!("fulfillment.{namespace}.requested")
            },
            stream: if namespace.is_empty() {
                "FULFILLMENT".into()
            } else {
                format!("FULFILLMENT_{}", namespace.replace('-', "_"))
            },
            namespace: if namespace.is_empty() {
                "checkout".into()
            } else {
                namespace.to_owned()
            },
        }
    }

    /// Whether the Kafka broker answers.
    pub fn kafka_reachable(&self) -> bool {
        reachable(self.kafka.split(',').next().unwrap_or(""))
    }

    /// Fails fast, naming the broker and how to start it, when one is not reachable.
    pub fn check_reachable(&self) -> Result<(), String> {
        let amqp_host = self
            .amqp
            .split('@')
            .next_back()
            .unwrap_or("")
            .split('/')
            .next()
            .unwrap_or("");
        let nats_host = self.nats.trim_start_matches("nats://");
        let kafka_host = self.kafka.split(',').next().unwrap_or("");
        for (broker, addr, start) in [
            (
                "Kafka",
                kafka_host,
                "scripts/brokers.sh kafka   (or: docker compose up -d kafka)",
            ),
            (
                "RabbitMQ",
                amqp_host,
                "scripts/brokers.sh rabbitmq   (or: docker compose up -d rabbitmq)",
            ),
            (
                "NATS",
                nats_host,
                "scripts/brokers.sh nats   (or: docker compose up -d nats)",
            ),
        ] {
            if !reachable(addr) {
                return Err(format!(
                    "{broker} is not reachable at {addr}. Start it with: {start}"
                ));
            }
        }
        Ok(())
    }
}

/// Whether something listens at `addr` (host:port), within two seconds.
fn reachable(addr: &str) -> bool {
    (addr.to_socket_addrs().ok())
        .and_then(|mut a| a.next())
        .is_some_and(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
}
