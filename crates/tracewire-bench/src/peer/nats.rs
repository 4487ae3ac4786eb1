//! The core-NATS peer: async-nats' `HeaderMap`, a PRODUCER span per publish (core NATS has no
//! answer: it ends when the publish returns, as tracewire's does).

use async_nats::{Client, HeaderMap, HeaderName, Subject};
use bytes::Bytes;
use opentelemetry::global::BoxedTracer;
use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;

struct HeaderInjector(HeaderMap);

impl Injector for HeaderInjector {
    fn set(&mut self, key: &str, value: String) {
        if let Ok(name) = key.parse::<HeaderName>() {
            self.0.insert(name, value);
        }
    }
}

/// The peer's publish: span, inject, `publish_with_headers`, end.
pub async fn publish(
    client: &Client,
    tracer: &BoxedTracer,
    propagator: &TraceContextPropagator,
    subject: Subject,
    payload: Bytes,
) {
    let cx = super::producer_context(tracer, "nats", subject.as_str(), "publish");
    let mut injector = HeaderInjector(HeaderMap::new());
    propagator.inject_context(&cx, &mut injector);
    let published = client
        .publish_with_headers(subject, injector.0, payload)
        .await;
    published.expect("publish");
    cx.span().end();
}
