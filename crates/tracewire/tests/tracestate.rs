//! Table-driven vectors for `tracestate` (W3C Trace Context Level 2).

use tracewire::w3c::tracestate::{format, parse, TracestateError as E, MAX_MEMBERS};

fn members(n: usize) -> String {
    (0..n)
        .map(|i| format!("k{i}=v{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn valid_values() {
    let long_key = format!("a{}", "b".repeat(255));
    let long_value = format!("{}x", " ".repeat(0) + &"v".repeat(255));
    let cases: Vec<(Vec<&str>, &str, usize, &str)> = vec![
        (vec!["foo=1"], "foo=1", 0, "one member"),
        (
            vec!["foo=1,bar=2"],
            "foo=1,bar=2",
            0,
            "two members, order kept",
        ),
        (
            vec!["foo=1", "bar=2"],
            "foo=1,bar=2",
            0,
            "two header values joined in order",
        ),
        (
            vec![",, foo=1 ,\t, bar=2,"],
            "foo=1,bar=2",
            0,
            "empty members and OWS skipped",
        ),
        (vec!["1a=x"], "1a=x", 0, "key may start with a digit"),
        (vec!["a_-*/=x"], "a_-*/=x", 0, "every special key character"),
        (
            vec!["tenant@vendor=x"],
            "tenant@vendor=x",
            0,
            "multi-tenant key",
        ),
        (
            vec!["foo=a b!~"],
            "foo=a b!~",
            0,
            "value with inner space and symbols",
        ),
        (
            vec!["foo= lead"],
            "foo= lead",
            0,
            "leading space belongs to the value",
        ),
        (vec![""], "", 0, "empty header: empty state"),
        (
            vec!["a@bbbbbbbbbbbbbbbbbbbbbbbbbbbb=1,ok=2"],
            "ok=2",
            1,
            "valid key the OpenTelemetry type refuses: dropped alone",
        ),
    ];
    for (values, expected, dropped, why) in cases {
        let parsed =
            parse(values.iter().map(|v| v.as_bytes())).unwrap_or_else(|e| panic!("{why}: {e}"));
        assert_eq!(parsed.state.header(), expected, "{why}");
        assert_eq!(parsed.unrepresentable, dropped, "{why}");
    }
    let max = members(MAX_MEMBERS);
    assert_eq!(
        parse([max.as_bytes()]).unwrap().state.header(),
        max,
        "32 members are allowed"
    );
    let kv = format!("{long_key}={long_value}");
    assert!(
        parse([kv.as_bytes()]).is_ok(),
        "256-byte key and 256-byte value"
    );
}

#[test]
fn invalid_values() {
    let too_many = members(MAX_MEMBERS + 1);
    let split_many = [
        members(20),
        (20..33)
            .map(|i| format!("x{i}=1"))
            .collect::<Vec<_>>()
            .join(","),
    ];
    let long_key = format!("a{}=1", "b".repeat(256));
    let long_value = format!("a={}", "v".repeat(257));
    let huge = format!("a={}", "v".repeat(1 << 20));
    let cases: Vec<(Vec<Vec<u8>>, E, &str)> = vec![
        (vec![too_many.into_bytes()], E::TooManyMembers, "33 members"),
        (
            split_many.iter().map(|s| s.clone().into_bytes()).collect(),
            E::TooManyMembers,
            "33 members over two headers",
        ),
        (vec![huge.into_bytes()], E::TooLong, "1 MiB"),
        (vec![b"foo".to_vec()], E::MalformedMember(0), "no ="),
        (
            vec![b"foo=1,Bar=2".to_vec()],
            E::MalformedMember(1),
            "upper-case key",
        ),
        (
            vec![b"_foo=1".to_vec()],
            E::MalformedMember(0),
            "key starting with _",
        ),
        (
            vec![b"@foo=1".to_vec()],
            E::MalformedMember(0),
            "key starting with @",
        ),
        (vec![b"foo=".to_vec()], E::MalformedMember(0), "empty value"),
        (vec![b"=1".to_vec()], E::MalformedMember(0), "empty key"),
        (
            vec![b"foo=1=2".to_vec()],
            E::MalformedMember(0),
            "= inside the value",
        ),
        (
            vec![b"foo=a\r\nb".to_vec()],
            E::MalformedMember(0),
            "CR/LF in the value",
        ),
        (
            vec![b"foo=a\tb".to_vec()],
            E::MalformedMember(0),
            "tab inside the value",
        ),
        (
            vec![b"foo=a\x00b".to_vec()],
            E::MalformedMember(0),
            "NUL in the value",
        ),
        (
            vec![b"foo=caf\xc3\xa9".to_vec()],
            E::MalformedMember(0),
            "non-ASCII value",
        ),
        (
            vec![long_key.into_bytes()],
            E::MalformedMember(0),
            "257-byte key",
        ),
        (
            vec![long_value.into_bytes()],
            E::MalformedMember(0),
            "257-byte value",
        ),
    ];
    for (values, expected, why) in cases {
        assert_eq!(
            parse(values.iter().map(Vec::as_slice)),
            Err(expected),
            "{why}"
        );
    }
}

#[rustfmt::skip]
#[test]
fn a_duplicated_key_keeps_the_first_member_and_the_tracestate() {
    // (header values, kept, duplicates dropped, why) — Trace Context: the tracestate is still
    // inherited; duplicates kept or discarded, never the whole header.
    let cases: Vec<(Vec<&str>, &str, usize, &str)> = vec![
        (vec!["foo=1,foo=1"], "foo=1", 1, "the same member twice"),
        (vec!["foo=1,foo=2"], "foo=1", 1, "two values: the first wins"),
        (vec!["foo=1", "foo=2"], "foo=1", 1, "across two header values"),
        (vec!["a=1,foo=1,b=2,foo=2"], "a=1,foo=1,b=2", 1, "the others kept in order"),
    ];
    for (values, kept, duplicates, why) in cases {
        let parsed = parse(values.iter().map(|v| v.as_bytes())).unwrap_or_else(|e| panic!("{why}: {e}"));
        assert_eq!((parsed.state.header().as_str(), parsed.duplicates), (kept, duplicates), "{why}");
    }
}

#[test]
fn a_256_character_key_is_kept_and_257_drops_the_tracestate() {
    let key = |n: usize| format!("a{}", "b".repeat(n - 1));
    let kept = format!("{}=1", key(256));
    assert_eq!(
        parse([kept.as_bytes()]).unwrap().state.header(),
        kept,
        "kept, in OpenTelemetry's type too"
    );
    let over = format!("{}=1,x=2", key(257));
    assert_eq!(
        parse([over.as_bytes()]),
        Err(E::MalformedMember(0)),
        "the whole tracestate dropped"
    );
}

#[test]
fn format_leaves_out_what_is_unsafe_on_the_wire() {
    // The OpenTelemetry type checks neither printable characters nor CR/LF in values.
    let state =
        opentelemetry::trace::TraceState::from_key_value([("ok", "1"), ("bad", "a\r\nb")]).unwrap();
    let mut out = Vec::new();
    assert_eq!(format(&state, &mut out), 1);
    assert_eq!(out, b"ok=1");
}
