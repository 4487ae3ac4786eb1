//! What crosses a hop, through the core skeleton with in-memory headers: header capture,
//! baggage rules and trust boundaries, trace boundaries, and no baggage leaking between
//! messages. The broker crates' tests (integration-tests/tests/hop_control.rs) prove the same
//! on each broker.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue, Value};
use std::time::{Duration, SystemTime};
use tracewire::carrier::{HeaderReader, MemoryHeaders};
use tracewire::messaging::{
    BaggageRules, HopPolicy, Messaging, MessagingBuilder, OperationSpec, OperationType, Topology,
    HOP_COUNT, TRACE_BOUNDARY,
};
use tracewire::testing::{
    assert_continues, assert_no_baggage_leak, attribute, attribute_str, baggage_of, wire_baggage,
    SpanRecorder,
};
use tracewire::Outcome;

fn builder(rec: &SpanRecorder) -> MessagingBuilder {
    Messaging::builder(tracewire::messaging::System::new("queue")).tracer(rec.tracer())
}

fn send(m: &Messaging, cx: &Context, topic: &str, user: MemoryHeaders) -> MemoryHeaders {
    let spec = OperationSpec::new(OperationType::Send, "send", topic);
    let spec = m.capture_headers(spec, || user.clone());
    let (span, headers) = m.open_send_with(cx, spec, |p, cx| {
        let mut headers = user;
        p.inject(cx, &mut headers);
        headers
    });
    span.end(Outcome::Ok);
    headers
}

fn process(m: &Messaging, headers: &MemoryHeaders, topic: &str) -> tracewire::OpenSpan {
    m.open_message(
        headers,
        OperationSpec::new(OperationType::Process, "process", topic),
    )
}

fn with_baggage(pairs: &[(&'static str, &'static str)]) -> Context {
    Context::new().with_baggage(pairs.iter().map(|(k, v)| KeyValue::new(*k, *v)))
}

#[test]
fn headers_are_captured_only_where_a_policy_asks() {
    let rec = SpanRecorder::new();
    let m = builder(&rec)
        .policy(
            "orders",
            HopPolicy::new().capture_headers(["x-tenant-*", "traceparent"]),
        )
        .build();
    let user = || MemoryHeaders::from_pairs([("X-Tenant-Id", "acme"), ("x-other", "1")]);
    let headers = send(&m, &Context::new(), "orders", user());
    process(&m, &headers, "orders").end(Outcome::Ok);
    send(&m, &Context::new(), "payments", user());
    for name in ["send orders", "process orders"] {
        let span = rec.span(name);
        assert_eq!(
            attribute_str(&span, "messaging.header.x-tenant-id").as_deref(),
            Some("acme")
        );
        assert!(attribute(&span, "messaging.header.x-other").is_none());
        assert!(
            attribute(&span, "messaging.header.traceparent").is_none(),
            "never our own"
        );
    }
    let elsewhere = rec.span("send payments");
    assert!(elsewhere
        .attributes
        .iter()
        .all(|kv| !kv.key.as_str().starts_with("messaging.header.")));
}

#[test]
fn baggage_rules_apply_to_what_is_sent_and_what_is_accepted() {
    let rec = SpanRecorder::new();
    let rules = BaggageRules::new()
        .allow(["tenant", "flag.*"])
        .deny(["flag.secret"]);
    let m = builder(&rec)
        .policy("partner.*", HopPolicy::new().external().strip_tracestate())
        .policy("orders", HopPolicy::new().baggage(rules))
        .build();
    let cx = with_baggage(&[
        ("tenant", "a"),
        ("flag.x", "1"),
        ("flag.secret", "s"),
        ("user", "u"),
    ]);
    let headers = send(&m, &cx, "orders", MemoryHeaders::new());
    let sent = [
        ("flag.x".to_owned(), "1".to_owned()),
        ("tenant".to_owned(), "a".to_owned()),
    ];
    assert_eq!(wire_baggage(&headers), sent);
    // A stranger's message with more than the rules allow: the handler sees only the allowed.
    let stranger = MemoryHeaders::from_pairs([("baggage", "tenant=b,user=u,flag.secret=s")]);
    let span = process(&m, &stranger, "orders");
    assert_eq!(
        baggage_of(span.context()),
        [("tenant".to_owned(), "b".to_owned())]
    );
    span.end(Outcome::Ok);
    // An external destination: nothing crosses either way, nor tracestate.
    let headers = send(&m, &cx, "partner.acme", MemoryHeaders::new());
    assert!(wire_baggage(&headers).is_empty());
    let incoming = MemoryHeaders::from_pairs([
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "vendor=secret"),
        ("baggage", "tenant=evil"),
    ]);
    let span = process(&m, &incoming, "partner.acme");
    assert!(baggage_of(span.context()).is_empty());
    assert!(span
        .context()
        .span()
        .span_context()
        .trace_state()
        .header()
        .is_empty());
    span.end(Outcome::Ok);
    let refused = m.propagator().stats().snapshot().baggage_members_refused;
    assert_eq!(refused, 2 + 2 + 4 + 1, "every member kept back is counted");
}

