//! Publishing: `basic_publish` with context injected and a PRODUCER span that ends on the
//! publisher confirm.

use crate::destination::{publish_destination_in, PUBLISH_NAME_ROOM};
use crate::{AmqpHeaders, RABBITMQ_ROUTING_KEY};
use lapin::options::BasicPublishOptions;
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Confirmation, PublisherConfirm};
use opentelemetry::{Context, KeyValue};
use tracewire::messaging::attributes::MESSAGE_ID;
use tracewire::messaging::{Messaging, OperationSpec, OperationType};
use tracewire::wrapper::Settle;
use tracewire::{OpenSpan, Outcome};

/// A `lapin::Channel` whose publishes carry the current trace context and correlation id.
#[derive(Clone, Debug)]
pub struct TracedChannel {
    inner: Channel,
    messaging: Messaging,
}

/// What [`TracedChannel::reply`] could not do.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// The request has no `reply-to` property: there is nowhere to reply.
    #[error("the request has no reply-to property")]
    NoReplyTo,
    /// The publish failed.
    #[error(transparent)]
    Amqp(#[from] lapin::Error),
}

/// lapin's `PublisherConfirm`, which also ends the publish span with the broker's answer (a
/// nack or a returned message marks it failed). Resolves to lapin's result untouched.
pub type TracedConfirm = Settle<PublisherConfirm>;

impl TracedChannel {
    /// Wraps `channel` with default instrumentation (`messaging.system = rabbitmq`, the global
    /// tracer, the default propagator).
    pub fn new(channel: Channel) -> Self {
        Self::with_messaging(channel, crate::messaging())
    }

    /// Wraps `channel` with your own instrumentation settings.
    pub fn with_messaging(channel: Channel, messaging: Messaging) -> Self {
        TracedChannel {
            inner: channel,
            messaging,
        }
    }

    tracewire::wrapper_accessors!(Channel);

    /// `basic_publish` in the current context: headers injected (user headers kept), the AMQP
    /// `correlation-id` property set when unset, and a span `publish {exchange}:{routing_key}`.
    /// With publisher confirms on, the span ends when the returned [`TracedConfirm`] resolves
    /// (a nack marks it failed); otherwise it ends once the message is written. lapin's results
    /// are returned untouched.
    pub async fn basic_publish(
        &self,
        exchange: ShortString,
        routing_key: ShortString,
        options: BasicPublishOptions,
        payload: &[u8],
        properties: BasicProperties,
    ) -> lapin::Result<TracedConfirm> {
        let (span, inject) = self.open_publish(&exchange, &routing_key, payload, &properties);
        let published = self
            .inner
            .basic_publish(exchange, routing_key, options, payload, inject(properties))
            .await;
        match published {
            Ok(confirm) if self.inner.status().confirm() => {
                Ok(Settle::new(confirm, span, confirmed))
            }
            Ok(confirm) => {
                span.end(Outcome::Ok);
                Ok(Settle::ended(confirm))
            }
            Err(e) => {
                span.end(Outcome::error("publish", e.to_string()));
                Err(e)
            }
        }
    }

    /// The publish span, opened in the current context, and what injects its context into
    /// `properties`. Not part of the `async fn`: the destination name's room (511 bytes on the
    /// stack) is gone before the first await, so the future does not carry it; and the
    /// properties (a few hundred bytes) are not moved in and out.
    fn open_publish(
        &self,
        exchange: &ShortString,
        routing_key: &ShortString,
        payload: &[u8],
        properties: &BasicProperties,
    ) -> (OpenSpan, impl FnOnce(BasicProperties) -> BasicProperties) {
        let mut room = [0; PUBLISH_NAME_ROOM];
        let destination =
            publish_destination_in(&mut room, exchange.as_str(), routing_key.as_str());
        let mut details = |push: &mut dyn FnMut(KeyValue)| {
            if !routing_key.as_str().is_empty() {
                push(KeyValue::new(RABBITMQ_ROUTING_KEY, routing_key.to_string()));
            }
            if let Some(id) = properties.message_id() {
                push(KeyValue::new(MESSAGE_ID, id.to_string()));
            }
        };
        let spec = (OperationSpec::new(OperationType::Send, "publish", &destination).body(payload))
            .details(&mut details);
        let spec = (self.messaging).capture_headers(spec, || AmqpHeaders::new(properties));
        (self.messaging).open_send_with(&Context::current(), spec, |p, cx| {
            crate::headers::injected(p, cx, properties)
        })
    }

    /// Replies to an RPC request: publishes to the default exchange with the request's
    /// `reply-to` as routing key and its `correlation-id` property (unless `properties` sets
    /// one). Call it in the request's context (e.g. inside
    /// [`TracedDelivery::in_context`](crate::TracedDelivery::in_context)) so the reply continues
    /// the trace.
    pub async fn reply(
        &self,
        request: &BasicProperties,
        options: BasicPublishOptions,
        payload: &[u8],
        properties: BasicProperties,
    ) -> Result<TracedConfirm, ReplyError> {
        let reply_to = request.reply_to().clone().ok_or(ReplyError::NoReplyTo)?;
        let properties = match (properties.correlation_id(), request.correlation_id()) {
            (None, Some(id)) => properties.with_correlation_id(id.clone()),
            _ => properties,
        };
        let exchange = ShortString::default();
        Ok(self
            .basic_publish(exchange, reply_to, options, payload, properties)
            .await?)
    }
}

/// What the broker's confirm means for the publish span.
fn confirmed(result: &lapin::Result<Confirmation>, _: &OpenSpan) -> Outcome {
    match result {
        Ok(Confirmation::Ack(None) | Confirmation::NotRequested) => Outcome::Ok,
        Ok(Confirmation::Ack(Some(_))) => {
            Outcome::error("returned", "the broker returned the message as unroutable")
        }
        Ok(Confirmation::Nack(_)) => Outcome::error("nack", "the broker nacked the message"),
        Err(e) => Outcome::error("confirm", e.to_string()),
    }
}
