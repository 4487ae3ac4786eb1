//! Carriers: how the propagator reads and writes a message's headers.
//!
//! Header values are bytes (Kafka and AMQP headers are bytes, not strings). Names are written in
//! lower case and compared without regard to case. The broker crates implement these traits for
//! their clients' header types; [`MemoryHeaders`] serves tests, and `http::HeaderMap` is covered
//! behind the `http` feature.

use smallvec::SmallVec;
use std::borrow::Cow;

/// Header that carries the correlation id on Kafka, AMQP and NATS.
pub const CORRELATION_HEADER: &str = "correlation_id";

/// Header that carries the correlation id over HTTP.
const HTTP_CORRELATION_HEADER: &str = "x-correlation-id";

/// Read access to a message's headers.
pub trait HeaderReader {
    /// Name of the header that carries the correlation id on this transport.
    const CORRELATION_HEADER: &'static str = CORRELATION_HEADER;

    /// Every value of header `name` (compared without regard to case), in message order.
    /// Values that are absent (a Kafka null header) are skipped.
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]>;

    /// The last value of header `name`: the one that wins when a header repeats.
    fn last<'a>(&'a self, name: &str) -> Option<&'a [u8]> {
        self.values(name).last()
    }

    /// The header names that are valid UTF-8, for propagators that look names up by prefix.
    fn names(&self) -> Vec<&str>;
}

/// A header that the transport refused (e.g. a byte its header type cannot carry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("header {name:?} was refused by the transport")]
pub struct HeaderRejected {
    /// The header name.
    pub name: String,
}

/// Write access to a message's headers.
pub trait HeaderWriter {
    /// Name of the header that carries the correlation id on this transport.
    const CORRELATION_HEADER: &'static str = CORRELATION_HEADER;

    /// Sets header `name` (lower-case ASCII) to `value`, replacing every existing value of that
    /// name, so a forwarded message never keeps a stale parent. Other headers are left alone.
    fn set(&mut self, name: &str, value: &[u8]) -> Result<(), HeaderRejected>;

    /// Removes every value of header `name`, so that a message forwarded without a context does
    /// not keep a stale one.
    fn remove(&mut self, name: &str);
}

/// An ordered, multi-valued header list in memory: for tests, and for building headers by hand.
///
/// ```
/// use tracewire::carrier::{HeaderReader, MemoryHeaders};
///
/// let headers = MemoryHeaders::from_pairs([("TraceState", "a=1"), ("tracestate", "b=2")]);
/// assert_eq!(headers.values("tracestate").count(), 2);
/// assert_eq!(headers.last("tracestate"), Some(&b"b=2"[..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryHeaders {
    entries: Vec<(String, Vec<u8>)>,
}

impl MemoryHeaders {
    /// An empty header list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Headers from name/value pairs, in order, keeping repeats.
    pub fn from_pairs<N: Into<String>, V: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        let entries = pairs
            .into_iter()
            .map(|(n, v)| (n.into(), v.as_ref().to_vec()))
            .collect();
        MemoryHeaders { entries }
    }

    /// Appends a value, keeping existing ones (as a transport with repeated headers would).
    pub fn append(&mut self, name: impl Into<String>, value: impl AsRef<[u8]>) {
        self.entries.push((name.into(), value.as_ref().to_vec()));
    }

    /// All entries in order.
    pub fn entries(&self) -> &[(String, Vec<u8>)] {
        &self.entries
    }
}

impl HeaderReader for MemoryHeaders {
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|(n, _)| n.as_str()).collect()
    }
}

impl HeaderWriter for MemoryHeaders {
    fn set(&mut self, name: &str, value: &[u8]) -> Result<(), HeaderRejected> {
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.entries.push((name.to_owned(), value.to_vec()));
        Ok(())
    }

    fn remove(&mut self, name: &str) {
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

#[cfg(feature = "http")]
mod http_impl {
    use super::{HeaderReader, HeaderRejected, HeaderWriter, HTTP_CORRELATION_HEADER};
    use http::{HeaderMap, HeaderName, HeaderValue};

    impl HeaderReader for HeaderMap {
        const CORRELATION_HEADER: &'static str = HTTP_CORRELATION_HEADER;

        fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
            self.get_all(name).into_iter().map(HeaderValue::as_bytes)
        }

        fn names(&self) -> Vec<&str> {
            self.keys().map(HeaderName::as_str).collect()
        }
    }

    impl HeaderWriter for HeaderMap {
        const CORRELATION_HEADER: &'static str = HTTP_CORRELATION_HEADER;

        fn set(&mut self, name: &str, value: &[u8]) -> Result<(), HeaderRejected> {
            let rejected = || HeaderRejected {
                name: name.to_owned(),
            };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| rejected())?;
            // Even a refused value replaces: the stale one must not outlive it.
            HeaderMap::remove(self, &name);
            let value = HeaderValue::from_bytes(value).map_err(|_| rejected())?;
            self.insert(name, value);
            Ok(())
        }

        fn remove(&mut self, name: &str) {
            HeaderMap::remove(self, name);
        }
    }
}

