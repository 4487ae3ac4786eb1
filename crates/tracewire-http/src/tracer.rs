//! The tracer spans start with: yours, or the global provider's — looked up per request, so a
//! layer built before the provider is installed records once it is.

use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::{SpanBuilder, Tracer};
use opentelemetry::Context;
use std::sync::Arc;

#[derive(Clone, Default)]
pub(crate) struct HttpTracer(Option<Arc<BoxedTracer>>);

impl HttpTracer {
    pub(crate) fn new(tracer: BoxedTracer) -> Self {
        HttpTracer(Some(Arc::new(tracer)))
    }

    /// Starts `builder` under `parent`; `parent` with the span active.
    pub(crate) fn start(&self, builder: SpanBuilder, parent: &Context) -> Context {
        use opentelemetry::trace::TraceContextExt;
        let span = match &self.0 {
            Some(tracer) => tracer.build_with_context(builder, parent),
            None => global::tracer("tracewire-http").build_with_context(builder, parent),
        };
        parent.with_span(span)
    }
}

impl std::fmt::Debug for HttpTracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "HttpTracer(own)"
        } else {
            "HttpTracer(global)"
        })
    }
}
