//! The pieces of a JSON line, appended to a reused buffer: escaped strings, hex ids, RFC 3339
//! timestamps and numbers — no `serde_json::Value`, no `String` per field.

use std::time::{SystemTime, UNIX_EPOCH};

const HEX: &[u8; 16] = b"0123456789abcdef";

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Non-zero when one of eight bytes needs an escape (the bit tricks of "Bit Twiddling Hacks": a
/// byte below 0x20, or equal to `"` or `\`, sets its high bit in the mask).
fn escape_mask(v: u64) -> u64 {
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = v.wrapping_sub(ONES * 0x20) & !v & HIGH;
    let quote = zero_byte(v ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(v ^ (ONES * u64::from(b'\\')));
    below_space | quote | backslash
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().unwrap_or([b'a'; N])
}

/// A JSON string (quotes included), escaped as RFC 8259 requires: `"`, `\` and control
/// characters.
#[inline]
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    body(out, s);
    out.push(b'"');
}

/// A JSON string's text without its quotes (the caller writes them with the text around it).
/// Almost every string needs no escape: the bit tricks of "Bit Twiddling Hacks" look for a
/// byte below 0x20, `"` or `\` eight bytes at a time (the last word overlapping the one before:
/// no byte-by-byte tail), then the string is copied at once; a string with one is escaped.
#[inline]
pub(crate) fn body(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if any_escape(bytes) {
        escaped(out, bytes);
    } else {
        out.extend_from_slice(bytes);
    }
}

#[inline]
fn any_escape(bytes: &[u8]) -> bool {
    let n = bytes.len();
    let dirty = if n >= 8 {
        let words = bytes.chunks_exact(8).map(|w| u64::from_le_bytes(array(w)));
        let last = u64::from_le_bytes(array(&bytes[n - 8..]));
        words.fold(escape_mask(last), |dirty, w| dirty | escape_mask(w))
    } else if n >= 4 {
        let (first, last) = (array::<4>(&bytes[..4]), array::<4>(&bytes[n - 4..]));
        escape_mask(
            u64::from(u32::from_le_bytes(first)) | u64::from(u32::from_le_bytes(last)) << 32,
        )
    } else {
        bytes
            .iter()
            .fold(0, |dirty, &b| dirty | u64::from(needs_escape(b)))
    };
    dirty != 0
}

/// The slow path: runs of plain bytes copied at once, the others escaped.
#[cold]
#[inline(never)]
fn escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut plain = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        out.extend_from_slice(&bytes[plain..i]);
        plain = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]),
        }
    }
    out.extend_from_slice(&bytes[plain..]);
}

/// Eight hex digits of `n`, most significant first, without a table: each nibble spread to its
/// own byte, then turned into `0`–`9` or `a`–`f` all at once.
fn hex8(n: u32) -> [u8; 8] {
    let mut x = u64::from(n);
    x = (x & 0xffff_0000) << 16 | (x & 0xffff);
    x = (x & 0x0000_ff00_0000_ff00) << 8 | (x & 0x0000_00ff_0000_00ff);
    x = (x & 0x00f0_00f0_00f0_00f0) << 4 | (x & 0x000f_000f_000f_000f);
    // Nibbles now sit one per byte, the most significant in the highest byte.
    let letters = ((x + ONES * 6) >> 4) & ONES; // 1 where the nibble is 10 or more
    (x + ONES * u64::from(b'0') + letters * u64::from(b'a' - b'0' - 10)).to_be_bytes()
}

/// Lower-case hex of an id's `N` bytes (8 or 16: a span or trace id), quoted.
pub(crate) fn hex<const N: usize>(out: &mut Vec<u8>, id: [u8; N]) {
    let mut text = [b'"'; 34];
    for (i, quad) in id.chunks_exact(4).enumerate().take(4) {
        let at = 1 + 8 * i;
        text[at..at + 8].copy_from_slice(&hex8(u32::from_be_bytes(array::<4>(quad))));
    }
    text[1 + 2 * N.min(16)] = b'"';
    out.extend_from_slice(&text[..2 + 2 * N.min(16)]);
}

