//! The W3C wire formats: Trace Context (`traceparent`, `tracestate`) and Baggage.
//!
//! These are strict codecs written to the letter of the specifications, working on header bytes
//! (Kafka and AMQP header values are bytes, not strings). They never panic and never allocate
//! without bound, whatever they are given.

pub mod baggage;
mod hex;
pub mod traceparent;
pub mod tracestate;

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
