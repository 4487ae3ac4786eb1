//! Shared helpers for the integration tests: broker addresses (from the environment, with the
//! local defaults `scripts/brokers.sh` starts) and names unique to each test run.

#![allow(missing_docs)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// `AMQP_URL`, default the local RabbitMQ.
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// `NATS_URL`, default the local nats-server.
pub fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// `KAFKA_BROKERS`, default the local Kafka-protocol broker.
pub fn kafka_brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// A name no other test (or earlier run) uses: `{prefix}-{pid}-{nanos}-{n}`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Checks the span a wrapped consumer made for one hostile case: parent kept or fresh as the case
/// says, the correlation id kept or fresh, no hostile value recorded.
pub fn check_hostile(
    case: &tracewire::testing::hostile::Case,
    span: &opentelemetry_sdk::trace::SpanData,
    correlation_id: &str,
) {
    use tracewire::testing::hostile::{Trace, VALID_PARENT_ID};
    let parent = u64::from_be_bytes(span.parent_span_id.to_bytes());
    match case.trace {
        Trace::Kept => assert_eq!(
            parent, VALID_PARENT_ID,
            "{}: the valid parent is kept",
            case.name
        ),
        Trace::Fresh => assert_eq!(parent, 0, "{}: a fresh trace", case.name),
    }
    match case.correlation {
        Some(id) => assert_eq!(correlation_id, id, "{}", case.name),
        None => assert_eq!(
            correlation_id.len(),
            36,
            "{}: a fresh correlation id, not {correlation_id:?}",
            case.name
        ),
    }
    for kv in &span.attributes {
        let v = kv.value.as_str();
        assert!(
            !v.contains(case.poison) && !v.contains(['\r', '\n', '\0']) && v.len() <= 1024,
            "{}: hostile value recorded in {}",
            case.name,
            kv.key
        );
    }
}
