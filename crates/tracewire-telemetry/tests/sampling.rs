//! Span logs that see every span while OTLP gets the sampled share: a 10 % ratio sampler and
//! `TRACEWIRE_SPAN_LOG_SAMPLING=all` over 1,000 traces.

mod common;

use common::Lines;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry::Context;
use std::collections::{HashMap, HashSet};
use tracewire_telemetry::{Config, LogTarget, SpanLogSampling, SpanLogTarget, Telemetry};

const TRACES: usize = 1_000;

fn json_lines(bytes: &[u8]) -> Vec<serde_json::Value> {
    (String::from_utf8_lossy(bytes).lines())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn the_span_log_holds_every_span_and_otlp_only_the_sampled_ones() {
    let (port, received) = common::receiver();
    let dir = std::env::temp_dir().join(format!("tw-sampling-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let span_log = dir.join("spans.jsonl");
    let _ = std::fs::remove_file(&span_log);
    let lookup = common::vars(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json".into()),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".into()),
        ("OTEL_TRACES_SAMPLER_ARG", "0.1".into()),
        ("OTEL_METRICS_EXPORTER", "none".into()),
        ("OTEL_LOGS_EXPORTER", "none".into()),
        ("TRACEWIRE_SPAN_LOG_SAMPLING", "all".into()),
    ]);
    let config = Config::from_lookup("sampled-svc", lookup).unwrap();
    assert_eq!(config.span_log_sampling, SpanLogSampling::All);
    let guard = Telemetry::new(config)
        .span_log(Some(SpanLogTarget::File(span_log.clone())))
        .logs(LogTarget::Off)
        .queue_capacity(16_384)
        .build()
        .unwrap();
    let logs = Lines::default();
    let subscriber = guard.subscriber_to(Box::new(logs.clone()));
    let tracer = guard.tracer_provider().tracer("test");
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..TRACES {
            tracer.in_span("checkout", |cx: Context| {
                tracer.in_span("charge", |_| tracing::info!(order = i, "charged"));
                drop(cx);
            });
        }
    });
    guard.flush();
    drop(guard);

    // The span log: both spans of every trace, each line saying whether its trace was sampled.
    let lines = json_lines(&std::fs::read(&span_log).unwrap());
    let ends: Vec<_> = lines.iter().filter(|l| l["event"] == "span_end").collect();
    assert_eq!(
        ends.len(),
        2 * TRACES,
        "every span of every trace is logged"
    );
    let mut sampled_of: HashMap<String, bool> = HashMap::new();
    for l in &lines {
        let trace = l["trace_id"].as_str().unwrap().to_owned();
        let sampled = l["trace_sampled"]
            .as_bool()
            .expect("every line says trace_sampled");
        let known = *sampled_of.entry(trace).or_insert(sampled);
        assert_eq!(known, sampled, "one answer per trace");
    }
    assert_eq!(sampled_of.len(), TRACES);
    let sampled: HashSet<String> = (sampled_of.iter())
        .filter(|(_, s)| **s)
        .map(|(t, _)| t.clone())
        .collect();
    assert!(
        !sampled.is_empty() && sampled.len() < TRACES,
        "a 10 % sampler keeps some, not all: {}",
        sampled.len()
    );

    // OTLP: exactly the sampled traces, both spans each, nothing record-only.
    let mut exported: HashMap<String, usize> = HashMap::new();
    for body in received.json("/v1/traces") {
        for rs in body["resourceSpans"].as_array().unwrap() {
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for span in ss["spans"].as_array().unwrap() {
                    let trace = span["traceId"].as_str().unwrap().to_ascii_lowercase();
                    *exported.entry(trace).or_default() += 1;
                }
            }
        }
    }
    let exported_traces: HashSet<String> = exported.keys().cloned().collect();
    assert_eq!(
        exported_traces, sampled,
        "OTLP got the sampled traces and only those"
    );
    assert!(exported.values().all(|n| *n == 2), "with all their spans");

    // The log lines: one per trace, trace_sampled agreeing with the span log.
    let log_lines = json_lines(&logs.0.lock().unwrap());
    assert_eq!(log_lines.len(), TRACES);
    for l in &log_lines {
        let trace = l["trace_id"].as_str().expect("logged inside a span");
        assert_eq!(
            l["trace_sampled"].as_bool(),
            Some(sampled_of[trace]),
            "the log line and the span log agree on {trace}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn by_default_the_span_log_holds_the_sampled_share_only() {
    let dir = std::env::temp_dir().join(format!("tw-sampled-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let span_log = dir.join("spans.jsonl");
    let _ = std::fs::remove_file(&span_log);
    let lookup = common::vars(&[("OTEL_TRACES_SAMPLER", "always_off".into())]);
    let guard = Telemetry::new(Config::from_lookup("svc", lookup).unwrap())
        .span_log(Some(SpanLogTarget::File(span_log.clone())))
        .logs(LogTarget::Off)
        .build()
        .unwrap();
    let tracer = guard.tracer_provider().tracer("test");
    tracer.in_span("dropped", |cx| assert!(!cx.span().is_recording()));
    drop(guard);
    let lines = std::fs::read_to_string(&span_log).unwrap_or_default();
    assert!(lines.is_empty(), "nothing logged: {lines}");
    let _ = std::fs::remove_dir_all(&dir);
}
