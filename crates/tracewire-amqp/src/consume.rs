//! Consuming: deliveries that own their CONSUMER span until they are acked, nacked or rejected.

use crate::destination::consume_destination;
use crate::headers::AmqpHeaders;
use futures_core::Stream;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicRejectOptions};
use lapin::types::ShortString;
use lapin::Consumer;
use opentelemetry::{Context, KeyValue};
use std::future::Future;
use std::pin::Pin;
use std::task::{self, Poll};
use tracewire::messaging::attributes::{
    MESSAGE_ID, RABBITMQ_DELIVERY_TAG, RABBITMQ_ROUTING_KEY, REDELIVERED, SUBSCRIPTION_NAME,
};
use tracewire::messaging::{Messaging, OpenSpan, OperationSpec, OperationType, Outcome};
use tracewire::task::Traced;

/// A delivery with its span. Settle it with [`ack`](Self::ack), [`nack`](Self::nack) or
/// [`reject`](Self::reject): that ends the span with the outcome. Dropped unsettled, the span
/// ends too, marked `tracewire.settled = false` (the message itself is then redelivered by the
/// broker when the channel closes, as lapin does; tracewire never acks on its own).
#[derive(Debug)]
pub struct TracedDelivery {
    delivery: Delivery,
    span: OpenSpan,
}

impl TracedDelivery {
    /// Extracts the message's context and starts its span: `process {destination}` for pushed
    /// messages, `receive {destination}` for pulled ones.
    pub fn start(delivery: Delivery, queue: &str, messaging: &Messaging, pulled: bool) -> Self {
        let extracted = messaging
            .propagator()
            .extract(&AmqpHeaders::new(&delivery.properties));
        let destination = consume_destination(
            delivery.exchange.as_str(),
            delivery.routing_key.as_str(),
            queue,
        );
        let (kind, name) = if pulled {
            (OperationType::Receive, "receive")
        } else {
            (OperationType::Process, "process")
        };
        let mut spec = OperationSpec::new(kind, name, &destination)
            .body(&delivery.data)
            .attribute(KeyValue::new(
                RABBITMQ_DELIVERY_TAG,
                delivery.delivery_tag as i64,
            ))
            .attribute(KeyValue::new(REDELIVERED, delivery.redelivered));
        if !delivery.routing_key.as_str().is_empty() {
            let key = delivery.routing_key.to_string();
            spec = spec.attribute(KeyValue::new(RABBITMQ_ROUTING_KEY, key));
        }
        if !queue.is_empty() {
            spec = spec.attribute(KeyValue::new(SUBSCRIPTION_NAME, queue.to_owned()));
        }
        if let Some(id) = delivery.properties.message_id() {
            spec = spec.attribute(KeyValue::new(MESSAGE_ID, id.to_string()));
        }
        let span = messaging.open_consume(&extracted.context, spec);
        TracedDelivery { delivery, span }
    }

    /// The lapin delivery.
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// The message body.
    pub fn data(&self) -> &[u8] {
        &self.delivery.data
    }

    /// The message's context: its span, baggage and correlation id.
    pub fn context(&self) -> &Context {
        self.span.context()
    }

    /// Runs `fut` (the handler) in the message's context.
    pub fn in_context<F: Future>(&self, fut: F) -> Traced<F> {
        self.span.in_context(fut)
    }

    /// Acknowledges the message and ends the span; lapin's result is returned untouched.
    pub async fn ack(self, options: BasicAckOptions) -> lapin::Result<bool> {
        let result = self.delivery.acker.ack(options).await;
        self.span
            .end(Outcome::after(&result, Outcome::Ok, "settle"));
        result
    }

    /// Negatively acknowledges the message (`requeue` as you choose) and ends the span as failed.
    pub async fn nack(self, options: BasicNackOptions) -> lapin::Result<bool> {
        let result = self.delivery.acker.nack(options).await;
        let outcome = Outcome::error("nack", "the consumer nacked the message");
        self.span.end(Outcome::after(&result, outcome, "settle"));
        result
    }

    /// Rejects the message and ends the span as failed.
    pub async fn reject(self, options: BasicRejectOptions) -> lapin::Result<bool> {
        let result = self.delivery.acker.reject(options).await;
        let outcome = Outcome::error("reject", "the consumer rejected the message");
        self.span.end(Outcome::after(&result, outcome, "settle"));
        result
    }

    /// The delivery and its span, for handing the work to another task: settle the delivery
    /// through its `acker` and end the span with [`OpenSpan::end`].
    pub fn into_parts(self) -> (Delivery, OpenSpan) {
        (self.delivery, self.span)
    }
}

pin_project_lite::pin_project! {
    /// A `lapin::Consumer` yielding [`TracedDelivery`]s; errors pass through untouched.
    #[must_use = "streams do nothing unless polled"]
    pub struct TracedConsumer {
        #[pin]
        inner: Consumer,
        queue: String,
        messaging: Messaging,
    }
}

impl TracedConsumer {
    /// Wraps `consumer` with default instrumentation.
    pub fn new(consumer: Consumer) -> Self {
        Self::with_messaging(consumer, crate::messaging())
    }

    /// Wraps `consumer` with your own instrumentation settings (topology, hooks…).
    pub fn with_messaging(consumer: Consumer, messaging: Messaging) -> Self {
        TracedConsumer {
            queue: consumer.queue().to_string(),
            inner: consumer,
            messaging,
        }
    }
}

impl Stream for TracedConsumer {
    type Item = lapin::Result<TracedDelivery>;

    fn poll_next(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let next = std::task::ready!(this.inner.poll_next(task));
        Poll::Ready(
            next.map(|r| r.map(|d| TracedDelivery::start(d, this.queue, this.messaging, false))),
        )
    }
}

impl crate::TracedChannel {
    /// `basic_get` (pull): the message, if any, owns a span `receive {destination}` that ends
    /// when it is settled.
    pub async fn basic_get(
        &self,
        queue: ShortString,
        options: BasicGetOptions,
    ) -> lapin::Result<Option<TracedDelivery>> {
        let name = queue.to_string();
        let got = self.channel().basic_get(queue, options).await?;
        Ok(got.map(|m| TracedDelivery::start(m.delivery, &name, self.messaging(), true)))
    }
}
