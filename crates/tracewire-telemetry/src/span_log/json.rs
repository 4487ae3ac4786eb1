//! The pieces of a JSON line, appended to a reused buffer: escaped strings, hex ids, RFC 3339
//! timestamps and numbers — no `serde_json::Value`, no `String` per field.

use std::time::{SystemTime, UNIX_EPOCH};

const HEX: &[u8; 16] = b"0123456789abcdef";

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether any byte needs an escape, eight at a time (the bit tricks of "Bit Twiddling Hacks":
/// a byte below 0x20, or equal to `"` or `\`, sets its high bit in the mask).
fn any_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let v = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let below_space = v.wrapping_sub(ONES * 0x20) & !v & HIGH;
        let quote = zero_byte(v ^ (ONES * u64::from(b'"')));
        let backslash = zero_byte(v ^ (ONES * u64::from(b'\\')));
        if below_space | quote | backslash != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| needs_escape(b))
}

/// A JSON string (quotes included), escaped as RFC 8259 requires: `"`, `\` and control
/// characters. Runs of plain bytes are copied at once.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Almost every string needs no escape: a scan eight bytes at a time says so at once.
    if !any_escape(bytes) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
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
    out.push(b'"');
}

/// Lower-case hex of `bytes`, quoted (trace and span ids).
pub(crate) fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut text = [0u8; 34];
    let n = bytes.len().min(16);
    text[0] = b'"';
    for (i, &b) in bytes[..n].iter().enumerate() {
        text[1 + 2 * i] = HEX[(b >> 4) as usize];
        text[2 + 2 * i] = HEX[(b & 0xf) as usize];
    }
    text[1 + 2 * n] = b'"';
    out.extend_from_slice(&text[..2 + 2 * n]);
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
    let (days, day_secs) = (secs / 86_400, secs % 86_400);
    out.push(b'"');
    out.extend_from_slice(&date(days));
    out.push(b'T');
    digits(out, day_secs / 3600, 2);
    out.push(b':');
    digits(out, day_secs / 60 % 60, 2);
    out.push(b':');
    digits(out, day_secs % 60, 2);
    out.push(b'.');
    digits(out, frac, 6);
    out.extend_from_slice(b"Z\"");
}

thread_local! {
    /// The last day written and its `YYYY-MM-DD`: a writer thread computes a date once a day.
    static LAST_DAY: std::cell::Cell<(u64, [u8; 10])> = const { std::cell::Cell::new((u64::MAX, [0; 10])) };
}

/// `YYYY-MM-DD` of a day count since 1970-01-01.
fn date(days: u64) -> [u8; 10] {
    let (last, text) = LAST_DAY.get();
    if last == days {
        return text;
    }
    let (year, month, day) = civil(days as i64);
    let mut out = Vec::with_capacity(10);
    digits(&mut out, year as u64, 4);
    out.push(b'-');
    digits(&mut out, month as u64, 2);
    out.push(b'-');
    digits(&mut out, day as u64, 2);
    let text: [u8; 10] = out.try_into().unwrap_or([b'0'; 10]);
    LAST_DAY.set((days, text));
    text
}

/// `n` as exactly `width` decimal digits (zero-padded).
fn digits(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for slot in out[start..].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
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
    fn the_eight_byte_scan_finds_every_byte_that_needs_an_escape() {
        for len in 0..20 {
            for at in 0..len {
                for b in 0u8..=255 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    assert_eq!(
                        any_escape(&bytes),
                        needs_escape(b),
                        "{b:#x} at {at} of {len}"
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
        assert_eq!(text(|o| hex(o, &[0x0a, 0xff])), "\"0aff\"");
    }
}
