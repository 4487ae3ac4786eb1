//! The carrier: Kafka record headers (bytes), read without panicking, written by rebuilding
//! `OwnedHeaders` (it is insert-by-value and cannot replace or remove).

use crate::raw::{message_headers, owned_headers, RawHeader};
use opentelemetry::Context;
use rdkafka::message::ToBytes;
use rdkafka::message::{BorrowedMessage, Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, FutureRecord};
use rdkafka::util::IntoOpaque;
use tracewire::carrier::{HeaderReader, PendingHeaders};
use tracewire::Propagator;

/// The headers of a Kafka message as a tracewire carrier. Keys are compared as bytes without
/// regard to ASCII case; null values are skipped; a non-UTF-8 key is just bytes, never a panic.
#[derive(Debug, Clone, Default)]
pub struct KafkaHeaders<'a> {
    entries: Vec<RawHeader<'a>>,
}

impl<'a> KafkaHeaders<'a> {
    /// The headers of a consumed message.
    pub fn of_message(message: &'a BorrowedMessage<'_>) -> Self {
        KafkaHeaders {
            entries: message_headers(message),
        }
    }

    /// The headers of an owned header list (a detached message's, or a record's).
    pub fn of_owned(headers: Option<&'a OwnedHeaders>) -> Self {
        KafkaHeaders {
            entries: headers.map(owned_headers).unwrap_or_default(),
        }
    }
}

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
}

/// Returns `headers` with `cx` injected: the caller's headers kept (in order), stale tracing
/// headers of any case dropped, ours appended. When nothing stale is present the caller's list is
/// appended to as it is; otherwise it is rebuilt, and a header with a non-UTF-8 key — which
/// rdkafka cannot write back — is left out.
pub fn inject_headers(
    propagator: &Propagator,
    cx: &Context,
    headers: Option<OwnedHeaders>,
) -> OwnedHeaders {
    let mut ours = PendingHeaders::new(|_, value| Some(value.to_vec()));
    propagator.inject(cx, &mut ours);
    let stale = |key: &[u8]| std::str::from_utf8(key).is_ok_and(|k| ours.touches(k));
    let mut out = match headers {
        Some(user) => {
            // The user's headers are read once: kept as they are, or rebuilt without stale ones.
            let rebuilt = {
                let entries = owned_headers(&user);
                entries.iter().any(|(k, _)| stale(k)).then(|| {
                    let mut kept = OwnedHeaders::new_with_capacity(entries.len() + 4);
                    for (key, value) in entries.iter().filter(|(k, _)| !stale(k)) {
                        if let Ok(key) = std::str::from_utf8(key) {
                            kept = kept.insert(Header { key, value: *value });
                        }
                    }
                    kept
                })
            };
            rebuilt.unwrap_or(user)
        }
        None => OwnedHeaders::new_with_capacity(4),
    };
    for (key, value) in ours.values() {
        out = out.insert(Header {
            key,
            value: Some(value),
        });
    }
    out
}

/// Inject by hand into a record you send yourself.
///
/// ```
/// use opentelemetry::Context;
/// use rdkafka::producer::FutureRecord;
/// use tracewire::{CorrelationContextExt, Propagator};
/// use tracewire_kafka::InjectExt;
///
/// let cx = Context::new().with_correlation_id_or_new();
/// let record = FutureRecord::<str, str>::to("orders").payload("{}").inject_context(&Propagator::new(), &cx);
/// assert!(record.headers.is_some());
/// ```
pub trait InjectExt: Sized {
    /// The record with `cx` injected into its headers (its own headers kept).
    fn inject_context(self, propagator: &Propagator, cx: &Context) -> Self;
}

impl<K: ToBytes + ?Sized, P: ToBytes + ?Sized> InjectExt for FutureRecord<'_, K, P> {
    fn inject_context(mut self, propagator: &Propagator, cx: &Context) -> Self {
        self.headers = Some(inject_headers(propagator, cx, self.headers.take()));
        self
    }
}

impl<K: ToBytes + ?Sized, P: ToBytes + ?Sized, D: IntoOpaque> InjectExt
    for BaseRecord<'_, K, P, D>
{
    fn inject_context(mut self, propagator: &Propagator, cx: &Context) -> Self {
        self.headers = Some(inject_headers(propagator, cx, self.headers.take()));
        self
    }
}
