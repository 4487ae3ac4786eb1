//! Spans as other languages' OpenTelemetry instrumentations export them (OTLP/JSON, one export
//! per line, as the collector's file exporter writes it), with the semantic-convention names
//! their releases emit by default:
//! - the Java agent (messaging v1.24): `messaging.destination`, `messaging.operation`
//!   (`publish`, `receive`, `process`), span names `{destination} {operation}`;
//! - OpenTelemetry Python's confluent-kafka instrumentation (v1.24 names): `{topic} send`
//!   producers; a consumer's poll is a NEW trace — a `recv` root whose child `{topic} process`
//!   LINKS to the producer;
//! - OpenTelemetry Python's pika instrumentation: a consumer span parented on the producer.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in the nanoseconds OTLP counts.
pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// One exported span.
pub struct OtlpSpan {
    pub trace_id: String,
    pub span_id: String,
    pub parent: Option<String>,
    pub name: String,
    /// OTLP's enum: 2 server, 4 producer, 5 consumer.
    pub kind: u8,
    pub start_ns: u128,
    pub end_ns: u128,
    pub attributes: Vec<(&'static str, String)>,
    /// (trace id, span id) of each link.
    pub links: Vec<(String, String)>,
    pub error: bool,
}

impl OtlpSpan {
    fn to_json(&self) -> Value {
        let attributes: Vec<Value> = (self.attributes.iter())
            .map(|(k, v)| json!({"key": k, "value": {"stringValue": v}}))
            .collect();
        let links: Vec<Value> = (self.links.iter())
            .map(|(t, s)| json!({"traceId": t, "spanId": s, "attributes": []}))
            .collect();
        let mut span = json!({
            "traceId": self.trace_id,
            "spanId": self.span_id,
            "name": self.name,
            "kind": self.kind,
            "startTimeUnixNano": self.start_ns.to_string(),
            "endTimeUnixNano": self.end_ns.to_string(),
            "attributes": attributes,
            "links": links,
            "status": {"code": if self.error { 2 } else { 0 }},
        });
        if let Some(parent) = &self.parent {
            span["parentSpanId"] = json!(parent);
        }
        span
    }
}

/// One OTLP/JSON export line of `service`'s spans under instrumentation `scope`.
pub fn export_line(service: &str, scope: &str, spans: &[OtlpSpan]) -> String {
    let spans: Vec<Value> = spans.iter().map(OtlpSpan::to_json).collect();
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": service}},
            {"key": "telemetry.sdk.language", "value": {"stringValue": if scope.starts_with("io.") { "java" } else { "python" }}},
        ]},
        "scopeSpans": [{"scope": {"name": scope}, "spans": spans}],
    }]})
    .to_string()
}

/// Python confluent-kafka's producer span: `{topic} send`, v1.24 names.
pub fn python_kafka_send(trace: &str, id: &str, parent: &str, topic: &str, at: u128) -> OtlpSpan {
    OtlpSpan {
        trace_id: trace.into(),
        span_id: id.into(),
        parent: Some(parent.into()),
        name: format!("{topic} send"),
        kind: 4,
        start_ns: at,
        end_ns: at + 400_000,
        attributes: vec![
            ("messaging.system", "kafka".into()),
            ("messaging.destination.name", topic.into()),
        ],
        links: vec![],
        error: false,
    }
}

/// Python confluent-kafka's consumer: a `recv` root of a NEW trace and its child
/// `{topic} process`, linked to the producer span (trace, span).
pub fn python_kafka_consume(
    trace: &str,
    ids: [&str; 2],
    topic: &str,
    producer: (&str, &str),
    at: u128,
) -> [OtlpSpan; 2] {
    let recv = OtlpSpan {
        trace_id: trace.into(),
        span_id: ids[0].into(),
        parent: None,
        name: "recv".into(),
        kind: 5,
        start_ns: at,
        end_ns: at + 3_000_000,
        attributes: vec![],
        links: vec![],
        error: false,
    };
    let process = OtlpSpan {
        trace_id: trace.into(),
        span_id: ids[1].into(),
        parent: Some(ids[0].into()),
        name: format!("{topic} process"),
        kind: 5,
        start_ns: at + 100_000,
        end_ns: at + 2_900_000,
        attributes: vec![
            ("messaging.system", "kafka".into()),
            ("messaging.destination.name", topic.into()),
            ("messaging.operation", "process".into()),
            ("messaging.kafka.destination.partition", "0".into()),
        ],
        links: vec![(producer.0.into(), producer.1.into())],
        error: false,
    };
    [recv, process]
}

/// The Java agent's Kafka consumer span (v1.24): `{topic} process`, parented on the producer.
pub fn java_kafka_process(
    trace: &str,
    id: &str,
    producer: &str,
    topic: &str,
    at: u128,
) -> OtlpSpan {
    OtlpSpan {
        trace_id: trace.into(),
        span_id: id.into(),
        parent: Some(producer.into()),
        name: format!("{topic} process"),
        kind: 5,
        start_ns: at,
        end_ns: at + 2_000_000,
        attributes: vec![
            ("messaging.system", "kafka".into()),
            ("messaging.destination", topic.into()),
            ("messaging.operation", "process".into()),
            ("messaging.kafka.consumer.group", "shipping".into()),
        ],
        links: vec![],
        error: false,
    }
}

/// The Java agent's producer span (v1.24): `{destination} publish`.
pub fn java_publish(
    trace: &str,
    id: &str,
    parent: &str,
    system: &str,
    dest: &str,
    at: u128,
) -> OtlpSpan {
    OtlpSpan {
        trace_id: trace.into(),
        span_id: id.into(),
        parent: Some(parent.into()),
        name: format!("{dest} publish"),
        kind: 4,
        start_ns: at,
        end_ns: at + 300_000,
        attributes: vec![
            ("messaging.system", system.into()),
            ("messaging.destination", dest.into()),
            ("messaging.operation", "publish".into()),
        ],
        links: vec![],
        error: false,
    }
}