/// An integer.
pub(crate) fn int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A float; `null` when it is not finite (JSON has no NaN), as serde_json writes it.
pub(crate) fn float(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// A duration in milliseconds with microsecond precision (`3.2` → `3.200`): integer digits,
/// no float formatting.
pub(crate) fn millis(out: &mut Vec<u8>, d: std::time::Duration) {
    let micros = d.as_micros() as u64;
    out.extend_from_slice(itoa::Buffer::new().format(micros / 1000).as_bytes());
    out.push(b'.');
    digits(out, micros % 1000, 3);
}

/// `true` or `false`.
pub(crate) fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// `"2026-11-22T04:20:00.123456Z"`: RFC 3339 in UTC with microseconds (times before 1970 are
/// written as 1970-01-01).
pub(crate) fn timestamp(out: &mut Vec<u8>, t: SystemTime) {
    let micros = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64;
    let (secs, frac) = (micros / 1_000_000, micros % 1_000_000);
    let (last, prefix) = LAST_SECOND.get();
    let prefix = if last == secs {
        prefix
    } else {
        let prefix = up_to_second(secs);
        LAST_SECOND.set((secs, prefix));
        prefix
    };
    out.extend_from_slice(&prefix);
    digits(out, frac, 6);
    out.extend_from_slice(b"Z\"");
}

thread_local! {
    /// The last second written and its `"YYYY-MM-DDTHH:MM:SS.`: a writer thread formats the
    /// date and time once a second, the microseconds for each line.
    static LAST_SECOND: std::cell::Cell<(u64, [u8; 21])> = const { std::cell::Cell::new((u64::MAX, [0; 21])) };
}

/// `"YYYY-MM-DDTHH:MM:SS.` of a second count since 1970-01-01.
fn up_to_second(secs: u64) -> [u8; 21] {
    let (days, day_secs) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil(days as i64);
    let mut out = Vec::with_capacity(21);
    out.push(b'"');
    digits(&mut out, year as u64, 4);
    out.push(b'-');
    digits(&mut out, month as u64, 2);
    out.push(b'-');
    digits(&mut out, day as u64, 2);
    out.push(b'T');
    digits(&mut out, day_secs / 3600, 2);
    out.push(b':');
    digits(&mut out, day_secs / 60 % 60, 2);
    out.push(b':');
    digits(&mut out, day_secs % 60, 2);
    out.push(b'.');
    out.try_into().unwrap_or([b'0'; 21])
}

/// `n` as exactly `width` (at most 8) decimal digits, zero-padded.
fn digits(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut text = [b'0'; 8];
    let width = width.min(8);
    for slot in text[..width].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&text[..width]);
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_escape_like_serde_json() {
        for s in [
            "plain",
            "quote \" and \\ backslash",
            "line\nbreak\r\ttab",
            "\u{0}\u{1f}\u{7f} bell\u{7}",
            "ünïcødé ✓",
            "",
        ] {
            let ours = text(|o| string(o, s));
            assert_eq!(ours, serde_json::to_string(s).unwrap(), "{s:?}");
            assert_eq!(serde_json::from_str::<String>(&ours).unwrap(), s);
        }
    }

    #[test]
    fn every_length_and_position_escapes_like_serde_json() {
        // Each word-size case (under 4, 4–7, whole words, an overlapping last word), with each
        // ASCII byte and a multi-byte character at each position.
        for len in 0..26 {
            for at in 0..len {
                let chars = (0u8..128).map(char::from).chain(['é', '✓']);
                for c in chars {
                    let mut s: String = "a".repeat(len - 1);
                    s.insert(at, c);
                    assert_eq!(
                        text(|o| string(o, &s)),
                        serde_json::to_string(&s).unwrap(),
                        "{c:?} at {at} of {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn timestamps_match_humantime_across_dates() {
        let mut t = UNIX_EPOCH;
        // Leap years, century rules, month ends: every ~3.7 days over 400 years.
        for _ in 0..40_000 {
            t += Duration::from_micros(319_999_123_457);
            let ours = text(|o| timestamp(o, t));
            let theirs = format!("\"{}\"", humantime::format_rfc3339_micros(t));
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn numbers_are_json_numbers() {
        assert_eq!(text(|o| float(o, 3.2)), "3.2");
        assert_eq!(text(|o| float(o, f64::NAN)), "null");
        assert_eq!(text(|o| int(o, -42)), "-42");
        assert_eq!(text(|o| millis(o, Duration::from_micros(3_200))), "3.200");
        assert_eq!(
            text(|o| millis(o, Duration::from_nanos(1_234_567_999))),
            "1234.567"
        );
        assert_eq!(text(|o| hex(o, [0x0a, 0xff, 0, 1])), "\"0aff0001\"");
    }

    #[test]
    fn hex_ids_match_format() {
        let mut n: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
        for _ in 0..10_000 {
            n = n.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835) ^ (n >> 61);
            assert_eq!(text(|o| hex(o, n.to_be_bytes())), format!("\"{n:032x}\""));
            let id = n as u64;
            assert_eq!(text(|o| hex(o, id.to_be_bytes())), format!("\"{id:016x}\""));
        }
    }
}
