//! `TraceLayer`: the tower layer.

use crate::service::TraceService;
use opentelemetry::trace::Tracer;
use tracewire::tracer::AnyTracer;
use tracewire::Propagator;

/// Traces every request of the service it wraps: see the [crate docs](crate).
#[derive(Debug, Clone, Default)]
pub struct TraceLayer {
    pub(crate) tracer: AnyTracer,
    pub(crate) propagator: Propagator,
}

impl TraceLayer {
    /// The global tracer provider, tracewire's propagator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Spans start with `tracer` (your provider's own, say).
    pub fn tracer<T>(mut self, tracer: T) -> Self
    where
        T: Tracer + Send + Sync + 'static,
        T::Span: Send + Sync + 'static,
    {
        self.tracer = AnyTracer::new(tracer);
        self
    }

    /// Another propagator (B3, the global one… for the trace part; see `Propagator::builder`).
    pub fn propagator(mut self, propagator: Propagator) -> Self {
        self.propagator = propagator;
        self
    }
}

impl<S> tower_layer::Layer<S> for TraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> TraceService<S> {
        TraceService {
            inner,
            layer: self.clone(),
        }
    }
}
