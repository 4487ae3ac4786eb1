//! `tracestate` (W3C Trace Context Level 2): list members over any number of header values.

use super::trim_ows;
use opentelemetry::trace::TraceState;

/// At most this many list members; more make the whole `tracestate` invalid.
pub const MAX_MEMBERS: usize = 32;
/// Longest key and longest value the grammar allows.
const MAX_KEY_LEN: usize = 256;
const MAX_VALUE_LEN: usize = 256;
/// Raw input above this many bytes is refused before it is read: 32 members of the longest form,
/// their separators and generous white space fit well below it.
pub const MAX_RAW_LEN: usize = 32 * 1024;

/// Why a `tracestate` was dropped as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TracestateError {
    /// More than 32 list members.
    #[error("tracestate has more than {MAX_MEMBERS} list members")]
    TooManyMembers,
    /// The header values together exceed [`MAX_RAW_LEN`].
    #[error("tracestate is longer than {MAX_RAW_LEN} bytes")]
    TooLong,
    /// A member has no `=`, or a key or value breaks the grammar.
    #[error("tracestate list member {0} is malformed")]
    MalformedMember(usize),
}

/// A parsed `tracestate`, plus the members the OpenTelemetry type could not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTracestate {
    /// The state, in the order received.
    pub state: TraceState,
    /// Members valid on the wire but refused by `opentelemetry`'s `TraceState` (it still checks the
    /// retired `tenant@vendor` key split); they are dropped one by one.
    pub unrepresentable: usize,
    /// Later members repeating an earlier member's key: dropped, the first kept (the tracestate
    /// itself is still inherited, as Trace Context asks).
    pub duplicates: usize,
}

/// Parses the values of the `tracestate` header, joined in order.
///
/// ```
/// use tracewire::w3c::tracestate::parse;
///
/// let parsed = parse([&b"rojo=00f067aa0ba902b7"[..], b" , congo=t61rcWkgMzE"]).unwrap();
/// assert_eq!(parsed.state.header(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
/// assert_eq!(parse([&b"a=1,a=2"[..]]).unwrap().state.header(), "a=1", "the first one kept");
/// assert!(parse([&b"a=1,A=2"[..]]).is_err(), "a broken member drops it all");
/// ```
pub fn parse<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Result<ParsedTracestate, TracestateError> {
    let mut raw = 0;
    let mut duplicates = 0;
    let mut members: Vec<(&str, &str)> = Vec::new();
    for value in values {
        raw += value.len();
        if raw > MAX_RAW_LEN {
            return Err(TracestateError::TooLong);
        }
        for member in value.split(|&b| b == b',') {
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            let index = members.len() + duplicates;
            if index == MAX_MEMBERS {
                return Err(TracestateError::TooManyMembers);
            }
            let (key, value) =
                split_member(member).ok_or(TracestateError::MalformedMember(index))?;
            if members.iter().any(|(k, _)| *k == key) {
                duplicates += 1; // the first occurrence wins
                continue;
            }
            members.push((key, value));
        }
    }
    if members.is_empty() {
        return Ok(ParsedTracestate {
            state: TraceState::NONE,
            unrepresentable: 0,
            duplicates,
        });
    }
    // Usually the OpenTelemetry type takes every member at once; only when it refuses one (its
    // retired tenant@vendor rule) are members asked one by one, so that one costs only itself.
    if let Ok(state) = TraceState::from_key_value(members.iter().copied()) {
        return Ok(ParsedTracestate {
            state,
            unrepresentable: 0,
            duplicates,
        });
    }
    let total = members.len();
    members.retain(|member| TraceState::from_key_value([*member]).is_ok());
    let unrepresentable = total - members.len();
    let state = TraceState::from_key_value(members).unwrap_or_default();
    Ok(ParsedTracestate {
        state,
        unrepresentable,
        duplicates,
    })
}

/// Writes a `TraceState` as one header value, leaving out any member that is not valid on the
/// wire (the OpenTelemetry type lets CR, LF and other bytes into values). Returns how many members
/// were left out.
pub fn format(state: &TraceState, out: &mut Vec<u8>) -> usize {
    let header = state.header();
    let mut dropped = 0;
    for member in header.split(',').filter(|m| !m.is_empty()) {
        if split_member(member.as_bytes()).is_none() {
            dropped += 1;
            continue;
        }
        if !out.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(member.as_bytes());
    }
    dropped
}

/// `key "=" value` with both halves valid, or `None`.
fn split_member(member: &[u8]) -> Option<(&str, &str)> {
    let eq = member.iter().position(|&b| b == b'=')?;
    let (key, value) = (&member[..eq], &member[eq + 1..]);
    if !valid_key(key) || !valid_value(value) {
        return None;
    }
    // Both halves are ASCII now, so these conversions cannot fail.
    Some((
        std::str::from_utf8(key).ok()?,
        std::str::from_utf8(value).ok()?,
    ))
}

/// `key = (lcalpha / DIGIT) 0*255(keychar)`, keychar = `a-z 0-9 _ - * / @`.
fn valid_key(key: &[u8]) -> bool {
    let keychar =
        |b: &u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@');
    match key.split_first() {
        Some((first, rest)) => {
            key.len() <= MAX_KEY_LEN
                && (first.is_ascii_lowercase() || first.is_ascii_digit())
                && rest.iter().all(keychar)
        }
        None => false,
    }
}

/// `value = 0*255(chr) nblk-chr`: printable ASCII without `,` and `=`, not ending in a space.
fn valid_value(value: &[u8]) -> bool {
    let chr = |b: &u8| matches!(b, 0x20..=0x7e) && *b != b',' && *b != b'=';
    !value.is_empty()
        && value.len() <= MAX_VALUE_LEN
        && value.iter().all(chr)
        && value.last() != Some(&b' ')
}
