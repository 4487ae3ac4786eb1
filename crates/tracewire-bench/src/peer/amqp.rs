//! The RabbitMQ peer: lapin's `FieldTable` headers (long strings, as the other languages write
//! them), a PRODUCER span per publish ended on the publisher confirm, a CONSUMER span per
//! delivery.

use lapin::message::Delivery;
use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::Confirmation;
use lapin::{BasicProperties, Channel};
use opentelemetry::global::BoxedTracer;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::future::Future;

struct HeaderInjector(FieldTable);

impl Injector for HeaderInjector {
    fn set(&mut self, key: &str, value: String) {
        self.0
            .insert(key.into(), AMQPValue::LongString(value.into()));
    }
}

struct HeaderExtractor<'a>(Option<&'a FieldTable>);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match self.0?.inner().get(key)? {
            AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .map(|t| t.inner().keys().map(|k| k.as_str()).collect())
            .unwrap_or_default()
    }
}

/// The peer's publish: span, inject, `basic_publish`; the returned future ends the span on the
/// confirm (at once where the channel has no confirms: lapin answers `NotRequested`).
pub async fn publish(
    channel: &Channel,
    tracer: &BoxedTracer,
    propagator: &TraceContextPropagator,
    queue: ShortString,
    payload: &[u8],
) -> impl Future<Output = lapin::Result<Confirmation>> {
    let cx = super::producer_context(tracer, "rabbitmq", queue.as_str(), "publish");
    let mut injector = HeaderInjector(FieldTable::default());
    propagator.inject_context(&cx, &mut injector);
    let properties = BasicProperties::default().with_headers(injector.0);
    let options = BasicPublishOptions::default();
    let published = channel
        .basic_publish("".into(), queue, options, payload, properties)
        .await;
    async move {
        let confirmed = published?.await;
        cx.span().end();
        confirmed
    }
}

/// The peer's consumer side: extract, one CONSUMER span for the delivery.
pub fn process(delivery: &Delivery, tracer: &BoxedTracer, propagator: &TraceContextPropagator) {
    let headers = HeaderExtractor(delivery.properties.headers().as_ref());
    super::consumer_span(
        tracer,
        "rabbitmq",
        delivery.routing_key.as_str(),
        &propagator.extract(&headers),
        None,
    );
}
