//! The propagator end to end over in-memory headers: inject, extract, stale headers, problems.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use std::collections::HashMap;
use tracewire::carrier::{HeaderReader, MemoryHeaders};
use tracewire::{
    CorrelationContextExt, CorrelationId, CorrelationProblem, Propagator, TraceProblem,
};

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03";

fn parent() -> SpanContext {
    SpanContext::new(
        TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
        SpanId::from(0x00f067aa0ba902b7),
        TraceFlags::new(0x03),
        false,
        TraceState::from_key_value([("vendor", "x:1")]).unwrap(),
    )
}

fn full_context() -> Context {
    Context::new()
        .with_remote_span_context(parent())
        .with_baggage([KeyValue::new("tenant", "acme corp")])
        .with_correlation_id(CorrelationId::parse(b"order-42").unwrap())
}

#[test]
fn inject_then_extract_keeps_everything() {
    let p = Propagator::new();
    let mut headers = MemoryHeaders::new();
    p.inject(&full_context(), &mut headers);
    assert_eq!(headers.last("traceparent"), Some(TP.as_bytes()));
    assert_eq!(headers.last("tracestate"), Some(&b"vendor=x:1"[..]));
    assert_eq!(headers.last("baggage"), Some(&b"tenant=acme%20corp"[..]));
    assert_eq!(headers.last("correlation_id"), Some(&b"order-42"[..]));

    let out = p.extract(&headers);
    assert!(out.issues.is_clean(), "{:?}", out.issues);
    let span = out.context.span();
    let sc = span.span_context();
    assert_eq!(sc.trace_id(), parent().trace_id());
    assert_eq!(sc.span_id(), parent().span_id());
    assert_eq!(
        sc.trace_flags(),
        TraceFlags::new(0x03),
        "sampled and random flags kept"
    );
    assert!(sc.is_remote());
    assert_eq!(sc.trace_state().header(), "vendor=x:1");
    assert_eq!(
        out.context.baggage().get("tenant").unwrap().as_str(),
        "acme corp"
    );
    assert_eq!(out.context.correlation_id().unwrap().as_str(), "order-42");
    assert_eq!(p.stats().snapshot(), Default::default(), "nothing counted");
}

#[test]
fn inject_replaces_stale_headers_and_keeps_user_headers() {
    let p = Propagator::new();
    let mut headers = MemoryHeaders::from_pairs([
        (
            "TraceParent",
            "00-11111111111111111111111111111111-2222222222222222-01",
        ),
        (
            "traceparent",
            "00-33333333333333333333333333333333-4444444444444444-01",
        ),
        ("tracestate", "stale=1"),
        ("Correlation_Id", "old"),
        ("x-user", "kept"),
    ]);
    p.inject(&full_context(), &mut headers);
    assert_eq!(
        headers.values("traceparent").collect::<Vec<_>>(),
        vec![TP.as_bytes()]
    );
    assert_eq!(headers.values("tracestate").count(), 1);
    assert_eq!(headers.last("correlation_id"), Some(&b"order-42"[..]));
    assert_eq!(headers.last("x-user"), Some(&b"kept"[..]));
}

#[test]
fn inject_without_a_span_removes_stale_trace_headers() {
    let p = Propagator::new();
    let mut headers = MemoryHeaders::from_pairs([
        (
            "traceparent",
            "00-11111111111111111111111111111111-2222222222222222-01",
        ),
        ("baggage", "old=1"),
    ]);
    let cx = Context::new().with_correlation_id_or_new();
    p.inject(&cx, &mut headers);
    assert_eq!(headers.last("traceparent"), None);
    assert_eq!(headers.last("baggage"), None);
    assert_eq!(
        headers.last("correlation_id"),
        Some(cx.correlation_id().unwrap().as_bytes())
    );
}

#[test]
fn extract_reads_names_case_insensitively_and_last_value_wins() {
    let p = Propagator::new();
    let headers = MemoryHeaders::from_pairs([
        ("TRACEPARENT", TP),
        ("Correlation_ID", "first"),
        ("correlation_id", "second"),
    ]);
    let out = p.extract(&headers);
    assert!(out.context.span().span_context().is_valid());
    assert_eq!(out.context.correlation_id().unwrap().as_str(), "second");
}

#[test]
fn missing_headers_give_a_fresh_context_and_are_counted() {
    let p = Propagator::new();
    let out = p.extract(&MemoryHeaders::new());
    assert_eq!(out.issues.trace, Some(TraceProblem::Missing));
    assert_eq!(out.issues.correlation, Some(CorrelationProblem::Missing));
    assert!(!out.context.span().span_context().is_valid());
    assert!(
        out.context.correlation_id().is_some(),
        "a fresh id for the first hop"
    );
    let stats = p.stats().snapshot();
    assert_eq!(
        (stats.traceparent_missing, stats.correlation_missing),
        (1, 1)
    );
}

#[test]
fn malformed_headers_never_fail_and_raw_values_are_not_kept() {
    let p = Propagator::new();
    let hostile = "evil\r\nSet-Cookie: x";
    let headers = MemoryHeaders::from_pairs([
        ("traceparent", TP.to_uppercase()),
        ("tracestate", "a=1".to_owned()),
        ("baggage", "ok=1,bad member,x=%zz".to_owned()),
        ("correlation_id", hostile.to_owned()),
    ]);
    let out = p.extract(&headers);
    assert!(matches!(out.issues.trace, Some(TraceProblem::Invalid(_))));
    assert_eq!(out.issues.baggage.malformed, 2);
    assert!(matches!(
        out.issues.correlation,
        Some(CorrelationProblem::Replaced(_))
    ));
    let id = out.context.correlation_id().unwrap().to_string();
    assert!(
        !id.contains("evil") && id.len() == 36,
        "replaced, not echoed: {id}"
    );
    assert_eq!(out.context.baggage().get("ok").unwrap().as_str(), "1");
    let stats = p.stats().snapshot();
    assert_eq!(stats.traceparent_invalid, 1);
    assert_eq!(stats.correlation_replaced, 1);
    assert_eq!(stats.baggage_members_dropped, 2);
}

