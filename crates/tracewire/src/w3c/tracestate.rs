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

/// tracewire's own list member (its hop count), kept leftmost when written.
pub const TRACEWIRE_KEY: &str = "tracewire";

/// A member valid on the wire that `opentelemetry`'s `TraceState` refuses (it still enforces the
/// retired `tenant@vendor` key split: `foo@=1`, `foo@@bar=1`, `a@b@c=1`, long keys with `@`).
/// tracewire carries it beside the `TraceState` and writes it back in its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BesideMember {
    /// The key, as received.
    pub key: Box<str>,
    /// The value, as received.
    pub value: Box<str>,
    /// The key of the member `TraceState` holds that came just before it (`None`: it came
    /// first); it is written back right after that member.
    pub after: Option<Box<str>>,
}

/// A parsed `tracestate`, plus the members the OpenTelemetry type could not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTracestate {
    /// The state, in the order received.
    pub state: TraceState,
    /// How many members `TraceState` refused (carried in [`beside`](Self::beside)).
    pub unrepresentable: usize,
    /// Those members, in the order received, each with its place among the others.
    pub beside: Vec<BesideMember>,
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
            beside: Vec::new(),
            duplicates,
        });
    }
    // Usually the OpenTelemetry type takes every member at once; only when it refuses one (its
    // retired tenant@vendor rule) are members asked one by one, so that one costs only itself.
    if let Ok(state) = TraceState::from_key_value(members.iter().copied()) {
        return Ok(ParsedTracestate {
            state,
            unrepresentable: 0,
            beside: Vec::new(),
            duplicates,
        });
    }
    let mut beside = Vec::new();
    let mut after: Option<&str> = None;
    members.retain(|&(key, value)| {
        if TraceState::from_key_value([(key, value)]).is_ok() {
            after = Some(key);
            return true;
        }
        beside.push(BesideMember {
            key: key.into(),
            value: value.into(),
            after: after.map(Into::into),
        });
        false
    });
    let state = TraceState::from_key_value(members).unwrap_or_default();
    Ok(ParsedTracestate {
        state,
        unrepresentable: beside.len(),
        beside,
        duplicates,
    })
}

/// Writes a `TraceState` as one header value, leaving out any member that is not valid on the
/// wire (the OpenTelemetry type lets CR, LF and other bytes into values). Returns how many members
/// were left out.
pub fn format(state: &TraceState, out: &mut Vec<u8>) -> usize {
    format_with(state, &[], out)
}

/// [`format()`], with the members carried beside the state written back in their places: each
/// right after the member it followed on receipt; those that came first after tracewire's own
/// member (which a hop moves to the front) and before the rest; those whose neighbour is gone
/// at the end. At most 32 members are written; what does not fit is left out and counted.
///
/// ```
/// use tracewire::w3c::tracestate::{format_with, parse};
///
/// let parsed = parse([&b"foo@@x=1,rojo=2,a@b@c=3,congo=4"[..]]).unwrap();
/// assert_eq!(parsed.state.header(), "rojo=2,congo=4");
/// let mut out = Vec::new();
/// format_with(&parsed.state, &parsed.beside, &mut out);
/// assert_eq!(out, b"foo@@x=1,rojo=2,a@b@c=3,congo=4");
/// ```
pub fn format_with(state: &TraceState, beside: &[BesideMember], out: &mut Vec<u8>) -> usize {
    let header = state.header();
    let mut list = List {
        out,
        written: 0,
        dropped: 0,
    };
    let mut pending: Vec<&BesideMember> = beside.iter().collect();
    let mut front_done = pending.is_empty();
    for member in header.split(',').filter(|m| !m.is_empty()) {
        let Some((key, _)) = split_member(member.as_bytes()) else {
            list.dropped += 1;
            continue;
        };
        if !front_done && key != TRACEWIRE_KEY {
            list.take(&mut pending, |b| b.after.is_none());
            front_done = true;
        }
        list.push(member.as_bytes());
        if !pending.is_empty() {
            list.take(&mut pending, |b| b.after.as_deref() == Some(key));
        }
    }
    list.take(&mut pending, |_| true);
    list.dropped
}

/// A `tracestate` value being written, within the member limit.
struct List<'a> {
    out: &'a mut Vec<u8>,
    written: usize,
    dropped: usize,
}

impl List<'_> {
    fn push(&mut self, member: &[u8]) {
        if self.written == MAX_MEMBERS {
            self.dropped += 1;
            return;
        }
        if !self.out.is_empty() {
            self.out.push(b',');
        }
        self.out.extend_from_slice(member);
        self.written += 1;
    }

    /// Writes, in order, the pending members `which` selects.
    fn take(&mut self, pending: &mut Vec<&BesideMember>, which: impl Fn(&BesideMember) -> bool) {
        pending.retain(|b| {
            if !which(b) {
                return true;
            }
            let member = format!("{}={}", b.key, b.value);
            self.push(member.as_bytes());
            false
        });
    }
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
