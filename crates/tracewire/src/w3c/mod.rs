//! The W3C wire formats: Trace Context (`traceparent`, `tracestate`) and Baggage.
//!
//! These are strict codecs written to the letter of the specifications, working on header bytes
//! (Kafka and AMQP header values are bytes, not strings). They never panic and never allocate
//! without bound, whatever they are given.

pub mod baggage;
mod hex;
pub mod traceparent;
pub mod tracestate;

/// What a received trace context carried that OpenTelemetry's `SpanContext` cannot keep past
/// the first local span: the Level 2 random flag (the SDK computes a child's flags from its
/// sampler) and the `tracestate` members its `TraceState` refuses. Kept for the trace it came
/// with, re-emitted on every inject of that trace. Inline: no allocation unless members were
/// refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct W3cExtras {
    pub(crate) trace_id: opentelemetry::trace::TraceId,
    pub(crate) random: bool,
    pub(crate) beside: Option<std::sync::Arc<[tracestate::BesideMember]>>,
}

/// Optional white space around list members and header values: space and horizontal tab.
pub(crate) fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}
