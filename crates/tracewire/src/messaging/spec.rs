//! What a broker crate says about one messaging operation, before its span starts.

use opentelemetry::trace::SpanKind;
use opentelemetry::KeyValue;
use std::time::SystemTime;

/// The kind of messaging operation (`messaging.operation.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationType {
    /// A message leaves the producer (PRODUCER span).
    Send,
    /// A message is pulled from the broker (CLIENT span).
    Receive,
    /// A message is handled (CONSUMER span).
    Process,
    /// A message is acknowledged, rejected or committed (CLIENT span).
    Settle,
}

impl OperationType {
    /// The semconv value of `messaging.operation.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationType::Send => "send",
            OperationType::Receive => "receive",
            OperationType::Process => "process",
            OperationType::Settle => "settle",
        }
    }

    /// The span kind the conventions give this operation.
    pub fn span_kind(self) -> SpanKind {
        match self {
            OperationType::Send => SpanKind::Producer,
            OperationType::Process => SpanKind::Consumer,
            OperationType::Receive | OperationType::Settle => SpanKind::Client,
        }
    }
}

/// Room for a span's attributes, the broker crate's and the core's together, its details too
/// (four of the conventions', conversation id, body size, server address and port, and a few
/// of the system's own): the span takes this one `Vec` — a span that records gets its details
/// in the room left —, so a message allocates one, not two.
const SPAN_ATTRIBUTES: usize = 16;

/// Makes a span's [details](OperationSpec::details): called once, only for a span that
/// records, with where each attribute goes.
pub type Details<'a> = &'a mut dyn FnMut(&mut dyn FnMut(KeyValue));

/// One operation on one destination: the broker crate fills this in, the core turns it into a
/// span with the conventions' name, kind and attributes.
pub struct OperationSpec<'a> {
    /// The kind of operation.
    pub kind: OperationType,
    /// The system's own verb: `send`, `publish`, `process`, `receive`, `ack`, `nack`, `commit`…
    pub name: &'static str,
    /// Topic, `exchange:routing_key`, subject… (before the destination hook).
    pub destination: &'a str,
    /// Body size in bytes.
    pub body_size: Option<usize>,
    /// Message key, recorded only when the destination opted in.
    pub key: Option<&'a [u8]>,
    /// Body, recorded only when the destination opted in.
    pub payload: Option<&'a [u8]>,
    /// System-specific attributes (partition, offset, delivery tag…); the span's own join them
    /// in this `Vec`. The sampler sees them: what it need not see belongs in
    /// [`details`](Self::details).
    pub attributes: Vec<KeyValue>,
    /// The attributes only a span that records needs and that cost something to make — a
    /// string allocated (a message id) or shared (an interned routing key) —, made after the
    /// sampler has decided: a message whose span does not record never makes them. A number
    /// or a flag costs less in [`attributes`](Self::attributes) (each detail is one
    /// `set_attribute` on the span, about 60 instructions). None of the conventions'
    /// sampling-relevant attributes (system, destination, operation, server, consumer group,
    /// partition, subscription) belongs here: a sampler must see those at the span's start.
    pub details: Option<Details<'a>>,
    /// How many messages the operation hands to the application, for the sent/consumed
    /// metrics: 1, or 0 for a message that its batch or receive span already counts.
    pub message_count: u64,
    /// When the message was sent, as the broker tells it (for a policy's queue-time boundary).
    pub sent_at: Option<SystemTime>,
}

// The builder methods are `#[inline]`: a broker crate calls them once per message, and a spec
// passed by value to a call that is not inlined is copied whole (about 152 bytes) each time.
// For the same reason a broker crate sets what a branch decides in place
// (`spec.put_attribute(…)`, `spec.sent_at = …`): `spec = spec.attribute(…)` inside an `if`
// copies the spec out and back.
impl<'a> OperationSpec<'a> {
    /// An operation of `kind`, verb `name`, on `destination`.
    #[inline]
    pub fn new(kind: OperationType, name: &'static str, destination: &'a str) -> Self {
        OperationSpec {
            kind,
            name,
            destination,
            body_size: None,
            key: None,
            payload: None,
            attributes: Vec::with_capacity(SPAN_ATTRIBUTES),
            details: None,
            message_count: 1,
            sent_at: None,
        }
    }

    /// Sets the body: its size is always recorded, its bytes only on opt-in.
    #[inline]
    pub fn body(mut self, payload: &'a [u8]) -> Self {
        self.body_size = Some(payload.len());
        self.payload = Some(payload);
        self
    }

    /// Sets the message key (recorded only on opt-in).
    #[inline]
    pub fn key(mut self, key: Option<&'a [u8]>) -> Self {
        self.key = key;
        self
    }

    /// Says how many messages the operation hands to the application (default 1; 0 for a
    /// message that its batch or receive span already counts, so it is not counted twice).
    #[inline]
    pub fn message_count(mut self, count: u64) -> Self {
        self.message_count = count;
        self
    }

    /// Sets when the message was sent (Kafka's timestamp, AMQP's `timestamp`, JetStream's
    /// publish time).
    #[inline]
    pub fn sent_at(mut self, at: Option<SystemTime>) -> Self {
        self.sent_at = at;
        self
    }

    /// Adds one attribute.
    #[inline]
    pub fn attribute(mut self, kv: KeyValue) -> Self {
        self.attributes.push(kv);
        self
    }

    /// Adds the attribute `make` makes, made in its place in
    /// [`attributes`](Self::attributes): what a broker crate calls for each attribute of every
    /// message. `attributes.push(KeyValue::new(…))` makes the value on the stack first, in
    /// 8-byte stores, then copies it in 16-byte loads that stall on those stores (the store
    /// buffer cannot forward them) — the Kafka receive spent 26 ns a message there.
    ///
    /// ```
    /// use opentelemetry::KeyValue;
    /// use tracewire::messaging::{OperationSpec, OperationType};
    ///
    /// let mut spec = OperationSpec::new(OperationType::Process, "process", "orders");
    /// spec.put_attribute(|| KeyValue::new("messaging.kafka.offset", 42));
    /// assert_eq!(spec.attributes.len(), 1);
    /// ```
    #[inline(always)]
    pub fn put_attribute(&mut self, make: impl FnOnce() -> KeyValue) {
        super::Attributes::put(&mut self.attributes, make);
    }

    /// Sets the span's [details](Self::details): `make` is called only if the span records.
    ///
    /// ```
    /// use opentelemetry::KeyValue;
    /// use tracewire::messaging::{OperationSpec, OperationType};
    ///
    /// let message_id = "a1b2";
    /// let mut details = |push: &mut dyn FnMut(KeyValue)| {
    ///     push(KeyValue::new("messaging.message.id", message_id.to_owned()));
    /// };
    /// let spec = OperationSpec::new(OperationType::Process, "process", "orders").details(&mut details);
    /// assert!(spec.details.is_some());
    /// ```
    #[inline]
    pub fn details(mut self, make: Details<'a>) -> Self {
        self.details = Some(make);
        self
    }
}

impl std::fmt::Debug for OperationSpec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationSpec")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("destination", &self.destination)
            .field("body_size", &self.body_size)
            .field("key", &self.key)
            .field("payload", &self.payload)
            .field("attributes", &self.attributes)
            .field("details", &self.details.is_some())
            .field("message_count", &self.message_count)
            .field("sent_at", &self.sent_at)
            .finish()
    }
}
