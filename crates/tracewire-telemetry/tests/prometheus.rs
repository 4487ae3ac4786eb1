//! The messaging metrics on a Prometheus / OpenMetrics scrape endpoint whose histogram buckets
//! and counters carry exemplars with the trace and span ids of sampled spans (feature
//! `prometheus`; opentelemetry_sdk 0.33 records no exemplars itself). Its own test binary: the
//! metrics tap is one per process.
#![cfg(feature = "prometheus")]

use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::{TraceContextExt, TracerProvider};
use opentelemetry::Context;
use std::collections::HashSet;
use std::io::{Read, Write};
use tracewire::messaging::{Messaging, OperationSpec, OperationType, System};
use tracewire::Outcome;
use tracewire_telemetry::{Config, LogTarget, Telemetry};

fn scrape(addr: std::net::SocketAddr) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

/// The exemplar trace ids on the lines of `metric`.
fn exemplar_traces(body: &str, metric: &str) -> HashSet<String> {
    (body.lines())
        .filter(|l| l.starts_with(metric) && l.contains(" # {"))
        .filter_map(|l| l.split("trace_id=\"").nth(1))
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

#[test]
fn a_scrape_finds_exemplars_of_the_spans_the_service_recorded() {
    let lookup = |k: &str| (k == "TRACEWIRE_PROMETHEUS_ADDR").then(|| "127.0.0.1:0".to_owned());
    let config = Config::from_lookup("orders", lookup).unwrap();
    assert!(config.prometheus_addr.is_some());
    let guard = Telemetry::new(config).logs(LogTarget::Off).build().unwrap();
    let addr = guard.prometheus_addr().expect("the endpoint listens");
    let m = Messaging::builder(System::new("kafka"))
        .tracer(guard.tracer_provider().tracer("orders"))
        .meter(guard.meter_provider().meter("orders"))
        .build();
    let mut traces = HashSet::new();
    for outcome in [
        Outcome::Ok,
        Outcome::Ok,
        Outcome::error("MessageTimedOut", "timed out"),
    ] {
        let spec = OperationSpec::new(OperationType::Send, "send", "orders");
        let span = m.open_send(&Context::new(), spec);
        traces.insert(span.context().span().span_context().trace_id().to_string());
        span.end(outcome);
    }
    let spec = OperationSpec::new(OperationType::Process, "process", "orders");
    let span = m.open_consume(&Context::new(), spec);
    traces.insert(span.context().span().span_context().trace_id().to_string());
    span.end(Outcome::Ok);

    let (head, body) = scrape(addr);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert!(
        body.trim_end().ends_with("# EOF"),
        "an OpenMetrics exposition:\n{body}"
    );
    for metric in [
        "messaging_client_operation_duration_seconds_bucket",
        "messaging_process_duration_seconds_bucket",
        "messaging_client_sent_messages_total",
        "messaging_client_consumed_messages_total",
    ] {
        let found = exemplar_traces(&body, metric);
        assert!(!found.is_empty(), "{metric} has exemplars:\n{body}");
        assert!(
            found.is_subset(&traces),
            "{metric}: exemplars are spans the test recorded"
        );
    }
    assert!(
        body.contains("error_type=\"MessageTimedOut\""),
        "the failed send keeps error.type:\n{body}"
    );
    for label in [
        "messaging_system=\"kafka\"",
        "messaging_operation_name=\"send\"",
        "messaging_operation_type=\"process\"",
        "messaging_destination_name=\"orders\"",
    ] {
        assert!(body.contains(label), "{label}:\n{body}");
    }
    let span_ids: Vec<&str> = (body.split("span_id=\"").skip(1))
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert!(!span_ids.is_empty());
    assert!(
        (span_ids.iter()).all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())),
        "exemplar span ids in hex: {span_ids:?}"
    );
    drop(guard);
}
