//! What the span-log benches share.

use opentelemetry::KeyValue;

/// A consumer span's attributes as tracewire records them (10), with Kafka offset `offset`.
pub(crate) fn consumer_attributes(offset: i64) -> Vec<KeyValue> {
    vec![
        KeyValue::new("messaging.system", "kafka"),
        KeyValue::new("messaging.operation.name", "process"),
        KeyValue::new("messaging.operation.type", "process"),
        KeyValue::new("messaging.destination.name", "orders"),
        KeyValue::new("messaging.destination.partition.id", "3"),
        KeyValue::new("messaging.consumer.group.name", "fulfillment"),
        KeyValue::new(
            "messaging.message.conversation_id",
            "9f0c2a4e-5d1b-4c6e-8a3f-0b7d2e1c4a59",
        ),
        KeyValue::new("messaging.message.body.size", 512),
        KeyValue::new("messaging.kafka.offset", offset),
        KeyValue::new("tracewire.settled", true),
    ]
}
