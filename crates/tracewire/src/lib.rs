//! # tracewire
//!
//! Keeps one distributed trace alive across asynchronous hops: HTTP → Kafka → RabbitMQ → NATS →
//! background jobs. This is the core: it knows no broker.
//!
//! - [`w3c`]: strict, allocation-free W3C Trace Context and Baggage codecs over header bytes.
//! - [`CorrelationId`]: a business id in the OpenTelemetry [`Context`](opentelemetry::Context),
//!   kept across hops ([`CorrelationContextExt`]).
//! - [`carrier`]: the header traits the broker crates implement.
//! - [`Propagator`]: inject and extract all of it in one pass, never failing the caller.
//! - [`messaging`]: OpenTelemetry messaging spans (names, kinds, attributes, topology policy).
//! - [`task`]: the context survives `spawn`, `spawn_blocking`, `JoinSet`, streams, jobs, batches.
//!
//! ```
//! use tracewire::{carrier::MemoryHeaders, CorrelationContextExt, Propagator};
//! use opentelemetry::Context;
//!
//! // Producer side: write the current context into the outgoing headers.
//! let propagator = Propagator::new();
//! let cx = Context::new().with_correlation_id_or_new();
//! let mut headers = MemoryHeaders::new();
//! propagator.inject(&cx, &mut headers);
//!
//! // Consumer side: read it back; nothing here can fail the message.
//! let extracted = propagator.extract(&headers);
//! assert_eq!(extracted.context.correlation_id(), cx.correlation_id());
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod carrier;
mod correlation;
pub mod messaging;
mod propagator;
mod stats;
pub mod task;
#[cfg(feature = "testing")]
pub mod testing;
mod tracer;
pub mod w3c;

pub use correlation::{
    CorrelationContextExt, CorrelationId, CorrelationIdError, CONVERSATION_ID_ATTRIBUTE,
};
pub use propagator::{
    CorrelationProblem, ExtractIssues, Extracted, Propagator, PropagatorBuilder, TraceProblem,
    BAGGAGE, TRACEPARENT, TRACESTATE,
};
pub use stats::{PropagationStats, StatsSnapshot};

/// The instrumentation scope of everything tracewire starts itself (spans and metrics).
pub(crate) fn scope() -> opentelemetry::InstrumentationScope {
    opentelemetry::InstrumentationScope::builder("tracewire")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}
