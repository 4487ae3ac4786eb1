//! Carriers: how the propagator reads and writes a message's headers.
//!
//! Header values are bytes (Kafka and AMQP headers are bytes, not strings). Names are written in
//! lower case and compared without regard to case. The broker crates implement these traits for
//! their clients' header types; [`MemoryHeaders`] serves tests, and `http::HeaderMap` is covered
//! behind the `http` feature.

use crate::header::{static_name, BAGGAGE, CORRELATION_HEADER, TRACEPARENT, TRACESTATE};
use smallvec::SmallVec;
use std::borrow::Cow;

/// What a carrier's transport says about its headers: the one that carries the correlation id
/// (`correlation_id` unless the transport names another, as HTTP does). Readers and writers of
/// the same transport share it.
pub trait Transport {
    /// Name of the header that carries the correlation id on this transport.
    const CORRELATION_HEADER: &'static str = CORRELATION_HEADER;
}

/// Read access to a message's headers.
pub trait HeaderReader: Transport {
    /// Every value of header `name` (compared without regard to case), in message order.
    /// Values that are absent (a Kafka null header) are skipped.
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]>;

    /// The last value of header `name`: the one that wins when a header repeats.
    fn last<'a>(&'a self, name: &str) -> Option<&'a [u8]> {
        self.values(name).last()
    }

    /// The header names that are valid UTF-8, for propagators that look names up by prefix.
    fn names(&self) -> Vec<&str>;

    /// The headers the propagator reads (`traceparent`, `tracestate`, `baggage`, the
    /// correlation id), found by one lookup each. A reader that walks a list overrides this
    /// with one pass, [`PropagationHeaders::scan`].
    fn propagation_headers(&self) -> PropagationHeaders<'_> {
        PropagationHeaders {
            traceparent: self.values(TRACEPARENT).collect(),
            tracestate: self.values(TRACESTATE).collect(),
            baggage: self.values(BAGGAGE).collect(),
            correlation: self.last(Self::CORRELATION_HEADER),
        }
    }
}

/// The values of the headers the propagator reads, in message order (a repeated header keeps
/// all its values; the correlation id its last).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropagationHeaders<'a> {
    /// Every `traceparent` value.
    pub traceparent: SmallVec<[&'a [u8]; 1]>,
    /// Every `tracestate` value.
    pub tracestate: SmallVec<[&'a [u8]; 2]>,
    /// Every `baggage` value.
    pub baggage: SmallVec<[&'a [u8]; 2]>,
    /// The last correlation id value.
    pub correlation: Option<&'a [u8]>,
}

impl<'a> PropagationHeaders<'a> {
    /// One pass over a message's `(name, value)` headers (names compared without regard to
    /// case; absent values skipped): what a list-backed reader's
    /// [`HeaderReader::propagation_headers`] returns, `correlation` being the transport's
    /// correlation header.
    pub fn scan(
        headers: impl IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
        correlation: &str,
    ) -> Self {
        let mut found = PropagationHeaders::default();
        for (name, value) in headers {
            let Some(value) = value else { continue };
            // Lengths first: most headers are none of the four.
            match name.len() {
                11 if named(name, TRACEPARENT) => found.traceparent.push(value),
                10 if named(name, TRACESTATE) => found.tracestate.push(value),
                7 if named(name, BAGGAGE) => found.baggage.push(value),
                n if n == correlation.len() && named(name, correlation) => {
                    found.correlation = Some(value)
                }
                _ => {}
            }
        }
        found
    }
}

/// Whether header `name` is `known` (lowercase): compared exactly first — senders write the
/// names lowercase, and an exact comparison is a few word loads where a case-blind one goes
/// byte by byte.
fn named(name: &[u8], known: &str) -> bool {
    name == known.as_bytes() || name.eq_ignore_ascii_case(known.as_bytes())
}

impl<R: Transport> Transport for &R {
    const CORRELATION_HEADER: &'static str = R::CORRELATION_HEADER;
}

impl<R: HeaderReader> HeaderReader for &R {
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        (**self).values(name)
    }

    fn last<'a>(&'a self, name: &str) -> Option<&'a [u8]> {
        (**self).last(name)
    }

    fn names(&self) -> Vec<&str> {
        (**self).names()
    }

    fn propagation_headers(&self) -> PropagationHeaders<'_> {
        (**self).propagation_headers()
    }
}

/// A header that the transport refused (e.g. a byte its header type cannot carry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("header {name:?} was refused by the transport")]
pub struct HeaderRejected {
    /// The header name.
    pub name: String,
}

