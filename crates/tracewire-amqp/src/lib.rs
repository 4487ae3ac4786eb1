//! # tracewire-amqp
//!
//! tracewire for RabbitMQ over [`lapin`]: publishes carry `traceparent`, `tracestate`,
//! `baggage` and `correlation_id` headers (AMQP long strings) plus the AMQP `correlation-id`
//! property; deliveries own a `process` span parented on the producer's context and ended by
//! `ack`, `nack` or `reject`.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use lapin::{options::*, types::FieldTable, BasicProperties, Connection, ConnectionProperties};
//! use tracewire_amqp::{TracedChannel, TracedConsumer};
//!
//! # async fn run() -> lapin::Result<()> {
//! let conn = Connection::connect("amqp://127.0.0.1:5672", ConnectionProperties::default()).await?;
//! let channel = TracedChannel::new(conn.create_channel().await?);
//! channel.inner().confirm_select(ConfirmSelectOptions::default()).await?;
//! let confirm = channel
//!     .basic_publish("".into(), "payments".into(), BasicPublishOptions::default(), b"{}", BasicProperties::default())
//!     .await?;
//! confirm.await?; // the publish span ends on the broker's confirm
//!
//! let consumer = channel.inner()
//!     .basic_consume("payments".into(), "".into(), BasicConsumeOptions::default(), FieldTable::default())
//!     .await?;
//! let mut deliveries = TracedConsumer::new(consumer);
//! while let Some(delivery) = deliveries.next().await {
//!     let delivery = delivery?;
//!     delivery.in_context(async { /* handle: logs and spans join the producer's trace */ }).await;
//!     delivery.ack(BasicAckOptions::default()).await?; // ends the process span
//! }
//! # Ok(()) }
//! ```
//!
//! ## Ordering and lifetimes
//!
//! - Wrappers may be built before the tracer provider is installed; they record once it is.
//! - Turn publisher confirms on (`confirm_select`) before publishing, for spans that end on the
//!   broker's answer; without them a publish span ends once the message is written.
//! - A [`TracedDelivery`] owns its span until `ack`, `nack` or `reject`; dropped unsettled, the
//!   span ends marked `tracewire.settled = false` and RabbitMQ redelivers the message when the
//!   channel closes. `into_parts` hands the delivery to another task (settle it through its
//!   `acker`, end the span with `OpenSpan::end`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod consume;
mod destination;
mod headers;
mod publish;

pub use consume::{TracedConsumer, TracedDelivery, WrapDelivery};
pub use destination::{consume_destination, publish_destination, DEFAULT_EXCHANGE};
pub use headers::{extract, inject, AmqpHeaders, AmqpHeadersMut};
pub use publish::{ReplyError, TracedChannel, TracedConfirm};

use tracewire::messaging::System;

/// `messaging.rabbitmq.destination.routing_key`.
pub const RABBITMQ_ROUTING_KEY: &str = "messaging.rabbitmq.destination.routing_key";
/// `messaging.rabbitmq.message.delivery_tag`.
pub const RABBITMQ_DELIVERY_TAG: &str = "messaging.rabbitmq.message.delivery_tag";

/// RabbitMQ: `messaging.system = rabbitmq`.
pub const SYSTEM: System = System::new("rabbitmq");

tracewire::messaging_presets!(SYSTEM, "RabbitMQ");
