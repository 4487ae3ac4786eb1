//! The correlation id: one business-level id that follows a request through every hop.
//!
//! It lives in the OpenTelemetry [`Context`] next to the span and the baggage, reached through
//! [`CorrelationContextExt`] the way `BaggageExt` reaches baggage. The incoming id is kept; a new
//! one (a random UUID v4, lower-case, hyphenated) is made only where none arrives — the first hop.

use crate::w3c::{trim_ows, W3cExtras};
use opentelemetry::{Context, StringValue};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// Span attribute that records the correlation id (OpenTelemetry messaging conventions).
pub const CONVERSATION_ID_ATTRIBUTE: &str = "messaging.message.conversation_id";

/// A validated correlation id: 1–128 bytes of visible ASCII with no separators.
///
/// Stored inline, so copying it never allocates.
///
/// ```
/// use tracewire::CorrelationId;
///
/// let id = CorrelationId::parse(b"order-7f3a").unwrap();
/// assert_eq!(id.as_str(), "order-7f3a");
/// assert!(CorrelationId::parse(b"bad\r\nid").is_err());
/// assert_eq!(CorrelationId::generate().as_str().len(), 36);
/// ```
#[derive(Clone, Copy)]
pub struct CorrelationId {
    len: u8,
    bytes: [u8; CorrelationId::MAX_LEN],
}

/// Why an incoming correlation id was refused. The raw value is never kept: it may be hostile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CorrelationIdError {
    /// Nothing left after trimming white space.
    #[error("correlation id is empty")]
    Empty,
    /// Longer than 128 bytes.
    #[error("correlation id is {0} bytes long; at most 128 are allowed")]
    TooLong(usize),
    /// A byte that is not visible ASCII, or a separator (`,` `;` `"` `'` `\`).
    #[error("correlation id has a forbidden byte at offset {0}")]
    ForbiddenByte(usize),
}

impl CorrelationId {
    /// Longest accepted id, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Validates an incoming id (surrounding spaces and tabs are ignored).
    pub fn parse(value: &[u8]) -> Result<Self, CorrelationIdError> {
        let v = trim_ows(value);
        if v.is_empty() {
            return Err(CorrelationIdError::Empty);
        }
        if v.len() > Self::MAX_LEN {
            return Err(CorrelationIdError::TooLong(v.len()));
        }
        // Every byte checked without an early exit (the loop vectorises): ids are almost
        // always valid, and only a bad one is searched for its first forbidden byte.
        if !v.iter().fold(true, |ok, &b| ok & allowed(b)) {
            let at = v.iter().position(|&b| !allowed(b)).unwrap_or_default();
            return Err(CorrelationIdError::ForbiddenByte(at));
        }
        let mut bytes = [0; Self::MAX_LEN];
        bytes[..v.len()].copy_from_slice(v);
        Ok(CorrelationId {
            len: v.len() as u8,
            bytes,
        })
    }

    /// A fresh id: a random UUID v4, e.g. `9f0c2a4e-5d1b-4c6e-8a3f-0b7d2e1c4a59`.
    pub fn generate() -> Self {
        let mut bytes = [0; Self::MAX_LEN];
        let len = uuid::Uuid::new_v4()
            .hyphenated()
            .encode_lower(&mut bytes)
            .len();
        CorrelationId {
            len: len as u8,
            bytes,
        }
    }

    /// The id as text (always visible ASCII).
    pub fn as_str(&self) -> &str {
        // Only visible ASCII ever gets in, so this never falls back.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The id as header bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Visible ASCII, minus the separators that break header lists and quoting. Comparisons, not
/// a table: they vectorise.
fn allowed(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
        & (b != b',')
        & (b != b';')
        & (b != b'"')
        & (b != b'\'')
        & (b != b'\\')
}

impl PartialEq for CorrelationId {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for CorrelationId {}

impl std::hash::Hash for CorrelationId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CorrelationId")
            .field(&self.as_str())
            .finish()
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CorrelationId {
    type Err = CorrelationIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.as_bytes())
    }
}

/// Reads and sets the correlation id of an OpenTelemetry [`Context`].
///
/// ```
/// use opentelemetry::Context;
/// use tracewire::{CorrelationContextExt, CorrelationId};
///
/// let id = CorrelationId::parse(b"checkout-42").unwrap();
/// let cx = Context::new().with_correlation_id(id);
/// assert_eq!(cx.correlation_id(), Some(&id));
/// ```
pub trait CorrelationContextExt {
    /// The correlation id, if the context has one.
    fn correlation_id(&self) -> Option<&CorrelationId>;
    /// A copy of this context with `id` as its correlation id.
    fn with_correlation_id(&self, id: CorrelationId) -> Context;
    /// This context if it has a correlation id, else a copy with a fresh one (the first hop).
    fn with_correlation_id_or_new(&self) -> Context;
    /// The correlation id as a span attribute value, made once per context and shared by every
    /// span that records it.
    fn correlation_value(&self) -> Option<StringValue>;
}

impl CorrelationContextExt for Context {
    fn correlation_id(&self) -> Option<&CorrelationId> {
        self.get::<Carried>().map(|c| &c.id)
    }

    fn with_correlation_id(&self, id: CorrelationId) -> Context {
        let w3c = self.get::<Carried>().and_then(|c| c.w3c.clone());
        with_carried(self, id, w3c)
    }

    fn with_correlation_id_or_new(&self) -> Context {
        match self.correlation_id() {
            Some(_) => self.clone(),
            None => self.with_correlation_id(CorrelationId::generate()),
        }
    }

    fn correlation_value(&self) -> Option<StringValue> {
        let c = self.get::<Carried>()?;
        Some(c.attribute.get_or_init(|| attribute_value(&c.id)).clone())
    }
}

/// `to` with the correlation id of `from` (its shared attribute value too), if it has one; what
/// `to` carries of its own trace stays `to`'s.
pub(crate) fn with_correlation_of(to: Context, from: &Context) -> Context {
    match from.get::<Carried>() {
        Some(c) => {
            let w3c = to.get::<Carried>().and_then(|t| t.w3c.clone());
            to.with_value(Carried { w3c, ..c.clone() })
        }
        None => to,
    }
}

/// `cx` with `id` and what the received trace context carried beyond OpenTelemetry's types.
pub(crate) fn with_carried(cx: &Context, id: CorrelationId, w3c: Option<W3cExtras>) -> Context {
    let attribute = OnceLock::new();
    cx.with_value(Carried { id, attribute, w3c })
}

fn attribute_value(id: &CorrelationId) -> StringValue {
    Arc::<str>::from(id.as_str()).into()
}

/// What the received trace context carried that OpenTelemetry cannot hold, if anything.
pub(crate) fn w3c_extras(cx: &Context) -> Option<&W3cExtras> {
    cx.get::<Carried>()?.w3c.as_ref()
}

/// Everything tracewire carries per message, in ONE context value (one allocation, made when
/// the correlation id is set): the id and its text as a span attribute value (made by the first
/// span that records it — a span that does not record never asks —, shared by every later one),
/// and the W3C extras.
#[derive(Clone)]
struct Carried {
    id: CorrelationId,
    attribute: OnceLock<StringValue>,
    w3c: Option<W3cExtras>,
}
