//! Header capture: the headers a destination opted in to, recorded as `messaging.header.<name>`
//! span attributes. Header names and values come from strangers: both are bounded and cleaned.

use super::glob::Glob;
use crate::carrier::HeaderReader;
use opentelemetry::{Array, KeyValue, StringValue, Value};

/// Longest value recorded, in bytes.
pub const MAX_CAPTURED_VALUE: usize = 256;
/// At most this many headers recorded per message…
const MAX_HEADERS: usize = 32;
/// …with at most this many values each.
const MAX_VALUES: usize = 16;
/// Longer names are not recorded (they would make a key of their own length).
const MAX_NAME: usize = 128;

/// Appends to `out` every header of `headers` whose name matches `patterns`, except those
/// `own(name)` claims (tracewire's propagation headers).
pub(crate) fn capture<R: HeaderReader>(
    patterns: &[Glob],
    headers: &R,
    own: impl Fn(&str) -> bool,
    out: &mut Vec<KeyValue>,
) {
    let mut seen: Vec<String> = Vec::new();
    for name in headers.names() {
        if seen.len() == MAX_HEADERS {
            break;
        }
        let recordable = name.len() <= MAX_NAME && name.bytes().all(|b| b.is_ascii_graphic());
        if !recordable || own(name) || !patterns.iter().any(|g| g.matches_ignore_case(name)) {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            continue;
        }
        let mut values: Vec<StringValue> = headers
            .values(name)
            .take(MAX_VALUES)
            .map(|v| printable(v, MAX_CAPTURED_VALUE, None).into())
            .collect();
        let value = match values.len() {
            0 => continue,
            1 => Value::String(values.remove(0)),
            _ => Value::Array(Array::String(values)),
        };
        out.push(KeyValue::new(format!("messaging.header.{lower}"), value));
        seen.push(lower);
    }
}

/// Untrusted bytes made safe to record: at most `max` bytes (cut at a character boundary),
/// invalid UTF-8 as U+FFFD, each control character replaced by `control` or, without one,
/// removed. For header values here and for opted-in keys and payloads.
pub(super) fn printable(bytes: &[u8], max: usize, control: Option<char>) -> String {
    let cut = &bytes[..bytes.len().min(max)];
    let chars = String::from_utf8_lossy(cut);
    let mut out: String = match control {
        Some(r) => chars
            .chars()
            .map(|c| if c.is_control() { r } else { c })
            .collect(),
        None => chars.chars().filter(|c| !c.is_control()).collect(),
    };
    if out.len() > max {
        let mut end = max;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carrier::MemoryHeaders;

    fn captured(patterns: &[&str], headers: &MemoryHeaders) -> Vec<(String, Value)> {
        let patterns: Vec<Glob> = patterns.iter().map(|p| Glob::new(*p)).collect();
        let mut out = Vec::new();
        capture(
            &patterns,
            headers,
            |n| n.eq_ignore_ascii_case("traceparent"),
            &mut out,
        );
        out.into_iter()
            .map(|kv| (kv.key.to_string(), kv.value))
            .collect()
    }

    #[test]
    fn matching_headers_are_recorded_cleaned_and_bounded() {
        let long = "é".repeat(200);
        let headers = MemoryHeaders::from_pairs([
            ("X-Tenant-Id", "acme\r\n"),
            ("x-tenant-region", "eu"),
            ("x-tenant-region", "us"),
            ("x-other", "no"),
            ("traceparent", "00-…"),
            ("x-tenant-long", long.as_str()),
        ]);
        let out = captured(&["x-tenant-*", "traceparent"], &headers);
        assert_eq!(
            out[0],
            ("messaging.header.x-tenant-id".into(), Value::from("acme"))
        );
        assert_eq!(
            out[1],
            (
                "messaging.header.x-tenant-region".into(),
                Value::Array(Array::String(vec!["eu".into(), "us".into()]))
            )
        );
        assert_eq!(
            out.len(),
            3,
            "x-other unmatched, traceparent is tracewire's own: {out:?}"
        );
        assert_eq!(out[2].1.as_str().len(), 256, "128 two-byte characters");
    }

    #[test]
    fn a_flood_of_headers_is_recorded_up_to_the_bound() {
        let headers =
            MemoryHeaders::from_pairs((0..1000).map(|i| (format!("x-{i}"), vec![b'v'; 10_000])));
        let out = captured(&["x-*"], &headers);
        assert_eq!(out.len(), MAX_HEADERS);
        assert!(out
            .iter()
            .all(|(_, v)| v.as_str().len() == MAX_CAPTURED_VALUE));
        let bad = MemoryHeaders::from_pairs([("x-\u{7f}bad", "1"), ("x y", "2")]);
        assert!(
            captured(&["x*"], &bad).is_empty(),
            "names that are not tokens are skipped"
        );
    }
}
