//! JSON span logs and log lines, captured from the real processor and layer.

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{TraceContextExt, TracerProvider};
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tracewire::carrier::MemoryHeaders;
use tracewire::messaging::{Messaging, OperationSpec, OperationType};
use tracewire::task::Traced;
use tracewire::testing::linked_send;
use tracewire::Outcome;
use tracewire_telemetry::{Config, LogTarget, SpanLogTarget, Telemetry, TelemetryGuard};

fn telemetry(service: &str, path: &std::path::Path) -> TelemetryGuard {
    let config = Config::from_lookup(service, |_| None).unwrap();
    Telemetry::new(config)
        .span_log(Some(SpanLogTarget::File(path.to_owned())))
        .logs(LogTarget::Off)
        .build()
        .unwrap()
}

fn read_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

fn temp(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("tracewire-{name}-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

fn find<'a>(lines: &'a [Value], name: &str, event: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["span_name"] == name && l["event"] == event)
        .unwrap_or_else(|| panic!("{event} of {name}"))
}

#[test]
fn a_span_that_ends_before_its_start_is_written_has_its_end_line_only() {
    let path = temp("folded");
    let guard = telemetry("inventory", &path);
    use opentelemetry::trace::{Span as _, Tracer as _};
    let tracer = guard.tracer_provider().tracer("t");
    let open = tracer.start("long job");
    guard.flush();
    tracer.start("short job").end();
    drop(open); // ends it
    guard.flush();
    let lines = read_lines(&path);
    let events: Vec<(&str, &str)> = (lines.iter())
        .map(|l| {
            (
                l["span_name"].as_str().unwrap(),
                l["event"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("long job", "span_start"),
            ("short job", "span_end"),
            ("long job", "span_end")
        ]
    );
    let short = find(&lines, "short job", "span_end");
    assert!(
        short["duration_ms"].as_f64().unwrap() >= 0.0,
        "its start is in its end line"
    );
}

#[test]
fn a_span_still_open_gets_its_start_line_without_a_flush_and_every_line_is_counted() {
    use opentelemetry::trace::{Span as _, Tracer as _};
    use tracewire_telemetry::SpanLogProcessor;
    let path = temp("unflushed");
    let file = std::fs::File::create(&path).unwrap();
    let processor = SpanLogProcessor::new("inventory", Box::new(file), 1024);
    let stats = processor.stats();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("t");
    let mut open = tracer.start("stuck handler");
    for _ in 0..100 {
        tracer.start("quick send").end();
    }
    // No flush: the writer's own interval writes what is queued. Polled (up to 30 s), not timed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let started = |lines: &[Value]| {
        (lines.iter()).any(|l| l["event"] == "span_start" && l["span_name"] == "stuck handler")
    };
    while !started(&read_lines(&path)) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        started(&read_lines(&path)),
        "the open span's start line, unflushed"
    );
    open.end();
    provider.force_flush().unwrap();
    let lines = read_lines(&path);
    let ends = lines.iter().filter(|l| l["event"] == "span_end").count();
    assert_eq!(ends, 101);
    let (accepted, dropped, written, failed) = stats.snapshot();
    assert_eq!(
        (accepted, dropped, written, failed),
        (202, 0, 202, 0),
        "every start and end counted once: written, or folded into its end line"
    );
}

