//! JSON span logs: one JSON object per line for every span start, span end and span event, in
//! the schema of `docs/span-log.md` (the `tracewire` CLI's input). Written by a worker thread
//! behind a bounded queue: a full queue drops lines and counts them, never blocks a consumer.

use crate::offload::{Offload, QueueStats, Sink};
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use serde_json::{json, Map};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracewire::messaging::attributes::{CONVERSATION_ID, ERROR_TYPE};
use tracewire::CorrelationContextExt;

/// `tracewire.correlation_id`: set on spans without a conversation id, from the context they start in.
pub const CORRELATION_ATTRIBUTE: &str = "tracewire.correlation_id";

enum Record {
    Start(Box<SpanData>),
    End(Box<SpanData>),
}

/// A `SpanProcessor` writing JSON span logs. It also stamps every span that is not a messaging
/// span (those carry `messaging.message.conversation_id`) with the correlation id of the context
/// it starts in (`tracewire.correlation_id`), so every span log line has one.
#[derive(Debug)]
pub struct SpanLogProcessor {
    queue: Offload<Record>,
}

impl SpanLogProcessor {
    /// Writes lines for `service` to `out` (a file, stdout…), through a queue of `capacity`
    /// records.
    pub fn new(service: impl Into<String>, out: Box<dyn Write + Send>, capacity: usize) -> Self {
        let sink = LineWriter {
            service: service.into(),
            out: std::io::BufWriter::new(out),
        };
        SpanLogProcessor {
            queue: Offload::spawn(
                "tracewire-span-log",
                capacity,
                256,
                Duration::from_millis(200),
                sink,
            ),
        }
    }

    /// Lines accepted, dropped (queue full), written and failed.
    pub fn stats(&self) -> Arc<QueueStats> {
        self.queue.stats().clone()
    }
}

impl SpanProcessor for SpanLogProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        let Some(mut data) = span.exported_data() else {
            return; // not recording
        };
        // Messaging spans already carry the id as their conversation id; only the others get it.
        let has_id = data
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == CONVERSATION_ID);
        if let (false, Some(id)) = (has_id, cx.correlation_value()) {
            let kv = KeyValue::new(CORRELATION_ATTRIBUTE, id);
            opentelemetry::trace::Span::set_attribute(span, kv.clone());
            data.attributes.push(kv);
        }
        self.queue.push(Record::Start(Box::new(data)));
    }

    fn on_end(&self, span: SpanData) {
        self.queue.push(Record::End(Box::new(span)));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.queue.flush(Duration::from_secs(5));
        Ok(())
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.queue.shutdown(timeout);
        Ok(())
    }
}

struct LineWriter {
    service: String,
    out: std::io::BufWriter<Box<dyn Write + Send>>,
}

impl Sink for LineWriter {
    type Item = Record;

    fn write(&mut self, batch: &mut Vec<Record>) -> usize {
        let mut failed = 0;
        for record in batch.drain(..) {
            let lines = match &record {
                Record::Start(s) => vec![line(&self.service, s, "span_start", None)],
                Record::End(s) => {
                    let mut lines: Vec<_> = s
                        .events
                        .iter()
                        .map(|e| line(&self.service, s, "span_event", Some(e)))
                        .collect();
                    lines.push(line(&self.service, s, "span_end", None));
                    lines
                }
            };
            for l in lines {
                if writeln!(self.out, "{l}").is_err() {
                    failed += 1;
                }
            }
        }
        failed
    }

    fn flush(&mut self) {
        let _ = self.out.flush();
    }

    fn shutdown(&mut self) {
        let _ = self.out.flush();
    }
}

/// One JSON line. See `docs/span-log.md`.
fn line(
    service: &str,
    span: &SpanData,
    event: &str,
    span_event: Option<&opentelemetry::trace::Event>,
) -> serde_json::Value {
    let sc = &span.span_context;
    let (status, error_message) = match &span.status {
        Status::Unset => ("unset", None),
        Status::Ok => ("ok", None),
        Status::Error { description } => ("error", Some(description.to_string())),
    };
    let failed = event == "span_end" && status == "error";
    let timestamp = match (event, span_event) {
        ("span_start", _) => span.start_time,
        (_, Some(e)) => e.timestamp,
        _ => span.end_time,
    };
    let duration_ms = (event == "span_end").then(|| {
        span.end_time
            .duration_since(span.start_time)
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0
    });
    let parent = (span.parent_span_id != SpanId::INVALID).then(|| span.parent_span_id.to_string());
    let attr = |key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
    };
    let correlation_id = attr(CORRELATION_ATTRIBUTE).or_else(|| attr(CONVERSATION_ID));
    let mut out = json!({
        "timestamp": rfc3339(timestamp),
        "level": if failed { "ERROR" } else { "INFO" },
        "service": service,
        "trace_id": sc.trace_id().to_string(),
        "span_id": sc.span_id().to_string(),
        "trace_sampled": sc.is_sampled(),
        "parent_span_id": parent,
        "span_name": span.name,
        "span_kind": kind(&span.span_kind),
        "event": event,
        "duration_ms": duration_ms,
        "status": if event == "span_end" { status } else { "unset" },
        "error_code": if event == "span_end" { attr(ERROR_TYPE) } else { None },
        "error_message": if event == "span_end" { error_message } else { None },
        "correlation_id": correlation_id,
        "attributes": attributes(&span.attributes),
        "links": span.links.iter().map(|l| json!({
            "trace_id": l.span_context.trace_id().to_string(),
            "span_id": l.span_context.span_id().to_string(),
        })).collect::<Vec<_>>(),
    });
    if let (Some(e), Some(obj)) = (span_event, out.as_object_mut()) {
        obj.insert("event_name".into(), json!(e.name));
        obj.insert("event_attributes".into(), attributes(&e.attributes));
        if e.name == "exception" {
            obj.insert("level".into(), json!("ERROR"));
        }
    }
    out
}

fn kind(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

fn attributes(attrs: &[KeyValue]) -> serde_json::Value {
    let mut map = Map::new();
    for kv in attrs {
        let value = match &kv.value {
            Value::Bool(b) => json!(b),
            Value::I64(i) => json!(i),
            Value::F64(f) => json!(f),
            other => json!(other.as_str()),
        };
        map.insert(kv.key.as_str().to_owned(), value);
    }
    serde_json::Value::Object(map)
}

/// RFC 3339 in UTC with microseconds, e.g. `2026-11-22T04:20:00.123456Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}
