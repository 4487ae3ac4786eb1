//! The carrier: `async_nats::HeaderMap`.
//!
//! async-nats' `From<&str>` for header names and values panics on CR/LF and invalid names, so
//! only the fallible constructors are used here: a value that cannot be a header is refused (and
//! counted by the propagator), never a panic. Headers of the caller (`Nats-Msg-Id`…) are never
//! touched.

use async_nats::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
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

/// `HeaderMap` as the core's merge sees it.
struct Outgoing(HeaderMap);

impl AppendHeaders for Outgoing {
    type Value = (HeaderName, HeaderValue);

    /// The header as NATS carries it, built by async-nats' fallible constructors (once).
    fn convert(name: &str, value: &[u8]) -> Option<Self::Value> {
        let value = HeaderValue::from_str(std::str::from_utf8(value).ok()?).ok()?;
        Some((header_name(name)?, value))
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

    fn append(mut self, _name: &str, (name, value): Self::Value) -> Self {
        self.0.append(name, value);
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