/// The headers an inject wants written, collected first, for clients whose header types can
/// neither replace nor remove in place (Kafka's `OwnedHeaders`, NATS' `HeaderMap`): the broker
/// crate then merges them into the message in one pass, dropping the stale values of every name
/// it [`touches`](Self::touches). Each value is converted to the transport's own type once, when
/// it is set; a value the transport cannot carry is refused (and counted by the propagator).
///
/// ```
/// use tracewire::carrier::{HeaderWriter, PendingHeaders};
///
/// let mut pending = PendingHeaders::new(|_name, value| (!value.contains(&b'\n')).then(|| value.to_vec()));
/// pending.set("traceparent", b"00-...").unwrap();
/// assert!(pending.set("tracestate", b"a\n").is_err(), "refused by the transport's rule");
/// assert!(pending.touches("TraceParent") && pending.touches("tracestate"));
/// assert_eq!(pending.values().count(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct PendingHeaders<T> {
    convert: fn(&str, &[u8]) -> Option<T>,
    /// Every name set or removed (its old values must go), with the value to write for it, in
    /// the order the values were set. Inline room for the four names the propagator touches, and
    /// those names borrowed, not copied: nothing here allocates per message.
    entries: SmallVec<[(Cow<'static, str>, Option<T>); 4]>,
}

impl<T> PendingHeaders<T> {
    /// Collects headers that `convert` can turn into the transport's type.
    pub fn new(convert: fn(&str, &[u8]) -> Option<T>) -> Self {
        PendingHeaders {
            convert,
            entries: SmallVec::new(),
        }
    }

    /// Whether `name` (any case) was set or removed: its old values must go.
    pub fn touches(&self, name: &str) -> bool {
        self.entries
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The names and values to write, in the order they were set.
    pub fn values(&self) -> impl Iterator<Item = (&str, &T)> {
        (self.entries.iter()).filter_map(|(n, v)| Some((n.as_ref(), v.as_ref()?)))
    }

    /// The values to write, in the order they were set.
    pub fn into_values(self) -> impl Iterator<Item = T> {
        self.entries.into_iter().filter_map(|(_, v)| v)
    }

    /// Takes `name`'s entry out, dropping any value set for it; returns the name to keep.
    fn take(&mut self, name: &str) -> Cow<'static, str> {
        match self
            .entries
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(i) => self.entries.remove(i).0,
            None => static_name(name).map_or_else(|| Cow::Owned(name.to_owned()), Cow::Borrowed),
        }
    }
}

/// The header name tracewire writes that equals `name`, as a `'static` string — so a carrier can
/// keep or convert it without copying per message — or `None` for any other name.
///
/// ```
/// assert_eq!(tracewire::carrier::static_name("traceparent"), Some("traceparent"));
/// assert_eq!(tracewire::carrier::static_name("x-user"), None);
/// ```
pub fn static_name(name: &str) -> Option<&'static str> {
    use crate::propagator::{BAGGAGE, TRACEPARENT, TRACESTATE};
    const KNOWN: [&str; 5] = [
        TRACEPARENT,
        TRACESTATE,
        BAGGAGE,
        CORRELATION_HEADER,
        HTTP_CORRELATION_HEADER,
    ];
    KNOWN.into_iter().find(|k| *k == name)
}

impl<T> HeaderWriter for PendingHeaders<T> {
    fn set(&mut self, name: &str, value: &[u8]) -> Result<(), HeaderRejected> {
        // Even a refused value replaces: the stale one must not outlive it.
        let kept = self.take(name);
        let value = (self.convert)(name, value);
        let refused = value.is_none();
        self.entries.push((kept, value));
        match refused {
            true => Err(HeaderRejected {
                name: name.to_owned(),
            }),
            false => Ok(()),
        }
    }

    fn remove(&mut self, name: &str) {
        let kept = self.take(name);
        self.entries.push((kept, None));
    }
}
