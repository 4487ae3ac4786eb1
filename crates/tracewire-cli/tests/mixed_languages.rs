//! One pipeline across languages: OTLP/JSON from other languages' instrumentations (older and
//! current messaging names; Python's Kafka consumer starting a new trace that links to the
//! producer) read together with tracewire's own span logs.
//!
//! checkout-py (Python) → orders → inventory (tracewire) → payments → payments-py (Python
//! confluent-kafka: new trace, linked) → shipments → shipping-java (Java agent, v1.24) →
//! refunds → billing (tracewire). payments-py also sends `audit`, which nobody reads.

use opentelemetry::Context;
use std::path::Path;
use std::time::Duration;
use tracewire::carrier::{HeaderReader, MemoryHeaders};
use tracewire::messaging::{OperationSpec, OperationType, Topology};
use tracewire::Outcome;

mod common;
use common::otlp::{self, now_ns, OtlpSpan};
use common::{log_file, log_service, tracewire_cmd as tracewire, LogService};

const TRACE_A: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACE_B: &str = "0af7651916cd43dd8448eb211c80319c";

fn pause() {
    std::thread::sleep(Duration::from_millis(3));
}

fn incoming(trace: &str, span: &str) -> MemoryHeaders {
    MemoryHeaders::from_pairs([("traceparent", format!("00-{trace}-{span}-01"))])
}

/// tracewire receives a message, and (optionally) sends one on: returns the sent span's id.
fn relay(
    service: &LogService,
    headers: &MemoryHeaders,
    from: &str,
    to: Option<&str>,
) -> Option<String> {
    let process = (service.messaging).open_message(
        headers,
        OperationSpec::new(OperationType::Process, "process", from),
    );
    pause();
    let sent = to.map(|dest| {
        let spec = OperationSpec::new(OperationType::Send, "send", dest);
        let (span, out) = service
            .messaging
            .open_send_with(process.context(), spec, |p, cx| {
                let mut h = MemoryHeaders::new();
                p.inject(cx, &mut h);
                h
            });
        pause();
        span.end(Outcome::Ok);
        let tp = String::from_utf8(out.last("traceparent").unwrap().to_vec()).unwrap();
        tp[36..52].to_owned()
    });
    process.end(Outcome::Ok);
    sent
}

fn write(dir: &Path, name: &str, line: String) {
    std::fs::write(dir.join(name), line + "\n").unwrap();
}

#[test]
fn one_message_flow_across_python_java_and_tracewire() {
    let dir = std::env::temp_dir().join(format!("tracewire-mixed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let inventory = log_service("inventory", log_file(&dir, "inventory"), Topology::Parent);
    let billing = log_service("billing", log_file(&dir, "billing"), Topology::Parent);

    // Python's checkout sends the order.
    let t0 = now_ns();
    let root = OtlpSpan {
        trace_id: TRACE_A.into(),
        span_id: "00000000000000a1".into(),
        parent: None,
        name: "POST /checkout".into(),
        kind: 2,
        start_ns: t0,
        end_ns: t0 + 1_000_000,
        attributes: vec![("http.request.method", "POST".into())],
        links: vec![],
        error: false,
    };
    let order = otlp::python_kafka_send(
        TRACE_A,
        "00000000000000a2",
        "00000000000000a1",
        "orders",
        t0 + 100_000,
    );
    write(
        &dir,
        "checkout-py.json",
        otlp::export_line(
            "checkout-py",
            "opentelemetry.instrumentation.confluent_kafka",
            &[root, order],
        ),
    );
    pause();

    // tracewire's inventory continues it and sends the payment.
    let payment = relay(
        &inventory,
        &incoming(TRACE_A, "00000000000000a2"),
        "orders",
        Some("payments"),
    )
    .unwrap();
    pause();

    // Python's payment consumer: a new trace, linked to tracewire's send; it sends two on.
    let t1 = now_ns();
    let [recv, process] = otlp::python_kafka_consume(
        TRACE_B,
        ["00000000000000b1", "00000000000000b2"],
        "payments",
        (TRACE_A, &payment),
        t1,
    );
    let shipment = otlp::python_kafka_send(
        TRACE_B,
        "00000000000000b3",
        "00000000000000b2",
        "shipments",
        t1 + 500_000,
    );
    let audit = otlp::python_kafka_send(
        TRACE_B,
        "00000000000000b4",
        "00000000000000b2",
        "audit",
        t1 + 600_000,
    );
    write(
        &dir,
        "payments-py.json",
        otlp::export_line(
            "payments-py",
            "opentelemetry.instrumentation.confluent_kafka",
            &[recv, process, shipment, audit],
        ),
    );
    std::thread::sleep(Duration::from_millis(5));

    // The Java shipping service (v1.24 names) takes the shipment and publishes a refund.
    let t2 = now_ns();
    let ship = otlp::java_kafka_process(
        TRACE_B,
        "00000000000000c1",
        "00000000000000b3",
        "shipments",
        t2,
    );
    let refund = otlp::java_publish(
        TRACE_B,
        "00000000000000c2",
        "00000000000000c1",
        "rabbitmq",
        "refunds",
        t2 + 500_000,
    );
    write(
        &dir,
        "shipping-java.json",
        otlp::export_line(
            "shipping-java",
            "io.opentelemetry.kafka-clients-2.6",
            &[ship, refund],
        ),
    );
    std::thread::sleep(Duration::from_millis(5));

    // tracewire's billing takes the refund.
    relay(
        &billing,
        &incoming(TRACE_B, "00000000000000c2"),
        "refunds",
        None,
    );
    for s in [&inventory, &billing] {
        s.provider.shutdown().unwrap();
    }
    let files = format!("{}/*", dir.display());

    // One flow from Python's checkout: both traces, every service, queue time on every hop —
    // the linked Kafka hop and the Java agent's older names included.
    let (_, out) = tracewire(&["analyze", "--grace", "0", "--trace-id", TRACE_A, &files]);
    assert!(out.contains("flow: 2 linked traces"), "{out}");
    assert!(
        out.contains("services: checkout-py → inventory → payments-py → shipping-java → billing"),
        "{out}"
    );
    for hop in [
        "in queue: orders checkout-py → inventory",
        "in queue: payments inventory → payments-py",
        "in queue: shipments payments-py → shipping-java",
        "in queue: refunds shipping-java → billing",
    ] {
        assert!(out.contains(hop), "{hop}: {out}");
    }
    let critical = out.split("critical path:").nth(1).unwrap_or_default();
    assert!(
        critical.contains("payments process [payments-py]"),
        "the link is a hop: {out}"
    );
    assert!(critical.contains("[billing]"), "{out}");
    assert!(
        out.contains("broken: payments-py → audit (kafka) never processed"),
        "{out}"
    );
    assert!(
        !out.contains("payments (kafka) never processed"),
        "the linked hop is not lost: {out}"
    );

    // `lost` agrees: only the audit message, across languages.
    let (code, out) = tracewire(&["lost", "--grace", "0", &files]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("audit"), "{out}");
    for hop in ["orders", "payments ", "shipments", "refunds"] {
        assert!(!out.contains(hop), "{hop} was processed: {out}");
    }

    // The Python consumer's trace read alone links back to tracewire's.
    let (_, out) = tracewire(&["analyze", "--grace", "0", "--trace-id", TRACE_B, &files]);
    assert!(out.contains("flow: 2 linked traces"), "{out}");
    drop(Context::new());
    let _ = std::fs::remove_dir_all(&dir);
}
