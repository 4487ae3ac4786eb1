//! Reading span logs (tracewire's JSON lines) and OTLP JSON (the collector's file exporter) line
//! by line. A line that is not understood is skipped and counted, never fatal.

use crate::model::{is_infrastructure, micros, span_id, Event, Kind, LogGap, Span, SpanEvent};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;

/// What reading found, besides spans.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReadStats {
    /// Lines read.
    pub lines: u64,
    /// Lines skipped as malformed.
    pub malformed: u64,
    /// Bytes read.
    pub bytes: u64,
}

#[derive(Deserialize)]
struct LogLine<'a> {
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    service: Cow<'a, str>,
    #[serde(borrow)]
    trace_id: Cow<'a, str>,
    #[serde(borrow)]
    span_id: Cow<'a, str>,
    #[serde(borrow, default)]
    parent_span_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    span_name: Cow<'a, str>,
    #[serde(borrow)]
    span_kind: Cow<'a, str>,
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(default)]
    duration_ms: Option<f64>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error_code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error_message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    correlation_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    attributes: Option<&'a RawValue>,
    #[serde(borrow, default)]
    links: Vec<LinkLine<'a>>,
    /// `span_event` lines only.
    #[serde(borrow, default)]
    event_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    event_attributes: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct GapLine<'a> {
    #[serde(borrow)]
    service: Cow<'a, str>,
    #[serde(borrow)]
    reason: Cow<'a, str>,
    lines: u64,
    #[serde(borrow)]
    first_drop: Cow<'a, str>,
    #[serde(borrow)]
    last_drop: Cow<'a, str>,
}

/// A `span_log_gap` line.
pub fn parse_gap_line(line: &str) -> Option<LogGap> {
    let g: GapLine = serde_json::from_str(line).ok()?;
    Some(LogGap {
        service: g.service.into_owned(),
        reason: g.reason.into_owned(),
        lines: g.lines,
        first_us: micros(&g.first_drop)?,
        last_us: micros(&g.last_drop)?,
    })
}

/// What one line of input holds.
#[derive(Debug)]
// Handed straight to a callback, never stored: boxing the span would cost an allocation a line.
#[allow(clippy::large_enum_variant)]
pub enum Record {
    /// A span started or ended.
    Span(Event, Span),
    /// Span-log lines a service lost.
    Gap(LogGap),
    /// An event of a span of a trace read in full.
    Event(SpanEvent),
}

#[derive(Deserialize)]
struct LinkLine<'a> {
    #[serde(borrow, default)]
    trace_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    span_id: Cow<'a, str>,
}

/// A trace id as a number (0 when it is not 32 hex digits).
fn trace_number(hex: Option<&str>) -> u128 {
    hex.filter(|h| h.len() == 32)
        .and_then(|h| u128::from_str_radix(h, 16).ok())
        .unwrap_or(0)
}

/// Attribute keys that carry business context worth showing.
fn is_business(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["order", "user", "customer", "payment", "sku"]
        .iter()
        .any(|w| k.contains(w))
        && !k.starts_with("messaging.")
}

/// A raw JSON object of attributes as (key, text) pairs, in no collection (the caller's).
fn attribute_texts(raw: Option<&RawValue>) -> impl Iterator<Item = (String, String)> {
    let map = raw.and_then(|raw| {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw.get()).ok()
    });
    (map.into_iter().flatten()).map(|(k, v)| match v {
        serde_json::Value::String(s) => (k, s),
        other => (k, other.to_string()),
    })
}

/// The attributes the analysis uses, from a raw JSON object of attributes; all of them too
/// when `full`.
fn read_attributes(raw: Option<&RawValue>, span: &mut Span, full: bool) {
    for (key, text) in attribute_texts(raw) {
        if full {
            span.attributes.push((key.clone(), text.clone()));
        }
        apply_attribute(span, key, text);
    }
}

