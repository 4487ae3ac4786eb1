//! JetStream: publishes whose span ends on the `PublishAck`, and consumed messages that own
//! their span until `ack`, `nak` or `term`. No acks and no retries of tracewire's own.

use crate::headers::{start_send, NatsHeaders};
use async_nats::jetstream::consumer::pull::BatchError;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::context::{PublishAckFuture, PublishError};
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::{self, publish::PublishAck};
use async_nats::subject::ToSubject;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_core::Stream;
use opentelemetry::{Context, KeyValue};
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{self, Poll};
use tracewire::messaging::attributes::{CONSUMER_GROUP_NAME, MESSAGE_ID, REDELIVERED};
use tracewire::messaging::{Messaging, OpenSpan, OperationSpec, OperationType, Outcome};
use tracewire::task::Traced;

/// `tracewire.nats.stream`: the JetStream stream.
pub const NATS_STREAM: &str = "tracewire.nats.stream";
/// `tracewire.nats.sequence`: the message's stream sequence.
pub const NATS_SEQUENCE: &str = "tracewire.nats.sequence";

/// A JetStream context whose publishes carry the current trace context.
#[derive(Clone, Debug)]
pub struct TracedJetStream {
    js: jetstream::Context,
    messaging: Messaging,
}

impl TracedJetStream {
    /// Wraps `js` with default instrumentation.
    pub fn new(js: jetstream::Context) -> Self {
        Self::with_messaging(js, crate::messaging())
    }

    /// Wraps `js` with your own instrumentation settings.
    pub fn with_messaging(js: jetstream::Context, messaging: Messaging) -> Self {
        TracedJetStream { js, messaging }
    }

    /// The JetStream context.
    pub fn context(&self) -> &jetstream::Context {
        &self.js
    }

    /// The instrumentation.
    pub fn messaging(&self) -> &Messaging {
        &self.messaging
    }

    /// `publish` with a span `publish {subject}` that ends on the `PublishAck`.
    pub async fn publish<S: ToSubject>(
        &self,
        subject: S,
        payload: Bytes,
    ) -> Result<TracedPublishAck, PublishError> {
        self.publish_with_headers(subject, HeaderMap::new(), payload)
            .await
    }

    /// `publish_with_headers`: your headers (`Nats-Msg-Id`…) are kept.
    pub async fn publish_with_headers<S: ToSubject>(
        &self,
        subject: S,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<TracedPublishAck, PublishError> {
        let subject = subject.to_subject();
        let (span, headers) = start_send(
            &self.messaging,
            "publish",
            &subject,
            &payload,
            Some(headers),
        );
        match self
            .js
            .publish_with_headers(subject, headers, payload)
            .await
        {
            Ok(inner) => Ok(TracedPublishAck { inner, span }),
            Err(e) => {
                span.end(Outcome::error("publish", e.to_string()));
                Err(e)
            }
        }
    }

    /// Fetches up to `max_messages` from a pull consumer. One `receive {stream}` span links
    /// every message's context (`messaging.batch.message_count`); each message owns its own
    /// process span, parented per the topology policy. Items come back as the client gave them.
    pub async fn fetch(
        &self,
        consumer: &PullConsumer,
        max_messages: usize,
    ) -> Result<Vec<Result<TracedJsMessage, async_nats::Error>>, BatchError> {
        let stream_name = consumer.cached_info().stream_name.clone();
        let batch = consumer
            .fetch()
            .max_messages(max_messages)
            .messages()
            .await?;
        let received: Vec<_> = futures_util::StreamExt::collect::<Vec<_>>(batch).await;
        let messages: Vec<_> = received
            .into_iter()
            .map(|r| r.map(|m| TracedJsMessage::start(m, &self.messaging)))
            .collect();
        let contexts = messages
            .iter()
            .filter_map(|m| m.as_ref().ok())
            .map(|m| m.message_context.clone())
            .collect::<Vec<_>>();
        let spec = OperationSpec::new(OperationType::Receive, "receive", &stream_name);
        let batch = self.messaging.start_batch(spec, &contexts);
        batch.span().end();
        Ok(messages)
    }
}

use opentelemetry::trace::TraceContextExt;

/// The `PublishAck` future, which also ends the publish span (stream and sequence recorded; a
/// failure marks it). Resolves to the client's result untouched.
#[must_use = "the ack says whether the stream stored the message"]
#[derive(Debug)]
pub struct TracedPublishAck {
    inner: PublishAckFuture,
    span: OpenSpan,
}

impl IntoFuture for TracedPublishAck {
    type Output = Result<PublishAck, PublishError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let result = self.inner.await;
            if let Ok(ack) = &result {
                self.span
                    .set_attribute(KeyValue::new(NATS_STREAM, ack.stream.clone()));
                self.span
                    .set_attribute(KeyValue::new(NATS_SEQUENCE, ack.sequence as i64));
            }
            self.span
                .end(Outcome::after(&result, Outcome::Ok, "publish_ack"));
            result
        })
    }
}