#[test]
fn start_end_and_error_lines_have_the_schema_and_the_relations() {
    let path = temp("schema");
    let guard = telemetry("inventory", &path);
    let tracer = BoxedTracer::new(Box::new(guard.tracer_provider().tracer("t")));
    // The parent linked too, so the `links` field has something to show.
    let (m, send, headers) = linked_send(tracer);
    guard.flush(); // written while the span is open: its start line is kept
    send.end(Outcome::Ok);
    let extracted = m.propagator().extract(&headers);
    let process = m.open_consume(
        &extracted.context,
        OperationSpec::new(OperationType::Process, "process", "orders"),
    );
    guard.flush();
    process.context().span().add_event(
        "stock reserved",
        vec![opentelemetry::KeyValue::new("sku", "A-1")],
    );
    process.end(Outcome::error("OutOfStock", "no stock for A-1"));
    guard.flush();
    let lines = read_lines(&path);
    assert_eq!(
        lines.len(),
        6,
        "2 starts, 2 events (the handler's, the failure's exception), 2 ends: {lines:#?}"
    );

    let start = find(&lines, "send orders", "span_start");
    let keys: Vec<&str> = start
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "timestamp",
        "level",
        "service",
        "trace_id",
        "span_id",
        "parent_span_id",
        "span_name",
        "span_kind",
        "event",
        "duration_ms",
        "status",
        "error_code",
        "error_message",
        "attributes",
        "links",
        "correlation_id",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    assert_eq!(start["level"], "INFO");
    assert_eq!(start["service"], "inventory");
    assert_eq!(start["span_kind"], "producer");
    assert_eq!(start["duration_ms"], Value::Null);
    assert_eq!(start["parent_span_id"], Value::Null);
    assert_eq!(start["attributes"]["messaging.destination.name"], "orders");
    // A start line keeps what the analysis needs of a span that never ends; the end has all.
    assert_eq!(start["attributes"].get("messaging.message.body.size"), None);
    assert!(start["timestamp"].as_str().unwrap().ends_with('Z'));

    let send_end = find(&lines, "send orders", "span_end");
    assert_eq!(
        (send_end["status"].as_str(), send_end["level"].as_str()),
        (Some("unset"), Some("INFO"))
    );
    assert!(send_end["duration_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(send_end["correlation_id"], start["correlation_id"]);

    let failed = find(&lines, "process orders", "span_end");
    assert_eq!(failed["level"], "ERROR");
    assert_eq!(failed["status"], "error");
    assert_eq!(failed["error_code"], "OutOfStock");
    assert_eq!(failed["error_message"], "no stock for A-1");
    assert_eq!(failed["span_kind"], "consumer");
    assert_eq!(failed["trace_id"], start["trace_id"], "one trace");
    assert_eq!(
        failed["parent_span_id"], start["span_id"],
        "child of the send"
    );
    assert_eq!(
        failed["links"][0]["span_id"], start["span_id"],
        "and linked to it"
    );
    assert_eq!(
        failed["correlation_id"], start["correlation_id"],
        "correlation id on every line"
    );
    let event = find(&lines, "process orders", "span_event");
    assert_eq!(event["event_name"], "stock reserved");
    assert_eq!(event["event_attributes"]["sku"], "A-1");
    let exception = (lines.iter())
        .find(|l| l["event"] == "span_event" && l["event_name"] == "exception")
        .expect("the failure's exception event");
    assert_eq!(
        exception["event_attributes"]["exception.type"],
        "OutOfStock"
    );
    assert_eq!(
        exception["event_attributes"]["exception.message"],
        "no stock for A-1"
    );
    assert_eq!(exception["level"], "ERROR");
    drop(guard);
    let _ = std::fs::remove_file(&path);
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);
impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn every_log_line_in_a_handler_carries_the_message_trace_and_correlation_id() {
    let path = temp("logs");
    let guard = telemetry("payment", &path);
    let buffer = Buffer::default();
    let subscriber = guard.subscriber_to(Box::new(buffer.clone()));
    let tracer = BoxedTracer::new(Box::new(guard.tracer_provider().tracer("t")));
    let m = Messaging::builder(tracewire::messaging::System::new("rabbitmq"))
        .tracer(tracer)
        .build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (trace_id, correlation) = tracing::subscriber::with_default(subscriber, || {
        tracing::info!("outside any span");
        let headers = MemoryHeaders::from_pairs([
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("correlation_id", "pay-77"),
        ]);
        let extracted = m.propagator().extract(&headers);
        let process = m.open_consume(
            &extracted.context,
            OperationSpec::new(OperationType::Process, "process", "payments"),
        );
        let handler = async {
            tracing::info!(amount = 42, "charging");
            tokio::task::yield_now().await;
            let charge = tracing::info_span!("charge card");
            let _entered = charge.enter();
            tracing::warn!("card is about to expire");
        };
        rt.block_on(Traced::new(handler, process.context().clone()));
        let trace = process
            .context()
            .span()
            .span_context()
            .trace_id()
            .to_string();
        process.end(Outcome::Ok);
        (trace, "pay-77")
    });
    guard.flush();
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    let outside = &lines[0];
    assert!(
        outside.get("trace_id").is_none() && outside.get("correlation_id").is_none(),
        "absent, not zeros: {outside}"
    );
    for line in &lines[1..] {
        assert_eq!(line["trace_id"], trace_id.as_str(), "{line}");
        assert_eq!(line["correlation_id"], correlation, "{line}");
        assert_eq!(line["service"], "payment");
    }
    assert_eq!(lines[1]["fields"]["amount"], 42);
    assert_eq!(lines[2]["level"], "WARN");

    // The tracing span became a child of the message's span.
    let spans = read_lines(&path);
    let process = find(&spans, "process payments", "span_end");
    let charge = find(&spans, "charge card", "span_end");
    assert_eq!(charge["parent_span_id"], process["span_id"]);
    assert_eq!(
        lines[2]["span_id"], charge["span_id"],
        "the log line inside it has its span id"
    );
    drop(guard);
    let _ = std::fs::remove_file(&path);
}
