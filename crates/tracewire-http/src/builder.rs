//! The builder methods the server layer and the client middleware share: one definition, so
//! both sides of the hop are configured with the same words.

/// `new`, `tracer` and `propagator` for a type with `tracer: AnyTracer` and
/// `propagator: Propagator` fields (and `Default`).
macro_rules! tracer_and_propagator {
    ($ty:ty) => {
        impl $ty {
            /// The global tracer provider, tracewire's propagator.
            pub fn new() -> Self {
                Self::default()
            }

            /// Spans start with `tracer` (your provider's own, say).
            pub fn tracer<T>(mut self, tracer: T) -> Self
            where
                T: opentelemetry::trace::Tracer + Send + Sync + 'static,
                T::Span: Send + Sync + 'static,
            {
                self.tracer = tracewire::tracer::AnyTracer::new(tracer);
                self
            }

            /// Another propagator (B3, the global one… for the trace part; see
            /// `Propagator::builder`).
            pub fn propagator(mut self, propagator: tracewire::Propagator) -> Self {
                self.propagator = propagator;
                self
            }
        }
    };
}

pub(crate) use tracer_and_propagator;
