//! OpenTelemetry messaging semantic-convention attribute names used by tracewire's core. A
//! system's own attributes (`messaging.kafka.*`, `messaging.rabbitmq.*`…) are its broker
//! crate's: the core names no broker.

/// `messaging.system`: the broker crate's `SYSTEM`.
pub const SYSTEM: &str = "messaging.system";
/// `messaging.operation.name`: the system's own verb (`send`, `publish`, `process`, `ack`…).
pub const OPERATION_NAME: &str = "messaging.operation.name";
/// `messaging.operation.type`: `send`, `receive`, `process`, `settle`.
pub const OPERATION_TYPE: &str = "messaging.operation.type";
/// `messaging.destination.name`: what the system sends to (its crate says how it is spelled).
pub const DESTINATION_NAME: &str = "messaging.destination.name";
/// `messaging.destination.template`: the low-cardinality form of a destination.
pub const DESTINATION_TEMPLATE: &str = "messaging.destination.template";
/// `messaging.destination.partition.id`.
pub const DESTINATION_PARTITION_ID: &str = "messaging.destination.partition.id";
/// `messaging.message.id`.
pub const MESSAGE_ID: &str = "messaging.message.id";
/// `messaging.message.conversation_id`: the correlation id.
pub const CONVERSATION_ID: &str = crate::CONVERSATION_ID_ATTRIBUTE;
/// `messaging.destination.subscription.name`: what a consumer reads from, where that differs
/// from where messages are sent (a queue bound to an exchange).
pub const SUBSCRIPTION_NAME: &str = "messaging.destination.subscription.name";
/// `messaging.consumer.group.name`.
pub const CONSUMER_GROUP_NAME: &str = "messaging.consumer.group.name";
/// `messaging.message.body.size`.
pub const BODY_SIZE: &str = "messaging.message.body.size";
/// `messaging.batch.message_count`.
pub const BATCH_MESSAGE_COUNT: &str = "messaging.batch.message_count";
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