#[test]
fn a_bad_tracestate_keeps_the_parent() {
    let p = Propagator::new();
    // A broken member (upper-case key) drops the whole tracestate; a repeated key no longer does.
    let headers = MemoryHeaders::from_pairs([("traceparent", TP), ("tracestate", "a=1,B=2")]);
    let out = p.extract(&headers);
    assert!(out.context.span().span_context().is_valid());
    assert_eq!(
        *out.context.span().span_context().trace_state(),
        TraceState::NONE
    );
    assert!(out.issues.tracestate.is_some());
    assert_eq!(p.stats().snapshot().tracestate_dropped, 1);
    let repeated = MemoryHeaders::from_pairs([("traceparent", TP), ("tracestate", "a=1,a=2")]);
    let out = p.extract(&repeated);
    assert_eq!(
        out.context.span().span_context().trace_state().header(),
        "a=1"
    );
    assert_eq!(
        out.issues.tracestate_members_dropped, 1,
        "the repeat dropped and counted"
    );
}

#[test]
fn missing_correlation_keeps_the_ambient_one() {
    let p = Propagator::new();
    let ambient = Context::new().with_correlation_id(CorrelationId::parse(b"ambient").unwrap());
    let out = p.extract_with_context(&ambient, &MemoryHeaders::from_pairs([("traceparent", TP)]));
    assert_eq!(out.context.correlation_id().unwrap().as_str(), "ambient");
}

#[test]
fn a_custom_trace_propagator_replaces_the_w3c_codec() {
    let p = Propagator::builder()
        .trace_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new())
        .build();
    let mut headers = MemoryHeaders::new();
    p.inject(&full_context(), &mut headers);
    let out = p.extract(&headers);
    assert_eq!(
        out.context.span().span_context().trace_id(),
        parent().trace_id()
    );
    assert_eq!(out.context.correlation_id().unwrap().as_str(), "order-42");
    let none = p.extract(&MemoryHeaders::new());
    assert_eq!(none.issues.trace, Some(TraceProblem::NotFound));
    let fields: Vec<_> = TextMapPropagator::fields(&p).collect();
    assert_eq!(
        fields,
        ["traceparent", "tracestate", "baggage", "correlation_id"]
    );
}

#[test]
fn works_as_an_opentelemetry_text_map_propagator() {
    let p = Propagator::new();
    let mut map: HashMap<String, String> = HashMap::new();
    TextMapPropagator::inject_context(&p, &full_context(), &mut map);
    assert_eq!(map["traceparent"], TP);
    assert_eq!(map["correlation_id"], "order-42");
    let cx = TextMapPropagator::extract_with_context(&p, &Context::new(), &map);
    assert_eq!(cx.span().span_context().span_id(), parent().span_id());
    assert_eq!(cx.correlation_id().unwrap().as_str(), "order-42");
}

#[cfg(feature = "http")]
#[test]
fn http_header_map_uses_x_correlation_id() {
    let p = Propagator::new();
    let mut headers = http::HeaderMap::new();
    headers.insert("x-user", http::HeaderValue::from_static("kept"));
    p.inject(&full_context(), &mut headers);
    assert_eq!(headers["x-correlation-id"], "order-42");
    assert_eq!(headers["traceparent"], TP);
    assert_eq!(headers["x-user"], "kept");
    let out = p.extract(&headers);
    assert!(out.issues.is_clean());
    assert_eq!(out.context.correlation_id().unwrap().as_str(), "order-42");
}

/// A header list that fails the test if the merge breaks `AppendHeaders::append`'s promise:
/// a name appended twice, or appended while the list still holds it in any case.
struct Strict(Vec<(String, Vec<u8>)>);

impl tracewire::carrier::AppendHeaders for Strict {
    type Value = Vec<u8>;

    fn convert(_: &str, value: &[u8]) -> Option<Vec<u8>> {
        Some(value.to_vec())
    }

    fn empty() -> Self {
        Strict(Vec::new())
    }

    fn without(mut self, stale: impl Fn(&str) -> bool) -> Self {
        self.0.retain(|(n, _)| !stale(n));
        self
    }

    fn append(mut self, name: &str, value: Vec<u8>) -> Self {
        let held = self.0.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        assert!(!held, "{name} appended while the list holds it");
        self.0.push((name.to_owned(), value));
        self
    }
}

#[test]
fn a_merge_appends_each_name_once_and_only_once_it_is_gone() {
    let stale = |name: &str| (name.to_owned(), b"stale".to_vec());
    let user = Strict(vec![
        stale("TraceParent"),
        ("x-user".into(), b"1".to_vec()),
        stale("TRACESTATE"),
        stale("baggage"),
        stale("Baggage"),
        stale("Correlation_Id"),
    ]);
    let out = Propagator::new().inject_merged(&full_context(), Some(user));
    let names: Vec<_> = out.0.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "x-user",
            "traceparent",
            "tracestate",
            "baggage",
            "correlation_id"
        ]
    );
    assert!(out.0.iter().all(|(_, v)| v != b"stale"));
}