/// Write access to a message's headers.
pub trait HeaderWriter: Transport {
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

impl Transport for MemoryHeaders {}

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

    fn propagation_headers(&self) -> PropagationHeaders<'_> {
        let entries = self.entries.iter();
        let pairs = entries.map(|(n, v)| (n.as_bytes(), Some(v.as_slice())));
        PropagationHeaders::scan(pairs, Self::CORRELATION_HEADER)
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
    use super::{HeaderReader, HeaderRejected, HeaderWriter, Transport};
    use crate::header::HTTP_CORRELATION_HEADER;
    use http::{HeaderMap, HeaderName, HeaderValue};

    impl Transport for HeaderMap {
        const CORRELATION_HEADER: &'static str = HTTP_CORRELATION_HEADER;
    }

    impl HeaderReader for HeaderMap {
        fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
            self.get_all(name).into_iter().map(HeaderValue::as_bytes)
        }

        fn names(&self) -> Vec<&str> {
            self.keys().map(HeaderName::as_str).collect()
        }
    }

    impl HeaderWriter for HeaderMap {
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

    /// The names and values to write, in the order they were set.
    pub fn into_values(self) -> impl Iterator<Item = (Cow<'static, str>, T)> {
        self.entries.into_iter().filter_map(|(n, v)| Some((n, v?)))
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

impl<T> Transport for PendingHeaders<T> {}

/// A client's header list that can only be appended to (Kafka's `OwnedHeaders`, NATS'
/// `HeaderMap`): what [`Propagator::inject_merged`](crate::Propagator::inject_merged) needs to
/// merge tracewire's headers into it. A broker crate implements it for its client's type; the
/// merge itself is the core's.
pub trait AppendHeaders: Sized {
    /// One header value as the client holds it (converted once, when it is set).
    type Value;
    /// The client's conversion of a header: `None` when the client cannot carry it (the
    /// propagator counts it; it is never a panic).
    fn convert(name: &str, value: &[u8]) -> Option<Self::Value>;
    /// An empty list, for a message that had no headers.
    fn empty() -> Self;
    /// The list without the headers whose names `stale` matches (any case); `self` as it is
    /// when none does, so the common case copies nothing.
    fn without(self, stale: impl Fn(&str) -> bool) -> Self;
    /// The list with one more header. The merge calls it at most once per name, and only for a
    /// name the list no longer holds in any case ([`without`](Self::without) removed it): a
    /// client's `insert` may serve where its `append` looks the name up first.
    fn append(self, name: &str, value: Self::Value) -> Self;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `MemoryHeaders` with the trait's one-lookup-per-header `propagation_headers`.
    struct Lookups<'a>(&'a MemoryHeaders);

    impl Transport for Lookups<'_> {}

    impl HeaderReader for Lookups<'_> {
        fn values<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s [u8]> {
            self.0.values(name)
        }

        fn names(&self) -> Vec<&str> {
            self.0.names()
        }
    }

    #[test]
    fn one_pass_finds_what_one_lookup_per_header_finds() {
        let cases: [&[(&str, &str)]; 5] = [
            &[],
            &[
                ("traceparent", "a"),
                ("tracestate", "b"),
                ("baggage", "c"),
                ("correlation_id", "d"),
            ],
            &[
                ("TraceParent", "a"),
                ("x-other", "z"),
                ("TRACESTATE", "b1"),
                ("tracestate", "b2"),
            ],
            &[
                ("correlation_id", "first"),
                ("Correlation_Id", "last"),
                ("baggage", ""),
            ],
            // Names of the same length as the four, but not them.
            &[
                ("traceparenx", "a"),
                ("tracestatx", "b"),
                ("baggagx", "c"),
                ("correlation_ix", "d"),
            ],
        ];
        for pairs in cases {
            let headers = MemoryHeaders::from_pairs(pairs.iter().copied());
            let lookups = Lookups(&headers);
            let (one_pass, one_lookup_each) =
                (headers.propagation_headers(), lookups.propagation_headers());
            assert_eq!(one_pass, one_lookup_each, "{pairs:?}");
        }
    }

    #[test]
    fn one_pass_honours_the_transport_correlation_header_and_skips_absent_values() {
        let pairs: [(&[u8], Option<&[u8]>); 3] = [
            (b"x-correlation-id", Some(b"c-1")),
            (b"traceparent", None),
            (b"correlation_id", Some(b"not this transport's")),
        ];
        let found = PropagationHeaders::scan(pairs, "x-correlation-id");
        assert_eq!(found.correlation, Some(&b"c-1"[..]));
        assert!(
            found.traceparent.is_empty(),
            "an absent (null) value is no value"
        );
    }
}
