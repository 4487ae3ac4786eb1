//! Table-driven vectors for `traceparent`: every rule of W3C Trace Context Level 2, valid and invalid.

use tracewire::w3c::traceparent::{Field, Traceparent, TraceparentError as E};

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PID: &str = "00f067aa0ba902b7";

fn tp(version: &str, trace: &str, parent: &str, flags: &str) -> String {
    format!("{version}-{trace}-{parent}-{flags}")
}

#[test]
fn valid_values() {
    let base = tp("00", TID, PID, "01");
    let cases: Vec<(String, u8, &str)> = vec![
        (base.clone(), 0x01, "the specification's example, sampled"),
        (tp("00", TID, PID, "00"), 0x00, "not sampled"),
        (tp("00", TID, PID, "02"), 0x02, "Level 2 random flag kept"),
        (tp("00", TID, PID, "03"), 0x03, "sampled and random kept"),
        (
            tp("00", TID, PID, "ff"),
            0x03,
            "unknown flag bits dropped, known ones kept",
        ),
        (
            tp("00", TID, PID, "08"),
            0x00,
            "an unknown bit alone is dropped",
        ),
        (
            format!("  {base}\t"),
            0x01,
            "surrounding spaces and tabs ignored",
        ),
        (
            tp("01", TID, PID, "01"),
            0x01,
            "higher version, exactly 55 bytes",
        ),
        (
            format!("{}-what-the-future-will-be-like", tp("cc", TID, PID, "01")),
            0x01,
            "higher version with extra fields",
        ),
        (
            format!("{}-", tp("01", TID, PID, "00")),
            0x00,
            "higher version, trailing dash",
        ),
    ];
    for (value, flags, why) in cases {
        let parsed = Traceparent::parse(value.as_bytes()).unwrap_or_else(|e| panic!("{why}: {e}"));
        assert_eq!(parsed.flags.to_u8(), flags, "{why}");
        assert_eq!(format!("{:032x}", parsed.trace_id), TID, "{why}");
        assert_eq!(format!("{:016x}", parsed.parent_id), PID, "{why}");
        let emitted = parsed.format();
        assert!(
            emitted.starts_with(b"00-"),
            "{why}: re-emitted as version 00"
        );
        assert_eq!(
            Traceparent::parse(&emitted),
            Ok(parsed),
            "{why}: round trip"
        );
    }
}

#[test]
fn invalid_values() {
    let upper_tid = TID.to_uppercase();
    let cases: Vec<(Vec<u8>, E, &str)> = vec![
        (b"".to_vec(), E::WrongLength(0), "empty"),
        (b"   ".to_vec(), E::WrongLength(0), "only white space"),
        (
            tp("0", TID, PID, "01").into_bytes(),
            E::WrongLength(54),
            "one-digit version (0-…)",
        ),
        (
            tp("+0", TID, PID, "01").into_bytes(),
            E::NotLowerHex(Field::Version),
            "signed version (+0-…)",
        ),
        (
            tp("0g", TID, PID, "01").into_bytes(),
            E::NotLowerHex(Field::Version),
            "version not hex",
        ),
        (
            tp("ff", TID, PID, "01").into_bytes(),
            E::ForbiddenVersion,
            "version ff",
        ),
        (
            tp("00", &TID[..31], PID, "01").into_bytes(),
            E::WrongLength(54),
            "31-digit trace id",
        ),
        (
            tp("00", TID, &PID[..15], "01").into_bytes(),
            E::WrongLength(54),
            "15-digit parent id",
        ),
        (
            tp("00", TID, PID, "1").into_bytes(),
            E::WrongLength(54),
            "one-digit flags",
        ),
        (
            tp("00", &upper_tid, PID, "01").into_bytes(),
            E::NotLowerHex(Field::TraceId),
            "upper-case trace id",
        ),
        (
            tp("00", TID, &PID.to_uppercase(), "01").into_bytes(),
            E::NotLowerHex(Field::ParentId),
            "upper-case parent id",
        ),
        (
            tp("00", TID, PID, "0A").into_bytes(),
            E::NotLowerHex(Field::Flags),
            "upper-case flags",
        ),
        (
            tp("00", &"0".repeat(32), PID, "01").into_bytes(),
            E::ZeroTraceId,
            "all-zero trace id",
        ),
        (
            tp("00", TID, &"0".repeat(16), "01").into_bytes(),
            E::ZeroParentId,
            "all-zero parent id",
        ),
        (
            format!("{}-", tp("00", TID, PID, "01")).into_bytes(),
            E::TrailingData,
            "version 00 with a trailing dash",
        ),
        (
            format!("{}-extra", tp("00", TID, PID, "01")).into_bytes(),
            E::TrailingData,
            "version 00 with extra data",
        ),
        (
            format!("{}x", tp("01", TID, PID, "01")).into_bytes(),
            E::MissingDash(Field::Flags),
            "future version, data not after a dash",
        ),
        (
            format!("00_{TID}-{PID}-01").into_bytes(),
            E::MissingDash(Field::Version),
            "wrong separator after version",
        ),
        (
            format!("00-{TID}_{PID}-01").into_bytes(),
            E::MissingDash(Field::TraceId),
            "wrong separator after trace id",
        ),
        (
            format!("00-{TID}-{PID}_01").into_bytes(),
            E::MissingDash(Field::ParentId),
            "wrong separator after parent id",
        ),
        (
            [
                &[0xff_u8, 0xfe][..],
                &tp("00", TID, PID, "01").as_bytes()[2..],
            ]
            .concat(),
            E::NotLowerHex(Field::Version),
            "non-UTF-8 bytes",
        ),
        (
            tp("00", TID, PID, "01").replace('4', "\n").into_bytes(),
            E::NotLowerHex(Field::TraceId),
            "a line feed inside",
        ),
    ];
    for (value, expected, why) in cases {
        assert_eq!(Traceparent::parse(&value), Err(expected), "{why}");
    }
}

#[test]
fn repeated_headers() {
    let a = tp("00", TID, PID, "01");
    let b = tp("00", TID, "00f067aa0ba902b8", "01");
    let parsed = Traceparent::parse_all([a.as_bytes(), a.as_bytes()]);
    assert!(
        matches!(parsed, Ok(Some(_))),
        "two equal copies are one value"
    );
    assert_eq!(
        Traceparent::parse_all([a.as_bytes(), b.as_bytes()]),
        Err(E::Conflicting),
        "two different values are invalid"
    );
    assert_eq!(
        Traceparent::parse_all(std::iter::empty()),
        Ok(None),
        "absent"
    );
}