/// Takes one attribute into the fields the analysis uses (both input formats).
fn apply_attribute(span: &mut Span, key: String, text: String) {
    match key.as_str() {
        "messaging.system" => span.system = Some(text),
        "messaging.destination.name" => span.destination = Some(text),
        // v1.24 and older (the Java agent's and OpenTelemetry Python's defaults): read, the
        // current name winning when both are there.
        "messaging.destination" => {
            span.destination.get_or_insert(text);
        }
        "messaging.destination.template" => span.template = Some(text),
        "tracewire.settled" => span.unsettled = text == "false",
        "tracewire.redelivered" => span.redelivered = text == "true",
        "messaging.operation.type" => span.operation = Some(text),
        "messaging.operation" => {
            span.operation.get_or_insert(current_operation(text));
        }
        "messaging.batch.message_count" => span.batch = text != "1",
        "target" | "code.module.name" => span.infrastructure |= is_infrastructure(&text),
        k if is_business(k) => span.business.push((key, text)),
        _ => {}
    }
}

/// A v1.24 (or older) `messaging.operation` value as the current `messaging.operation.type`:
/// `publish` is `send`, `deliver` (push delivery) is `process`.
fn current_operation(old: String) -> String {
    match old.as_str() {
        "publish" => "send".to_owned(),
        "deliver" => "process".to_owned(),
        _ => old,
    }
}

/// One span-log line. `None` when it is not a span line (or malformed); span events are skipped.
pub fn parse_log_line(line: &str) -> Option<(Event, Span)> {
    parse_log_line_with(line, &|_| false)
}

/// A `span_event` line of a trace `full` asks for: the trace id and the event.
fn parse_event_line(line: &str, full: &dyn Fn(&str) -> bool) -> Option<SpanEvent> {
    let l: LogLine = serde_json::from_str(line).ok()?;
    if l.event != "span_event" || !full(&l.trace_id) {
        return None;
    }
    Some(SpanEvent {
        span_id: span_id(&l.span_id)?,
        name: l.event_name?.into_owned(),
        at_us: micros(&l.timestamp)?,
        attributes: attribute_texts(l.event_attributes).collect(),
    })
}

/// One span-log line; every attribute kept when `full` says so of its trace.
pub fn parse_log_line_with(line: &str, full: &dyn Fn(&str) -> bool) -> Option<(Event, Span)> {
    let l: LogLine = serde_json::from_str(line).ok()?;
    let event = match &*l.event {
        "span_start" => Event::Start,
        "span_end" => Event::End,
        _ => return None,
    };
    if l.trace_id.len() != 32 || !l.trace_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let ts = micros(&l.timestamp)?;
    let (start_us, end_us) = match (event, l.duration_ms) {
        (Event::End, Some(ms)) => (ts - (ms * 1000.0).round() as i64, Some(ts)),
        (Event::End, None) => (ts, Some(ts)),
        (Event::Start, _) => (ts, None),
    };
    let mut span = Span {
        trace_id: l.trace_id.into_owned(),
        span_id: span_id(&l.span_id)?,
        parent: l.parent_span_id.as_deref().and_then(span_id),
        service: l.service.into_owned(),
        name: l.span_name.into_owned(),
        kind: Kind::parse(&l.span_kind),
        start_us,
        end_us,
        error: l.status.as_deref() == Some("error"),
        error_code: l.error_code.map(Cow::into_owned),
        error_message: l.error_message.map(Cow::into_owned),
        correlation_id: l.correlation_id.map(Cow::into_owned),
        links: l.links.iter().filter_map(|k| span_id(&k.span_id)).collect(),
        link_traces: (l.links.iter())
            .filter(|k| span_id(&k.span_id).is_some())
            .map(|k| trace_number(k.trace_id.as_deref()))
            .collect(),
        ..Span::default()
    };
    let full = full(&span.trace_id);
    read_attributes(l.attributes, &mut span, full);
    Some((event, span))
}

/// One OTLP JSON line (`{"resourceSpans":[…]}`): every span in it, ended.
pub fn parse_otlp_line(line: &str) -> Option<Vec<Span>> {
    parse_otlp_line_with(line, &|_| false)
}

