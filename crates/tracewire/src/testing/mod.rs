//! Test support (feature `testing`): a tracer that records finished spans in memory, helpers to
//! look at them, assertions about hops ([`assert_continues`], [`assert_correlation_survived`],
//! [`assert_all_ended`], [`assert_no_baggage_leak`]), a corpus of hostile headers,
//! tracewire's warnings captured ([`Warnings`]), and allocations counted
//! ([`count_allocations!`](crate::count_allocations)). Used by tracewire's own tests and handy
//! for yours.

mod allocations;
mod assertions;
pub mod hostile;
mod warnings;

pub use assertions::{
    assert_all_ended, assert_continues, assert_correlation_survived, assert_no_baggage_leak,
    baggage_of, wire_baggage,
};
pub use warnings::Warnings;

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry::{Key, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracerProvider, Span, SpanData, SpanProcessor,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A tracer provider whose finished spans can be read back.
///
/// ```
/// use tracewire::testing::SpanRecorder;
/// use opentelemetry::trace::{Tracer, TracerProvider};
///
/// let recorder = SpanRecorder::new();
/// recorder.provider().tracer("t").in_span("work", |_| {});
/// assert_eq!(recorder.spans()[0].name, "work");
/// ```
#[derive(Debug, Clone)]
pub struct SpanRecorder {
    provider: SdkTracerProvider,
    exporter: InMemorySpanExporter,
    started: Arc<AtomicUsize>,
}

/// Counts spans as they start, so tests can check that every started span also ended.
#[derive(Debug)]
struct StartCounter(Arc<AtomicUsize>);

impl SpanProcessor for StartCounter {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn on_end(&self, _span: SpanData) {}
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

impl Default for SpanRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl SpanRecorder {
    /// A provider that samples everything and exports each span as it ends.
    pub fn new() -> Self {
        let exporter = InMemorySpanExporter::default();
        let started = Arc::new(AtomicUsize::new(0));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(StartCounter(started.clone()))
            .with_simple_exporter(exporter.clone())
            .build();
        SpanRecorder {
            provider,
            exporter,
            started,
        }
    }

    /// The provider.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// A boxed tracer for [`MessagingBuilder::tracer`](crate::messaging::MessagingBuilder::tracer).
    pub fn tracer(&self) -> BoxedTracer {
        BoxedTracer::new(Box::new(self.provider.tracer("tracewire-test")))
    }

    /// Every span that has ended, in the order they ended.
    pub fn spans(&self) -> Vec<SpanData> {
        self.exporter.get_finished_spans().unwrap_or_default()
    }

    /// The ended span named `name`; panics (in a test) when there is not exactly one.
    pub fn span(&self, name: &str) -> SpanData {
        let mut found: Vec<_> = self
            .spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect();
        assert_eq!(found.len(), 1, "expected one span named {name:?}");
        found.remove(0)
    }

    /// How many spans have started (ended or not).
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Forgets the spans recorded so far.
    pub fn reset(&self) {
        self.exporter.reset();
    }
}

/// The value of attribute `key` on `span`.
pub fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == Key::from(key.to_owned()))
        .map(|kv| &kv.value)
}

/// The attribute as a string (whatever its type), for short assertions.
pub fn attribute_str(span: &SpanData, key: &str) -> Option<String> {
    attribute(span, key).map(|v| v.as_str().into_owned())
}

/// Trace id and span id of `span`.
pub fn ids(span: &SpanData) -> (TraceId, SpanId) {
    (span.span_context.trace_id(), span.span_context.span_id())
}

/// Kafka messaging instrumentation whose tracer samples nothing (its provider stays alive with
/// the tracer): for tests of what a span that does not record costs and carries.
pub fn unsampled_messaging() -> crate::messaging::MessagingBuilder {
    use crate::messaging::{Messaging, System};
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
        .build();
    Messaging::builder(System::new("kafka")).tracer(provider.tracer("unsampled"))
}

/// Kafka messaging instrumentation on `tracer` that links a message's span to its parent too
/// (so a span's links have something to show), and a send of `{}` to `orders` opened by it, its
/// context injected into the returned headers: what the start-listener and span-log tests
/// start from. End the send yourself.
pub fn linked_send(
    tracer: BoxedTracer,
) -> (
    crate::messaging::Messaging,
    crate::OpenSpan,
    crate::carrier::MemoryHeaders,
) {
    use crate::messaging::{Messaging, OperationSpec, OperationType, System};
    let m = Messaging::builder(System::new("kafka"))
        .tracer(tracer)
        .link_parent(true)
        .build();
    let send = m.open_send(
        &Context::new(),
        OperationSpec::new(OperationType::Send, "send", "orders").body(b"{}"),
    );
    let mut headers = crate::carrier::MemoryHeaders::new();
    m.propagator().inject(send.context(), &mut headers);
    (m, send, headers)
}

/// A remote, sampled parent (`4bf92f35…`/`00f067aa…`) with correlation id `order-7f3a9c`: the
/// context the benchmarks and allocation tests inject and extract.
pub fn sample_context() -> Context {
    use crate::{CorrelationContextExt, CorrelationId};
    use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
    let sc = SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId::from(0x00f0_67aa_0ba9_02b7),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    let id = CorrelationId::parse(b"order-7f3a9c").unwrap_or_else(|_| CorrelationId::generate());
    Context::new()
        .with_remote_span_context(sc)
        .with_correlation_id(id)
}
