//! JSON log lines keep what `tracing_subscriber::fmt` shows: the `#[instrument]` span's name and
//! fields (`span`, and every span on request), next to trace ids and the event's own fields.

mod common;

use common::Lines;
use tracewire_telemetry::JsonLogLayer;
use tracing_subscriber::layer::SubscriberExt;

#[tracing::instrument]
fn handle(order_id: u64) {
    let charge = tracing::info_span!("charge", amount = 30, currency = tracing::field::Empty);
    let _in_charge = charge.enter();
    charge.record("currency", "EUR");
    tracing::info!(attempt = 1, "charged");
}

fn lines(list: bool) -> Vec<serde_json::Value> {
    let out = Lines::default();
    let layer = JsonLogLayer::new("payment", Box::new(out.clone())).with_span_list(list);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        handle(7);
        tracing::info!("outside");
    });
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_line_keeps_the_instrument_span_and_its_fields() {
    let lines = lines(false);
    let charged = &lines[0];
    assert_eq!(charged["message"], "charged");
    assert_eq!(charged["fields"]["attempt"], 1);
    assert_eq!(
        charged["span"],
        serde_json::json!({"name": "charge", "amount": 30, "currency": "EUR"}),
        "the current span, with a field recorded after it started"
    );
    assert!(charged.get("spans").is_none(), "the list only on request");
    assert!(lines[1].get("span").is_none(), "outside any span: no span");
}

#[test]
fn the_span_list_on_request_goes_root_first() {
    let lines = lines(true);
    let spans = lines[0]["spans"].as_array().unwrap();
    let names: Vec<_> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["handle", "charge"]);
    assert_eq!(
        spans[0]["order_id"], 7,
        "#[instrument] records the argument"
    );
}

#[test]
fn tracewire_log_names_a_file_for_the_log_lines() {
    use tracewire_telemetry::{Config, LogTarget, Telemetry};
    let path = std::env::temp_dir().join(format!("tw-log-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let value = path.to_string_lossy().into_owned();
    let config = Config::from_lookup("payment", |k| (k == "TRACEWIRE_LOG").then(|| value.clone()));
    let config = config.unwrap();
    assert_eq!(config.logs, LogTarget::File(path.clone()));
    let guard = Telemetry::new(config).build().unwrap();
    let subscriber = guard
        .subscriber()
        .expect("a subscriber writing to the file");
    tracing::subscriber::with_default(subscriber, || handle(9));
    drop(guard);
    let text = std::fs::read_to_string(&path).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        (line["service"].as_str(), line["message"].as_str()),
        (Some("payment"), Some("charged"))
    );
    assert_eq!(line["span"]["name"], "charge");
    let _ = std::fs::remove_file(&path);
}

/// The newcomer's default (`RUST_LOG=info`): the application's `tracing` spans join the trace,
/// the broker clients' own (lapin's never-ending `io_loop`) do not.
#[test]
fn dependency_spans_are_not_bridged_into_traces_by_default() {
    use tracewire_telemetry::{Config, LogTarget, SpanLogTarget, Telemetry};
    let path = std::env::temp_dir().join(format!("tw-bridge-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let guard = Telemetry::new(Config::from_lookup("payment", |_| None).unwrap())
        .span_log(Some(SpanLogTarget::File(path.clone())))
        .logs(LogTarget::Off)
        .build()
        .unwrap();
    let subscriber = guard.subscriber_to(Box::new(std::io::sink()));
    tracing::subscriber::with_default(subscriber, || {
        let io_loop = tracing::info_span!(target: "lapin::io_loop", "io_loop");
        let _in_loop = io_loop.enter();
        let nats = tracing::info_span!(target: "async_nats::connector", "connect");
        nats.in_scope(|| handle(3));
    });
    drop(guard);
    let text = std::fs::read_to_string(&path).unwrap();
    let names: std::collections::BTreeSet<String> = (text.lines())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|l| l["span_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["charge", "handle"].map(String::from).into(),
        "{text}"
    );
    let _ = std::fs::remove_file(&path);
}
