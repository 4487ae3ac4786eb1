//! The carrier: Kafka record headers (bytes), read without panicking, written by rebuilding
//! `OwnedHeaders` (it is insert-by-value and cannot replace or remove).

use crate::raw::{message_headers_into, owned_headers, RawHeaders};
use opentelemetry::Context;
use rdkafka::message::{BorrowedMessage, Header, OwnedHeaders, OwnedMessage};
use rdkafka::Message;
use tracewire::carrier::{AppendHeaders, HeaderReader, PropagationHeaders, Transport};
use tracewire::{Extracted, Propagator};

/// The headers of a Kafka message as a tracewire carrier. Keys are compared as bytes without
/// regard to ASCII case; null values are skipped; a non-UTF-8 key is just bytes, never a panic.
#[derive(Debug, Clone, Default)]
pub struct KafkaHeaders<'a> {
    entries: RawHeaders<'a>,
}

impl<'a> KafkaHeaders<'a> {
    /// The headers of a consumed message.
    pub fn of_message(message: &'a BorrowedMessage<'_>) -> Self {
        let mut headers = Self::none();
        headers.read(message);
        headers
    }

    /// No headers yet: for [`read`](Self::read) in the frame that keeps them.
    pub(crate) fn none() -> Self {
        KafkaHeaders {
            entries: RawHeaders::default(),
        }
    }

    /// Reads `message`'s headers into these (empty): the consumer's per-message path reads them
    /// in place, where a returned `KafkaHeaders` (about 290 bytes) is copied out of the call.
    pub(crate) fn read(&mut self, message: &'a BorrowedMessage<'_>) {
        message_headers_into(message, &mut self.entries);
    }

    /// The headers of an owned header list (a detached message's, or a record's).
    pub fn of_owned(headers: Option<&'a OwnedHeaders>) -> Self {
        KafkaHeaders {
            entries: headers.map(owned_headers).unwrap_or_default(),
        }
    }
}

impl<'a, 'm> From<&'a BorrowedMessage<'m>> for KafkaHeaders<'a> {
    fn from(message: &'a BorrowedMessage<'m>) -> Self {
        Self::of_message(message)
    }
}

impl<'a> From<&'a OwnedMessage> for KafkaHeaders<'a> {
    fn from(message: &'a OwnedMessage) -> Self {
        Self::of_owned(message.headers())
    }
}

impl Transport for KafkaHeaders<'_> {}

impl HeaderReader for KafkaHeaders<'_> {
    fn values<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s [u8]> {
        self.entries
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name.as_bytes()))
            .filter_map(|(_, value)| *value)
    }

    fn names(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter_map(|(key, _)| std::str::from_utf8(key).ok())
            .collect()
    }

    fn propagation_headers(&self) -> PropagationHeaders<'_> {
        PropagationHeaders::scan(self.entries.iter().copied(), Self::CORRELATION_HEADER)
    }
}

/// `OwnedHeaders` as the core's merge sees it.
struct Outgoing(OwnedHeaders);

impl AppendHeaders for Outgoing {
    type Value = Vec<u8>;

    fn convert(_name: &str, value: &[u8]) -> Option<Vec<u8>> {
        Some(value.to_vec())
    }

    fn empty() -> Self {
        Outgoing(OwnedHeaders::new_with_capacity(4))
    }

    /// The user's headers are read once: kept as they are, or rebuilt without the stale ones
    /// (a key that is not UTF-8 cannot be written back through rdkafka and is left out).
    fn without(self, stale: impl Fn(&str) -> bool) -> Self {
        let entries = owned_headers(&self.0);
        let is_stale = |key: &[u8]| std::str::from_utf8(key).is_ok_and(&stale);
        if !entries.iter().any(|(k, _)| is_stale(k)) {
            drop(entries);
            return self;
        }
        let mut kept = OwnedHeaders::new_with_capacity(entries.len() + 4);
        for (key, value) in entries.iter().filter(|(k, _)| !is_stale(k)) {
            if let Ok(key) = std::str::from_utf8(key) {
                kept = kept.insert(Header { key, value: *value });
            }
        }
        Outgoing(kept)
    }

    fn append(self, key: &str, value: Vec<u8>) -> Self {
        Outgoing(self.0.insert(Header {
            key,
            value: Some(&value),
        }))
    }
}

/// Returns `headers` with `cx` injected: the caller's headers kept (in order), stale tracing
/// headers of any case dropped, ours appended. For records you send yourself.
///
/// ```
/// use opentelemetry::Context;
/// use rdkafka::producer::FutureRecord;
/// use tracewire::{CorrelationContextExt, Propagator};
///
/// let cx = Context::new().with_correlation_id_or_new();
/// let mut record = FutureRecord::<str, str>::to("orders").payload("{}");
/// record.headers = Some(tracewire_kafka::inject(&Propagator::new(), &cx, record.headers.take()));
/// assert!(record.headers.is_some());
/// ```
pub fn inject(
    propagator: &Propagator,
    cx: &Context,
    headers: Option<OwnedHeaders>,
) -> OwnedHeaders {
    propagator.inject_merged(cx, headers.map(Outgoing)).0
}

/// The context a message carries (a consumed `BorrowedMessage` or a detached `OwnedMessage`),
/// extracted with `propagator`: never fails, problems counted.
pub fn extract<'a>(propagator: &Propagator, message: impl Into<KafkaHeaders<'a>>) -> Extracted {
    propagator.extract(&message.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Headers;
    use tracewire::CorrelationContextExt;

    #[test]
    fn stale_tracing_headers_are_replaced_and_user_headers_kept() {
        let user = OwnedHeaders::new()
            .insert(Header {
                key: "x-user",
                value: Some("1"),
            })
            .insert(Header {
                key: "TraceParent",
                value: Some("00-stale"),
            });
        let cx = Context::new().with_correlation_id_or_new();
        let out = inject(&Propagator::new(), &cx, Some(user));
        let keys: Vec<_> = out.iter().map(|h| h.key).collect();
        assert_eq!(keys, ["x-user", "correlation_id"]);
    }
}
