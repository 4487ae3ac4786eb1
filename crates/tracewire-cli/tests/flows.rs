//! Following links across traces, over logs written by the real span-log processor: a
//! Link-topology pipeline (every hop a new trace) and a digest batch linking every order.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::Context;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::path::Path;
use std::time::Duration;
use tracewire::carrier::MemoryHeaders;
use tracewire::messaging::{OperationSpec, OperationType, Topology};
use tracewire::Outcome;
use tracewire_telemetry::SpanLogProcessor;

mod common;
use common::{log_file, log_service, tracewire_cmd as tracewire, LogService as Service};

fn service(dir: &Path, name: &str) -> Service {
    log_service(name, log_file(dir, name), Topology::Link)
}

fn pause() {
    std::thread::sleep(Duration::from_millis(3));
}

/// Sends from `cx`; returns the headers and the send span's context.
fn send(from: &Service, cx: &Context, dest: &str) -> (MemoryHeaders, Context) {
    let span =
        (from.messaging).open_send(cx, OperationSpec::new(OperationType::Send, "send", dest));
    let mut headers = MemoryHeaders::new();
    (from.messaging.propagator()).inject(span.context(), &mut headers);
    let sent = span.context().clone();
    pause();
    span.end(Outcome::Ok);
    (headers, sent)
}

