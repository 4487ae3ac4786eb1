//! # tracewire-nats
//!
//! tracewire for NATS over [`async_nats`]: core publish/subscribe and request/reply, and
//! JetStream publish (span ends on the `PublishAck`) and consumers (span ends on `ack`, `nak`,
//! `term`). Headers `traceparent`, `tracestate`, `baggage`, `correlation_id` are written through
//! async-nats' fallible constructors only, so a hostile value never panics.
//!
//! `messaging.system` is `nats`: NATS is not yet in the OpenTelemetry semantic-conventions
//! registry, and `nats` is the value the other OpenTelemetry instrumentations use.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use tracewire_nats::TracedClient;
//!
//! # async fn run() -> Result<(), async_nats::Error> {
//! let nats = TracedClient::new(async_nats::connect("127.0.0.1:4222").await?);
//! let mut orders = nats.subscribe("orders.>").await?;
//! nats.publish("orders.created", "{}".into()).await?; // span `publish orders.created`
//! if let Some(message) = orders.next().await {
//!     message.in_context(async { /* one trace with the publisher */ }).await;
//! }
//! # Ok(()) }
//! ```
//!
//! ## Ordering and lifetimes
//!
//! - Wrappers may be built before the tracer provider is installed; they record once it is.
//! - Core NATS keeps nothing: subscribe (and `flush`) before the first publish you want to see.
//!   A core [`TracedMessage`] has nothing to settle: dropped after handling, its span ends done.
//! - A [`TracedJsMessage`] owns its span until `ack`, `nak` or `term` (`in_progress` keeps it
//!   open); dropped unacked, the span ends marked `tracewire.settled = false` and the server
//!   redelivers.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ack_subject;
mod core_nats;
mod headers;
mod jetstream;

pub use core_nats::{TracedClient, TracedMessage, TracedSubscriber, WrapNats};
pub use headers::{extract, inject, NatsHeaders};
pub use jetstream::{
    TracedJetStream, TracedJsMessage, TracedJsStream, TracedPublishAck, WrapJetStream,
};

use tracewire::messaging::System;

/// `tracewire.nats.stream`: the JetStream stream.
pub const NATS_STREAM: &str = "tracewire.nats.stream";
/// `tracewire.nats.sequence`: the message's stream sequence.
pub const NATS_SEQUENCE: &str = "tracewire.nats.sequence";

/// NATS: `messaging.system = nats`.
pub const SYSTEM: System = System::new("nats");

tracewire::messaging_presets!(SYSTEM, "NATS");