/// Like [`parse_otlp_line`], with every attribute of the traces `full` names.
pub fn parse_otlp_line_with(line: &str, full: &dyn Fn(&str) -> bool) -> Option<Vec<Span>> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let mut out = Vec::new();
    for rs in v.get("resourceSpans")?.as_array()? {
        let service = otlp_attributes(rs.pointer("/resource/attributes"))
            .into_iter()
            .find(|(k, _)| k == "service.name")
            .map(|(_, v)| v)
            .unwrap_or_else(|| "unknown".into());
        for ss in rs
            .get("scopeSpans")
            .and_then(|s| s.as_array())
            .into_iter()
            .flatten()
        {
            for s in ss
                .get("spans")
                .and_then(|s| s.as_array())
                .into_iter()
                .flatten()
            {
                if let Some(span) = otlp_span(s, &service, full) {
                    out.push(span);
                }
            }
        }
    }
    Some(out)
}

fn otlp_attributes(attrs: Option<&serde_json::Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for a in attrs.and_then(|a| a.as_array()).into_iter().flatten() {
        let (Some(k), Some(v)) = (a.get("key").and_then(|k| k.as_str()), a.get("value")) else {
            continue;
        };
        let text = ["stringValue", "intValue", "doubleValue", "boolValue"]
            .iter()
            .find_map(|t| v.get(*t))
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| x.to_string())
            });
        if let Some(text) = text {
            out.push((k.to_owned(), text));
        }
    }
    out
}

fn otlp_span(s: &serde_json::Value, service: &str, full: &dyn Fn(&str) -> bool) -> Option<Span> {
    let text = |k: &str| s.get(k).and_then(|v| v.as_str());
    let nanos = |k: &str| -> Option<i64> {
        let v = s.get(k)?;
        v.as_str()
            .and_then(|t| t.parse().ok())
            .or_else(|| v.as_i64())
    };
    let trace_id = text("traceId")?.to_ascii_lowercase();
    if trace_id.len() != 32 {
        return None;
    }
    let kind = match s.get("kind").and_then(|k| k.as_i64()) {
        Some(2) => Kind::Server,
        Some(3) => Kind::Client,
        Some(4) => Kind::Producer,
        Some(5) => Kind::Consumer,
        _ => Kind::Internal,
    };
    let status = s.get("status");
    let mut span = Span {
        trace_id,
        span_id: span_id(&text("spanId")?.to_ascii_lowercase())?,
        parent: text("parentSpanId").and_then(|p| span_id(&p.to_ascii_lowercase())),
        service: service.to_owned(),
        name: text("name").unwrap_or("").to_owned(),
        kind,
        start_us: nanos("startTimeUnixNano")? / 1000,
        end_us: Some(nanos("endTimeUnixNano")? / 1000),
        error: status
            .and_then(|st| st.get("code"))
            .and_then(|c| c.as_i64())
            == Some(2),
        error_code: None,
        error_message: status
            .and_then(|st| st.get("message"))
            .and_then(|m| m.as_str())
            .map(str::to_owned),
        ..Span::default()
    };
    for l in (s.get("links").and_then(|l| l.as_array()).into_iter()).flatten() {
        let id = (l.get("spanId").and_then(|i| i.as_str()))
            .and_then(|i| span_id(&i.to_ascii_lowercase()));
        if let Some(id) = id {
            span.links.push(id);
            let trace = l.get("traceId").and_then(|t| t.as_str());
            span.link_traces
                .push(trace_number(trace.map(str::to_ascii_lowercase).as_deref()));
        }
    }
    let attributes = otlp_attributes(s.get("attributes"));
    if full(&span.trace_id) {
        span.attributes.clone_from(&attributes);
    }
    // OTLP has no top-level error code or correlation id: they are attributes there.
    for (k, v) in attributes {
        match k.as_str() {
            "error.type" => span.error_code = Some(v),
            "messaging.message.conversation_id" | "tracewire.correlation_id" => {
                span.correlation_id = Some(v)
            }
            _ => apply_attribute(&mut span, k, v),
        }
    }
    Some(span)
}

/// Expands file arguments: `-` (or nothing) is standard input, globs are expanded.
pub fn expand(args: &[String]) -> Result<Vec<Option<PathBuf>>, String> {
    if args.is_empty() {
        return Ok(vec![None]);
    }
    let mut out = Vec::new();
    for a in args {
        if a == "-" {
            out.push(None);
        } else if a.contains(['*', '?', '[']) {
            let paths = glob::glob(a).map_err(|e| format!("bad glob {a:?}: {e}"))?;
            let before = out.len();
            out.extend(paths.filter_map(Result::ok).map(Some));
            if out.len() == before {
                return Err(format!("no file matches {a:?}"));
            }
        } else {
            out.push(Some(PathBuf::from(a)));
        }
    }
    Ok(out)
}

