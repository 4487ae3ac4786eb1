//! Core NATS: publish, request/reply and subscriptions, traced.

use crate::headers::{open_send, NatsHeaders};
use async_nats::client::{PublishError, RequestError};
use async_nats::subject::ToSubject;
use async_nats::{Client, HeaderMap, Message, SubscribeError, Subscriber};
use bytes::Bytes;
use std::sync::Arc;
use tracewire::messaging::{Messaging, OperationSpec, OperationType};
use tracewire::wrapper::{Settle, TracedStream, WrapMessage};
use tracewire::{OpenSpan, Outcome};

/// An `async_nats::Client` whose publishes and requests carry the current trace context.
#[derive(Clone, Debug)]
pub struct TracedClient {
    inner: Client,
    messaging: Messaging,
}

impl TracedClient {
    /// Wraps `client` with default instrumentation (`messaging.system = nats`).
    pub fn new(client: Client) -> Self {
        Self::with_messaging(client, crate::messaging())
    }

    /// Wraps `client` with your own instrumentation settings (topology, subject templates…).
    pub fn with_messaging(client: Client, messaging: Messaging) -> Self {
        TracedClient {
            inner: client,
            messaging,
        }
    }

    tracewire::wrapper_accessors!(Client);

    /// `publish` with a span `publish {subject}` and the context in headers.
    pub async fn publish<S: ToSubject>(
        &self,
        subject: S,
        payload: Bytes,
    ) -> Result<(), PublishError> {
        self.publish_inner(subject.to_subject(), None, payload)
            .await
    }

    /// `publish_with_headers`: your headers are kept, tracing headers added or replaced.
    pub async fn publish_with_headers<S: ToSubject>(
        &self,
        subject: S,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<(), PublishError> {
        self.publish_inner(subject.to_subject(), Some(headers), payload)
            .await
    }

    async fn publish_inner(
        &self,
        subject: async_nats::Subject,
        headers: Option<HeaderMap>,
        payload: Bytes,
    ) -> Result<(), PublishError> {
        let (span, headers) = open_send(&self.messaging, "publish", &subject, &payload, headers);
        let publish = self.inner.publish_with_headers(subject, headers, payload);
        Settle::new(publish, span, |r, _| {
            Outcome::after(r, Outcome::Ok, "publish")
        })
        .await
    }

    /// `request` with a span `request {subject}` that ends when the reply arrives. The responder
    /// continues the trace; the reply, as returned untouched, carries the responder's context
    /// ([`crate::extract`] reads it).
    pub async fn request<S: ToSubject>(
        &self,
        subject: S,
        payload: Bytes,
    ) -> Result<Message, RequestError> {
        self.request_inner(subject.to_subject(), None, payload)
            .await
    }

    /// `request_with_headers`: as [`request`](Self::request), keeping your headers.
    pub async fn request_with_headers<S: ToSubject>(
        &self,
        subject: S,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<Message, RequestError> {
        self.request_inner(subject.to_subject(), Some(headers), payload)
            .await
    }

    async fn request_inner(
        &self,
        subject: async_nats::Subject,
        headers: Option<HeaderMap>,
        payload: Bytes,
    ) -> Result<Message, RequestError> {
        let (span, headers) = open_send(&self.messaging, "request", &subject, &payload, headers);
        let request = self.inner.request_with_headers(subject, headers, payload);
        Settle::new(request, span, |r, _| {
            Outcome::after(r, Outcome::Ok, "request")
        })
        .await
    }

    /// `subscribe`, yielding messages that own a span `process {subject}`.
    pub async fn subscribe<S: ToSubject>(
        &self,
        subject: S,
    ) -> Result<TracedSubscriber, SubscribeError> {
        let inner = self.inner.subscribe(subject).await?;
        Ok(TracedStream::from_parts(inner, WrapNats::new(self.clone())))
    }

    /// `queue_subscribe`, yielding traced messages.
    pub async fn queue_subscribe<S: ToSubject>(
        &self,
        subject: S,
        queue_group: String,
    ) -> Result<TracedSubscriber, SubscribeError> {
        let inner = self.inner.queue_subscribe(subject, queue_group).await?;
        Ok(TracedStream::from_parts(inner, WrapNats::new(self.clone())))
    }
}

/// The subscriber's half of [`TracedSubscriber`]: the client that publishes the replies of
/// [`TracedMessage::respond`] (a `Subscriber` cannot name its client, so a traced subscriber is
/// made by [`TracedClient::subscribe`], or `TracedSubscriber::from_parts(subscriber,
/// WrapNats::new(client))`).
#[derive(Debug, Clone)]
pub struct WrapNats {
    /// Shared with each message that has a reply subject: cloning a `Client` per message would
    /// take and give back some ten reference counts, on every message of a plain subscription.
    client: Arc<TracedClient>,
}

impl WrapNats {
    /// Messages that reply through `client`.
    pub fn new(client: TracedClient) -> Self {
        WrapNats {
            client: Arc::new(client),
        }
    }
}

impl WrapMessage<Message> for WrapNats {
    type Wrapped = TracedMessage;

    fn messaging(&self) -> &Messaging {
        &self.client.messaging
    }

    fn wrap(&mut self, message: Message) -> TracedMessage {
        let spec = OperationSpec::new(OperationType::Process, "process", &message.subject)
            .body(&message.payload);
        let headers = NatsHeaders(message.headers.as_ref());
        // Core NATS has no ack: a message handled and dropped is done, not "unsettled".
        let span = (self.client.messaging)
            .open_message(&headers, spec)
            .nothing_to_settle();
        TracedMessage {
            replies: message.reply.is_some().then(|| self.client.clone()),
            message,
            span,
        }
    }
}

/// A `Subscriber` yielding [`TracedMessage`]s (`inner_mut()` to unsubscribe or drain).
pub type TracedSubscriber = TracedStream<Subscriber, WrapNats>;

/// A core NATS message with its `process {subject}` span, which ends when the message is
/// [`finish`](Self::finish)ed or dropped (core NATS has nothing to settle: a dropped message's
/// span is not marked unsettled).
#[derive(Debug)]
pub struct TracedMessage {
    message: Message,
    span: OpenSpan,
    /// The client that publishes [`respond`](Self::respond)'s reply (`None`: no reply subject).
    replies: Option<Arc<TracedClient>>,
}

impl TracedMessage {
    tracewire::message_accessors!(Message);

    /// Publishes a reply to the message's reply subject, in the message's context, so the
    /// requester's trace continues. `Ok(false)` when the message expects no reply.
    pub async fn respond(&self, payload: Bytes) -> Result<bool, PublishError> {
        let (Some(reply), Some(client)) = (&self.message.reply, &self.replies) else {
            return Ok(false);
        };
        self.in_context(client.publish(reply.clone(), payload))
            .await?;
        Ok(true)
    }

    /// Ends the span with `outcome`.
    pub fn finish(self, outcome: Outcome) {
        self.span.end(outcome);
    }
}
