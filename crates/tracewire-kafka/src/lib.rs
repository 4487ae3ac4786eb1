//! # tracewire-kafka
//!
//! tracewire for Kafka over [`rdkafka`]: sends carry `traceparent`, `tracestate`, `baggage` and
//! `correlation_id` headers (UTF-8 bytes) and a PRODUCER span that ends on the delivery report;
//! consumed messages own a `process {topic}` span parented on the producer's context, ended by
//! commit, offset store or drop. Untrusted headers are read through a path that cannot panic
//! (rdkafka's own header iteration unwraps non-UTF-8 keys).
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use rdkafka::consumer::{CommitMode, Consumer};
//! use rdkafka::producer::FutureRecord;
//! use rdkafka::ClientConfig;
//! use tracewire_kafka::{TracedConsumer, TracedProducer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let producer = TracedProducer::new(ClientConfig::new().set("bootstrap.servers", "127.0.0.1:9092").create()?);
//! let record = FutureRecord::to("orders").key("o-1").payload("{}");
//! producer.send(record, std::time::Duration::from_secs(5)).await.map_err(|(e, _)| e)?;
//!
//! let consumer = TracedConsumer::from_config(ClientConfig::new()
//!     .set("bootstrap.servers", "127.0.0.1:9092").set("group.id", "inventory"))?;
//! consumer.inner().subscribe(&["orders"])?;
//! let mut messages = consumer.stream();
//! while let Some(message) = messages.next().await {
//!     let message = message?;
//!     message.in_context(async { /* one trace with the producer */ }).await;
//!     message.commit(CommitMode::Async)?; // ends the process span
//! }
//! # Ok(()) }
//! ```
//!
//! ## Ordering and lifetimes
//!
//! - Wrappers may be built before the tracer provider is installed; they record once it is.
//! - A [`TracedMessage`] borrows its consumer (as rdkafka's messages do): settle it with
//!   `commit`/`store_offset`, or `detach` it to hand the work to another task and commit it with
//!   [`TracedConsumer::commit_owned`] once every earlier message of its partition is done.
//! - Every message handed out must be dropped before its consumer: librdkafka's close waits for
//!   them.
//! - A message dropped unsettled ends its span marked `tracewire.settled = false`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod consumer;
mod headers;
mod partition;
mod producer;
mod raw;

pub use consumer::{ReceivedBatch, TracedConsumer, TracedMessage, TracedMessageStream, WrapKafka};
pub use headers::{extract, inject, KafkaHeaders};
pub use producer::{TracedDeliveryFuture, TracedProducer};

use tracewire::messaging::System;

/// `messaging.kafka.offset`.
pub const KAFKA_OFFSET: &str = "messaging.kafka.offset";
/// `messaging.kafka.message.tombstone`: set (true) on a record without a value.
pub const KAFKA_TOMBSTONE: &str = "messaging.kafka.message.tombstone";
/// `messaging.kafka.message.key` (only on opt-in).
pub const KAFKA_MESSAGE_KEY: &str = "messaging.kafka.message.key";

/// Kafka: `messaging.system = kafka`, keys (on opt-in) recorded as `messaging.kafka.message.key`.
pub const SYSTEM: System = System::new("kafka").with_key_attribute(KAFKA_MESSAGE_KEY);

tracewire::messaging_presets!(SYSTEM, "Kafka");
