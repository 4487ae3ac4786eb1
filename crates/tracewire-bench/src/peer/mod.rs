//! The peer: tracing written by hand with the OpenTelemetry SDK, the way most Rust services do
//! it today (there is no `opentelemetry-instrumentation-rdkafka`, `-lapin` or `-async-nats` crate
//! on crates.io): the SDK's `TraceContextPropagator` through an `Injector`/`Extractor` over the
//! client's own headers, a PRODUCER span per send (ended on the broker's answer where there is
//! one), a CONSUMER span per message parented on the extracted context. No correlation id, no
//! metrics.

pub mod kafka;
pub mod nats;
