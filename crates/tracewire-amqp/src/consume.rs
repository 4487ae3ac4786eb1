//! Consuming: deliveries that own their CONSUMER span until they are acked, nacked or rejected.

use crate::destination::LastDestination;
use crate::headers::AmqpHeaders;
use crate::{RABBITMQ_DELIVERY_TAG, RABBITMQ_ROUTING_KEY};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicRejectOptions};
use lapin::types::ShortString;
use lapin::Consumer;
use opentelemetry::KeyValue;
use std::sync::Arc;
use tracewire::messaging::attributes::{MESSAGE_ID, REDELIVERED, SUBSCRIPTION_NAME};
use tracewire::messaging::{Messaging, OperationSpec, OperationType};
use tracewire::wrapper::{Repeated, TracedStream, WrapMessage, WrapStream};
use tracewire::{OpenSpan, Outcome};

/// A delivery with its span. Settle it with [`ack`](Self::ack), [`nack`](Self::nack) or
/// [`reject`](Self::reject): that ends the span with the outcome. Dropped unsettled, the span
/// ends too, marked `tracewire.settled = false` (the message itself is then redelivered by the
/// broker when the channel closes, as lapin does; tracewire never acks on its own).
#[derive(Debug)]
pub struct TracedDelivery {
    message: Delivery,
    span: OpenSpan,
}

impl TracedDelivery {
    /// Extracts the message's context and opens its span: `process {destination}` for pushed
    /// messages, `receive {destination}` for pulled ones (`kind`).
    fn open(
        message: Delivery,
        queue: &mut Queue,
        messaging: &Messaging,
        kind: OperationType,
    ) -> Self {
        let destination = queue.destination.of(
            message.exchange.as_str(),
            message.routing_key.as_str(),
            &queue.name,
        );
        let routing_keys = &mut queue.routing_keys;
        let mut details = |push: &mut dyn FnMut(KeyValue)| {
            if !message.routing_key.as_str().is_empty() {
                let key = routing_keys.value(message.routing_key.as_str());
                push(KeyValue::new(RABBITMQ_ROUTING_KEY, key));
            }
            if let Some(id) = message.properties.message_id() {
                push(KeyValue::new(MESSAGE_ID, id.to_string()));
            }
        };
        let mut spec = (OperationSpec::new(kind, kind.as_str(), destination).body(&message.data))
            .details(&mut details);
        let tag = message.delivery_tag as i64;
        spec.put_attribute(|| KeyValue::new(RABBITMQ_DELIVERY_TAG, tag));
        spec.put_attribute(|| KeyValue::new(REDELIVERED, message.redelivered));
        if let Some(subscription) = &queue.subscription {
            spec.put_attribute(|| subscription.clone());
        }
        spec.sent_at = (*message.properties.timestamp())
            .map(|secs| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
        let span = messaging.open_message(&AmqpHeaders::new(&message.properties), spec);
        TracedDelivery { message, span }
    }

    tracewire::message_accessors!(Delivery);

    /// The message body.
    pub fn data(&self) -> &[u8] {
        &self.message.data
    }

    /// Acknowledges the message and ends the span; lapin's result is returned untouched.
    pub async fn ack(self, options: BasicAckOptions) -> lapin::Result<bool> {
        let result = self.message.acker.ack(options).await;
        self.span.end_after(result, Outcome::Ok, "settle")
    }

    /// Negatively acknowledges the message (`requeue` as you choose) and ends the span as failed.
    pub async fn nack(self, options: BasicNackOptions) -> lapin::Result<bool> {
        let result = self.message.acker.nack(options).await;
        let outcome = Outcome::error("nack", "the consumer nacked the message");
        self.span.end_after(result, outcome, "settle")
    }

    /// Rejects the message and ends the span as failed.
    pub async fn reject(self, options: BasicRejectOptions) -> lapin::Result<bool> {
        let result = self.message.acker.reject(options).await;
        let outcome = Outcome::error("reject", "the consumer rejected the message");
        self.span.end_after(result, outcome, "settle")
    }
}

/// The queue a delivery came from, and what its deliveries repeat: made once per consumer.
#[derive(Debug)]
struct Queue {
    name: String,
    /// `messaging.destination.subscription.name`, the queue's; none for a nameless queue.
    subscription: Option<KeyValue>,
    destination: LastDestination,
    routing_keys: Repeated,
}

impl Queue {
    fn new(name: String) -> Self {
        let subscription = (!name.is_empty())
            .then(|| KeyValue::new(SUBSCRIPTION_NAME, Arc::<str>::from(name.as_str())));
        Queue {
            name,
            subscription,
            destination: LastDestination::default(),
            routing_keys: Repeated::default(),
        }
    }
}

/// The consumer's half of [`TracedConsumer`]: the queue and the instrumentation.
#[derive(Debug)]
pub struct WrapDelivery {
    queue: Queue,
    messaging: Messaging,
}

impl WrapStream<Consumer> for WrapDelivery {
    fn for_stream(consumer: &Consumer, messaging: Messaging) -> Self {
        let queue = Queue::new(consumer.queue().to_string());
        WrapDelivery { queue, messaging }
    }

    fn default_messaging() -> Messaging {
        crate::messaging()
    }
}

impl WrapMessage<lapin::Result<Delivery>> for WrapDelivery {
    type Wrapped = lapin::Result<TracedDelivery>;

    fn messaging(&self) -> &Messaging {
        &self.messaging
    }

    fn wrap(&mut self, item: lapin::Result<Delivery>) -> Self::Wrapped {
        let process = OperationType::Process;
        item.map(|d| TracedDelivery::open(d, &mut self.queue, &self.messaging, process))
    }
}

/// A `lapin::Consumer` yielding [`TracedDelivery`]s; errors pass through untouched.
/// `TracedConsumer::new(consumer)` or `TracedConsumer::with_messaging(consumer, messaging)`.
pub type TracedConsumer = TracedStream<Consumer, WrapDelivery>;

impl crate::TracedChannel {
    /// `basic_get` (pull): the message, if any, owns a span `receive {destination}` that ends
    /// when it is settled.
    pub async fn basic_get(
        &self,
        queue: ShortString,
        options: BasicGetOptions,
    ) -> lapin::Result<Option<TracedDelivery>> {
        let mut queue_of = Queue::new(queue.to_string());
        let got = self.inner().basic_get(queue, options).await?;
        let receive = OperationType::Receive;
        Ok(got.map(|m| TracedDelivery::open(m.delivery, &mut queue_of, self.messaging(), receive)))
    }
}
