//! Consuming: messages that own their CONSUMER span until committed, stored or dropped.

use crate::headers::KafkaHeaders;
use crate::partition::partition_attribute;
use crate::{KAFKA_OFFSET, KAFKA_TOMBSTONE};
use opentelemetry::{Context, KeyValue, StringValue};
use rdkafka::consumer::{
    CommitMode, Consumer, ConsumerContext, DefaultConsumerContext, MessageStream, StreamConsumer,
};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{BorrowedMessage, Message, OwnedMessage};
use rdkafka::util::DefaultRuntime;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tracewire::messaging::attributes::CONSUMER_GROUP_NAME;
use tracewire::messaging::{Messaging, OperationSpec, OperationType};
use tracewire::task::{Batch, JobOutcome};
use tracewire::wrapper::{TracedStream, WrapMessage};
use tracewire::{OpenSpan, Outcome};

/// A `StreamConsumer` yielding [`TracedMessage`]s. Polls that return no message start no span.
pub struct TracedConsumer<C: ConsumerContext + 'static = DefaultConsumerContext, R = DefaultRuntime>
{
    inner: StreamConsumer<C, R>,
    messaging: Messaging,
    /// `messaging.consumer.group.name`, built once: every message clones a reference count.
    group: Option<KeyValue>,
}

impl<C: ConsumerContext + 'static, R> std::fmt::Debug for TracedConsumer<C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedConsumer")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl TracedConsumer {
    /// Wraps `consumer` with default instrumentation. rdkafka does not say a consumer's group:
    /// name it with [`group`](Self::group), or use [`from_config`](Self::from_config).
    pub fn new(consumer: StreamConsumer) -> Self {
        Self::with_messaging(consumer, crate::messaging())
    }

    /// Creates the consumer from `config`, recording its `group.id` as the consumer group.
    pub fn from_config(config: &ClientConfig) -> KafkaResult<Self> {
        Self::from_config_with(config, crate::messaging())
    }

    /// As [`from_config`](Self::from_config), with your own instrumentation settings.
    pub fn from_config_with(config: &ClientConfig, messaging: Messaging) -> KafkaResult<Self> {
        let consumer = Self::with_messaging(config.create()?, messaging);
        Ok(match config.get("group.id") {
            Some(group) => consumer.group(group),
            None => consumer,
        })
    }
}