#[test]
fn a_link_topology_pipeline_reads_as_one_flow_per_order() {
    use opentelemetry::trace::TraceContextExt;
    let dir = std::env::temp_dir().join(format!("tracewire-flows-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let [shop, warehouse, courier, notifications] =
        ["shop", "warehouse", "courier", "notifications"].map(|n| service(&dir, n));
    let mut orders = Vec::new();
    let mut shop_traces = Vec::new();
    for n in 0..2 {
        let (order, sent) = send(&shop, &Context::new(), "orders");
        shop_traces.push(sent.span().span_context().trace_id().to_string());
        pause();
        let pick = (warehouse.messaging).open_message(
            &order,
            OperationSpec::new(OperationType::Process, "process", "orders"),
        );
        let (shipment, _) = send(&warehouse, pick.context(), "shipments");
        pick.end(Outcome::Ok);
        if n == 0 {
            pause();
            let deliver = (courier.messaging).open_message(
                &shipment,
                OperationSpec::new(OperationType::Process, "process", "shipments"),
            );
            pause();
            deliver.end(Outcome::Ok);
        } // the second shipment is never picked up
        orders.push(notifications.messaging.propagator().extract(&order).context);
    }
    let digest = (notifications.messaging).open_batch(
        OperationSpec::new(OperationType::Process, "process", "notification-digest"),
        &orders,
    );
    digest.end(Outcome::Ok);
    for s in [&shop, &warehouse, &courier, &notifications] {
        s.provider.shutdown().unwrap();
    }
    let glob = format!("{}/*.jsonl", dir.display());

    // The first order: shop → warehouse → courier, each hop a new trace, plus the digest that
    // links it — one flow; queue times on both hops; the critical path crosses the links to the
    // span that ends last (the digest).
    let (_, out) = tracewire(&[
        "analyze",
        "--grace",
        "0",
        "--trace-id",
        &shop_traces[0],
        &glob,
    ]);
    assert!(out.contains("flow: 4 linked traces"), "{out}");
    assert!(
        out.contains("services: shop → warehouse → courier → notifications"),
        "{out}"
    );
    assert!(
        out.contains("in queue: shipments warehouse → courier"),
        "{out}"
    );
    assert!(out.contains("in queue: orders shop → warehouse"), "{out}");
    let critical = out.split("critical path:").nth(1).unwrap_or_default();
    assert!(critical.contains("in queue orders"), "{out}");
    assert!(
        critical.contains("process notification-digest [notifications]"),
        "{out}"
    );
    assert!(!out.contains("broken:"), "{out}");
    assert!(
        !out.contains(&shop_traces[1]),
        "the digest's other order is not pulled in: {out}"
    );

    // The second: its lost shipment is found across the links.
    let (_, out) = tracewire(&[
        "analyze",
        "--grace",
        "0",
        "--trace-id",
        &shop_traces[1],
        &glob,
    ]);
    assert!(out.contains("flow: 3 linked traces"), "{out}");
    assert!(
        out.contains("broken: warehouse → shipments (kafka) never processed"),
        "{out}"
    );

    // --depth 0: the trace alone.
    let (_, out) = tracewire(&[
        "analyze",
        "--depth",
        "0",
        "--trace-id",
        &shop_traces[0],
        &glob,
    ]);
    assert!(!out.contains("flow:"), "{out}");
    assert!(out.contains("services: shop\n"), "{out}");

    // The summary groups them: two flows rooted at the orders' traces.
    let (_, out) = tracewire(&["analyze", "--grace", "0", &glob]);
    assert!(out.contains("linked flows"), "{out}");
    assert!(
        out.contains(&format!("  {}  4 traces", shop_traces[0])),
        "{out}"
    );
    assert!(
        out.contains(&format!("  {}  3 traces", shop_traces[1])),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One checkout at fixed times: the gateway's request, a message to payment that waits
/// `queue_ms` and is processed for `process_ms`.
fn checkout_at(
    tracer: &opentelemetry_sdk::trace::SdkTracer,
    t0: std::time::SystemTime,
    queue_ms: u64,
    process_ms: u64,
) -> String {
    use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer as _};
    use opentelemetry::KeyValue;
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut request = (tracer
        .span_builder("POST /checkout")
        .with_kind(SpanKind::Server))
    .with_start_time(at(0))
    .start(tracer);
    let id = request.span_context().trace_id().to_string();
    let cx = Context::new().with_remote_span_context(request.span_context().clone());
    let mut send = (tracer
        .span_builder("send payments")
        .with_kind(SpanKind::Producer))
    .with_start_time(at(1))
    .with_attributes([KeyValue::new("messaging.destination.name", "payments")])
    .start_with_context(tracer, &cx);
    let sent = Context::new().with_remote_span_context(send.span_context().clone());
    send.end_with_timestamp(at(2));
    request.end_with_timestamp(at(3));
    let mut process = (tracer
        .span_builder("process payments")
        .with_kind(SpanKind::Consumer))
    .with_start_time(at(1 + queue_ms))
    .start_with_context(tracer, &sent);
    process.end_with_timestamp(at(1 + queue_ms + process_ms));
    id
}

#[test]
fn diff_names_the_hop_that_got_slower_and_whether_queue_or_processing() {
    let dir = std::env::temp_dir().join(format!("tracewire-diff-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = std::fs::File::create(dir.join("checkout.jsonl")).unwrap();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(SpanLogProcessor::new("checkout", Box::new(file), 8192))
        .build();
    let tracer = provider.tracer("checkout");
    let t0 = std::time::SystemTime::now();
    let fast = checkout_at(&tracer, t0, 5, 10);
    let slow = checkout_at(&tracer, t0 + Duration::from_secs(1), 45, 12);
    provider.shutdown().unwrap();
    let file = dir.join("checkout.jsonl").to_string_lossy().into_owned();

    let (code, out) = tracewire(&["diff", &fast, &slow, "--format", "json", &file]);
    assert_eq!(code, Some(0), "{out}");
    let d: serde_json::Value = serde_json::from_str(&out).unwrap();
    let hop = |name: &str| {
        (d["hops"].as_array().unwrap().iter())
            .find(|h| h["hop"] == name)
            .unwrap_or_else(|| panic!("{name} in {out}"))
            .clone()
    };
    let payments = hop("checkout → checkout (payments)");
    assert_eq!(payments["a"]["queue_ms"], 5.0);
    assert_eq!(payments["b"]["queue_ms"], 45.0);
    assert_eq!(
        payments["delta_ms"], 42.0,
        "40 more in queue, 2 more processing"
    );
    assert_eq!(hop("POST /checkout [checkout]")["delta_ms"], 0.0);
    assert_eq!(d["slowest_change"][0], "checkout → checkout (payments)");

    let (_, text) = tracewire(&["diff", &fast, &slow, &file]);
    assert!(
        text.contains("slower: checkout → checkout (payments) +42.0 ms, mostly in queue"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
