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
//! - [`OpenSpan`] / [`Outcome`]: the span of one operation, ended exactly once.
//! - [`wrapper`]: the skeleton every broker crate is built from (send, receive, settle, stream).
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
mod diagnostics;
pub mod header;
pub mod messaging;
mod propagator;
pub mod span;
mod stats;
pub mod task;
#[cfg(feature = "testing")]
pub mod testing;
mod traced;
pub mod tracer;
pub mod w3c;
pub mod wrapper;

pub use correlation::{
    CorrelationContextExt, CorrelationId, CorrelationIdError, CONVERSATION_ID_ATTRIBUTE,
};
pub use header::{BAGGAGE, TRACEPARENT, TRACESTATE};
pub use propagator::{
    CorrelationProblem, ExtractIssues, Extracted, Propagator, PropagatorBuilder, TraceProblem,
};
pub use span::{OpenSpan, Outcome};
pub use stats::{PropagationStats, StatsSnapshot};
pub use traced::{Traced, TracedExt};

/// The semantic conventions tracewire's spans and metrics follow (docs/semconv.md), as the
/// schema URL of its instrumentation scope.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.44.0";

/// The instrumentation scope of everything tracewire starts itself (spans and metrics).
pub(crate) fn scope() -> opentelemetry::InstrumentationScope {
    opentelemetry::InstrumentationScope::builder("tracewire")
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(SCHEMA_URL)
        .build()
}
