//! JSON span logs: one JSON object per line for every span start, span end and span event, in
//! the schema of `docs/span-log.md` (the `tracewire` CLI's input). Written by a worker thread
//! behind a bounded queue, serialized straight from the span into one reused buffer. A full
//! queue drops lines and counts them (or, with [`FullPolicy::Block`], waits), and the log says
//! so: a `span_log_gap` line as soon as there is room again.

mod json;
mod line;

use crate::offload::{Drops, FullPolicy, Offload, QueueStats, Sink};
use line::{LineKind, SpanView};
use opentelemetry::trace::{Link, SpanContext, SpanId, SpanKind};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracewire::messaging::attributes::{CONVERSATION_ID, SYSTEM};
use tracewire::CorrelationContextExt;

/// `tracewire.correlation_id`: set on spans without a conversation id, from the context they start in.
pub const CORRELATION_ATTRIBUTE: &str = "tracewire.correlation_id";

/// What the start line needs of a span that just started: its identity, name, links and the
/// attributes the analysis reads (system, destination, template, correlation), held inline. The
/// SDK hands out a copy of the whole span; that copy is freed on the caller's thread, so the
/// writer thread frees nothing of it — a free across threads takes the allocator's lock.
struct Started {
    context: SpanContext,
    parent: SpanId,
    name: InlineName,
    kind: SpanKind,
    start: SystemTime,
    attributes: SmallVec<[KeyValue; 4]>,
    links: SmallVec<[Link; 1]>,
}

/// The attributes a start line keeps: what `tracewire lost` needs of a span that never ends
/// (the end line has them all).
fn kept_at_start(key: &str) -> bool {
    key.starts_with("messaging.destination.")
        || [SYSTEM, CONVERSATION_ID, CORRELATION_ATTRIBUTE].contains(&key)
        || key == "target" // a `tracing` span's: tells a client library's own spans apart
        || key == "code.module.name"
}

/// A span name without a heap allocation (spilling to the heap only past 48 bytes).
enum InlineName {
    Static(&'static str),
    Inline(SmallVec<[u8; 48]>),
}

impl InlineName {
    fn new(name: Cow<'static, str>) -> Self {
        match name {
            Cow::Borrowed(s) => InlineName::Static(s),
            Cow::Owned(s) => InlineName::Inline(SmallVec::from_slice(s.as_bytes())),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            InlineName::Static(s) => s,
            InlineName::Inline(bytes) => std::str::from_utf8(bytes).unwrap_or_default(),
        }
    }
}

enum Record {
    Start(Started),
    End(SpanData),
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
    /// records that drops (and says so) when full.
    pub fn new(service: impl Into<String>, out: Box<dyn Write + Send>, capacity: usize) -> Self {
        Self::with_policy(service, out, capacity, FullPolicy::Drop)
    }

    /// Like [`new`](Self::new), with what a full queue does: drop and count
    /// ([`FullPolicy::Drop`]) or wait for room ([`FullPolicy::Block`]).
    ///
    /// ```
    /// use tracewire_telemetry::{FullPolicy, SpanLogProcessor};
    ///
    /// let audit = SpanLogProcessor::with_policy("audit", Box::new(std::io::sink()), 1024, FullPolicy::Block);
    /// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
    ///     .with_span_processor(audit)
    ///     .build();
    /// # drop(provider);
    /// ```
    pub fn with_policy(
        service: impl Into<String>,
        out: Box<dyn Write + Send>,
        capacity: usize,
        full: FullPolicy,
    ) -> Self {
        let mut field = b"\"service\":".to_vec();
        json::string(&mut field, &service.into());
        let sink = LineWriter {
            service_field: field,
            out,
            buf: Vec::with_capacity(256 << 10),
            ended: Vec::with_capacity(256),
            write_failures: None,
        };
        SpanLogProcessor {
            queue: Offload::spawn(
                "tracewire-span-log",
                capacity,
                256,
                Duration::from_millis(200),
                full,
                sink,
            ),
        }
    }

    /// Lines accepted, dropped (queue full), written and failed (a span's end counts its event
    /// lines too; a start folded into its end line counts as written). Every dropped or failed
    /// line is also named in a `span_log_gap` line.
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
        let kept = data
            .attributes
            .iter()
            .filter(|kv| kept_at_start(kv.key.as_str()));
        let started = Started {
            context: data.span_context,
            parent: data.parent_span_id,
            name: InlineName::new(data.name),
            kind: data.span_kind,
            start: data.start_time,
            attributes: kept.cloned().collect(),
            links: data.links.links.drain(..).collect(),
        };
        drop(data.attributes); // here, not on the writer's thread
        self.queue.push(Record::Start(started));
    }

