//! Producing: a `FutureProducer` whose sends carry the current context and a PRODUCER span that
//! ends on the delivery report.

use crate::headers::InjectExt;
use crate::partition::partition_attribute;
use futures_channel::oneshot::Canceled;
use opentelemetry::{Context, KeyValue};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::error::KafkaResult;
use rdkafka::message::ToBytes;
use rdkafka::producer::future_producer::{Delivery, OwnedDeliveryResult};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::util::{DefaultRuntime, Timeout};
use rdkafka::{ClientConfig, ClientContext};
use std::future::Future;
use std::pin::Pin;
use std::task::{self, Poll};
use tracewire::messaging::attributes::KAFKA_OFFSET;
use tracewire::messaging::{Messaging, OpenSpan, OperationSpec, OperationType, Outcome};

/// A `FutureProducer` whose sends carry the current trace context, baggage and correlation id.
pub struct TracedProducer<C: ClientContext + 'static = DefaultClientContext, R = DefaultRuntime> {
    inner: FutureProducer<C, R>,
    messaging: Messaging,
}

impl<C: ClientContext + 'static, R> std::fmt::Debug for TracedProducer<C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedProducer")
            .field("messaging", &self.messaging)
            .finish_non_exhaustive()
    }
}

impl TracedProducer {
    /// Wraps `producer` with default instrumentation (`messaging.system = kafka`).
    pub fn new(producer: FutureProducer) -> Self {
        Self::with_messaging(producer, crate::messaging())
    }

    /// Creates the producer from `config`, with default instrumentation.
    pub fn from_config(config: &ClientConfig) -> KafkaResult<Self> {
        Ok(Self::new(config.create()?))
    }
}

impl<C: ClientContext + 'static, R: rdkafka::util::AsyncRuntime> TracedProducer<C, R> {
    /// Wraps `producer` with your own instrumentation settings.
    pub fn with_messaging(producer: FutureProducer<C, R>, messaging: Messaging) -> Self {
        TracedProducer {
            inner: producer,
            messaging,
        }
    }

    /// The rdkafka producer (flush, transactions…).
    pub fn producer(&self) -> &FutureProducer<C, R> {
        &self.inner
    }

    /// The instrumentation.
    pub fn messaging(&self) -> &Messaging {
        &self.messaging
    }

    /// `send` in the current context: a span `send {topic}`, the context injected into the
    /// record's headers (yours kept, stale tracing headers replaced). The span ends on the
    /// delivery report with partition and offset, or with the error (`error.type` is rdkafka's
    /// error code). rdkafka's result — the message comes back on error — is returned untouched.
    pub async fn send<K, P, T>(
        &self,
        record: FutureRecord<'_, K, P>,
        queue_timeout: T,
    ) -> OwnedDeliveryResult
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
        T: Into<Timeout>,
    {
        let (record, span) = self.start(record);
        let result = self.inner.send(record, queue_timeout).await;
        let outcome = delivered(&span, &result);
        span.end(outcome);
        result
    }

    /// `send_result`, for many sends in flight: the span ends when the returned future resolves.
    /// On an immediate error (queue full…) the record comes back untouched — headers included —
    /// and the span ends failed.
    #[allow(clippy::result_large_err)]
    pub fn send_result<'a, K, P>(
        &self,
        record: FutureRecord<'a, K, P>,
    ) -> Result<TracedDeliveryFuture, (KafkaError, FutureRecord<'a, K, P>)>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        let (record, span) = self.start(record);
        match self.inner.send_result(record) {
            Ok(inner) => Ok(TracedDeliveryFuture {
                inner,
                span: Some(span),
            }),
            Err((e, record)) => {
                span.end(error_outcome(&e));
                Err((e, record))
            }
        }
    }

    fn start<'a, K, P>(&self, record: FutureRecord<'a, K, P>) -> (FutureRecord<'a, K, P>, OpenSpan)
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        let mut spec = OperationSpec::new(OperationType::Send, "send", record.topic)
            .key(record.key.map(ToBytes::to_bytes));
        if let Some(payload) = record.payload {
            spec = spec.body(payload.to_bytes());
        }
        if let Some(partition) = record.partition {
            spec = spec.attribute(partition_attribute(partition));
        }
        let span = self.messaging.open_send(&Context::current(), spec);
        let record = record.inject_context(self.messaging.propagator(), span.context());
        (record, span)
    }
}

fn error_outcome(e: &KafkaError) -> Outcome {
    let kind = match e.rdkafka_error_code() {
        Some(code) => format!("{code:?}"),
        None => "KafkaError".to_owned(),
    };
    Outcome::error(kind, e.to_string())
}

/// Records partition and offset, and says how the delivery went.
fn delivered(span: &OpenSpan, result: &OwnedDeliveryResult) -> Outcome {
    match result {
        Ok(Delivery {
            partition, offset, ..
        }) => {
            if span.is_recording() {
                span.set_attribute(partition_attribute(*partition));
                span.set_attribute(KeyValue::new(KAFKA_OFFSET, *offset));
            }
            Outcome::Ok
        }
        Err((e, _)) => error_outcome(e),
    }
}

pin_project_lite::pin_project! {
    /// rdkafka's `DeliveryFuture`, which also ends the send span with the delivery report.
    /// Resolves to rdkafka's output untouched; dropped unresolved, the span ends unsettled.
    #[must_use = "the delivery report says whether the message was written"]
    pub struct TracedDeliveryFuture {
        #[pin]
        inner: DeliveryFuture,
        span: Option<OpenSpan>,
    }
}

impl Future for TracedDeliveryFuture {
    type Output = Result<OwnedDeliveryResult, Canceled>;

    fn poll(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(task));
        if let Some(span) = this.span.take() {
            let outcome = match &output {
                Ok(result) => delivered(&span, result),
                Err(_) => Outcome::error("canceled", "the producer was dropped before delivery"),
            };
            span.end(outcome);
        }
        Poll::Ready(output)
    }
}

impl std::fmt::Debug for TracedDeliveryFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedDeliveryFuture")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}
