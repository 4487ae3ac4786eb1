//! The tracer tracewire starts its own spans with (messaging, jobs, batches, and the HTTP hop of
//! tracewire-http), whatever its type.
//!
//! Erasing the tracer here, rather than holding a `BoxedTracer`, keeps the tracer's own span type:
//! `Context::with_span` boxes the span it is given, so a `BoxedSpan` would be boxed twice. A span
//! that does not record keeps only its `SpanContext` in the context: recording nothing, it has
//! nothing to end, and the context needs no box for it at all.

use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::{Span, SpanBuilder, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// Any tracer, as tracewire uses it: start a span and get the context it is active in. Cheap to
/// clone. The default is [`AnyTracer::global`].
///
/// ```
/// use opentelemetry::trace::{SpanBuilder, TraceContextExt};
/// use tracewire::tracer::AnyTracer;
///
/// let cx = AnyTracer::global().start_in(SpanBuilder::from_name("work"), &opentelemetry::Context::new());
/// assert!(!cx.span().is_recording(), "no provider installed: nothing recorded");
/// ```
#[derive(Clone)]
pub struct AnyTracer(Arc<dyn StartSpan>);

impl Default for AnyTracer {
    fn default() -> Self {
        Self::global()
    }
}

impl AnyTracer {
    /// Wraps `tracer`: its own span type is kept (a span is boxed once, by the `Context`).
    pub fn new<T>(tracer: T) -> Self
    where
        T: Tracer + Send + Sync + 'static,
        T::Span: Send + Sync + 'static,
    {
        AnyTracer(Arc::new(tracer))
    }

    /// The global provider's `tracewire` tracer. While the global provider is still the no-op
    /// one, it is looked up again at every span start, so a wrapper built before the provider
    /// is installed records once it is: the order of set-up does not matter.
    pub fn global() -> Self {
        AnyTracer(Arc::new(LateGlobal::default()))
    }

    /// Starts a span as a child of `parent` and returns `parent` with that span active (a span
    /// that does not record is kept as its `SpanContext` only).
    pub fn start_in(&self, builder: SpanBuilder, parent: &Context) -> Context {
        self.0.start_in(builder, parent, &mut |_| {})
    }

    /// [`start_in`](Self::start_in), giving a span that records the attributes `late` makes:
    /// ones the sampler need not see, made only for a span that records, and set before the
    /// span is shared (no lock).
    pub(crate) fn start_in_then(
        &self,
        builder: SpanBuilder,
        parent: &Context,
        late: Late<'_>,
    ) -> Context {
        self.0.start_in(builder, parent, late)
    }
}

impl fmt::Debug for AnyTracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AnyTracer")
    }
}

/// The attributes of a span that records, made only for one: each handed to the sink given.
pub(crate) type Late<'a> = &'a mut dyn FnMut(&mut dyn FnMut(KeyValue));

trait StartSpan: Send + Sync {
    fn start_in(&self, builder: SpanBuilder, parent: &Context, late: Late<'_>) -> Context;
}

impl<T> StartSpan for T
where
    T: Tracer + Send + Sync,
    T::Span: Send + Sync + 'static,
{
    fn start_in(&self, builder: SpanBuilder, parent: &Context, late: Late<'_>) -> Context {
        active_in(self.build_with_context(builder, parent), parent, late)
    }
}

/// `parent` with `span` active: the span itself when it records (with `late`'s attributes),
/// else only its context.
fn active_in<S: Span + Send + Sync + 'static>(
    mut span: S,
    parent: &Context,
    late: Late<'_>,
) -> Context {
    if span.is_recording() {
        late(&mut |kv| span.set_attribute(kv));
        parent.with_span(span)
    } else {
        // `with_remote_span_context` stores the span context as given (not marked remote).
        parent.with_remote_span_context(span.span_context().clone())
    }
}

/// The global tracer, kept once it is a real one (a provider is installed).
#[derive(Default)]
struct LateGlobal {
    real: OnceLock<BoxedTracer>,
}

impl StartSpan for LateGlobal {
    fn start_in(&self, builder: SpanBuilder, parent: &Context, late: Late<'_>) -> Context {
        if let Some(tracer) = self.real.get() {
            return tracer.start_in(builder, parent, late);
        }
        let tracer = global::tracer_with_scope(crate::scope());
        let span = tracer.build_with_context(builder, parent);
        if from_noop(&span, parent) {
            crate::diagnostics::noop_provider();
        } else {
            let _ = self.real.set(tracer);
        }
        active_in(span, parent, late)
    }
}

/// Whether `span` came from OpenTelemetry's no-op tracer: it records nothing and makes no span
/// of its own (it hands back the parent's context, or an invalid one). Any SDK, sampling or
/// not, gives a new span id.
fn from_noop(span: &impl Span, parent: &Context) -> bool {
    let sc = span.span_context();
    !span.is_recording()
        && (!sc.is_valid() || sc.span_id() == parent.span().span_context().span_id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanKind, TracerProvider};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};

    #[test]
    fn a_recording_span_is_active_and_exported_when_ended() {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = AnyTracer::new(provider.tracer("t"));
        let cx = tracer.start_in(SpanBuilder::from_name("send orders"), &Context::new());
        assert!(cx.span().is_recording());
        cx.span().end();
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].name, "send orders");
    }

    #[test]
    fn a_span_that_does_not_record_keeps_its_context_and_is_not_remote() {
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::AlwaysOff)
            .build();
        let tracer = AnyTracer::new(provider.tracer("t"));
        let builder = SpanBuilder::from_name("send orders").with_kind(SpanKind::Producer);
        let cx = tracer.start_in(builder, &Context::new());
        let span = cx.span();
        assert!(!span.is_recording());
        assert!(span.span_context().is_valid());
        assert!(!span.span_context().is_remote());
        assert!(!span.span_context().is_sampled());
    }
}
