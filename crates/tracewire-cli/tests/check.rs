//! `tracewire check` over fixture logs written by the real span-log processor, and duplicates
//! (a message handled twice by one consumer) told from fan-out and batches.

mod common;

use opentelemetry::Context;
use tracewire::carrier::MemoryHeaders;
use tracewire::messaging::{OperationSpec, OperationType, Topology};
use tracewire::Outcome;

use common::{log_file, log_service, tracewire_cmd as tracewire, LogService as Service};

#[test]
fn check_fails_on_what_is_wrong_and_passes_what_is_allowed() {
    let dir = common::fixture_dir("check");
    common::write_fixture(&dir);
    let glob = format!("{}/*.jsonl", dir.display());
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "--grace", "0"];
        args.extend_from_slice(extra);
        args.push(&glob);
        tracewire(&args)
    };

    // As is: a lost message, a crashed consumer and two error codes fail it.
    let (code, out) = check(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "FAIL no lost messages: 1 sent and never processed, 1 started and never ended"
        ),
        "{out}"
    );
    assert!(
        out.contains("FAIL no error spans: 2 error span(s); CardDeclined: 1; PaymentFailed: 1"),
        "{out}"
    );

    // Allowed, and the paths every checkout must take.
    let (code, out) = check(&[
        "--allow-lost",
        "--allow-error",
        "CardDeclined",
        "--allow-error",
        "PaymentFailed",
        "--path",
        "api-gateway,inventory,payment",
        "--queue-ms",
        "p100=60000",
        "--duration-ms",
        "p95=60000",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("PASS every flow crosses api-gateway → inventory → payment: 3 flow(s) enter api-gateway"), "{out}");
    assert!(out.contains("PASS time in queue p100 ≤ 60000 ms"), "{out}");
    assert!(out.contains("check: 5 passed, 0 failed"), "{out}");

    // One error code still failing, a path two checkouts never finish, a queue limit broken.
    let (code, out) = check(&[
        "--allow-lost",
        "--allow-error",
        "CardDeclined",
        "--path",
        "api-gateway,payment,fulfillment",
        "--queue-ms",
        "p50=0",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(1), "{out}");
    let verdicts: serde_json::Value = serde_json::from_str(&out).unwrap();
    let passed = |name: &str| {
        (verdicts.as_array().unwrap().iter())
            .find(|v| v["check"].as_str().unwrap().starts_with(name))
            .map(|v| v["passed"].as_bool().unwrap())
    };
    assert_eq!(passed("no lost messages"), Some(true));
    assert_eq!(
        passed("no error spans"),
        Some(false),
        "PaymentFailed is not allowed"
    );
    assert_eq!(
        passed("every flow crosses api-gateway → payment → fulfillment"),
        Some(false)
    );
    assert_eq!(
        passed("time in queue p50"),
        Some(false),
        "every hop waited ≥ 3 ms"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn service(dir: &std::path::Path, name: &str) -> Service {
    log_service(name, log_file(dir, name), Topology::Parent)
}

fn process(to: &Service, headers: &MemoryHeaders, dest: &str) {
    let spec = OperationSpec::new(OperationType::Process, "process", dest);
    to.messaging.open_message(headers, spec).end(Outcome::Ok);
}

#[test]
fn a_message_handled_twice_by_one_consumer_is_a_duplicate_fan_out_and_batches_are_not() {
    let dir = common::fixture_dir("duplicates");
    std::fs::create_dir_all(&dir).unwrap();
    let (orders, fulfillment, audit) = (
        service(&dir, "orders"),
        service(&dir, "fulfillment"),
        service(&dir, "audit"),
    );
    let mut sent = Vec::new();
    for _ in 0..3 {
        let send = (orders.messaging).open_send(
            &Context::new(),
            OperationSpec::new(OperationType::Send, "send", "shipments"),
        );
        let mut headers = MemoryHeaders::new();
        (orders.messaging.propagator()).inject(send.context(), &mut headers);
        send.end(Outcome::Ok);
        process(&fulfillment, &headers, "shipments");
        process(&audit, &headers, "shipments"); // another consumer group: fan-out
        sent.push(headers);
    }
    // The first message redelivered twice to fulfillment, the second once.
    process(&fulfillment, &sent[0], "shipments");
    process(&fulfillment, &sent[0], "shipments");
    process(&fulfillment, &sent[1], "shipments");
    // A batch over all three in fulfillment: it handles many messages, not one again.
    let contexts: Vec<_> = (sent.iter())
        .map(|h| fulfillment.messaging.propagator().extract(h).context)
        .collect();
    let batch = fulfillment.messaging.open_batch(
        OperationSpec::new(OperationType::Process, "process", "shipments"),
        &contexts,
    );
    batch.end(Outcome::Ok);
    for s in [&orders, &fulfillment, &audit] {
        s.provider.shutdown().unwrap();
    }

    let inputs = tracewire_cli::input::expand(&[format!("{}/*.jsonl", dir.display())]).unwrap();
    let (c, _) = tracewire_cli::collect(&inputs, None).unwrap();
    let duplicates = c.duplicates();
    assert_eq!(duplicates.len(), 1, "{duplicates:?}");
    let d = &duplicates[0];
    assert_eq!(
        (
            d.consumer.as_str(),
            d.destination.as_str(),
            d.messages,
            d.extra
        ),
        ("fulfillment", "shipments", 2, 3)
    );
    assert_eq!(
        c.queue_times_us().len(),
        3,
        "each message's queue time once"
    );
    let summary = tracewire_cli::render::summary_text(&tracewire_cli::analysis::summary(&c, 0));
    assert!(
        summary.contains("duplicates: fulfillment handled 2 message(s) from shipments (kafka) more than once, 3 extra deliveries"),
        "{summary}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