#[test]
fn the_previous_messages_baggage_never_reaches_the_next_handler() {
    for topology in [Topology::Parent, Topology::Auto, Topology::Link] {
        let rec = SpanRecorder::new();
        let m = builder(&rec).topology(topology).build();
        let first = send(
            &m,
            &with_baggage(&[("order", "1")]),
            "orders",
            MemoryHeaders::new(),
        );
        let second = send(&m, &Context::new(), "orders", MemoryHeaders::new());
        let bare = MemoryHeaders::new(); // an uninstrumented producer's message
                                         // A leaky loop: the first handler's context is still attached when the next arrive.
        let one = process(&m, &first, "orders");
        let _still_in_first = one.context().clone().attach();
        let two = process(&m, &second, "orders");
        let three = process(&m, &bare, "orders");
        let sent = send(&m, two.context(), "next", MemoryHeaders::new());
        assert_no_baggage_leak([
            (baggage_of(one.context()), vec![("order", "1")]),
            (baggage_of(two.context()), vec![]),
            (baggage_of(three.context()), vec![]),
            (wire_baggage(&sent), vec![]),
        ]);
    }
}

#[test]
fn a_message_past_the_hop_limit_starts_a_linked_trace() {
    let rec = SpanRecorder::new();
    let m = builder(&rec)
        .policy("a", HopPolicy::new().count_hops())
        .policy("*", HopPolicy::new().new_trace_after_hops(2))
        .build();
    let root = rec.provider().tracer("t").start("request");
    let cx = Context::new().with_span(root);
    // request → a → b → c: the count starts at `a` and goes on whatever the destination.
    let mut headers = send(&m, &cx, "a", MemoryHeaders::new());
    let mut spans = Vec::new();
    for (from, to) in [("a", "b"), ("b", "c")] {
        let span = process(&m, &headers, from);
        headers = send(&m, span.context(), to, MemoryHeaders::new());
        spans.push(span);
    }
    let state = String::from_utf8(headers.last("tracestate").unwrap().to_vec()).unwrap();
    assert_eq!(state, "tracewire=h:3");
    process(&m, &headers, "c").end(Outcome::Ok);
    spans.into_iter().for_each(|s| s.end(Outcome::Ok));
    let b = rec.span("process b");
    let c = rec.span("process c");
    assert_eq!(
        b.span_context.trace_id(),
        rec.span("send a").span_context.trace_id()
    );
    assert_eq!(
        attribute_str(&b, TRACE_BOUNDARY),
        None,
        "one hop: still the same trace"
    );
    assert_ne!(
        c.span_context.trace_id(),
        b.span_context.trace_id(),
        "a new trace"
    );
    assert_continues(&c, &rec.span("send c"));
    assert_eq!(
        attribute_str(&c, TRACE_BOUNDARY).as_deref(),
        Some("hop_count")
    );
    assert_eq!(attribute(&c, HOP_COUNT), Some(&Value::I64(3)));
}

#[test]
fn a_message_that_waited_too_long_starts_a_linked_trace() {
    let rec = SpanRecorder::new();
    let m = builder(&rec)
        .policy(
            "*.dlq",
            HopPolicy::new().new_trace_after_queue_time(Duration::from_secs(3600)),
        )
        .build();
    let headers = send(&m, &Context::new(), "orders.dlq", MemoryHeaders::new());
    let spec = |sent: SystemTime| {
        OperationSpec::new(OperationType::Process, "process", "orders.dlq").sent_at(Some(sent))
    };
    let day_ago = SystemTime::now() - Duration::from_secs(86_400);
    m.open_message(&headers, spec(day_ago)).end(Outcome::Ok);
    let replayed = rec.span("process orders.dlq");
    assert_eq!(
        attribute_str(&replayed, TRACE_BOUNDARY).as_deref(),
        Some("queue_time")
    );
    assert!(replayed.parent_span_id == opentelemetry::trace::SpanId::INVALID);
    assert_continues(&replayed, &rec.span("send orders.dlq"));
    rec.reset();
    m.open_message(&headers, spec(SystemTime::now()))
        .end(Outcome::Ok);
    let fresh = rec.span("process orders.dlq");
    assert_eq!(attribute_str(&fresh, TRACE_BOUNDARY), None);
    assert_ne!(fresh.parent_span_id, opentelemetry::trace::SpanId::INVALID);
}
