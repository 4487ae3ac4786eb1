//! Table-driven vectors for correlation id validation.

use tracewire::{CorrelationId, CorrelationIdError as E};

#[test]
fn valid_ids() {
    let max = "x".repeat(128);
    let cases: Vec<(&[u8], &str, &str)> = vec![
        (b"abc", "abc", "short"),
        (b"order-42", "order-42", "with dash"),
        (b"  padded\t", "padded", "surrounding OWS trimmed"),
        (b"a:b/c@d.e_f+g=h", "a:b/c@d.e_f+g=h", "other visible ASCII"),
        (max.as_bytes(), &max, "128 bytes"),
    ];
    for (raw, expected, why) in cases {
        assert_eq!(
            CorrelationId::parse(raw).map(|id| id.to_string()),
            Ok(expected.to_owned()),
            "{why}"
        );
    }
}

#[test]
fn invalid_ids() {
    let long = "x".repeat(129);
    let cases: Vec<(&[u8], E, &str)> = vec![
        (b"", E::Empty, "empty"),
        (b" \t ", E::Empty, "only white space"),
        (long.as_bytes(), E::TooLong(129), "129 bytes"),
        (b"a b", E::ForbiddenByte(1), "space"),
        (b"a,b", E::ForbiddenByte(1), "comma"),
        (b"a;b", E::ForbiddenByte(1), "semicolon"),
        (b"a\"b", E::ForbiddenByte(1), "double quote"),
        (b"a'b", E::ForbiddenByte(1), "single quote"),
        (b"a\\b", E::ForbiddenByte(1), "backslash"),
        (b"a\r\nb", E::ForbiddenByte(1), "CR/LF"),
        (b"a\x00b", E::ForbiddenByte(1), "NUL"),
        (b"a\x7fb", E::ForbiddenByte(1), "DEL"),
        (b"caf\xc3\xa9", E::ForbiddenByte(3), "non-ASCII"),
    ];
    for (raw, expected, why) in cases {
        assert_eq!(CorrelationId::parse(raw), Err(expected), "{why}");
    }
}

#[test]
fn generated_ids_are_valid_and_distinct() {
    let a = CorrelationId::generate();
    let b = CorrelationId::generate();
    assert_ne!(a, b);
    assert_eq!(CorrelationId::parse(a.as_bytes()), Ok(a));
    assert_eq!(a.as_str().len(), 36, "hyphenated UUID");
    assert_eq!(a.as_str().as_bytes()[14], b'4', "UUID version 4");
}

#[test]
fn the_attribute_value_is_made_once_per_context() {
    use tracewire::CorrelationContextExt;
    let cx = opentelemetry::Context::new().with_correlation_id_or_new();
    let (a, b) = (
        cx.correlation_value().unwrap(),
        cx.correlation_value().unwrap(),
    );
    assert_eq!(a.as_str(), cx.correlation_id().unwrap().as_str());
    assert!(std::ptr::eq(a.as_str(), b.as_str()), "shared, not copied");
    assert!(opentelemetry::Context::new().correlation_value().is_none());
}
