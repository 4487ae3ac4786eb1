//! A shared corpus of hostile header sets, each with the outcome tracewire promises for it. The
//! broker crates' integration tests send every case through their real broker.

/// A header value as a stranger may send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Raw bytes (any bytes at all).
    Bytes(Vec<u8>),
    /// A value of the wrong type where the transport has types (AMQP integer).
    Integer(i64),
    /// A null value where the transport has them (Kafka).
    Null,
}

/// What the consumer must see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trace {
    /// A new trace: no parent, the message still processed.
    Fresh,
    /// The valid parent of the case is continued.
    Kept,
}

/// One hostile case.
#[derive(Debug, Clone)]
pub struct Case {
    /// Short name (also sent as the message body, to match deliveries to cases).
    pub name: &'static str,
    /// Headers in order (names as bytes: some are not UTF-8).
    pub headers: Vec<(Vec<u8>, Value)>,
    /// Whether the parent is continued.
    pub trace: Trace,
    /// The correlation id the consumer must see; `None`: a fresh one.
    pub correlation: Option<&'static str>,
    /// A string that must never appear in span attributes or logs.
    pub poison: &'static str,
}

impl Case {
    /// Whether every header can be carried by a transport whose names and values must be
    /// printable text without CR/LF (NATS) — the others are refused by the client itself.
    pub fn is_text_safe(&self) -> bool {
        let ok = |b: &[u8]| std::str::from_utf8(b).is_ok_and(|s| !s.contains(['\r', '\n', '\0']));
        self.headers.iter().all(|(k, v)| {
            ok(k)
                && !k.is_empty()
                && !k.contains(&b':')
                && !k.contains(&b' ')
                && match v {
                    Value::Bytes(b) => ok(b),
                    Value::Integer(_) => true,
                    Value::Null => false,
                }
        })
    }

    /// Whether every value is bytes (no typed values).
    pub fn is_bytes_only(&self) -> bool {
        self.headers
            .iter()
            .all(|(_, v)| matches!(v, Value::Bytes(_)))
    }

    /// The total size of the header values.
    pub fn size(&self) -> usize {
        self.headers
            .iter()
            .map(|(k, v)| k.len() + if let Value::Bytes(b) = v { b.len() } else { 8 })
            .sum()
    }
}

/// The valid parent used by cases that keep their trace.
pub const VALID_TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// Its parent (span) id.
pub const VALID_PARENT_ID: u64 = 0x00f0_67aa_0ba9_02b7;

fn h(name: &str, value: &[u8]) -> (Vec<u8>, Value) {
    (name.as_bytes().to_vec(), Value::Bytes(value.to_vec()))
}

fn case(name: &'static str, headers: Vec<(Vec<u8>, Value)>, trace: Trace) -> Case {
    Case {
        name,
        headers,
        trace,
        correlation: None,
        poison: "evil",
    }
}

