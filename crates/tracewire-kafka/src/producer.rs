//! Producing: a `FutureProducer` whose sends carry the current context and a PRODUCER span that
//! ends on the delivery report.

use crate::partition::partition_attribute;
use crate::KafkaHeaders;
use crate::{KAFKA_OFFSET, KAFKA_TOMBSTONE};
use futures_channel::oneshot::Canceled;
use opentelemetry::{Context, KeyValue};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::ToBytes;
use rdkafka::producer::future_producer::{Delivery, OwnedDeliveryResult};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::util::{DefaultRuntime, Timeout};
use rdkafka::{ClientConfig, ClientContext};
use tracewire::messaging::{Messaging, OperationSpec, OperationType};
use tracewire::wrapper::Settle;
use tracewire::{OpenSpan, Outcome};

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

/// The send span, waiting for rdkafka's delivery report; resolves to rdkafka's output untouched.
pub type TracedDeliveryFuture = Settle<DeliveryFuture>;

impl<C: ClientContext + 'static, R: rdkafka::util::AsyncRuntime> TracedProducer<C, R> {
    /// Wraps `producer` with your own instrumentation settings.
    pub fn with_messaging(producer: FutureProducer<C, R>, messaging: Messaging) -> Self {
        TracedProducer {
            inner: producer,
            messaging,
        }
    }

    tracewire::wrapper_accessors!(FutureProducer<C, R>);

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
        Settle::new(self.inner.send(record, queue_timeout), span, delivered).await
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
            Ok(inner) => Ok(Settle::new(inner, span, reported)),
            Err((e, record)) => {
                span.end(error_outcome(&e));
                Err((e, record))
            }
        }
    }

    fn start<'a, K, P>(
        &self,
        mut record: FutureRecord<'a, K, P>,
    ) -> (FutureRecord<'a, K, P>, OpenSpan)
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        let mut spec = OperationSpec::new(OperationType::Send, "send", record.topic)
            .key(record.key.map(ToBytes::to_bytes));
        match record.payload.map(ToBytes::to_bytes) {
            Some(payload) => (spec.body_size, spec.payload) = (Some(payload.len()), Some(payload)),
            None => spec.put_attribute(|| KeyValue::new(KAFKA_TOMBSTONE, true)),
        }
        if let Some(partition) = record.partition {
            spec.put_attribute(|| partition_attribute(partition));
        }
        let headers = record.headers.take();
        let spec =
            (self.messaging).capture_headers(spec, || KafkaHeaders::of_owned(headers.as_ref()));
        let (span, headers) =
            (self.messaging).open_send_with(&Context::current(), spec, |p, cx| {
                crate::inject(p, cx, headers)
            });
        record.headers = Some(headers);
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
fn delivered(result: &OwnedDeliveryResult, span: &OpenSpan) -> Outcome {
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

/// The delivery report of a `send_result`, or the producer gone before it came.
fn reported(report: &Result<OwnedDeliveryResult, Canceled>, span: &OpenSpan) -> Outcome {
    match report {
        Ok(result) => delivered(result, span),
        Err(_) => Outcome::error("canceled", "the producer was dropped before delivery"),
    }
}