/// A JetStream message with its `process {subject}` span. [`ack`](Self::ack), [`nak`](Self::nak)
/// and [`term`](Self::term) settle it and end the span; [`in_progress`](Self::in_progress) keeps
/// it open; dropped unsettled, the span ends marked unsettled (the server redelivers).
#[derive(Debug)]
pub struct TracedJsMessage {
    message: jetstream::Message,
    message_context: Context,
    span: OpenSpan,
}

impl TracedJsMessage {
    /// Extracts the message's context and starts its span.
    pub fn start(message: jetstream::Message, messaging: &Messaging) -> Self {
        let extracted = messaging
            .propagator()
            .extract(&NatsHeaders(message.headers.as_ref()));
        let mut spec = OperationSpec::new(OperationType::Process, "process", &message.subject)
            .body(&message.payload);
        if let Ok(info) = message.info() {
            spec = spec
                .attribute(KeyValue::new(NATS_STREAM, info.stream.to_owned()))
                .attribute(KeyValue::new(NATS_SEQUENCE, info.stream_sequence as i64))
                .attribute(KeyValue::new(CONSUMER_GROUP_NAME, info.consumer.to_owned()))
                .attribute(KeyValue::new(REDELIVERED, info.delivered > 1));
        }
        if let Some(id) = message
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
        {
            spec = spec.attribute(KeyValue::new(MESSAGE_ID, id.as_str().to_owned()));
        }
        let span = messaging.open_consume(&extracted.context, spec);
        TracedJsMessage {
            message,
            message_context: extracted.context,
            span,
        }
    }

    /// The message.
    pub fn message(&self) -> &jetstream::Message {
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

    /// Acknowledges and ends the span; the client's result is returned untouched.
    pub async fn ack(self) -> Result<(), async_nats::Error> {
        self.settle(AckKind::Ack, Outcome::Ok).await
    }

    /// Negatively acknowledges (redelivery, after `delay` if given) and ends the span as failed.
    pub async fn nak(self, delay: Option<std::time::Duration>) -> Result<(), async_nats::Error> {
        self.settle(
            AckKind::Nak(delay),
            Outcome::error("nak", "the consumer nak'ed the message"),
        )
        .await
    }

    /// Terminates redelivery and ends the span as failed.
    pub async fn term(self) -> Result<(), async_nats::Error> {
        self.settle(
            AckKind::Term,
            Outcome::error("term", "the consumer terminated the message"),
        )
        .await
    }

    /// Tells the server work is ongoing; the span stays open.
    pub async fn in_progress(&self) -> Result<(), async_nats::Error> {
        self.message.ack_with(AckKind::Progress).await
    }

    async fn settle(self, kind: AckKind, done: Outcome) -> Result<(), async_nats::Error> {
        let result = self.message.ack_with(kind).await;
        self.span.end(Outcome::after(&result, done, "settle"));
        result
    }

    /// The message and its span, to hand the work to another task.
    pub fn into_parts(self) -> (jetstream::Message, OpenSpan) {
        (self.message, self.span)
    }
}

pin_project_lite::pin_project! {
    /// Any stream of JetStream messages (pull `messages()`, a fetched batch, push `messages()`,
    /// ordered consumers) yielding [`TracedJsMessage`]s; errors pass through untouched.
    #[must_use = "streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct TracedJsStream<S> {
        #[pin]
        inner: S,
        messaging: Messaging,
    }
}

impl<S> TracedJsStream<S> {
    /// Wraps `inner`, starting spans with `messaging`.
    pub fn new(inner: S, messaging: Messaging) -> Self {
        TracedJsStream { inner, messaging }
    }
}

impl<S, E> Stream for TracedJsStream<S>
where
    S: Stream<Item = Result<jetstream::Message, E>>,
{
    type Item = Result<TracedJsMessage, E>;

    fn poll_next(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let next = std::task::ready!(this.inner.poll_next(task));
        Poll::Ready(next.map(|r| r.map(|m| TracedJsMessage::start(m, this.messaging))))
    }
}