impl<C: ConsumerContext + 'static, R> TracedConsumer<C, R> {
    /// Wraps `consumer` with your own instrumentation settings.
    pub fn with_messaging(consumer: StreamConsumer<C, R>, messaging: Messaging) -> Self {
        TracedConsumer {
            inner: consumer,
            messaging,
            group: None,
        }
    }

    /// Records `group` (the consumer's `group.id`) as `messaging.consumer.group.name`.
    pub fn group(mut self, group: &str) -> Self {
        let name = StringValue::from(Arc::<str>::from(group));
        self.group = Some(KeyValue::new(CONSUMER_GROUP_NAME, name));
        self
    }

    tracewire::wrapper_accessors!(StreamConsumer<C, R>);

    /// The next message, with its span `process {topic}` started; errors untouched.
    pub async fn recv(&self) -> KafkaResult<TracedMessage<'_, C, R>> {
        Ok(self.traced(self.inner.recv().await?))
    }

    /// Commits a [`detach`](TracedMessage::detach)ed message's offset — its offset + 1, the
    /// next one to read, as [`TracedMessage::commit`] does — for handlers that run concurrently.
    /// Kafka commits a partition's position, not single messages: commit a message only once
    /// every earlier message of its partition is done, or a crash skips the unfinished ones.
    /// rdkafka's result untouched; end the message's span with it
    /// ([`OpenSpan::end_after`]).
    pub fn commit_owned(&self, message: &OwnedMessage, mode: CommitMode) -> KafkaResult<()> {
        self.inner.commit(&next_offset(message)?, mode)
    }

    /// Stores a detached message's offset (+ 1) for the next commit (with
    /// `enable.auto.offset.store=false`), as [`TracedMessage::store_offset`] does.
    pub fn store_owned(&self, message: &OwnedMessage) -> KafkaResult<()> {
        self.inner.store_offsets(&next_offset(message)?)
    }

    /// rdkafka's message stream, yielding traced messages: a `consumer.stream()` loop changes in
    /// one line. Errors pass through untouched.
    pub fn stream(&self) -> TracedMessageStream<'_, C, R> {
        TracedStream::from_parts(self.inner.stream(), WrapKafka(self))
    }

    fn traced<'c>(&'c self, message: BorrowedMessage<'c>) -> TracedMessage<'c, C, R> {
        let mut headers = KafkaHeaders::none();
        headers.read(&message);
        let span = (self.messaging).open_message(&headers, self.spec(&message));
        TracedMessage {
            message,
            span,
            consumer: self,
        }
    }

    #[inline(always)] // a spec (about 152 bytes) returned from a call is copied out of it
    fn spec<'m>(&self, message: &'m BorrowedMessage<'_>) -> OperationSpec<'m> {
        let mut spec = OperationSpec::new(OperationType::Process, "process", message.topic());
        spec.key = message.key();
        spec.put_attribute(|| partition_attribute(message.partition()));
        spec.put_attribute(|| KeyValue::new(KAFKA_OFFSET, message.offset()));
        spec.payload = message.payload();
        spec.body_size = spec.payload.map(<[u8]>::len);
        if spec.payload.is_none() {
            spec.put_attribute(|| KeyValue::new(KAFKA_TOMBSTONE, true));
        }
        spec.sent_at = (message.timestamp().to_millis())
            .and_then(|ms| u64::try_from(ms).ok())
            .map(|ms| std::time::UNIX_EPOCH + Duration::from_millis(ms));
        if let Some(group) = &self.group {
            spec.put_attribute(|| group.clone());
        }
        spec
    }

    /// Receives up to `max` messages, waiting at most `window` after the first call for the
    /// batch to fill (no message in the window: an empty batch and no span). Errors met on the
    /// way are kept in the batch, untouched.
    pub async fn recv_batch(&self, max: usize, window: Duration) -> ReceivedBatch<'_, C, R> {
        let mut batch = ReceivedBatch {
            consumer: self,
            messages: Vec::new(),
            errors: Vec::new(),
        };
        let deadline = tokio::time::Instant::now() + window;
        while batch.messages.len() < max {
            match tokio::time::timeout_at(deadline, self.inner.recv()).await {
                Ok(Ok(message)) => {
                    let cx = self.messaging.extract(&KafkaHeaders::of_message(&message));
                    batch.messages.push((cx, message));
                }
                Ok(Err(e)) => batch.errors.push(e),
                Err(_elapsed) => break,
            }
        }
        batch
    }
}

/// A consumed message that owns its span. [`commit`](Self::commit) or
/// [`store_offset`](Self::store_offset) settle it and end the span; [`finish`](Self::finish)
/// ends it without touching offsets (auto-commit); dropping it ends it unsettled.
pub struct TracedMessage<
    'c,
    C: ConsumerContext + 'static = DefaultConsumerContext,
    R = DefaultRuntime,
> {
    message: BorrowedMessage<'c>,
    span: OpenSpan,
    consumer: &'c TracedConsumer<C, R>,
}

impl<C: ConsumerContext + 'static, R> std::fmt::Debug for TracedMessage<'_, C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedMessage")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl<'c, C: ConsumerContext + 'static, R> TracedMessage<'c, C, R> {
    tracewire::message_accessors!(BorrowedMessage<'c>);

    /// Commits this message's offset and ends the span; rdkafka's result untouched.
    pub fn commit(self, mode: CommitMode) -> KafkaResult<()> {
        let result = self.consumer.inner.commit_message(&self.message, mode);
        self.span.end_after(result, Outcome::Ok, "commit")
    }

    /// Stores this message's offset (for `enable.auto.offset.store=false`) and ends the span.
    pub fn store_offset(self) -> KafkaResult<()> {
        let result = self.consumer.inner.store_offset_from_message(&self.message);
        self.span.end_after(result, Outcome::Ok, "commit")
    }

    /// Ends the span with `outcome`, leaving offsets alone.
    pub fn finish(self, outcome: Outcome) {
        self.span.end(outcome);
    }

    /// rdkafka's `detach`: an owned copy of the message and its span, for handing the work to
    /// a task that outlives the consumer's borrow — handlers that run concurrently. Commit it
    /// with [`TracedConsumer::commit_owned`] (or store it with
    /// [`store_owned`](TracedConsumer::store_owned)) and end the span with the result:
    ///
    /// ```no_run
    /// # async fn run(consumer: &tracewire_kafka::TracedConsumer) -> rdkafka::error::KafkaResult<()> {
    /// use rdkafka::consumer::CommitMode;
    /// use tracewire::Outcome;
    ///
    /// let (message, span) = consumer.recv().await?.detach();
    /// let handled = tokio::spawn(span.in_context(async move { /* handle */ message }));
    /// let message = handled.await.expect("the handler ran");
    /// let committed = consumer.commit_owned(&message, CommitMode::Async);
    /// span.end_after(committed, Outcome::Ok, "commit")
    /// # }
    /// ```
    pub fn detach(self) -> (OwnedMessage, OpenSpan) {
        (self.message.detach(), self.span)
    }
}