    fn on_end(&self, span: SpanData) {
        self.queue.push(Record::End(span));
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
    /// `"service":"…"`, escaped once.
    service_field: Vec<u8>,
    out: Box<dyn Write + Send>,
    /// One batch of lines, reused.
    buf: Vec<u8>,
    /// Span ids that end in the batch being written, sorted.
    ended: Vec<u64>,
    /// Lines lost to write errors since the last successful write.
    write_failures: Option<Drops>,
}

impl LineWriter {
    fn render(&mut self, record: &Record) {
        let (out, service) = (&mut self.buf, &self.service_field[..]);
        match record {
            Record::Start(s) => {
                let view = SpanView {
                    context: &s.context,
                    parent: s.parent,
                    name: s.name.as_str(),
                    kind: &s.kind,
                    start: s.start,
                    end: None,
                    attributes: &s.attributes,
                    links: &s.links,
                };
                line::write(out, service, &view, LineKind::Start);
            }
            Record::End(s) => {
                let view = SpanView {
                    context: &s.span_context,
                    parent: s.parent_span_id,
                    name: &s.name,
                    kind: &s.span_kind,
                    start: s.start_time,
                    end: Some((s.end_time, &s.status)),
                    attributes: &s.attributes,
                    links: &s.links.links,
                };
                for e in s.events.iter() {
                    line::write(out, service, &view, LineKind::Event(e));
                }
                line::write(out, service, &view, LineKind::End);
            }
        }
    }

    /// Writes the buffer out; `lines` it holds are counted as failed if the write fails.
    fn write_out(&mut self, lines: u64) -> u64 {
        let ok = self.out.write_all(&self.buf).is_ok();
        self.buf.clear();
        if ok {
            if let Some(failures) = self.write_failures.take() {
                self.gap(failures, "write_failed");
            }
            0
        } else {
            let now = SystemTime::now();
            self.failed(Drops {
                count: lines,
                first: now,
                last: now,
            });
            lines
        }
    }

    /// Lines lost to a write error, reported (`write_failed`) once a write succeeds again.
    fn failed(&mut self, lost: Drops) {
        match &mut self.write_failures {
            Some(f) => {
                f.count += lost.count;
                f.last = lost.last;
            }
            None => self.write_failures = Some(lost),
        }
    }

    /// A `span_log_gap` line: lines this service lost, how many and when.
    fn gap(&mut self, drops: Drops, reason: &str) {
        let mut out = Vec::with_capacity(256);
        gap_line(&mut out, &self.service_field, drops, reason);
        // A gap line that cannot be written is reported with the next write failures.
        if self.out.write_all(&out).is_err() {
            self.failed(drops);
        }
    }
}

/// `{"timestamp":…,"level":"WARN","service":…,"event":"span_log_gap",…}` — see docs/span-log.md.
fn gap_line(out: &mut Vec<u8>, service_field: &[u8], drops: Drops, reason: &str) {
    out.extend_from_slice(b"{\"timestamp\":");
    json::timestamp(out, SystemTime::now());
    out.extend_from_slice(b",\"level\":\"WARN\",");
    out.extend_from_slice(service_field);
    out.extend_from_slice(b",\"event\":\"span_log_gap\",\"reason\":");
    json::string(out, reason);
    out.extend_from_slice(b",\"lines\":");
    json::int(out, drops.count as i64);
    out.extend_from_slice(b",\"first_drop\":");
    json::timestamp(out, drops.first);
    out.extend_from_slice(b",\"last_drop\":");
    json::timestamp(out, drops.last);
    out.extend_from_slice(b"}\n");
}

impl Sink for LineWriter {
    type Item = Record;

    fn weight(record: &Record) -> u64 {
        match record {
            Record::Start(_) => 1,
            Record::End(s) => 1 + s.events.len() as u64,
        }
    }

    /// Renders a batch and writes it at once. A span that starts and ends within the batch gets
    /// its `span_end` line only (which carries its start as `timestamp − duration_ms`): a start
    /// line is written for every span still open when its batch is written — what `lost` needs —
    /// and short spans cost one line, not two.
    fn write(&mut self, batch: &mut Vec<Record>) -> u64 {
        let id = |c: &SpanContext| u64::from_be_bytes(c.span_id().to_bytes());
        self.ended.clear();
        self.ended.extend(batch.iter().filter_map(|r| match r {
            Record::End(s) => Some(id(&s.span_context)),
            Record::Start(_) => None,
        }));
        self.ended.sort_unstable();
        let mut lines = 0;
        for record in batch.drain(..) {
            lines += Self::weight(&record);
            if let Record::Start(s) = &record {
                if self.ended.binary_search(&id(&s.context)).is_ok() {
                    continue; // folded into its end line
                }
            }
            self.render(&record);
        }
        self.write_out(lines)
    }

    fn dropped(&mut self, drops: Drops) {
        self.gap(drops, "queue_full");
    }

    fn flush(&mut self) {
        let _ = self.out.flush();
    }

    fn shutdown(&mut self) {
        if let Some(failures) = self.write_failures.take() {
            self.gap(failures, "write_failed");
        }
        let _ = self.out.flush();
    }
}

/// RFC 3339 in UTC with microseconds, e.g. `2026-11-22T04:20:00.123456Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}
