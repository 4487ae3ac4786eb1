//! `TraceService`: one SERVER span per request.

use crate::attributes as attr;
use crate::future::ResponseFuture;
use crate::layer::TraceLayer;
use http::{Request, Response};
use opentelemetry::trace::{SpanBuilder, SpanKind};
use opentelemetry::KeyValue;
use std::task::{Context as TaskContext, Poll};
use tracewire::{OpenSpan, Traced};

/// The service [`TraceLayer`] wraps around yours.
#[derive(Debug, Clone)]
pub struct TraceService<S> {
    pub(crate) inner: S,
    pub(crate) layer: TraceLayer,
}

impl<S> TraceService<S> {
    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, R> tower_service::Service<Request<B>> for TraceService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> ResponseFuture<S::Future> {
        // The caller's context and correlation id (a fresh one on the first hop).
        let incoming = self.layer.propagator.extract(req.headers()).context;
        let method = req.method().as_str().to_owned();
        let route = route(&req);
        let name = match &route {
            Some(route) => format!("{method} {route}"),
            None => method.clone(),
        };
        let mut attributes = vec![
            KeyValue::new(attr::REQUEST_METHOD, method),
            KeyValue::new(attr::URL_PATH, req.uri().path().to_owned()),
        ];
        if let Some(route) = route {
            attributes.push(KeyValue::new(attr::ROUTE, route));
        }
        if let Some(id) = tracewire::CorrelationContextExt::correlation_value(&incoming) {
            attributes.push(KeyValue::new(tracewire::CONVERSATION_ID_ATTRIBUTE, id));
        }
        let builder = SpanBuilder::from_name(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes);
        let cx = self.layer.tracer.start_in(builder, &incoming);
        let inner = Traced::new(self.inner.call(req), cx.clone());
        ResponseFuture::new(inner, OpenSpan::new(cx).nothing_to_settle())
    }
}

/// The route template when the router knows it (axum's `MatchedPath`).
fn route<B>(req: &Request<B>) -> Option<String> {
    #[cfg(feature = "axum")]
    if let Some(path) = req.extensions().get::<axum::extract::MatchedPath>() {
        return Some(path.as_str().to_owned());
    }
    let _ = req;
    None
}
