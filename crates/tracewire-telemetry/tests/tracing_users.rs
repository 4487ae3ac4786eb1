//! Services that instrument with `#[tracing::instrument]` rather than the OpenTelemetry API: a
//! message sent inside an instrumented handler is a child of the handler's span; a consumer's
//! process span is the parent of the handler's `tracing` spans and events; the task helpers carry
//! the span into spawned work. (tracing-opentelemetry 0.34 activates a span's OpenTelemetry
//! context when the `tracing` span is entered, which is what the wrappers read.)

mod common;

use common::Lines;
use opentelemetry::trace::TracerProvider;
use opentelemetry::Context;
use std::collections::HashMap;
use tracewire::carrier::MemoryHeaders;
use tracewire::messaging::{Messaging, OperationSpec, OperationType, System};
use tracewire::Outcome;
use tracewire_telemetry::{Config, LogTarget, SpanLogTarget, Telemetry};

#[tracing::instrument(skip(m))]
fn place_order(m: &Messaging, order_id: u32) -> MemoryHeaders {
    let spec = OperationSpec::new(OperationType::Send, "send", "orders");
    let (span, headers) = m.open_send_with(&Context::current(), spec, |p, cx| {
        let mut h = MemoryHeaders::new();
        p.inject(cx, &mut h);
        h
    });
    span.end(Outcome::Ok);
    headers
}

#[tracing::instrument]
async fn reserve(order_id: u32) {
    tracing::info!("reserved");
    tracewire::task::spawn(async {
        let _receipt = tracing::info_span!("write receipt").entered();
        tracing::info!("receipt written");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn instrumented_handlers_and_wrappers_make_one_trace() {
    let dir = std::env::temp_dir().join(format!("tw-tracing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("spans.jsonl");
    let _ = std::fs::remove_file(&log);
    let guard = Telemetry::new(Config::from_lookup("shop", |_| None).unwrap())
        .span_log(Some(SpanLogTarget::File(log.clone())))
        .logs(LogTarget::Off)
        .build()
        .unwrap();
    let lines = Lines::default();
    let subscriber = guard.subscriber_to(Box::new(lines.clone()));
    let _default = tracing::subscriber::set_default(subscriber);
    let m = Messaging::builder(System::new("kafka"))
        .tracer(guard.tracer_provider().tracer("shop"))
        .build();

    let headers = place_order(&m, 7);
    let process = m.open_message(
        &headers,
        OperationSpec::new(OperationType::Process, "process", "orders"),
    );
    process.in_context(reserve(7)).await;
    let process_ids = process.context().clone();
    process.end(Outcome::Ok);
    drop(_default);
    drop(guard);

    let spans: HashMap<String, serde_json::Value> =
        (std::fs::read_to_string(&log).unwrap().lines())
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|l| l["event"] == "span_end")
            .map(|l| (l["span_name"].as_str().unwrap().to_owned(), l))
            .collect();
    let id = |name: &str| spans[name]["span_id"].as_str().unwrap().to_owned();
    let parent = |name: &str| {
        spans[name]["parent_span_id"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(
        parent("send orders"),
        id("place_order"),
        "sent inside the instrumented handler"
    );
    assert_eq!(parent("process orders"), id("send orders"));
    assert_eq!(
        parent("reserve"),
        id("process orders"),
        "the handler's span under the process span"
    );
    assert_eq!(
        parent("write receipt"),
        id("reserve"),
        "task::spawn carries it into the task"
    );
    let trace = spans["place_order"]["trace_id"].clone();
    assert!(spans.values().all(|s| s["trace_id"] == trace), "one trace");
    use opentelemetry::trace::TraceContextExt;
    assert_eq!(
        id("process orders"),
        process_ids.span().span_context().span_id().to_string()
    );

    // The handler's log lines carry the span they were logged in.
    let logged: Vec<serde_json::Value> = (String::from_utf8(lines.0.lock().unwrap().clone())
        .unwrap()
        .lines())
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    let line = |message: &str| {
        logged
            .iter()
            .find(|l| l["message"] == message)
            .unwrap()
            .clone()
    };
    assert_eq!(line("reserved")["span_id"].as_str().unwrap(), id("reserve"));
    assert_eq!(line("reserved")["span"]["order_id"], 7);
    assert_eq!(
        line("receipt written")["span_id"].as_str().unwrap(),
        id("write receipt")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
