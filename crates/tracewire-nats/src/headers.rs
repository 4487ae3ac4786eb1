//! The carrier: `async_nats::HeaderMap`.
//!
//! async-nats' `From<&str>` for header names and values panics on CR/LF and invalid names, so
//! only the fallible constructors are used here: a value that cannot be a header is refused (and
//! counted by the propagator), never a panic. Headers of the caller (`Nats-Msg-Id`…) are never
//! touched.

use async_nats::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use serde::de::IntoDeserializer;
use serde::Deserialize;
use std::str::FromStr;
use tracewire::carrier::{AppendHeaders, HeaderReader, PropagationHeaders, Transport};
use tracewire::messaging::{Messaging, OperationSpec, OperationType};
use tracewire::{Extracted, OpenSpan, Propagator};

/// Reads a NATS message's headers (names compared without regard to case; every value of a
/// multi-value header, in order).
#[derive(Debug, Clone, Copy)]
pub struct NatsHeaders<'a>(pub Option<&'a HeaderMap>);

impl Transport for NatsHeaders<'_> {}

impl HeaderReader for NatsHeaders<'_> {
    fn values<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s [u8]> {
        self.0
            .into_iter()
            .flat_map(HeaderMap::iter)
            .filter(move |(n, _)| AsRef::<str>::as_ref(*n).eq_ignore_ascii_case(name))
            .flat_map(|(_, values)| values.iter().map(|v| v.as_str().as_bytes()))
    }

    fn names(&self) -> Vec<&str> {
        self.0
            .into_iter()
            .flat_map(HeaderMap::iter)
            .map(|(n, _)| n.as_ref())
            .collect()
    }

    fn propagation_headers(&self) -> PropagationHeaders<'_> {
        let headers = self.0.into_iter().flat_map(HeaderMap::iter);
        let pairs = headers.flat_map(|(name, values)| {
            let name = AsRef::<str>::as_ref(name).as_bytes();
            values
                .iter()
                .map(move |v| (name, Some(v.as_str().as_bytes())))
        });
        PropagationHeaders::scan(pairs, Self::CORRELATION_HEADER)
    }
}

/// The names tracewire writes are valid and static: no validation, no copy, per message.
fn header_name(name: &str) -> Option<HeaderName> {
    match tracewire::header::static_name(name) {
        Some(known) => Some(HeaderName::from_static(known)),
        None => HeaderName::from_str(name).ok(),
    }
}

/// `value` as a NATS header value: UTF-8 without CR or LF (async-nats' own rule), else `None`.
///
/// async-nats' constructors check that rule with `str::contains(['\r', '\n'])`, which decodes
/// and compares char by char: about 10 instructions a byte, 992 a published message for its
/// traceparent and correlation id (callgrind), where `memchr2` scans the bytes vectorised. The
/// checked `String` then goes in through `HeaderValue`'s serde `Deserialize`, which takes it as
/// it is; a test holds this to `HeaderValue::from_str`'s answers.
fn header_value(value: &[u8]) -> Option<HeaderValue> {
    if memchr::memchr2(b'\r', b'\n', value).is_some() {
        return None;
    }
    let value = std::str::from_utf8(value).ok()?.to_owned();
    HeaderValue::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(value))
        .ok()
}

/// `HeaderMap` as the core's merge sees it.
struct Outgoing(HeaderMap);

impl AppendHeaders for Outgoing {
    type Value = (HeaderName, HeaderValue);

    /// The header as NATS carries it, made once: `None` for what NATS cannot carry.
    fn convert(name: &str, value: &[u8]) -> Option<Self::Value> {
        Some((header_name(name)?, header_value(value)?))
    }

    fn empty() -> Self {
        Outgoing(HeaderMap::new())
    }

    fn without(self, stale: impl Fn(&str) -> bool) -> Self {
        if !self.0.iter().any(|(n, _)| stale(n.as_ref())) {
            return self;
        }
        let mut kept = HeaderMap::new();
        for (name, values) in self.0.iter().filter(|(n, _)| !stale(n.as_ref())) {
            for value in values {
                kept.append(name.clone(), value.clone());
            }
        }
        Outgoing(kept)
    }

    /// `insert`: the name is not in the map (the trait's promise), and async-nats' `append`
    /// hashes it twice, once to look it up and once to insert it (SipHash, some 250
    /// instructions each).
    fn append(mut self, _name: &str, (name, value): Self::Value) -> Self {
        self.0.insert(name, value);
        self
    }
}

