//! What the analysis makes of span logs written by the real span-log processor: record-only
//! spans (`TRACEWIRE_SPAN_LOG_SAMPLING=all`) read like sampled ones; a never-ending client
//! library span is not a broken trace; unsettled and redelivered messages are reported per
//! destination, and templated destinations collapse to one graph edge.

use opentelemetry::trace::{TraceContextExt, TracerProvider};
use opentelemetry::Context;
use std::path::Path;
use tracewire::carrier::MemoryHeaders;
use tracewire::messaging::{Messaging, OperationSpec, OperationType, System};
use tracewire::Outcome;
use tracewire_telemetry::{Config, LogTarget, SpanLogSampling, SpanLogTarget, Telemetry};

/// Two hops (one processed, one never) through the real span-log processor, sampled or not.
fn write(dir: &Path, sampler: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let sampler = sampler.to_owned();
    let config = Config::from_lookup("svc", |k| {
        (k == "OTEL_TRACES_SAMPLER").then(|| sampler.clone())
    });
    let guard = Telemetry::new(config.unwrap())
        .span_log(Some(SpanLogTarget::File(dir.join("svc.jsonl"))))
        .span_log_sampling(SpanLogSampling::All)
        .logs(LogTarget::Off)
        .build()
        .unwrap();
    let m = Messaging::builder(System::new("kafka"))
        .tracer(guard.tracer_provider().tracer("svc"))
        .build();
    let send = |dest: &str| {
        let (span, headers) = m.open_send_with(
            &Context::new(),
            OperationSpec::new(OperationType::Send, "send", dest),
            |p, cx| {
                let mut h = MemoryHeaders::new();
                p.inject(cx, &mut h);
                h
            },
        );
        let trace = span.context().span().span_context().trace_id().to_string();
        span.end(Outcome::Ok);
        (headers, trace)
    };
    let (headers, trace) = send("orders");
    let spec = OperationSpec::new(OperationType::Process, "process", "orders");
    m.open_message(&headers, spec).end(Outcome::Ok);
    send("never-read");
    drop(guard);
    trace
}

#[test]
fn record_only_spans_are_analyzed_like_sampled_ones() {
    let base = std::env::temp_dir().join(format!("tw-record-only-{}", std::process::id()));
    let mut reports = Vec::new();
    for sampler in ["always_on", "always_off"] {
        let dir = base.join(sampler);
        let trace = write(&dir, sampler);
        let log = dir.join("svc.jsonl");
        let text = std::fs::read_to_string(&log).unwrap();
        let sampled = text.contains("\"trace_sampled\":true");
        assert_eq!(sampled, sampler == "always_on", "{sampler}: {text}");
        let (c, _) = tracewire_cli::collect(&[Some(log)], Some(&trace)).unwrap();
        let summary = tracewire_cli::analysis::summary(&c, 0);
        let report = tracewire_cli::analysis::trace_report(&c, &trace, 0).unwrap();
        let lost: Vec<_> = c.lost(0).iter().map(|s| s.name.clone()).collect();
        reports.push((
            summary.traces,
            summary.broken.len(),
            report
                .timeline
                .iter()
                .map(|r| r.name.clone())
                .collect::<Vec<_>>(),
            report.queue_gaps.len(),
            lost,
        ));
    }
    assert_eq!(reports[0], reports[1], "sampled and record-only read alike");
    let (traces, broken, timeline, gaps, lost) = &reports[1];
    assert_eq!((*traces, *broken, *gaps), (2, 1, 1));
    assert_eq!(timeline, &["send orders", "process orders"]);
    assert_eq!(lost, &["send never-read"]);
    let _ = std::fs::remove_dir_all(&base);
}

