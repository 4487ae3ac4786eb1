//! The whole checkout pipeline against the real brokers: one trace across all five services,
//! the right parent/child/link structure, the correlation id on every span and log line; and a
//! `--drop fulfillment` run in which `tracewire lost` names the fulfillment hop.

use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

fn run_checkout(out: &Path, namespace: &str, extra: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_checkout"))
        .args(["run", "--orders", "2", "--namespace", namespace, "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    text
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn unique(name: &str) -> String {
    format!("{name}{}", std::process::id())
}

#[test]
fn one_trace_across_five_services() {
    let out = std::env::temp_dir().join(unique("tw-demo-"));
    let text = run_checkout(&out, &unique("demo"), &[]);
    let trace_ids: Vec<String> = text
        .lines()
        .filter(|l| l.contains(" accepted trace_id="))
        .map(|l| {
            l.split("trace_id=")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(trace_ids.len(), 2, "{text}");

    let services = [
        "api-gateway",
        "inventory",
        "payment",
        "fulfillment",
        "notifications",
    ];
    let mut ends: Vec<Value> = Vec::new();
    for s in services {
        ends.extend(
            lines(&out.join(format!("{s}.spans.jsonl")))
                .into_iter()
                .filter(|l| l["event"] == "span_end"),
        );
    }
    for trace in &trace_ids {
        let spans: Vec<&Value> = ends
            .iter()
            .filter(|s| s["trace_id"] == trace.as_str())
            .collect();
        let by_name: HashMap<&str, &Value> = spans
            .iter()
            .map(|s| (s["span_name"].as_str().unwrap(), *s))
            .collect();
        let in_trace: std::collections::BTreeSet<&str> = spans
            .iter()
            .map(|s| s["service"].as_str().unwrap())
            .collect();
        assert_eq!(
            in_trace.len(),
            5,
            "all five services in trace {trace}: {in_trace:?}"
        );
        let parent_of = |child: &str, parent: &str| {
            let (c, p) = (
                by_name
                    .get(child)
                    .unwrap_or_else(|| panic!("{child} in {trace}")),
                by_name[parent],
            );
            assert_eq!(
                c["parent_span_id"], p["span_id"],
                "{child} is a child of {parent}"
            );
        };
        let named = |prefix: &str, contains: &str| -> &str {
            by_name
                .keys()
                .find(|k| k.starts_with(prefix) && k.contains(contains))
                .copied()
                .unwrap_or_else(|| panic!("{prefix}…{contains} in {trace}"))
        };
        let (send_orders, process_orders) =
            (named("send ", "orders"), named("process ", "-orders"));
        let (publish_pay, process_pay) = (
            named("publish amq.default:", "payments"),
            named("process amq.default:", "payments"),
        );
        let (publish_ful, process_ful) = (
            named("publish fulfillment.", ""),
            named("process fulfillment.", ""),
        );
        parent_of(send_orders, "POST /checkout");
        parent_of(process_orders, send_orders);
        parent_of(publish_pay, process_orders);
        parent_of(process_pay, publish_pay);
        parent_of("job write-receipt", process_pay);
        parent_of(publish_ful, process_pay);
        parent_of(process_ful, publish_ful);
        parent_of("job send-email", process_ful);
        for consumer in [process_orders, process_pay, process_ful] {
            assert_eq!(
                by_name[consumer]["links"].as_array().unwrap().len(),
                0,
                "{consumer}: its producer is its parent, not also a link"
            );
        }
        let correlation = by_name["POST /checkout"]["correlation_id"].clone();
        assert!(correlation.is_string());
        for s in &spans {
            assert_eq!(
                s["correlation_id"], correlation,
                "correlation id on {}",
                s["span_name"]
            );
        }
        for s in services {
            for log in lines(&out.join(format!("{s}.log.jsonl"))) {
                if log["trace_id"] == trace.as_str() {
                    assert_eq!(
                        log["correlation_id"], correlation,
                        "correlation id on every log line: {log}"
                    );
                }
            }
        }
    }
    // The digest: one batch span linking every fulfilled order.
    let digest = ends
        .iter()
        .find(|s| s["span_name"] == "batch notification-digest")
        .expect("the digest batch span");
    let linked: Vec<&str> = digest["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["trace_id"].as_str().unwrap())
        .collect();
    for trace in &trace_ids {
        assert!(linked.contains(&trace.as_str()), "digest links {trace}");
    }
    assert_eq!(digest["attributes"]["messaging.batch.message_count"], 2);
    assert!(out.join("checkout.html").exists());

    // The digest is not a separate one-span trace to the analysis: each order's flow reaches it
    // across its link, and the summary groups them.
    let logs: Vec<_> = (services.iter())
        .map(|s| Some(out.join(format!("{s}.spans.jsonl"))))
        .collect();
    let (c, _) = tracewire_cli::collect(&logs, None).unwrap();
    let digest_trace = digest["trace_id"].as_str().unwrap().to_owned();
    for trace in &trace_ids {
        let flow = c.flow(trace, tracewire_cli::analysis::FLOW_DEPTH);
        assert_eq!(flow.len(), 2, "{trace}'s flow: {flow:?}");
        assert!(
            flow.contains(&digest_trace),
            "{trace}'s flow reaches the digest"
        );
    }
    assert_eq!(c.linked_flows(tracewire_cli::analysis::FLOW_DEPTH).len(), 2);

    // What a CI pipeline would assert with `tracewire check`: nothing lost, no error span, every
    // checkout from the gateway through fulfillment.
    let verdicts = check(&out, &services);
    assert_eq!(
        verdicts.len(),
        3,
        "{}",
        tracewire_cli::check::text(&verdicts)
    );
    assert!(
        verdicts.iter().all(|v| v.passed),
        "{}",
        tracewire_cli::check::text(&verdicts)
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// `tracewire check` over the demo's span logs: nothing lost, no error span, and every flow
/// from the gateway through inventory, payment and fulfillment.
fn check(out: &Path, services: &[&str]) -> Vec<tracewire_cli::check::Verdict> {
    let logs: Vec<_> = (services.iter())
        .map(|s| Some(out.join(format!("{s}.spans.jsonl"))))
        .collect();
    let collector = tracewire_cli::collect::Collector::new(None).track_paths();
    let (c, _) = tracewire_cli::collect_into(collector, &logs).unwrap();
    let path = ["api-gateway", "inventory", "payment", "fulfillment"];
    let options = tracewire_cli::check::CheckOptions {
        paths: vec![path.map(str::to_owned).to_vec()],
        ..Default::default()
    };
    tracewire_cli::check::check(&c, &options)
}

#[test]
fn a_dropped_fulfillment_is_named_by_tracewire_lost() {
    let out = std::env::temp_dir().join(unique("tw-demo-drop-"));
    let text = run_checkout(&out, &unique("drop"), &["--drop", "fulfillment"]);
    let lost: Vec<&str> = text.lines().filter(|l| l.starts_with("lost: ")).collect();
    assert_eq!(lost.len(), 2, "{text}");
    assert!(
        lost.iter()
            .all(|l| l.starts_with("lost: payment → fulfillment.")),
        "{text}"
    );
    let logs: Vec<_> = [
        "api-gateway",
        "inventory",
        "payment",
        "fulfillment",
        "notifications",
    ]
    .map(|s| Some(out.join(format!("{s}.spans.jsonl"))))
    .to_vec();
    let (c, _) = tracewire_cli::collect(&logs, None).unwrap();
    let lost = c.lost(0);
    assert_eq!(lost.len(), 2);
    let services = logs
        .iter()
        .flatten()
        .map(|p| p.file_name().unwrap().to_string_lossy());
    let names: Vec<String> = services
        .map(|n| n.trim_end_matches(".spans.jsonl").to_owned())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let verdicts = check(&out, &names);
    let failed: Vec<&str> = (verdicts.iter())
        .filter(|v| !v.passed)
        .map(|v| v.check.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "no lost messages",
            "every flow crosses api-gateway → inventory → payment → fulfillment"
        ],
        "{}",
        tracewire_cli::check::text(&verdicts)
    );
    assert!(lost
        .iter()
        .all(|s| c.service(s.service) == "payment" && s.system.as_deref() == Some("nats")));
    let _ = std::fs::remove_dir_all(&out);
}

/// A first run in minutes: with no Kafka reachable and `KAFKA_BROKERS` unset, the demo runs on
/// librdkafka's in-process mock cluster and says so (forced here with `CHECKOUT_KAFKA=mock`,
/// since CI runs a real broker on the default port).
#[test]
fn the_demo_runs_on_an_embedded_kafka_when_none_is_there() {
    let out = std::env::temp_dir().join(unique("tw-demo-mock-"));
    let output = Command::new(env!("CARGO_BIN_EXE_checkout"))
        .args([
            "run",
            "--orders",
            "2",
            "--namespace",
            &unique("mock"),
            "--out",
        ])
        .arg(&out)
        .env("CHECKOUT_KAFKA", "mock")
        .env_remove("KAFKA_BROKERS")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    let said: Vec<_> = text
        .lines()
        .filter(|l| l.contains("in-process mock cluster"))
        .collect();
    assert_eq!(said.len(), 1, "one line says so: {text}");
    assert_eq!(text.matches(" accepted trace_id=").count(), 2, "{text}");
    let inventory = lines(&out.join("inventory.spans.jsonl"));
    let processed = (inventory.iter())
        .filter(|l| {
            l["event"] == "span_end"
                && l["span_name"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("process ")
        })
        .count();
    assert!(
        processed >= 2,
        "the inventory consumed both orders through the mock cluster"
    );
    let _ = std::fs::remove_dir_all(&out);
}
