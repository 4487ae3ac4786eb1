//! Start lines of messaging spans come from what the skeleton tells the span log (the process's
//! start listener), not from the SDK's copy of the span; other spans' from the copy. Its own test
//! binary: the first span log of a process is the listener.

use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::Value;
use tracewire::messaging::{Messaging, OperationSpec, OperationType, System};
use tracewire::testing::linked_send;
use tracewire::Outcome;
use tracewire_telemetry::SpanLogProcessor;

fn lines(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn line<'a>(lines: &'a [Value], name: &str, event: &str) -> &'a Value {
    (lines.iter())
        .find(|l| l["span_name"] == name && l["event"] == event)
        .unwrap_or_else(|| panic!("{event} of {name}"))
}

#[test]
fn a_messaging_span_start_line_is_told_and_matches_its_end_line() {
    let path = std::env::temp_dir().join(format!("tracewire-told-{}.jsonl", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let processor = SpanLogProcessor::new("inventory", Box::new(file), 1024);
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = opentelemetry::global::BoxedTracer::new(Box::new(provider.tracer("t")));
    let (m, send, headers) = linked_send(tracer);
    send.end(Outcome::Ok);
    let process = m.open_message(
        &headers,
        OperationSpec::new(OperationType::Process, "process", "orders"),
    );
    // A span started some other way: its start line from the SDK's copy.
    let mut job = provider
        .tracer("t")
        .start_with_context("nightly job", process.context());
    provider.force_flush().unwrap(); // both still open: their start lines are written
    job.end();
    process.end(Outcome::Ok);
    provider.force_flush().unwrap();
    let lines = lines(&path);

    let start = line(&lines, "process orders", "span_start");
    let end = line(&lines, "process orders", "span_end");
    for field in [
        "trace_id",
        "span_id",
        "parent_span_id",
        "span_kind",
        "links",
        "correlation_id",
        "trace_sampled",
    ] {
        assert_eq!(start[field], end[field], "{field}");
    }
    assert_eq!(start["links"].as_array().map(Vec::len), Some(1));
    let kept: Vec<&String> = start["attributes"].as_object().unwrap().keys().collect();
    assert_eq!(
        kept,
        [
            "messaging.destination.name",
            "messaging.message.conversation_id",
            "messaging.system"
        ]
    );
    for (key, value) in start["attributes"].as_object().unwrap() {
        assert_eq!(&end["attributes"][key], value, "{key}");
    }
    assert!(start["timestamp"].as_str() <= end["timestamp"].as_str());

    let job_start = line(&lines, "nightly job", "span_start");
    assert_eq!(job_start["parent_span_id"], start["span_id"]);
    assert_eq!(
        job_start["correlation_id"], start["correlation_id"],
        "stamped from its context, as before"
    );
    assert_eq!(
        (lines.iter())
            .filter(|l| l["event"] == "span_start")
            .count(),
        2,
        "the send ended before the flush: its end line only"
    );

    // A second span log in the process (another service's) is not the listener: its messaging
    // span's start line comes from the copy, with the conversation id all the same, and the span
    // gets no second correlation attribute.
    let other = std::env::temp_dir().join(format!("tracewire-copy-{}.jsonl", std::process::id()));
    let processor = SpanLogProcessor::new(
        "billing",
        Box::new(std::fs::File::create(&other).unwrap()),
        1024,
    );
    let second = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let m = Messaging::builder(System::new("kafka"))
        .tracer(second.tracer("t"))
        .build();
    let process = m.open_message(
        &headers,
        OperationSpec::new(OperationType::Process, "process", "orders"),
    );
    second.force_flush().unwrap();
    process.end(Outcome::Ok);
    second.force_flush().unwrap();
    let copied = self::lines(&other);
    let (copy_start, copy_end) = (
        line(&copied, "process orders", "span_start"),
        line(&copied, "process orders", "span_end"),
    );
    let id = &start["attributes"]["messaging.message.conversation_id"];
    assert_eq!(
        &copy_start["attributes"]["messaging.message.conversation_id"],
        id
    );
    assert_eq!(
        &copy_end["attributes"]["messaging.message.conversation_id"],
        id
    );
    assert!(copy_end["attributes"]
        .get("tracewire.correlation_id")
        .is_none());
    drop((provider, second));
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&other);
}
