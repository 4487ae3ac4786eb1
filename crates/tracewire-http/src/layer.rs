//! `TraceLayer`: the tower layer.

use crate::service::TraceService;
use tracewire::tracer::AnyTracer;
use tracewire::Propagator;

/// Traces every request of the service it wraps: see the [crate docs](crate).
#[derive(Debug, Clone, Default)]
pub struct TraceLayer {
    pub(crate) tracer: AnyTracer,
    pub(crate) propagator: Propagator,
}

crate::builder::tracer_and_propagator!(TraceLayer);

impl<S> tower_layer::Layer<S> for TraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> TraceService<S> {
        TraceService {
            inner,
            layer: self.clone(),
        }
    }
}
