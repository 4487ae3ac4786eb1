//! The NATS peer: async-nats' `HeaderMap`; a PRODUCER span per publish (core NATS has no answer:
//! it ends when the publish returns, as tracewire's does; JetStream's ends on the `PublishAck`), a
//! CONSUMER span per received message (core or JetStream).

use async_nats::jetstream::context::PublishAckFuture;
use async_nats::{Client, HeaderMap, HeaderName, Message, Subject};
use bytes::Bytes;
use opentelemetry::global::BoxedTracer;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
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

struct HeaderExtractor<'a>(Option<&'a HeaderMap>);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        Some(self.0?.get(key)?.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .map(|h| h.iter().map(|(k, _)| k.as_ref()).collect())
            .unwrap_or_default()
    }
}

/// The span and headers of one publish.
fn start_publish(
    tracer: &BoxedTracer,
    propagator: &TraceContextPropagator,
    subject: &Subject,
) -> (opentelemetry::Context, HeaderMap) {
    let cx = super::producer_context(tracer, "nats", subject.as_str(), "publish");
    let mut injector = HeaderInjector(HeaderMap::new());
    propagator.inject_context(&cx, &mut injector);
    (cx, injector.0)
}

/// The peer's core publish: span, inject, `publish_with_headers`, end.
pub async fn publish(
    client: &Client,
    tracer: &BoxedTracer,
    propagator: &TraceContextPropagator,
    subject: Subject,
    payload: Bytes,
) {
    let (cx, headers) = start_publish(tracer, propagator, &subject);
    let published = client.publish_with_headers(subject, headers, payload).await;
    published.expect("publish");
    cx.span().end();
}

/// The peer's JetStream publish: span, inject, `publish_with_headers`; the returned future ends
/// the span on the `PublishAck`.
pub async fn publish_js(
    js: &async_nats::jetstream::Context,
    tracer: &BoxedTracer,
    propagator: &TraceContextPropagator,
    subject: Subject,
    payload: Bytes,
) -> impl std::future::Future<Output = ()> {
    let (cx, headers) = start_publish(tracer, propagator, &subject);
    let ack: PublishAckFuture = js
        .publish_with_headers(subject, headers, payload)
        .await
        .expect("published");
    async move {
        ack.await.expect("the broker acknowledged");
        cx.span().end();
    }
}

/// The peer's consumer side (core or JetStream): extract, one CONSUMER span for the message.
pub fn process(message: &Message, tracer: &BoxedTracer, propagator: &TraceContextPropagator) {
    let parent = propagator.extract(&HeaderExtractor(message.headers.as_ref()));
    super::consumer_span(tracer, "nats", message.subject.as_str(), &parent, None);
}
