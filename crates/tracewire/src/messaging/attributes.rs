//! OpenTelemetry messaging semantic-convention attribute names used by tracewire.

/// `messaging.system`: `kafka`, `rabbitmq`, `nats`.
pub const SYSTEM: &str = "messaging.system";
/// `messaging.operation.name`: the system's own verb (`send`, `publish`, `process`, `ack`…).
pub const OPERATION_NAME: &str = "messaging.operation.name";
/// `messaging.operation.type`: `send`, `receive`, `process`, `settle`.
pub const OPERATION_TYPE: &str = "messaging.operation.type";
/// `messaging.destination.name`: topic, exchange:routing key, subject.
pub const DESTINATION_NAME: &str = "messaging.destination.name";
/// `messaging.destination.template`: the low-cardinality form of a destination.
pub const DESTINATION_TEMPLATE: &str = "messaging.destination.template";
/// `messaging.destination.partition.id`.
pub const DESTINATION_PARTITION_ID: &str = "messaging.destination.partition.id";
/// `messaging.kafka.offset`.
pub const KAFKA_OFFSET: &str = "messaging.kafka.offset";
/// `messaging.kafka.message.key` (only on opt-in).
pub const KAFKA_MESSAGE_KEY: &str = "messaging.kafka.message.key";
/// `messaging.message.id`.
pub const MESSAGE_ID: &str = "messaging.message.id";
/// `messaging.message.conversation_id`: the correlation id.
pub const CONVERSATION_ID: &str = crate::CONVERSATION_ID_ATTRIBUTE;
/// `messaging.destination.subscription.name`: the queue a RabbitMQ consumer reads.
pub const SUBSCRIPTION_NAME: &str = "messaging.destination.subscription.name";
/// `messaging.consumer.group.name`.
pub const CONSUMER_GROUP_NAME: &str = "messaging.consumer.group.name";
/// `messaging.message.body.size`.
pub const BODY_SIZE: &str = "messaging.message.body.size";
/// `messaging.batch.message_count`.
pub const BATCH_MESSAGE_COUNT: &str = "messaging.batch.message_count";
/// `messaging.rabbitmq.destination.routing_key`.
pub const RABBITMQ_ROUTING_KEY: &str = "messaging.rabbitmq.destination.routing_key";
/// `messaging.rabbitmq.message.delivery_tag`.
pub const RABBITMQ_DELIVERY_TAG: &str = "messaging.rabbitmq.message.delivery_tag";
/// `server.address`.
pub const SERVER_ADDRESS: &str = "server.address";
/// `server.port`.
pub const SERVER_PORT: &str = "server.port";
pub use crate::span::{ERROR_TYPE, SETTLED};
/// `tracewire.message.key`: message key on systems without a semconv key attribute (opt-in).
pub const MESSAGE_KEY: &str = "tracewire.message.key";
/// `tracewire.message.payload`: message body (opt-in per destination; may be personal data).
pub const MESSAGE_PAYLOAD: &str = "tracewire.message.payload";
/// `tracewire.redelivered`: the broker says this delivery was delivered before.
pub const REDELIVERED: &str = "tracewire.redelivered";
