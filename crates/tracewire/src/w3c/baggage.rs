//! W3C Baggage: percent-encoded `key=value;property` members over any number of header values.

use super::{hex, trim_ows};
use opentelemetry::baggage::Baggage;

/// At most this many members, counted over all `baggage` header values together.
pub const MAX_MEMBERS: usize = 64;
/// At most this many bytes of members (and the commas between them), over all values together.
pub const MAX_BYTES: usize = 8192;

/// What parsing or formatting left out: whole members, never parts of one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Members that break the grammar (bad key, bad value byte, bad percent escape).
    pub malformed: usize,
    /// Well-formed members beyond the 64-member or 8192-byte limit.
    pub over_limit: usize,
}

impl Dropped {
    /// Total members dropped.
    pub fn total(&self) -> usize {
        self.malformed + self.over_limit
    }
}

/// Running totals against the W3C limits.
#[derive(Default)]
struct Budget {
    members: usize,
    bytes: usize,
}

impl Budget {
    /// Takes a member of `len` wire bytes if it fits (plus the comma before it).
    fn take(&mut self, len: usize) -> bool {
        let needed = len + usize::from(self.members > 0);
        if self.members == MAX_MEMBERS || self.bytes + needed > MAX_BYTES {
            return false;
        }
        self.members += 1;
        self.bytes += needed;
        true
    }
}

/// Parses the values of the `baggage` header. Malformed members are dropped one by one, members
/// past the limits are dropped whole; values are percent-decoded, invalid UTF-8 becoming U+FFFD.
///
/// ```
/// use tracewire::w3c::baggage::parse;
///
/// let (baggage, dropped) = parse([&b"user=ana%20maria;pii, bad key=1"[..], b"tenant=7"]);
/// assert_eq!(baggage.get("user").map(|v| v.as_str()), Some("ana maria"));
/// assert_eq!(baggage.get("tenant").map(|v| v.as_str()), Some("7"));
/// assert_eq!(dropped.malformed, 1);
/// ```
pub fn parse<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> (Baggage, Dropped) {
    let mut baggage = Baggage::new();
    let mut dropped = Dropped::default();
    let mut budget = Budget::default();
    for value in values {
        for member in value.split(|&b| b == b',') {
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            if budget.members == MAX_MEMBERS {
                dropped.over_limit += 1;
                continue;
            }
            let Some((key, value, properties)) = parse_member(member) else {
                dropped.malformed += 1;
                continue;
            };
            if !budget.take(member.len()) {
                dropped.over_limit += 1;
                continue;
            }
            baggage.insert_with_metadata(key, value, properties);
        }
    }
    (baggage, dropped)
}

/// Writes `baggage` as one header value, within the W3C limits. Members whose key is not a token
/// or whose properties are not valid on the wire are left out, as are members past the limits.
pub fn format(baggage: &Baggage, out: &mut Vec<u8>) -> Dropped {
    let mut dropped = Dropped::default();
    let mut budget = Budget::default();
    let mut member = Vec::new();
    for (key, (value, metadata)) in baggage {
        let properties = metadata.as_str();
        if !is_token(key.as_str().as_bytes()) || !valid_properties(properties.as_bytes()) {
            dropped.malformed += 1;
            continue;
        }
        member.clear();
        member.extend_from_slice(key.as_str().as_bytes());
        member.push(b'=');
        percent_encode(value.as_str().as_bytes(), &mut member);
        if !properties.is_empty() {
            let mut normalized = String::new();
            for p in properties.split(';').map(|p| trim_ows(p.as_bytes())) {
                if !normalized.is_empty() {
                    normalized.push(';');
                }
                push_property(p, &mut normalized);
            }
            member.push(b';');
            member.extend_from_slice(normalized.as_bytes());
        }
        if !budget.take(member.len()) {
            dropped.over_limit += 1;
            continue;
        }
        if !out.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(&member);
    }
    dropped
}

/// `key OWS "=" OWS value *( OWS ";" OWS property )` → (key, decoded value, properties).
fn parse_member(member: &[u8]) -> Option<(String, String, String)> {
    let mut parts = member.split(|&b| b == b';');
    let pair = parts.next()?;
    let eq = pair.iter().position(|&b| b == b'=')?;
    let key = trim_ows(&pair[..eq]);
    let value = trim_ows(&pair[eq + 1..]);
    if !is_token(key) {
        return None;
    }
    let value = percent_decode(value)?;
    let mut properties = String::new();
    for property in parts {
        let property = trim_ows(property);
        if !valid_property(property) {
            return None;
        }
        if !properties.is_empty() {
            properties.push(';');
        }
        push_property(property, &mut properties);
    }
    Some((String::from_utf8(key.to_vec()).ok()?, value, properties))
}

/// Appends a valid property without the optional white space around its `=` (a valid property
/// is ASCII, so the lossy conversion never replaces anything).
fn push_property(property: &[u8], out: &mut String) {
    match property.iter().position(|&b| b == b'=') {
        Some(eq) => {
            out.push_str(&String::from_utf8_lossy(trim_ows(&property[..eq])));
            out.push('=');
            out.push_str(&String::from_utf8_lossy(trim_ows(&property[eq + 1..])));
        }
        None => out.push_str(&String::from_utf8_lossy(property)),
    }
}

/// `property = key OWS "=" OWS value / key`.
fn valid_property(property: &[u8]) -> bool {
    match property.iter().position(|&b| b == b'=') {
        Some(eq) => {
            is_token(trim_ows(&property[..eq])) && valid_encoded(trim_ows(&property[eq + 1..]))
        }
        None => is_token(property),
    }
}

fn valid_properties(properties: &[u8]) -> bool {
    properties.is_empty()
        || properties
            .split(|&b| b == b';')
            .all(|p| valid_property(trim_ows(p)))
}

/// RFC 7230 token: one or more `tchar`.
fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b))
}

/// `baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// Baggage octets with every `%` starting a valid two-digit escape.
fn valid_encoded(value: &[u8]) -> bool {
    let mut i = 0;
    while i < value.len() {
        if !is_baggage_octet(value[i]) {
            return false;
        }
        if value[i] == b'%' {
            if value.len() < i + 3 || hex_pair(value[i + 1], value[i + 2]).is_none() {
                return false;
            }
            i += 2;
        }
        i += 1;
    }
    true
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    hex::decode(&[high.to_ascii_lowercase(), low.to_ascii_lowercase()]).map(|v| v as u8)
}

fn percent_decode(value: &[u8]) -> Option<String> {
    if !valid_encoded(value) {
        return None;
    }
    let mut bytes = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' {
            bytes.push(hex_pair(value[i + 1], value[i + 2])?);
            i += 3;
        } else {
            bytes.push(value[i]);
            i += 1;
        }
    }
    Some(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Encodes every byte that is not a baggage octet, and `%` itself.
fn percent_encode(value: &[u8], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value {
        if is_baggage_octet(b) && b != b'%' {
            out.push(b);
        } else {
            out.extend_from_slice(&[
                b'%',
                DIGITS[usize::from(b >> 4)],
                DIGITS[usize::from(b & 15)],
            ]);
        }
    }
}
