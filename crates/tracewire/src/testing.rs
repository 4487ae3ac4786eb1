//! Test support (feature `testing`): a tracer that records finished spans in memory, and helpers
//! to look at them. Used by tracewire's own tests and handy for yours.

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry::{Key, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

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
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        SpanRecorder { provider, exporter }
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