/// Injects `cx` into `headers` (the caller's, or none), replacing stale tracing headers of any
/// case and keeping every other header as it was.
///
/// ```
/// use opentelemetry::Context;
/// use tracewire::{CorrelationContextExt, Propagator};
///
/// let mut user = async_nats::HeaderMap::new();
/// user.insert("Nats-Msg-Id", "order-1");
/// let cx = Context::new().with_correlation_id_or_new();
/// let propagator = Propagator::new();
/// let headers = tracewire_nats::inject(&propagator, &cx, Some(user));
/// assert_eq!(headers.get("Nats-Msg-Id").unwrap().as_str(), "order-1");
/// let extracted = tracewire_nats::extract(&propagator, Some(&headers));
/// assert_eq!(extracted.context.correlation_id(), cx.correlation_id());
/// ```
pub fn inject(propagator: &Propagator, cx: &Context, headers: Option<HeaderMap>) -> HeaderMap {
    propagator.inject_merged(cx, headers.map(Outgoing)).0
}

/// The context a message carries, extracted with `propagator` (never fails; problems counted).
pub fn extract(propagator: &Propagator, headers: Option<&HeaderMap>) -> Extracted {
    propagator.extract(&NatsHeaders(headers))
}

/// Opens a send span `{operation} {subject}` in the current context, and the headers that
/// carry it (the caller's kept). Every publish and request path starts here.
pub(crate) fn open_send(
    messaging: &Messaging,
    operation: &'static str,
    subject: &str,
    payload: &[u8],
    headers: Option<HeaderMap>,
) -> (OpenSpan, HeaderMap) {
    let spec = OperationSpec::new(OperationType::Send, operation, subject).body(payload);
    let spec = messaging.capture_headers(spec, || NatsHeaders(headers.as_ref()));
    messaging.open_send_with(&Context::current(), spec, |p, cx| inject(p, cx, headers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracewire::CorrelationContextExt;

    #[test]
    fn values_that_cannot_be_headers_are_refused_not_panicked_on() {
        use tracewire::carrier::{HeaderWriter, PendingHeaders};
        let mut ours = PendingHeaders::new(Outgoing::convert);
        assert!(ours.set("traceparent", b"a\r\nb").is_err(), "CR/LF");
        assert!(ours.set("bad:name", b"x").is_err(), "colon in a name");
        assert!(ours.set("bad name", b"x").is_err(), "space in a name");
        assert!(ours.set("traceparent", b"\xff").is_err(), "not UTF-8");
        assert!(ours.set("traceparent", b"ok").is_ok());
    }

    proptest::proptest! {
        /// The one-pass check and async-nats' own constructor agree on every value: the same
        /// refusals, the same value kept.
        #[test]
        fn header_values_are_made_as_async_nats_makes_them(
            value in proptest::prelude::any::<String>(),
            with_break in proptest::prelude::any::<bool>(),
            at in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let mut value = value;
            if with_break {
                let boundaries = value.char_indices().map(|(i, _)| i).chain([value.len()]);
                let i = *at.get(&boundaries.collect::<Vec<_>>());
                value.insert(i, if i % 2 == 0 { '\r' } else { '\n' });
            }
            let ours = header_value(value.as_bytes());
            let theirs = HeaderValue::from_str(&value).ok();
            proptest::prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn values_that_are_not_utf8_are_refused() {
        assert_eq!(header_value(b"ok"), HeaderValue::from_str("ok").ok());
        assert_eq!(header_value(b"\xff\xfe"), None);
    }

    #[test]
    fn stale_tracing_headers_are_replaced_and_user_headers_kept() {
        let mut user = HeaderMap::new();
        user.append("Nats-Msg-Id", "m-1");
        user.append(
            "TraceParent",
            "00-11111111111111111111111111111111-2222222222222222-01",
        );
        user.append("x-multi", "1");
        user.append("x-multi", "2");
        let cx = Context::new().with_correlation_id_or_new();
        let out = inject(&Propagator::new(), &cx, Some(user));
        let reader = NatsHeaders(Some(&out));
        assert_eq!(
            reader.values("traceparent").count(),
            0,
            "no span: the stale parent is gone"
        );
        assert_eq!(
            reader.values("x-multi").collect::<Vec<_>>(),
            vec![&b"1"[..], b"2"]
        );
        assert_eq!(reader.last("nats-msg-id"), Some(&b"m-1"[..]));
        assert_eq!(
            reader.last("correlation_id"),
            Some(cx.correlation_id().unwrap().as_bytes())
        );
    }
}
