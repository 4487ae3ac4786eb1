//! The header names tracewire writes (always lower case), in one place: the carriers, the
//! propagator and the broker crates all take them from here.

/// W3C Trace Context: the parent span.
pub const TRACEPARENT: &str = "traceparent";
/// W3C Trace Context: vendor state.
pub const TRACESTATE: &str = "tracestate";
/// W3C Baggage.
pub const BAGGAGE: &str = "baggage";
/// The correlation id on Kafka, AMQP and NATS.
pub const CORRELATION_HEADER: &str = "correlation_id";
/// The correlation id over HTTP.
pub const HTTP_CORRELATION_HEADER: &str = "x-correlation-id";

/// The header name tracewire writes that equals `name`, as a `'static` string — so a carrier can
/// keep or convert it without copying per message — or `None` for any other name.
///
/// ```
/// assert_eq!(tracewire::header::static_name("traceparent"), Some("traceparent"));
/// assert_eq!(tracewire::header::static_name("x-user"), None);
/// ```
pub fn static_name(name: &str) -> Option<&'static str> {
    const KNOWN: [&str; 5] = [
        TRACEPARENT,
        TRACESTATE,
        BAGGAGE,
        CORRELATION_HEADER,
        HTTP_CORRELATION_HEADER,
    ];
    KNOWN.into_iter().find(|k| *k == name)
}
