//! JetStream: publishes whose span ends on the `PublishAck`, and consumed messages that own
//! their span until `ack`, `nak` or `term`. No acks and no retries of tracewire's own.

use crate::headers::{open_send, NatsHeaders};
use crate::{NATS_SEQUENCE, NATS_STREAM};
use async_nats::header::NATS_MESSAGE_ID;
use async_nats::jetstream::consumer::pull::BatchError;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::context::{PublishAckFuture, PublishError};
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::{self, publish::PublishAck};
use async_nats::subject::ToSubject;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::StreamExt;
use opentelemetry::{Context, KeyValue};
use std::future::{Future, IntoFuture};
use tracewire::messaging::attributes::{CONSUMER_GROUP_NAME, MESSAGE_ID, REDELIVERED};
use tracewire::messaging::{Messaging, OperationSpec, OperationType};
use tracewire::wrapper::{Repeated, Settle, TracedStream, WrapMessage, WrapStream};
use tracewire::{OpenSpan, Outcome};

/// A JetStream context whose publishes carry the current trace context.
#[derive(Clone, Debug)]
pub struct TracedJetStream {
    inner: jetstream::Context,
    messaging: Messaging,
}

/// The `PublishAck` future, which also ends the publish span (stream and sequence recorded; a
/// failure marks it). Resolves to the client's result untouched.
pub type TracedPublishAck = Settle<<PublishAckFuture as IntoFuture>::IntoFuture>;

impl TracedJetStream {
    /// Wraps `js` with default instrumentation.
    pub fn new(js: jetstream::Context) -> Self {
        Self::with_messaging(js, crate::messaging())
    }

    /// Wraps `js` with your own instrumentation settings.
    pub fn with_messaging(js: jetstream::Context, messaging: Messaging) -> Self {
        TracedJetStream {
            inner: js,
            messaging,
        }
    }

    tracewire::wrapper_accessors!(jetstream::Context);

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
        let (span, headers) = open_send(
            &self.messaging,
            "publish",
            &subject,
            &payload,
            Some(headers),
        );
        match self
            .inner
            .publish_with_headers(subject, headers, payload)
            .await
        {
            Ok(ack) => Ok(Settle::new(ack.into_future(), span, stored)),
            Err(e) => {
                span.end(Outcome::error("publish", e.to_string()));
                Err(e)
            }
        }
    }

    /// Fetches up to `max_messages` from a pull consumer. One `receive {stream}` span covers the
    /// fetch — it starts before the request and ends when the batch is in hand — and links every
    /// message's context (`messaging.batch.message_count`). Each message owns its own process
    /// span, opened in the receive span's context: the [`Auto`](tracewire::messaging::Topology::Auto)
    /// topology parents it on the receive, `Parent` on the producer, `Link` starts a new trace.
    /// Items come back as the client gave them.
    pub async fn fetch(
        &self,
        consumer: &PullConsumer,
        max_messages: usize,
    ) -> Result<Vec<Result<TracedJsMessage, async_nats::Error>>, BatchError> {
        let stream_name = consumer.cached_info().stream_name.clone();
        let spec = OperationSpec::new(OperationType::Receive, "receive", &stream_name);
        let mut receive = self.messaging.open_receive(spec);
        let pulled = consumer.fetch().max_messages(max_messages).messages().await;
        let received: Vec<_> = match pulled {
            Ok(batch) => batch.collect().await,
            Err(e) => {
                receive.end(Outcome::error("receive", e.to_string()));
                return Err(e);
            }
        };
        let mut contexts = Vec::with_capacity(received.len());
        let messages: Vec<_> = {
            let _in_receive = receive.context().clone().attach();
            let mut names = Names::default(); // the batch's messages share theirs
            let mut open = |message: jetstream::Message| {
                let own = self
                    .messaging
                    .extract(&NatsHeaders(message.headers.as_ref()));
                let span = TracedJsMessage::open_span(
                    &message,
                    &self.messaging,
                    &mut names,
                    0,
                    Some(&own),
                );
                contexts.push(own);
                TracedJsMessage { message, span }
            };
            received.into_iter().map(|r| r.map(&mut open)).collect()
        };
        self.messaging.received(&mut receive, &contexts);
        receive.end(Outcome::Ok);
        Ok(messages)
    }
}

/// What the stream's `PublishAck` means for the publish span.
/// The stream and consumer names a consumer's messages repeat, made once (not per message).
#[derive(Debug, Clone, Default)]
struct Names {
    stream: Repeated,
    consumer: Repeated,
}

fn stored(result: &Result<PublishAck, PublishError>, span: &OpenSpan) -> Outcome {
    if let Ok(ack) = result {
        span.set_attribute(KeyValue::new(NATS_STREAM, ack.stream.clone()));
        span.set_attribute(KeyValue::new(NATS_SEQUENCE, ack.sequence as i64));
    }
    Outcome::after(result, Outcome::Ok, "publish_ack")
}

