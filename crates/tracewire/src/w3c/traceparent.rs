//! `traceparent` (W3C Trace Context Level 2), parsed from bytes without allocating and formatted
//! into a fixed 55-byte buffer.

use super::{hex, trim_ows};
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

/// Length of a version-00 `traceparent`: `vv-<32 hex>-<16 hex>-ff`.
pub const TRACEPARENT_LEN: usize = 55;

/// The sampled flag (bit 0).
pub const FLAG_SAMPLED: u8 = 0x01;
/// Level 2's random-trace-id flag (bit 1): the trace id's right-most 7 bytes are random.
pub const FLAG_RANDOM: u8 = 0x02;
/// The flags this version defines; other bits are dropped on receipt and never sent.
const KNOWN_FLAGS: u8 = FLAG_SAMPLED | FLAG_RANDOM;

/// A field of the `traceparent` header, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The two-digit version.
    Version,
    /// The 32-digit trace id.
    TraceId,
    /// The 16-digit parent (span) id.
    ParentId,
    /// The two-digit trace flags.
    Flags,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Field::Version => "version",
            Field::TraceId => "trace-id",
            Field::ParentId => "parent-id",
            Field::Flags => "trace-flags",
        })
    }
}

/// Why a `traceparent` value was refused: each variant names the rule it breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TraceparentError {
    /// Fewer than 55 bytes (after trimming white space).
    #[error("traceparent is {0} bytes long; 55 are required")]
    WrongLength(usize),
    /// Version `ff` is forbidden by the specification.
    #[error("traceparent version ff is forbidden")]
    ForbiddenVersion,
    /// A field holds something other than lower-case hex digits.
    #[error("traceparent {0} is not lower-case hex")]
    NotLowerHex(Field),
    /// A field is not followed by `-`.
    #[error("traceparent has no '-' after the {0}")]
    MissingDash(Field),
    /// Version 00 allows nothing after the flags.
    #[error("traceparent version 00 has data after the trace-flags")]
    TrailingData,
    /// The trace id is all zeros.
    #[error("traceparent trace-id is all zeros")]
    ZeroTraceId,
    /// The parent id is all zeros.
    #[error("traceparent parent-id is all zeros")]
    ZeroParentId,
    /// The message carries two different `traceparent` values.
    #[error("two different traceparent values")]
    Conflicting,
}

/// A valid `traceparent`: what a remote parent tells us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Traceparent {
    /// The trace id (never zero).
    pub trace_id: TraceId,
    /// The parent span id (never zero).
    pub parent_id: SpanId,
    /// Trace flags; only the sampled and random bits are kept.
    pub flags: TraceFlags,
}

impl Traceparent {
    /// Parses one header value.
    ///
    /// Surrounding spaces and tabs are ignored. A version above `00` is accepted when its first
    /// four fields are well-formed and anything after them starts with `-`, as the specification
    /// requires; such a value is re-emitted as version `00`.
    ///
    /// ```
    /// use tracewire::w3c::traceparent::{Traceparent, TraceparentError};
    ///
    /// let tp = Traceparent::parse(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    /// assert!(tp.flags.is_sampled());
    /// assert_eq!(
    ///     Traceparent::parse(b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
    ///     Err(TraceparentError::NotLowerHex(tracewire::w3c::traceparent::Field::TraceId)),
    /// );
    /// ```
    pub fn parse(value: &[u8]) -> Result<Self, TraceparentError> {
        let v = trim_ows(value);
        if v.len() < TRACEPARENT_LEN {
            return Err(TraceparentError::WrongLength(v.len()));
        }
        let version = field(&v[0..2], Field::Version)? as u8;
        if version == 0xff {
            return Err(TraceparentError::ForbiddenVersion);
        }
        dash(v[2], Field::Version)?;
        let trace_id = id::<32>(&v[3..35], Field::TraceId)?;
        dash(v[35], Field::TraceId)?;
        let parent_id = id::<16>(&v[36..52], Field::ParentId)? as u64;
        dash(v[52], Field::ParentId)?;
        let flags = field(&v[53..55], Field::Flags)? as u8;
        if v.len() > TRACEPARENT_LEN {
            if version == 0 {
                return Err(TraceparentError::TrailingData);
            }
            dash(v[55], Field::Flags)?;
        }
        if trace_id == 0 {
            return Err(TraceparentError::ZeroTraceId);
        }
        if parent_id == 0 {
            return Err(TraceparentError::ZeroParentId);
        }
        Ok(Traceparent {
            trace_id: TraceId::from(trace_id),
            parent_id: SpanId::from(parent_id),
            flags: TraceFlags::new(flags & KNOWN_FLAGS),
        })
    }

    /// Parses every value of a header that may repeat: equal copies are one value, two different
    /// values make the whole header invalid. `Ok(None)` when there is no value at all.
    pub fn parse_all<'a>(
        values: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Option<Self>, TraceparentError> {
        let mut found: Option<&[u8]> = None;
        for value in values {
            let value = trim_ows(value);
            match found {
                Some(seen) if seen != value => return Err(TraceparentError::Conflicting),
                _ => found = Some(value),
            }
        }
        found.map(Self::parse).transpose()
    }

    /// The `traceparent` of a valid span context, `None` for an invalid one.
    pub fn from_span_context(sc: &SpanContext) -> Option<Self> {
        sc.is_valid().then(|| Traceparent {
            trace_id: sc.trace_id(),
            parent_id: sc.span_id(),
            flags: sc.trace_flags(),
        })
    }

    /// A remote span context for this parent.
    pub fn to_span_context(&self, trace_state: TraceState) -> SpanContext {
        SpanContext::new(self.trace_id, self.parent_id, self.flags, true, trace_state)
    }

    /// Formats as version 00 into a fixed buffer (always valid ASCII).
    pub fn format(&self) -> [u8; TRACEPARENT_LEN] {
        let mut out = [b'-'; TRACEPARENT_LEN];
        out[0] = b'0';
        out[1] = b'0';
        hex::encode(
            u128::from_be_bytes(self.trace_id.to_bytes()),
            &mut out[3..35],
        );
        hex::encode(
            u128::from(u64::from_be_bytes(self.parent_id.to_bytes())),
            &mut out[36..52],
        );
        hex::encode(
            u128::from(self.flags.to_u8() & KNOWN_FLAGS),
            &mut out[53..55],
        );
        out
    }
}

fn field(digits: &[u8], which: Field) -> Result<u64, TraceparentError> {
    hex::decode(digits).ok_or(TraceparentError::NotLowerHex(which))
}

/// An id field: eight digits at a time.
fn id<const N: usize>(digits: &[u8], which: Field) -> Result<u128, TraceparentError> {
    let digits: &[u8; N] = digits
        .try_into()
        .map_err(|_| TraceparentError::NotLowerHex(which))?;
    hex::decode_id(digits).ok_or(TraceparentError::NotLowerHex(which))
}

fn dash(byte: u8, after: Field) -> Result<(), TraceparentError> {
    if byte == b'-' {
        Ok(())
    } else {
        Err(TraceparentError::MissingDash(after))
    }
}
