//! The Kafka peer: rdkafka's headers, a PRODUCER span ended on the delivery report.

use opentelemetry::global::BoxedTracer;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::KeyValue;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::future::Future;

struct HeaderInjector(Option<OwnedHeaders>);

impl Injector for HeaderInjector {
    fn set(&mut self, key: &str, value: String) {
        let headers = self.0.take().unwrap_or_default();
        self.0 = Some(headers.insert(Header {
            key,
            value: Some(&value),
        }));
    }
}

struct HeaderExtractor<'a>(Option<&'a rdkafka::message::BorrowedHeaders>);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let header = self.0?.iter().find(|h| h.key == key)?;
        std::str::from_utf8(header.value?).ok()
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .map(|h| h.iter().map(|h| h.key).collect())
            .unwrap_or_default()
    }
}

/// The peer's producer side: span, inject, `send_result`; the returned future ends the span on
/// the delivery report.
pub fn send(
    producer: &FutureProducer,
    tracer: &BoxedTracer,
    propagator: &TraceContextPropagator,
    topic: &str,
    payload: &[u8],
) -> impl Future<Output = ()> {
    let cx = super::producer_context(tracer, "kafka", topic, "send");
    let mut injector = HeaderInjector(None);
    propagator.inject_context(&cx, &mut injector);
    let mut record = FutureRecord::<(), [u8]>::to(topic).payload(payload);
    record.headers = injector.0;
    let delivery = producer.send_result(record).map_err(|(e, _)| e);
    async move {
        let delivered = delivery.expect("enqueued").await.expect("delivered");
        let span = cx.span();
        match delivered {
            Ok(d) => span.set_attribute(KeyValue::new("messaging.kafka.offset", d.offset)),
            Err((e, _)) => panic!("not delivered: {e}"),
        }
        span.end();
    }
}

/// The peer's consumer side: extract, one CONSUMER span for the message.
pub fn process(
    message: &BorrowedMessage<'_>,
    tracer: &BoxedTracer,
    propagator: &TraceContextPropagator,
) {
    let parent = propagator.extract(&HeaderExtractor(message.headers()));
    let offset = KeyValue::new("messaging.kafka.offset", message.offset());
    super::consumer_span(tracer, "kafka", message.topic(), &parent, Some(offset));
}
