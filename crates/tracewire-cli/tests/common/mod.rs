//! Fixture span logs, written by the real span-log processor: four services, three checkouts —
//! one that succeeds, one whose payment fails, and one whose fulfillment message is never
//! processed (plus a consumer that crashed mid-message).
#![allow(unreachable_pub, dead_code)]

pub mod otlp;

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracewire::carrier::MemoryHeaders;
use tracewire::messaging::{Messaging, OperationSpec, OperationType};
use tracewire::CorrelationContextExt;
use tracewire::Outcome;
use tracewire_telemetry::{Config, LogTarget, SpanLogTarget, Telemetry, TelemetryGuard};

pub struct Service {
    pub guard: TelemetryGuard,
    pub messaging: Messaging,
    pub tracer: BoxedTracer,
}

fn service(dir: &Path, name: &str, system: &'static str) -> Service {
    let config = Config::from_lookup(name, |_| None).unwrap();
    let guard = Telemetry::new(config)
        .span_log(Some(SpanLogTarget::File(dir.join(format!("{name}.jsonl")))))
        .logs(LogTarget::Off)
        .build()
        .unwrap();
    let tracer = || BoxedTracer::new(Box::new(guard.tracer_provider().tracer(name.to_owned())));
    let system = tracewire::messaging::System::new(system);
    let messaging = Messaging::builder(system).tracer(tracer()).build();
    Service {
        tracer: tracer(),
        messaging,
        guard,
    }
}

fn pause() {
    std::thread::sleep(Duration::from_millis(3));
}

/// Hands a message from one service to the next through in-memory headers.
fn hop(from: &Service, cx: &Context, dest: &str, to: &Service) -> (MemoryHeaders, Context) {
    let send = from.messaging.open_send(
        cx,
        OperationSpec::new(OperationType::Send, "send", dest).body(b"{}"),
    );
    let mut headers = MemoryHeaders::new();
    from.messaging
        .propagator()
        .inject(send.context(), &mut headers);
    pause();
    send.end(Outcome::Ok);
    let extracted = to.messaging.propagator().extract(&headers);
    (headers, extracted.context)
}

/// Writes the fixture logs into `dir`; returns (ok, payment-failed, broken) trace ids.
pub fn write_fixture(dir: &Path) -> (String, String, String) {
    std::fs::create_dir_all(dir).unwrap();
    let gateway = service(dir, "api-gateway", "kafka");
    let inventory = service(dir, "inventory", "rabbitmq");
    let payment = service(dir, "payment", "nats");
    let fulfillment = service(dir, "fulfillment", "nats");
    let mut ids = Vec::new();
    for (n, scenario) in ["ok", "payment-fails", "fulfillment-dropped"]
        .iter()
        .enumerate()
    {
        let root = gateway.tracer.build_with_context(
            opentelemetry::trace::SpanBuilder::from_name("POST /checkout")
                .with_kind(SpanKind::Server)
                .with_attributes([
                    KeyValue::new("app.order_id", format!("order-{n}")),
                    KeyValue::new("enduser.id", "user-7"),
                ]),
            &Context::new(),
        );
        let cx = Context::new().with_span(root).with_correlation_id_or_new();
        ids.push(cx.span().span_context().trace_id().to_string());
        pause();
        let (_, msg) = hop(&gateway, &cx, "orders", &inventory);
        let process = inventory.messaging.open_consume(
            &msg,
            OperationSpec::new(OperationType::Process, "process", "orders"),
        );
        pause();
        let (_, msg) = hop(&inventory, process.context(), "payments", &payment);
        process.end(Outcome::Ok);
        cx.span().end();
        let charge = payment.messaging.open_consume(
            &msg,
            OperationSpec::new(OperationType::Process, "process", "payments"),
        );
        pause();
        if *scenario == "payment-fails" {
            let call = payment
                .tracer
                .start_with_context("charge card", charge.context());
            let call_cx = charge.context().with_span(call);
            pause();
            call_cx
                .span()
                .set_status(opentelemetry::trace::Status::error(
                    "card declined by the bank",
                ));
            call_cx
                .span()
                .set_attribute(KeyValue::new("error.type", "CardDeclined"));
            call_cx.span().end();
            charge.end(Outcome::error(
                "PaymentFailed",
                "payment could not be charged",
            ));
            continue;
        }
        let (_, msg) = hop(
            &payment,
            charge.context(),
            "fulfillment.requested",
            &fulfillment,
        );
        charge.end(Outcome::Ok);
        if *scenario == "fulfillment-dropped" {
            continue; // the fulfillment service never picks the message up
        }
        let ship = fulfillment.messaging.open_consume(
            &msg,
            OperationSpec::new(OperationType::Process, "process", "fulfillment.requested"),
        );
        pause();
        ship.end(Outcome::Ok);
    }
    // A consumer that crashed mid-message: its span started and never ended.
    let crashed = fulfillment.messaging.open_consume(
        &Context::new(),
        OperationSpec::new(OperationType::Process, "process", "fulfillment.requested"),
    );
    std::mem::forget(crashed);
    for s in [&gateway, &inventory, &payment, &fulfillment] {
        s.guard.flush();
    }
    (ids[0].clone(), ids[1].clone(), ids[2].clone())
}

pub fn fixture_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracewire-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs the `tracewire` binary: (exit code, stdout + stderr).
pub fn tracewire_cmd(args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracewire"))
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code(),
        text + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A service whose spans go through `processor` only (no telemetry set-up around it).
pub struct LogService {
    pub provider: opentelemetry_sdk::trace::SdkTracerProvider,
    pub messaging: Messaging,
}

/// A Kafka-like service named `name`, its spans written by `processor`, with `topology`.
pub fn log_service(
    name: &str,
    processor: tracewire_telemetry::SpanLogProcessor,
    topology: tracewire::messaging::Topology,
) -> LogService {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = BoxedTracer::new(Box::new(provider.tracer(name.to_owned())));
    let messaging = Messaging::builder(tracewire::messaging::System::new("kafka"))
        .tracer(tracer)
        .topology(topology)
        .build();
    LogService {
        provider,
        messaging,
    }
}

/// A span-log processor for `name` writing `dir/<name>.jsonl`.
pub fn log_file(dir: &Path, name: &str) -> tracewire_telemetry::SpanLogProcessor {
    let file = std::fs::File::create(dir.join(format!("{name}.jsonl"))).unwrap();
    tracewire_telemetry::SpanLogProcessor::new(name, Box::new(file), 8192)
}
