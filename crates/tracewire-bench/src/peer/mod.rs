//! The peer: tracing written by hand with the OpenTelemetry SDK, the way most Rust services do
//! it today (there is no `opentelemetry-instrumentation-rdkafka`, `-lapin` or `-async-nats` crate
//! on crates.io): the SDK's `TraceContextPropagator` through an `Injector`/`Extractor` over the
//! client's own headers, a PRODUCER span per send (ended on the broker's answer where there is
//! one), a CONSUMER span per message parented on the extracted context. No correlation id, no
//! metrics.

pub mod amqp;
pub mod kafka;
pub mod nats;

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};

/// What the peer writes for a send: a PRODUCER span `{destination} {verb}` in the current
/// context with the conventions' three attributes; the context holding it, to inject.
fn producer_context(
    tracer: &BoxedTracer,
    system: &'static str,
    destination: &str,
    verb: &str,
) -> Context {
    let span = tracer
        .span_builder(format!("{destination} {verb}"))
        .with_kind(SpanKind::Producer)
        .with_attributes([
            KeyValue::new("messaging.system", system),
            KeyValue::new("messaging.destination.name", destination.to_owned()),
            KeyValue::new("messaging.operation.type", "send"),
        ])
        .start_with_context(tracer, &Context::current());
    Context::current_with_span(span)
}

/// What the peer writes for a received message: a CONSUMER span `{destination} process`
/// parented on the extracted context, the conventions' attributes and `extra` (Kafka's offset),
/// made the context the handler runs in — its logs, calls and sends join the trace only so; a
/// tracewire message hands its handler the same — and ended when the handler is done (here: at
/// once).
fn consumer_span(
    tracer: &BoxedTracer,
    system: &'static str,
    destination: &str,
    parent: &Context,
    extra: Option<KeyValue>,
) {
    let attributes = [
        KeyValue::new("messaging.system", system),
        KeyValue::new("messaging.destination.name", destination.to_owned()),
        KeyValue::new("messaging.operation.type", "process"),
    ];
    let span = tracer
        .span_builder(format!("{destination} process"))
        .with_kind(SpanKind::Consumer)
        .with_attributes(attributes.into_iter().chain(extra))
        .start_with_context(tracer, parent);
    let handler = parent.with_span(span);
    std::hint::black_box(&handler); // the handler would run here, in this context
    handler.span().end();
}
