//! One span-log line, in the field order of `docs/span-log.md`, written straight from the span
//! into the worker's buffer.

use super::json;
use super::CORRELATION_ATTRIBUTE;
use opentelemetry::trace::{Event, Link, SpanId, SpanKind, Status, TraceId};
use opentelemetry::{KeyValue, Value};
use std::borrow::Cow;
use std::time::SystemTime;
use tracewire::messaging::attributes::{CONVERSATION_ID, ERROR_TYPE};

/// What a line needs of a span: borrowed from a started span's record or from the ended span.
pub(crate) struct SpanView<'a> {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) sampled: bool,
    pub(crate) parent: SpanId,
    pub(crate) name: &'a str,
    pub(crate) kind: &'a SpanKind,
    pub(crate) start: SystemTime,
    /// `None` for the start line.
    pub(crate) end: Option<(SystemTime, &'a Status)>,
    pub(crate) attributes: &'a [KeyValue],
    pub(crate) links: &'a [Link],
}

/// The three kinds of span line.
pub(crate) enum LineKind<'a> {
    Start,
    Event(&'a Event),
    End,
}

/// Appends one line (with its `\n`) for `span`. `service` is the pre-escaped `"service":"…"`.
pub(crate) fn write(out: &mut Vec<u8>, service: &[u8], span: &SpanView<'_>, line: LineKind<'_>) {
    let status = span.end.map(|(_, status)| status);
    let failed = matches!(status, Some(Status::Error { .. }));
    let (event, timestamp) = match &line {
        LineKind::Start => ("span_start", span.start),
        LineKind::Event(e) => ("span_event", e.timestamp),
        LineKind::End => ("span_end", span.end.map_or(span.start, |(t, _)| t)),
    };
    let is_end = matches!(line, LineKind::End);
    let level = match &line {
        LineKind::End if failed => "ERROR",
        LineKind::Event(e) if e.name == "exception" => "ERROR",
        _ => "INFO",
    };

    out.extend_from_slice(b"{\"timestamp\":");
    json::timestamp(out, timestamp);
    out.extend_from_slice(b",\"level\":\"");
    out.extend_from_slice(level.as_bytes());
    out.extend_from_slice(b"\",");
    out.extend_from_slice(service);
    out.extend_from_slice(b",\"trace_id\":");
    json::hex(out, span.trace_id.to_bytes());
    out.extend_from_slice(b",\"span_id\":");
    json::hex(out, span.span_id.to_bytes());
    out.extend_from_slice(b",\"trace_sampled\":");
    json::boolean(out, span.sampled);
    out.extend_from_slice(b",\"parent_span_id\":");
    if span.parent == SpanId::INVALID {
        out.extend_from_slice(b"null");
    } else {
        json::hex(out, span.parent.to_bytes());
    }
    out.extend_from_slice(b",\"span_name\":");
    json::string(out, span.name);
    out.extend_from_slice(b",\"span_kind\":\"");
    out.extend_from_slice(kind(span.kind).as_bytes());
    out.extend_from_slice(b"\",\"event\":\"");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\",\"duration_ms\":");
    match span.end {
        Some((end, _)) if is_end => {
            let d = end.duration_since(span.start).unwrap_or_default();
            json::millis(out, d);
        }
        _ => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"status\":\"");
    out.extend_from_slice(match status {
        Some(Status::Ok) if is_end => b"ok",
        Some(Status::Error { .. }) if is_end => b"error",
        _ => b"unset",
    });
    out.extend_from_slice(b"\",\"error_code\":");
    optional(
        out,
        is_end.then(|| find(span.attributes, ERROR_TYPE)).flatten(),
    );
    out.extend_from_slice(b",\"error_message\":");
    let message = match status {
        Some(Status::Error { description }) if is_end => Some(Cow::Borrowed(&**description)),
        _ => None,
    };
    optional(out, message);
    out.extend_from_slice(b",\"correlation_id\":");
    let correlation = find(span.attributes, CORRELATION_ATTRIBUTE)
        .or_else(|| find(span.attributes, CONVERSATION_ID));
    optional(out, correlation);
    out.extend_from_slice(b",\"attributes\":");
    attributes(out, span.attributes);
    out.extend_from_slice(b",\"links\":[");
    for (i, link) in span.links.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"trace_id\":");
        json::hex(out, link.span_context.trace_id().to_bytes());
        out.extend_from_slice(b",\"span_id\":");
        json::hex(out, link.span_context.span_id().to_bytes());
        out.push(b'}');
    }
    out.push(b']');
    if let LineKind::Event(e) = line {
        out.extend_from_slice(b",\"event_name\":");
        json::string(out, &e.name);
        out.extend_from_slice(b",\"event_attributes\":");
        attributes(out, &e.attributes);
    }
    out.extend_from_slice(b"}\n");
}

fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<Cow<'a, str>> {
    (attributes.iter())
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str())
}

fn optional(out: &mut Vec<u8>, value: Option<Cow<'_, str>>) {
    match value {
        Some(v) => json::string(out, &v),
        None => out.extend_from_slice(b"null"),
    }
}

/// Attributes as a JSON object: strings, numbers and booleans as themselves, arrays as their
/// text (as before, so old and new lines read alike).
fn attributes(out: &mut Vec<u8>, attributes: &[KeyValue]) {
    out.push(b'{');
    for (i, kv) in attributes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        json::body(out, kv.key.as_str());
        out.extend_from_slice(b"\":");
        match &kv.value {
            Value::String(s) => json::string(out, s.as_str()),
            Value::Bool(b) => json::boolean(out, *b),
            Value::I64(n) => json::int(out, *n),
            Value::F64(f) => json::float(out, *f),
            other => json::string(out, &other.as_str()),
        }
    }
    out.push(b'}');
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