/// A JetStream message with its `process {subject}` span. [`ack`](Self::ack), [`nak`](Self::nak)
/// and [`term`](Self::term) settle it and end the span; [`in_progress`](Self::in_progress) keeps
/// it open; dropped unsettled, the span ends marked unsettled (the server redelivers).
#[derive(Debug)]
pub struct TracedJsMessage {
    message: jetstream::Message,
    span: OpenSpan,
}

impl TracedJsMessage {
    /// Opens `message`'s span in the current context, from the message's own context: `own` when
    /// the caller has extracted it (a fetch links it from its receive span), else extracted
    /// here. `count`: 1, or 0 when a receive span counts the message. Takes the message by
    /// reference: it is several hundred bytes, and each move is a copy.
    fn open_span(
        message: &jetstream::Message,
        messaging: &Messaging,
        names: &mut Names,
        count: u64,
        own: Option<&Context>,
    ) -> OpenSpan {
        let delivery = crate::ack_subject::read(message);
        let Names { stream, consumer } = names;
        let mut details = |push: &mut dyn FnMut(KeyValue)| {
            if let Some(delivery) = &delivery {
                push(KeyValue::new(NATS_STREAM, stream.value(delivery.stream)));
            }
            let id = (message.headers.as_ref()).and_then(|h| h.get(NATS_MESSAGE_ID));
            if let Some(id) = id {
                push(KeyValue::new(MESSAGE_ID, id.as_str().to_owned()));
            }
        };
        let mut spec = OperationSpec::new(OperationType::Process, "process", &message.subject)
            .body(&message.payload)
            .message_count(count)
            .details(&mut details);
        if let Some(delivery) = &delivery {
            let sequence = delivery.stream_sequence as i64;
            spec.put_attribute(|| KeyValue::new(NATS_SEQUENCE, sequence));
            spec.put_attribute(|| {
                KeyValue::new(CONSUMER_GROUP_NAME, consumer.value(delivery.consumer))
            });
            spec.put_attribute(|| KeyValue::new(REDELIVERED, delivery.delivered > 1));
            spec.sent_at = Some(delivery.published);
        }
        let headers = NatsHeaders(message.headers.as_ref());
        match own {
            Some(own) => messaging.open_consume(own, messaging.capture_headers(spec, || headers)),
            None => messaging.open_message(&headers, spec),
        }
    }

    tracewire::message_accessors!(jetstream::Message);

    // `ack`, `nak` and `term` return `settle`'s future itself rather than an `async fn`'s
    // that would hold it: the message (several hundred bytes) is moved once into the future
    // the caller awaits, not a second time from the outer future into the inner one.

    /// Acknowledges and ends the span; the client's result is returned untouched.
    pub fn ack(self) -> impl Future<Output = Result<(), async_nats::Error>> + Send {
        self.settle(AckKind::Ack, Outcome::Ok)
    }

    /// Negatively acknowledges (redelivery, after `delay` if given) and ends the span as failed.
    pub fn nak(
        self,
        delay: Option<std::time::Duration>,
    ) -> impl Future<Output = Result<(), async_nats::Error>> + Send {
        let outcome = Outcome::error("nak", "the consumer nak'ed the message");
        self.settle(AckKind::Nak(delay), outcome)
    }

    /// Terminates redelivery and ends the span as failed.
    pub fn term(self) -> impl Future<Output = Result<(), async_nats::Error>> + Send {
        let outcome = Outcome::error("term", "the consumer terminated the message");
        self.settle(AckKind::Term, outcome)
    }

    /// Tells the server work is ongoing; the span stays open.
    pub async fn in_progress(&self) -> Result<(), async_nats::Error> {
        self.message.ack_with(AckKind::Progress).await
    }

    async fn settle(self, kind: AckKind, done: Outcome) -> Result<(), async_nats::Error> {
        let result = self.message.ack_with(kind).await;
        self.span.end_after(result, done, "settle")
    }
}

/// The stream's half of [`TracedJsStream`]: the instrumentation.
#[derive(Debug, Clone)]
pub struct WrapJetStream {
    messaging: Messaging,
    names: Names,
}

impl<S> WrapStream<S> for WrapJetStream {
    fn for_stream(_: &S, messaging: Messaging) -> Self {
        WrapJetStream {
            messaging,
            names: Names::default(),
        }
    }

    fn default_messaging() -> Messaging {
        crate::messaging()
    }
}

impl<E> WrapMessage<Result<jetstream::Message, E>> for WrapJetStream {
    type Wrapped = Result<TracedJsMessage, E>;

    fn messaging(&self) -> &Messaging {
        &self.messaging
    }

    fn wrap(&mut self, item: Result<jetstream::Message, E>) -> Self::Wrapped {
        item.map(|message| {
            let span =
                TracedJsMessage::open_span(&message, &self.messaging, &mut self.names, 1, None);
            TracedJsMessage { message, span }
        })
    }
}

/// Any stream of JetStream messages (pull `messages()`, a fetched batch, push `messages()`,
/// ordered consumers) yielding [`TracedJsMessage`]s; errors pass through untouched.
/// `TracedJsStream::new(stream)` or `TracedJsStream::with_messaging(stream, messaging)`.
pub type TracedJsStream<S> = TracedStream<S, WrapJetStream>;
