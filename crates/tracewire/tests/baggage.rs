//! Table-driven vectors for W3C Baggage.

use opentelemetry::baggage::Baggage;
use tracewire::w3c::baggage::{format, parse, Dropped, MAX_BYTES, MAX_MEMBERS};

fn get(b: &Baggage, k: &str) -> Option<String> {
    b.get(k).map(|v| v.as_str().to_owned())
}

/// Header values, the members expected back, how many are malformed, and why.
type Case<'a> = (Vec<&'a [u8]>, Vec<(&'a str, &'a str)>, usize, &'a str);

#[test]
fn members_are_parsed_and_decoded() {
    let cases: Vec<Case> = vec![
        (vec![b"a=1"], vec![("a", "1")], 0, "one member"),
        (
            vec![b" a = 1 ,\tb=2 "],
            vec![("a", "1"), ("b", "2")],
            0,
            "OWS around keys, values, members",
        ),
        (
            vec![b"a=1", b"b=2"],
            vec![("a", "1"), ("b", "2")],
            0,
            "several header values",
        ),
        (
            vec![b"k=hello%20world"],
            vec![("k", "hello world")],
            0,
            "percent-encoded space",
        ),
        (
            vec![b"k=%E2%82%AC%e2%82%ac"],
            vec![("k", "€€")],
            0,
            "UTF-8 escapes, either case",
        ),
        (
            vec![b"k=%FF"],
            vec![("k", "\u{fffd}")],
            0,
            "invalid UTF-8 becomes U+FFFD",
        ),
        (vec![b"k="], vec![("k", "")], 0, "empty value"),
        (
            vec![b"a=1,bad,b=2"],
            vec![("a", "1"), ("b", "2")],
            1,
            "member without = dropped alone",
        ),
        (
            vec![b"a b=1,c=2"],
            vec![("c", "2")],
            1,
            "space inside a key",
        ),
        (
            vec![b"k=va lue,c=2"],
            vec![("c", "2")],
            1,
            "unencoded space inside a value",
        ),
        (vec![b"k=%zz,c=2"], vec![("c", "2")], 1, "bad escape"),
        (vec![b"k=%2,c=2"], vec![("c", "2")], 1, "truncated escape"),
        (
            vec![b"k=a\r\nb,c=2"],
            vec![("c", "2")],
            1,
            "CR/LF inside a value",
        ),
        (
            vec![b"k=\xc3\xa9,c=2"],
            vec![("c", "2")],
            1,
            "raw non-ASCII byte",
        ),
        (
            vec![b"k=1;p=\"x\",c=2"],
            vec![("c", "2")],
            1,
            "bad property value",
        ),
    ];
    for (values, expected, malformed, why) in cases {
        let (bag, dropped) = parse(values);
        assert_eq!(dropped.malformed, malformed, "{why}");
        assert_eq!(bag.len(), expected.len(), "{why}");
        for (k, v) in expected {
            assert_eq!(get(&bag, k).as_deref(), Some(v), "{why}");
        }
    }
}

#[test]
fn properties_are_kept() {
    let (bag, _) = parse([&b"k=v; p1 ;p2=x"[..]]);
    let (value, meta) = bag.get_with_metadata("k").unwrap();
    assert_eq!(value.as_str(), "v");
    assert_eq!(meta.as_str(), "p1;p2=x");
}

#[test]
fn member_limit_counts_all_headers() {
    let first: String = (0..40)
        .map(|i| format!("a{i}=1"))
        .collect::<Vec<_>>()
        .join(",");
    let second: String = (0..40)
        .map(|i| format!("b{i}=1"))
        .collect::<Vec<_>>()
        .join(",");
    let (bag, dropped) = parse([first.as_bytes(), second.as_bytes()]);
    assert_eq!(bag.len(), MAX_MEMBERS);
    assert_eq!(
        dropped,
        Dropped {
            malformed: 0,
            over_limit: 80 - MAX_MEMBERS
        }
    );
}

#[test]
fn byte_limit_counts_all_headers_and_drops_whole_members() {
    let big = |k: &str| format!("{k}={}", "v".repeat(3000));
    let (a, b, c) = (big("a"), big("b"), big("c"));
    let (bag, dropped) = parse([a.as_bytes(), b.as_bytes(), c.as_bytes(), b"small=1"]);
    assert_eq!(dropped.over_limit, 1, "the third 3 KB member does not fit");
    assert!(get(&bag, "a").is_some() && get(&bag, "b").is_some());
    assert_eq!(get(&bag, "c"), None, "never a partial member");
    assert_eq!(
        get(&bag, "small").as_deref(),
        Some("1"),
        "a later member that fits is kept"
    );
    let huge = format!("k={}", "v".repeat(1 << 20));
    let (bag, dropped) = parse([huge.as_bytes()]);
    assert!(bag.is_empty());
    assert_eq!(dropped.over_limit, 1, "1 MiB member dropped");
}

#[test]
fn format_encodes_and_respects_limits() {
    let mut bag = Baggage::new();
    bag.insert_with_metadata("k", "a b,c;d%é\r\n", "p=1");
    let mut out = Vec::new();
    assert_eq!(format(&bag, &mut out).total(), 0);
    assert_eq!(out, b"k=a%20b%2Cc%3Bd%25%C3%A9%0D%0A;p=1");
    let (back, _) = parse([out.as_slice()]);
    assert_eq!(get(&back, "k").as_deref(), Some("a b,c;d%é\r\n"));

    let bag = Baggage::from_iter(
        (0..64).map(|i| opentelemetry::KeyValue::new(format!("k{i}"), "é".repeat(60))),
    );
    let mut out = Vec::new();
    let dropped = format(&bag, &mut out);
    assert!(out.len() <= MAX_BYTES, "{} bytes", out.len());
    assert!(dropped.over_limit > 0);
    let (back, again) = parse([out.as_slice()]);
    assert_eq!(back.len() + dropped.over_limit, 64);
    assert_eq!(again.total(), 0);
}

/// Found by the baggage fuzz target: white space around a property's `=` is optional on the wire
/// and is not written back.
#[test]
fn property_white_space_is_normalized() {
    let (bag, dropped) = parse([&b"1=;-=\t\t_\t\t;1==/!"[..]]);
    assert_eq!(dropped.total(), 0);
    let (_, meta) = bag.get_with_metadata("1").unwrap();
    assert_eq!(meta.as_str(), "-=_;1==/!");
    let mut out = Vec::new();
    format(&bag, &mut out);
    assert_eq!(out, b"1=;-=_;1==/!");
}