/// The position after `message`: what a commit of it says.
fn next_offset(message: &OwnedMessage) -> KafkaResult<TopicPartitionList> {
    let mut list = TopicPartitionList::with_capacity(1);
    let next = Offset::Offset(message.offset() + 1);
    list.add_partition_offset(message.topic(), message.partition(), next)?;
    Ok(list)
}

/// The consumer's half of [`TracedConsumer::stream`]: turns each message into a
/// [`TracedMessage`].
#[derive(Debug)]
pub struct WrapKafka<'c, C: ConsumerContext + 'static = DefaultConsumerContext, R = DefaultRuntime>(
    &'c TracedConsumer<C, R>,
);

impl<'c, C: ConsumerContext + 'static, R> WrapMessage<KafkaResult<BorrowedMessage<'c>>>
    for WrapKafka<'c, C, R>
{
    type Wrapped = KafkaResult<TracedMessage<'c, C, R>>;

    fn messaging(&self) -> &Messaging {
        &self.0.messaging
    }

    fn wrap(&mut self, item: KafkaResult<BorrowedMessage<'c>>) -> Self::Wrapped {
        item.map(|message| self.0.traced(message))
    }
}

/// rdkafka's `MessageStream`, yielding [`TracedMessage`]s ([`TracedConsumer::stream`]).
pub type TracedMessageStream<'c, C = DefaultConsumerContext, R = DefaultRuntime> =
    TracedStream<MessageStream<'c, C>, WrapKafka<'c, C, R>>;

/// Messages received together by [`TracedConsumer::recv_batch`], each with its own context.
pub struct ReceivedBatch<
    'c,
    C: ConsumerContext + 'static = DefaultConsumerContext,
    R = DefaultRuntime,
> {
    consumer: &'c TracedConsumer<C, R>,
    messages: Vec<(Context, BorrowedMessage<'c>)>,
    /// Errors the consumer returned while the batch filled, untouched.
    pub errors: Vec<KafkaError>,
}

impl<'c, C: ConsumerContext + 'static, R> ReceivedBatch<'c, C, R> {
    /// The messages, in arrival order.
    pub fn messages(&self) -> impl Iterator<Item = &BorrowedMessage<'c>> {
        self.messages.iter().map(|(_, m)| m)
    }

    /// How many messages.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Handles every message with the core's batch helper: one span `process {topic}` with a
    /// link to each message's context and `messaging.batch.message_count`, each message handled
    /// in its own child span parented on its producer's context, at most `concurrency` at once;
    /// results in arrival order. Offsets are left to you (`consumer().commit_consumer_state`).
    pub async fn process<F, Fut, T>(&self, concurrency: usize, handler: F) -> Vec<T>
    where
        F: Fn(&BorrowedMessage<'c>) -> Fut,
        Fut: Future<Output = T>,
        T: JobOutcome,
    {
        if self.messages.is_empty() {
            return Vec::new();
        }
        let topic = self.messages[0].1.topic();
        let same_topic = self.messages.iter().all(|(_, m)| m.topic() == topic);
        let destination = if same_topic { topic } else { "" };
        let items = self
            .messages
            .iter()
            .map(|(cx, m)| (cx.clone(), m))
            .collect();
        Batch::messages(&self.consumer.messaging, "process", destination)
            .concurrency(concurrency)
            .run(items, handler)
            .await
    }
}
