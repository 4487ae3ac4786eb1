//! An exporter that is down (closed port) or hanging (a listener that never answers) never stalls
//! message handling: every span is still started and ended, the queue stays bounded, and what
//! could not be exported is counted (dropped or failed).

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::TracerProvider;
use opentelemetry::Context;
use tracewire::messaging::{Messaging, OperationSpec, OperationType};
use tracewire::Outcome;
use tracewire_telemetry::{Config, LogTarget, Telemetry};

const CAPACITY: usize = 64;
const MESSAGES: u64 = 5_000;

fn run_against(endpoint: &str, protocol: &str) {
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
    ];
    let config = Config::from_lookup("svc", |k| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .unwrap();
    let guard = Telemetry::new(config)
        .logs(LogTarget::Off)
        .queue_capacity(CAPACITY)
        .build()
        .unwrap();
    let tracer = BoxedTracer::new(Box::new(guard.tracer_provider().tracer("t")));
    let m = Messaging::builder(tracewire::messaging::System::new("nats"))
        .tracer(tracer)
        .build();
    let mut handled = 0;
    for _ in 0..MESSAGES {
        let span = m.open_consume(
            &Context::new(),
            OperationSpec::new(OperationType::Process, "process", "orders"),
        );
        span.end(Outcome::Ok);
        handled += 1;
    }
    assert_eq!(handled, MESSAGES, "message handling never stopped");
    let stats = guard.export_stats().unwrap().clone();
    let (accepted, dropped, _, _) = stats.snapshot();
    assert_eq!(accepted + dropped, MESSAGES, "every span accounted for");
    drop(guard); // bounded flush and shutdown, even with a dead collector
    let (accepted, dropped, written, failed) = stats.snapshot();
    println!("{endpoint} {protocol}: accepted {accepted}, dropped {dropped}, written {written}, failed {failed}");
    assert_eq!(written, 0, "nothing reached a collector: {endpoint}");
    assert!(dropped > 0, "a full queue drops, and counts it");
    assert!(
        failed > 0,
        "the worker tried, and counted the failed exports"
    );
    assert!(
        accepted - written - failed <= CAPACITY as u64 + 512,
        "no more in memory than the queue and a batch"
    );
}

#[test]
fn a_closed_port_costs_counted_spans_not_progress() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed again when the listener drops
    run_against(&format!("http://127.0.0.1:{port}"), "http/protobuf");
}

#[test]
fn a_collector_that_never_answers_costs_counted_spans_not_progress() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept connections and hold them open, never answering.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(64) {
            held.push(stream);
        }
        std::thread::sleep(std::time::Duration::from_secs(60));
    });
    run_against(&format!("http://127.0.0.1:{port}"), "grpc");
}
