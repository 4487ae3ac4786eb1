//! The `tracewire` binary over fixture logs written by the real span-log processor.

mod common;

use std::process::Command;

fn tracewire(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tracewire"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_cli_answers_where_the_message_went_and_what_was_slow() {
    let dir = common::fixture_dir("main");
    let (ok, failed, broken) = common::write_fixture(&dir);
    let glob = format!("{}/*.jsonl", dir.display());

    // lost names the hop to fulfillment, and the crashed consumer.
    let (success, out) = tracewire(&["lost", "--grace", "0", &glob]);
    assert!(!success, "lost exits 1 when something is lost: {out}");
    assert!(
        out.contains("1 message(s) sent and never processed, 1 span(s) started and never ended"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "lost: payment → fulfillment.requested (nats) trace {broken}"
        )),
        "{out}"
    );
    assert!(
        out.contains("never ended: fulfillment process fulfillment.requested"),
        "{out}"
    );

    // analyze: summary.
    let (_, out) = tracewire(&["analyze", "--grace", "0", &glob]);
    assert!(
        out.starts_with("4 traces, 1 with errors, 2 broken"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{broken}  payment sent to fulfillment.requested (nats), never processed"
        )),
        "{out}"
    );

    // analyze one trace: services in order, critical path, root cause, business context.
    let (_, out) = tracewire(&["analyze", "--trace-id", &failed, &glob]);
    assert!(
        out.contains("services: api-gateway → inventory → payment"),
        "{out}"
    );
    assert!(
        out.contains(
            "root cause: charge card in payment — card declined by the bank (CardDeclined)"
        ),
        "{out}"
    );
    assert!(
        out.contains("app.order_id=order-1")
            && out.contains("enduser.id=user-7")
            && out.contains("correlation_id="),
        "{out}"
    );
    let (_, json) = tracewire(&["analyze", "--trace-id", &ok, "--format", "json", &glob]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        report["services"],
        serde_json::json!(["api-gateway", "inventory", "payment", "fulfillment"])
    );
    let path = report["critical_path"].as_array().unwrap();
    assert_eq!(path.first().unwrap()["what"], "POST /checkout");
    assert_eq!(
        path.last().unwrap()["what"],
        "process fulfillment.requested",
        "{path:#?}"
    );
    let share: f64 = path.iter().map(|s| s["share"].as_f64().unwrap()).sum();
    assert!(
        (0.9..=1.0001).contains(&share),
        "the segments cover the trace: {share}"
    );
    assert_eq!(
        report["queue_gaps"].as_array().unwrap().len(),
        3,
        "three hops, three queue times"
    );
    assert!(report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["offset_ms"].as_f64().unwrap() >= 0.0));

    // graph: edges with broker, destination and count.
    let (_, dot) = tracewire(&["graph", &glob]);
    assert!(
        dot.contains("\"api-gateway\" -> \"inventory\" [label=\"kafka orders (3)\"]"),
        "{dot}"
    );
    assert!(
        dot.contains("\"inventory\" -> \"payment\" [label=\"rabbitmq payments (3)\"]"),
        "{dot}"
    );
    assert!(
        dot.contains("\"payment\" -> \"fulfillment\" [label=\"nats fulfillment.requested (1)\"]"),
        "{dot}"
    );
    let (_, mermaid) = tracewire(&["graph", "--format", "mermaid", &glob]);
    assert!(
        mermaid.starts_with("flowchart LR") && mermaid.contains("-->|\"kafka orders (3)\"|"),
        "{mermaid}"
    );

    // A trace id that is not there is an error, not an empty report.
    let (success, out) = tracewire(&[
        "analyze",
        "--trace-id",
        "00000000000000000000000000000001",
        &glob,
    ]);
    assert!(!success && out.contains("no span of trace"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_lines_are_skipped_and_counted_and_otlp_json_is_read() {
    let dir = common::fixture_dir("mixed");
    std::fs::create_dir_all(&dir).unwrap();
    let otlp = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"java-billing"}}]},"scopeSpans":[{"scope":{"name":"x"},"spans":[
        {"traceId":"4BF92F3577B34DA6A3CE929D0E0E4736","spanId":"00F067AA0BA902B7","name":"send invoices","kind":4,"startTimeUnixNano":"1795321200000000000","endTimeUnixNano":"1795321200002000000","attributes":[{"key":"messaging.system","value":{"stringValue":"kafka"}},{"key":"messaging.destination.name","value":{"stringValue":"invoices"}}],"status":{}},
        {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"b7ad6b7169203331","parentSpanId":"00f067aa0ba902b7","name":"process invoices","kind":5,"startTimeUnixNano":"1795321200010000000","endTimeUnixNano":"1795321200020000000","status":{"code":2,"message":"boom"}}
    ]}]}]}"#.replace('\n', "");
    let lines = format!("{otlp}\nnot json at all\n{{\"event\":\"span_end\"}}\n\u{0}\u{1}garbage\n");
    let mut bytes = lines.into_bytes();
    bytes.extend_from_slice(b"\xff\xfe invalid utf-8\n");
    std::fs::write(dir.join("mixed.json"), bytes).unwrap();
    let file = dir.join("mixed.json").display().to_string();
    let (success, out) = tracewire(&[
        "analyze",
        "--trace-id",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        &file,
    ]);
    assert!(success, "{out}");
    assert!(out.contains("skipped 4 malformed line(s) of 5"), "{out}");
    assert!(out.contains("services: java-billing"), "{out}");
    assert!(
        out.contains("root cause: process invoices in java-billing — boom"),
        "{out}"
    );
    assert!(
        out.contains("in queue: invoices java-billing → java-billing 10.0 ms"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn context_new_and_parse() {
    let (success, out) = tracewire(&["context", "new", "--json"]);
    assert!(success);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tp = v["traceparent"].as_str().unwrap();
    assert!(
        tp.starts_with("00-") && tp.ends_with("-03"),
        "sampled, random trace id: {tp}"
    );
    let (success, out) = tracewire(&["context", "parse", tp]);
    assert!(success && out.contains("random:    true"), "{out}");
    let (success, out) = tracewire(&[
        "context",
        "parse",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    ]);
    assert!(
        !success && out.contains("trace-id is not lower-case hex"),
        "{out}"
    );
    let (success, out) = tracewire(&[
        "context",
        "parse",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "--tracestate",
        "a=1,A=2",
    ]);
    assert!(
        !success && out.contains("tracestate: invalid — tracestate list member 1 is malformed"),
        "{out}"
    );
    let (success, out) = tracewire(&[
        "context",
        "parse",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "--tracestate",
        "a=1,a=2",
    ]);
    assert!(
        success && out.contains("1 repeated key(s) dropped, the first occurrence kept"),
        "{out}"
    );
}