/// Reads every input (a `.gz` file decompressed), calling `on_record` for each span event and
/// each span-log gap; shows progress on a terminal.
pub fn read_all(
    inputs: &[Option<PathBuf>],
    on_record: impl FnMut(Record),
) -> Result<ReadStats, String> {
    read_all_with(inputs, &|_| false, on_record)
}

/// Like [`read_all`], reading the traces `full` names in full: every attribute, and their
/// span events.
pub fn read_all_with(
    inputs: &[Option<PathBuf>],
    full: &dyn Fn(&str) -> bool,
    mut on_record: impl FnMut(Record),
) -> Result<ReadStats, String> {
    let mut stats = ReadStats::default();
    let total: u64 = inputs
        .iter()
        .flatten()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = std::io::stderr().is_terminal() && total > 64 << 20;
    for input in inputs {
        let reader: Box<dyn Read> = match input {
            Some(p) => {
                let file = std::fs::File::open(p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                match p.extension().is_some_and(|e| e == "gz") {
                    true => Box::new(flate2::read::MultiGzDecoder::new(file)),
                    false => Box::new(file),
                }
            }
            None => Box::new(std::io::stdin()),
        };
        let mut reader = std::io::BufReader::with_capacity(1 << 20, reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| format!("read error: {e}"))?;
            if n == 0 {
                break;
            }
            stats.lines += 1;
            stats.bytes += n as u64;
            if progress && stats.lines % 200_000 == 0 {
                eprint!(
                    "\r{:>3}% of {} MiB",
                    stats.bytes * 100 / total.max(1),
                    total >> 20
                );
                let _ = std::io::stderr().flush();
            }
            let Ok(line) = std::str::from_utf8(&buf) else {
                stats.malformed += 1;
                continue;
            };
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            if line.starts_with("{\"resourceSpans\"") {
                match parse_otlp_line_with(line, full) {
                    Some(spans) => {
                        (spans.into_iter()).for_each(|s| on_record(Record::Span(Event::End, s)))
                    }
                    None => stats.malformed += 1,
                }
            } else if let Some((event, span)) = parse_log_line_with(line, full) {
                on_record(Record::Span(event, span));
            } else if is_gap(line) {
                match parse_gap_line(line) {
                    Some(gap) => on_record(Record::Gap(gap)),
                    None => stats.malformed += 1,
                }
            } else if is_span_event(line) {
                if let Some(event) = parse_event_line(line, full) {
                    on_record(Record::Event(event));
                }
            } else {
                stats.malformed += 1;
            }
        }
    }
    if progress {
        eprintln!("\r100% of {} MiB", total >> 20);
    }
    Ok(stats)
}

fn is_gap(line: &str) -> bool {
    line.contains("\"event\":\"span_log_gap\"")
}

/// `span_event` lines are valid but not used.
fn is_span_event(line: &str) -> bool {
    line.contains("\"event\":\"span_event\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_events_are_read_for_the_traces_read_in_full_only() {
        let line = r#"{"timestamp":"2026-11-22T04:20:00.130000Z","level":"ERROR","service":"inventory","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"b7ad6b7169203331","parent_span_id":null,"span_name":"process orders","span_kind":"consumer","event":"span_event","duration_ms":null,"status":"unset","error_code":null,"error_message":null,"correlation_id":null,"attributes":{},"links":[],"event_name":"exception","event_attributes":{"exception.message":"no stock","attempt":2}}"#;
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let event = parse_event_line(line, &|t| t == trace).expect("the event");
        assert_eq!(event.name, "exception");
        assert_eq!(event.span_id, 0xb7ad_6b71_6920_3331);
        assert!(event.attributes.contains(&("attempt".into(), "2".into())));
        assert_eq!(parse_event_line(line, &|_| false), None);
        assert!(parse_log_line(line).is_none(), "not a span line");
    }
}