/// The corpus (at least 30 cases).
pub fn corpus() -> Vec<Case> {
    let tp = VALID_TRACEPARENT.as_bytes();
    let long = |n: usize| vec![b'a'; n];
    let members = |n: usize| {
        (0..n)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let baggage_split: Vec<(Vec<u8>, Value)> = (0..40)
        .map(|i| h("baggage", format!("b{i}={}", "x".repeat(300)).as_bytes()))
        .collect();
    let with_valid = |name, extra: Vec<(Vec<u8>, Value)>| {
        let mut hs = vec![h("traceparent", tp)];
        hs.extend(extra);
        case(name, hs, Trace::Kept)
    };
    let mut cases = vec![
        case("no-headers", vec![], Trace::Fresh),
        case(
            "empty-traceparent",
            vec![h("traceparent", b"")],
            Trace::Fresh,
        ),
        case(
            "short-traceparent",
            vec![h("traceparent", &tp[..54])],
            Trace::Fresh,
        ),
        case(
            "long-version-00",
            vec![h(
                "traceparent",
                format!("{VALID_TRACEPARENT}-extra").as_bytes(),
            )],
            Trace::Fresh,
        ),
        case(
            "upper-case-hex",
            vec![h(
                "traceparent",
                VALID_TRACEPARENT.to_uppercase().as_bytes(),
            )],
            Trace::Fresh,
        ),
        case(
            "zero-trace-id",
            vec![h(
                "traceparent",
                b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            )],
            Trace::Fresh,
        ),
        case(
            "zero-parent-id",
            vec![h(
                "traceparent",
                b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            )],
            Trace::Fresh,
        ),
        case(
            "version-ff",
            vec![h(
                "traceparent",
                b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )],
            Trace::Fresh,
        ),
        case(
            "bad-separators",
            vec![h(
                "traceparent",
                b"00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            )],
            Trace::Fresh,
        ),
        case(
            "signed-version",
            vec![h(
                "traceparent",
                b"+0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )],
            Trace::Fresh,
        ),
        case(
            "duplicated-different",
            vec![
                h("traceparent", tp),
                h(
                    "traceparent",
                    b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01",
                ),
            ],
            Trace::Fresh,
        ),
        case(
            "non-utf8-traceparent",
            vec![h("traceparent", b"\xff\xfe\xfd\x00\x80")],
            Trace::Fresh,
        ),
        case(
            "crlf-traceparent",
            vec![h(
                "traceparent",
                b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nevil: 1",
            )],
            Trace::Fresh,
        ),
        case(
            "huge-traceparent",
            vec![h("traceparent", &long(60_000))],
            Trace::Fresh,
        ),
        case(
            "traceparent-as-integer",
            vec![(b"traceparent".to_vec(), Value::Integer(42))],
            Trace::Fresh,
        ),
        case(
            "traceparent-null",
            vec![(b"traceparent".to_vec(), Value::Null)],
            Trace::Fresh,
        ),
        case(
            "non-utf8-header-name",
            vec![
                (b"\xff\xfe-evil".to_vec(), Value::Bytes(b"x".to_vec())),
                h("traceparent", tp),
            ],
            Trace::Kept,
        ),
        case(
            "future-version-extra-fields",
            vec![h(
                "traceparent",
                b"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds",
            )],
            Trace::Kept,
        ),
        with_valid("duplicated-same", vec![h("traceparent", tp)]),
        with_valid("crlf-tracestate", vec![h("tracestate", b"a=1\r\nevil: 1")]),
        with_valid(
            "33-tracestate-members",
            vec![h("tracestate", members(33).as_bytes())],
        ),
        with_valid("huge-tracestate", vec![h("tracestate", &long(60_000))]),
        with_valid(
            "duplicate-tracestate-key",
            vec![h("tracestate", b"a=1,a=2")],
        ),
        with_valid(
            "upper-case-tracestate-key",
            vec![h("tracestate", b"Evil=1")],
        ),
        with_valid("non-utf8-tracestate", vec![h("tracestate", b"a=\xff\xfe")]),
        with_valid(
            "baggage-over-byte-limit",
            vec![h("baggage", format!("k={}", "x".repeat(9000)).as_bytes())],
        ),
        with_valid("baggage-split-over-limits", baggage_split),
        with_valid(
            "baggage-bad-escapes",
            vec![h("baggage", b"a=%zz,b=%,c=evil value")],
        ),
        with_valid("baggage-crlf", vec![h("baggage", b"a=1\r\nevil: 2")]),
        with_valid("baggage-non-utf8", vec![h("baggage", b"a=\xff\xfe")]),
        with_valid(
            "correlation-oversized",
            vec![h(
                "correlation_id",
                format!("evil{}", "x".repeat(200)).as_bytes(),
            )],
        ),
        with_valid(
            "correlation-control-chars",
            vec![h("correlation_id", b"evil\x00\x07id")],
        ),
        with_valid(
            "correlation-crlf",
            vec![h("correlation_id", b"evil\r\nSet-Cookie: x")],
        ),
        with_valid(
            "correlation-quotes",
            vec![h("correlation_id", b"evil\"';--")],
        ),
        with_valid("correlation-empty", vec![h("correlation_id", b"")]),
    ];
    // The control case: everything valid, everything kept.
    let valid = vec![
        h("traceparent", tp),
        h("tracestate", b"vendor=ok"),
        h("baggage", b"tenant=acme"),
        h("correlation_id", b"order-42"),
    ];
    cases.push(Case {
        correlation: Some("order-42"),
        ..case("valid-everything", valid, Trace::Kept)
    });
    cases
}
