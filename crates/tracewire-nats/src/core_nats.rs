//! Core NATS: publish, request/reply and subscriptions, traced.

use crate::headers::{start_send, NatsHeaders};
use async_nats::client::{PublishError, RequestError};
use async_nats::subject::ToSubject;
use async_nats::{Client, HeaderMap, Message, SubscribeError, Subscriber};
use bytes::Bytes;
use futures_core::Stream;
use opentelemetry::Context;
use std::future::Future;
use std::pin::Pin;
use std::task::{self, Poll};
use tracewire::messaging::{Messaging, OpenSpan, OperationSpec, OperationType, Outcome};
use tracewire::task::Traced;

/// An `async_nats::Client` whose publishes and requests carry the current trace context.
#[derive(Clone, Debug)]
pub struct TracedClient {
    client: Client,
    messaging: Messaging,
}

impl TracedClient {
    /// Wraps `client` with default instrumentation (`messaging.system = nats`).
    pub fn new(client: Client) -> Self {
        Self::with_messaging(client, crate::messaging())
    }

    /// Wraps `client` with your own instrumentation settings (topology, subject templates…).
    pub fn with_messaging(client: Client, messaging: Messaging) -> Self {
        TracedClient { client, messaging }
    }

    /// The async-nats client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The instrumentation.
    pub fn messaging(&self) -> &Messaging {
        &self.messaging
    }

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
        let (span, headers) = start_send(&self.messaging, "publish", &subject, &payload, headers);
        let result = self
            .client
            .publish_with_headers(subject, headers, payload)
            .await;
        span.end(Outcome::after(&result, Outcome::Ok, "publish"));
        result
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
        let (span, headers) = start_send(&self.messaging, "request", &subject, &payload, headers);
        let result = self
            .client
            .request_with_headers(subject, headers, payload)
            .await;
        span.end(Outcome::after(&result, Outcome::Ok, "request"));
        result
    }

    /// `subscribe`, yielding messages that own a span `process {subject}`.
    pub async fn subscribe<S: ToSubject>(
        &self,
        subject: S,
    ) -> Result<TracedSubscriber, SubscribeError> {
        let inner = self.client.subscribe(subject).await?;
        Ok(TracedSubscriber::new(inner, self.clone()))
    }

    /// `queue_subscribe`, yielding traced messages; the queue group is recorded as the consumer
    /// group.
    pub async fn queue_subscribe<S: ToSubject>(
        &self,
        subject: S,
        queue_group: String,
    ) -> Result<TracedSubscriber, SubscribeError> {
        let inner = self.client.queue_subscribe(subject, queue_group).await?;
        Ok(TracedSubscriber::new(inner, self.clone()))
    }
}

pin_project_lite::pin_project! {
    /// A `Subscriber` yielding [`TracedMessage`]s.
    #[must_use = "streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct TracedSubscriber {
        #[pin]
        inner: Subscriber,
        client: TracedClient,
    }
}

impl TracedSubscriber {
    /// Wraps a subscriber; `client` publishes the replies of [`TracedMessage::respond`].
    pub fn new(inner: Subscriber, client: TracedClient) -> Self {
        TracedSubscriber { inner, client }
    }

    /// The underlying subscriber (to unsubscribe, drain…).
    pub fn subscriber(&mut self) -> &mut Subscriber {
        &mut self.inner
    }
}

impl Stream for TracedSubscriber {
    type Item = TracedMessage;

    fn poll_next(
        self: Pin<&mut Self>,
        task: &mut task::Context<'_>,
    ) -> Poll<Option<TracedMessage>> {
        let this = self.project();
        let next = std::task::ready!(this.inner.poll_next(task));
        Poll::Ready(next.map(|m| TracedMessage::start(m, this.client.clone())))
    }
}

/// A core NATS message with its `process {subject}` span, which ends when the message is
/// [`finish`](Self::finish)ed or dropped.
#[derive(Debug)]
pub struct TracedMessage {
    message: Message,
    span: OpenSpan,
    client: TracedClient,
}

impl TracedMessage {
    fn start(message: Message, client: TracedClient) -> Self {
        let messaging = &client.messaging;
        let extracted = messaging
            .propagator()
            .extract(&NatsHeaders(message.headers.as_ref()));
        let spec = OperationSpec::new(OperationType::Process, "process", &message.subject)
            .body(&message.payload);
        let span = messaging.open_consume(&extracted.context, spec);
        TracedMessage {
            message,
            span,
            client,
        }
    }

    /// The message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The message's context: its span, baggage and correlation id.
    pub fn context(&self) -> &Context {
        self.span.context()
    }

    /// Runs `fut` (the handler) in the message's context.
    pub fn in_context<F: Future>(&self, fut: F) -> Traced<F> {
        self.span.in_context(fut)
    }

    /// Publishes a reply to the message's reply subject, in the message's context, so the
    /// requester's trace continues. `Ok(false)` when the message expects no reply.
    pub async fn respond(&self, payload: Bytes) -> Result<bool, PublishError> {
        let Some(reply) = self.message.reply.clone() else {
            return Ok(false);
        };
        self.in_context(self.client.publish(reply, payload)).await?;
        Ok(true)
    }

    /// Ends the span with `outcome`.
    pub fn finish(self, outcome: Outcome) {
        self.span.end(outcome);
    }

    /// The message and its span, to hand the work to another task.
    pub fn into_parts(self) -> (Message, OpenSpan) {
        (self.message, self.span)
    }
}