/// A client library's own span that never ends (lapin's `io_loop`, bridged when a user lets
/// dependency spans through) is reported as such, not as a broken trace.
#[test]
fn a_never_ending_infrastructure_span_is_not_a_broken_trace() {
    use opentelemetry::trace::{Tracer, TracerProvider};
    use opentelemetry::KeyValue;
    let dir = std::env::temp_dir().join(format!("tw-infra-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("svc.jsonl");
    let config = Config::from_lookup("payment", |_| None).unwrap();
    let guard = Telemetry::new(config)
        .span_log(Some(SpanLogTarget::File(log.clone())))
        .logs(LogTarget::Off)
        .build()
        .unwrap();
    let tracer = guard.tracer_provider().tracer("tracing");
    let io_loop = (tracer.span_builder("io_loop"))
        .with_attributes([KeyValue::new("target", "lapin::io_loop")])
        .start(&tracer);
    std::mem::forget(io_loop); // it runs as long as the connection: never ends
    let handler = tracer.span_builder("handle").start(&tracer);
    std::mem::forget(handler); // the application's own span that never ends: broken
    drop(guard);
    let (c, _) = tracewire_cli::collect(&[Some(log)], None).unwrap();
    let summary = tracewire_cli::analysis::summary(&c, 0);
    assert_eq!(summary.traces, 2);
    assert_eq!(
        summary.broken.len(),
        1,
        "only the application's open span breaks a trace"
    );
    let names = |open: Vec<&tracewire_cli::collect::Opened>| -> Vec<String> {
        open.into_iter().map(|o| o.name.clone()).collect()
    };
    assert_eq!(names(c.never_ended()), ["handle"]);
    assert_eq!(names(c.infrastructure_open()), ["io_loop"]);
    let text = tracewire_cli::render::lost_text(&c, 0);
    assert!(
        text.contains(
            "still open (a client library's own span, not a broken trace): payment io_loop"
        ),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the CLI says about settling: messages dropped without ack/commit and redeliveries, per
/// destination; and templated destinations (one subject per user) collapse to one graph edge.
#[test]
fn unsettled_and_redelivered_messages_are_reported_and_templates_collapse_edges() {
    use opentelemetry::KeyValue;
    let dir = std::env::temp_dir().join(format!("tw-settle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("svc.jsonl");
    let guard = Telemetry::new(Config::from_lookup("svc", |_| None).unwrap())
        .span_log(Some(SpanLogTarget::File(log.clone())))
        .logs(LogTarget::Off)
        .build()
        .unwrap();
    let m = Messaging::builder(System::new("nats"))
        .tracer(guard.tracer_provider().tracer("svc"))
        .destination_template(|s| {
            s.starts_with("user.")
                .then(|| "user.{id}.events".to_owned())
        })
        .build();
    for (n, subject) in ["user.1.events", "user.2.events", "user.3.events"]
        .iter()
        .enumerate()
    {
        let (span, headers) = m.open_send_with(
            &Context::new(),
            OperationSpec::new(OperationType::Send, "publish", subject),
            |p, cx| {
                let mut h = MemoryHeaders::new();
                p.inject(cx, &mut h);
                h
            },
        );
        span.end(Outcome::Ok);
        let mut spec = OperationSpec::new(OperationType::Process, "process", subject);
        if n == 2 {
            spec = spec.attribute(KeyValue::new("tracewire.redelivered", true));
        }
        let process = m.open_message(&headers, spec);
        match n {
            0 => drop(process), // handled and never acked: unsettled
            _ => process.end(Outcome::Ok),
        }
    }
    drop(guard);
    let (c, _) = tracewire_cli::collect(&[Some(log)], None).unwrap();
    let settlement = tracewire_cli::analysis::summary(&c, 0).settlement;
    assert_eq!(settlement.len(), 1, "{settlement:?}");
    let s = &settlement[0];
    assert_eq!(
        (s.destination.as_str(), s.unsettled, s.redelivered),
        ("user.{id}.events", 1, 1)
    );
    let text = tracewire_cli::render::lost_text(&c, 0);
    assert!(
        text.contains("user.{id}.events: 1 message(s) never settled"),
        "{text}"
    );
    let edges = c.edges();
    assert_eq!(
        edges.len(),
        1,
        "three subjects, one templated edge: {edges:?}"
    );
    assert_eq!(
        (edges[0].destination.as_str(), edges[0].messages),
        ("user.{id}.events", 3)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
