//! JSON span logs: one JSON object per line for every span start, span end and span event, in
//! the schema of `docs/span-log.md` (the `tracewire` CLI's input). Written by a worker thread
//! behind a bounded queue, serialized straight from the span into one reused buffer. A full
//! queue drops lines and counts them (or, with [`FullPolicy::Block`], waits), and the log says
//! so: a `span_log_gap` line as soon as there is room again.

mod held;
mod json;
mod line;

use crate::offload::{Done, Drops, FullPolicy, Offload, QueueStats, Sink};
use held::Held;
use line::{LineKind, SpanView};
use opentelemetry::trace::{Link, SpanId, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use smallvec::SmallVec;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracewire::messaging::attributes::CONVERSATION_ID;
use tracewire::CorrelationContextExt;

/// `tracewire.correlation_id`: set on spans without a conversation id, from the context they start in.
pub const CORRELATION_ATTRIBUTE: &str = "tracewire.correlation_id";

/// What the start line needs of a span that just started: its identity, name, links and the
/// attributes the analysis reads (system, destination, template, correlation), held inline. The
/// SDK hands out a copy of the whole span; that copy is freed on the caller's thread, so the
/// writer thread frees nothing of it — a free across threads takes the allocator's lock.
///
/// It is kept no larger than the SDK's `SpanData` (352 bytes: the queue's slots hold either, and
/// were 528 bytes before): the ids rather than the `SpanContext` (whose trace state no line
/// writes), a name inline up to 32 bytes, the links in the copy's own `Vec`.
struct Started {
    trace_id: TraceId,
    span_id: SpanId,
    parent: SpanId,
    sampled: bool,
    kind: SpanKind,
    start: SystemTime,
    name: InlineName,
    attributes: SmallVec<[KeyValue; 4]>,
    links: Vec<Link>,
}

/// The attributes a start line keeps: what `tracewire lost` needs of a span that never ends
/// (the end line has them all) — a messaging span's identifying ones (system, destination,
/// conversation id), which the skeleton also tells directly ([`tracewire::span::Starting`]).
fn kept_at_start(key: &str) -> bool {
    tracewire::span::identifying(key)
        || key == CORRELATION_ATTRIBUTE
        || key == "target" // a `tracing` span's: tells a client library's own spans apart
        || key == "code.module.name"
}

/// A span name without a heap allocation (spilling to the heap only past 32 bytes).
struct InlineName(SmallVec<[u8; 32]>);

impl InlineName {
    fn new(name: &str) -> Self {
        InlineName(SmallVec::from_slice(name.as_bytes()))
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
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
    queue: Arc<Offload<Record>>,
    /// Whether this is the process's start listener: the skeleton tells it what its messaging
    /// spans are once they have started (the first span log of a process; any other copies).
    told: bool,
}

thread_local! {
    /// The span whose `on_start` the told span log has just seen, waiting for the skeleton's
    /// description (`StartLines::started`).
    static PENDING: std::cell::Cell<Option<SpanId>> = const { std::cell::Cell::new(None) };
}

/// The span log's start listener: a messaging span's start record from what the skeleton tells,
/// not from the SDK's copy of the whole span.
struct StartLines {
    queue: std::sync::Weak<Offload<Record>>,
}

impl tracewire::span::StartListener for StartLines {
    fn started(&self, cx: &Context, describe: &mut dyn FnMut() -> tracewire::span::Starting) {
        use opentelemetry::trace::TraceContextExt;
        let span = cx.span();
        let sc = span.span_context();
        if PENDING.with(std::cell::Cell::take) != Some(sc.span_id()) {
            return; // not a span this span log saw start
        }
        let Some(queue) = self.queue.upgrade() else {
            return;
        };
        let s = describe();
        // Its start time is read here, just after the SDK's own: a start line is written only
        // for a span still open after `HOLD`, and the end line carries the SDK's.
        queue.push(Record::Start(Started {
            trace_id: sc.trace_id(),
            span_id: sc.span_id(),
            parent: s.parent,
            sampled: sc.is_sampled(),
            kind: s.kind,
            start: SystemTime::now(),
            name: InlineName::new(&s.name),
            attributes: s.attributes,
            links: s.links,
        }));
    }
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
            ended: Vec::new(),
            held: Held::default(),
            write_failures: None,
        };
        let queue = Arc::new(Offload::spawn(
            "tracewire-span-log",
            capacity,
            256,
            Duration::from_millis(200),
            full,
            sink,
        ));
        let lines = StartLines {
            queue: Arc::downgrade(&queue),
        };
        let told = tracewire::span::set_start_listener(Arc::new(lines));
        SpanLogProcessor { queue, told }
    }

    /// Lines accepted, dropped (queue full), written and failed (a span's end counts its event
    /// lines too; a start folded into its end line counts as written). A start waits up to
    /// 200 ms for its span's end before its line is written, and is counted then. Every dropped
    /// or failed line is also named in a `span_log_gap` line.
    pub fn stats(&self) -> Arc<QueueStats> {
        self.queue.stats().clone()
    }
}

impl SpanProcessor for SpanLogProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        use opentelemetry::trace::Span as _;
        if !span.is_recording() {
            return;
        }
        // A messaging span the skeleton starts needs no copy of the whole span (the SDK's
        // `exported_data`: every attribute, link and the scope, freed again at once): the
        // skeleton tells what it is once it has started (`StartLines`).
        let skeleton = tracewire::span::skeleton_starting();
        if self.told && skeleton {
            PENDING.with(|p| p.set(Some(span.span_context().span_id())));
            return;
        }
        let Some(mut data) = span.exported_data() else {
            return; // not recording
        };
        // Messaging spans already carry the id as their conversation id; only the others get it.
        let has_id = data
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == CONVERSATION_ID);
        match (has_id, cx.correlation_value()) {
            // The skeleton gives its span the conversation id once started (no sampling input):
            // the start line has it now.
            (false, Some(id)) if skeleton => {
                data.attributes.push(KeyValue::new(CONVERSATION_ID, id));
            }
            (false, Some(id)) => {
                let kv = KeyValue::new(CORRELATION_ATTRIBUTE, id);
                opentelemetry::trace::Span::set_attribute(span, kv.clone());
                data.attributes.push(kv);
            }
            _ => {}
        }
        // The copy's attributes are moved, not cloned: the kept ones into the record, the rest
        // dropped here with the copy's `Vec`, not on the writer's thread.
        let kept = (data.attributes.drain(..)).filter(|kv| kept_at_start(kv.key.as_str()));
        let started = Started {
            trace_id: data.span_context.trace_id(),
            span_id: data.span_context.span_id(),
            parent: data.parent_span_id,
            sampled: data.span_context.is_sampled(),
            kind: data.span_kind,
            start: data.start_time,
            name: InlineName::new(&data.name),
            attributes: kept.collect(),
            links: std::mem::take(&mut data.links.links),
        };
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
    /// Start records of spans still open after their batch, held back up to [`HOLD`]: a span
    /// that ends meanwhile gets its end line only.
    held: Held,
    /// Lines lost to write errors since the last successful write.
    write_failures: Option<Drops>,
}

/// How long a start record waits for its span's end before its line is written: a span that
/// ends sooner (most messaging spans: a send awaiting its broker's ack, a handler) costs one line.
/// About the queue's own interval, so an open span's start line is at most ~0.4 s late.
const HOLD: Duration = Duration::from_millis(200);

fn span_id(id: SpanId) -> u64 {
    u64::from_be_bytes(id.to_bytes())
}

/// Whether a start record's span does not end in its batch (`ended`: the batch's ends, sorted).
fn still_open(ended: &[u64], start: &Started) -> bool {
    ended.binary_search(&span_id(start.span_id)).is_err()
}

impl LineWriter {
    fn render_start(&mut self, s: &Started) {
        let view = SpanView {
            trace_id: s.trace_id,
            span_id: s.span_id,
            sampled: s.sampled,
            parent: s.parent,
            name: s.name.as_str(),
            kind: &s.kind,
            start: s.start,
            end: None,
            attributes: &s.attributes,
            links: &s.links,
        };
        line::write(&mut self.buf, &self.service_field, &view, LineKind::Start);
    }

    fn render_end(&mut self, s: &SpanData) {
        let (out, service) = (&mut self.buf, &self.service_field[..]);
        let view = SpanView {
            trace_id: s.span_context.trace_id(),
            span_id: s.span_context.span_id(),
            sampled: s.span_context.is_sampled(),
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

    /// Renders the held start records that are due (or all of them); returns how many.
    fn render_held(&mut self, all: bool) -> u64 {
        let cutoff = SystemTime::now()
            .checked_sub(HOLD)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut n = 0;
        while let Some(s) = self.held.pop_due(cutoff, all) {
            self.render_start(&s);
            n += 1;
        }
        n
    }

    /// Writes the buffer (`lines` lines) out.
    fn write_out(&mut self, lines: u64) -> Done {
        if self.buf.is_empty() {
            return Done::default();
        }
        let ok = self.out.write_all(&self.buf).is_ok();
        self.buf.clear();
        if ok {
            if let Some(failures) = self.write_failures.take() {
                self.gap(failures, "write_failed");
            }
        } else {
            let now = SystemTime::now();
            self.failed(Drops {
                count: lines,
                first: now,
                last: now,
            });
        }
        Done::all(lines, ok)
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

    /// Renders a batch and writes it at once. A span whose end comes within [`HOLD`] of its
    /// start — in this batch or a later one — gets its `span_end` line only (which carries its
    /// start as `timestamp − duration_ms`; the start counts as written, folded): a start line is
    /// written for every span still open after that — what `lost` needs — and short spans cost
    /// one line, not two.
    fn write(&mut self, batch: &mut Vec<Record>) -> Done {
        // Most spans end in their start's batch: those are folded by a sorted list of this
        // batch's ends, and only the rest wait in the map (a record is 352 bytes to move).
        self.ended.clear();
        self.ended.extend(batch.iter().filter_map(|r| match r {
            Record::End(s) => Some(span_id(s.span_context.span_id())),
            Record::Start(_) => None,
        }));
        self.ended.sort_unstable();
        // Records are read where they lie (368 bytes each in the queue); only the start
        // records still open afterwards are moved, into the held ones.
        let (mut folded, mut lines, mut open) = (0, 0, false);
        for record in batch.iter() {
            match record {
                Record::Start(s) if still_open(&self.ended, s) => open = true,
                Record::Start(_) => folded += 1,
                Record::End(s) => {
                    folded += u64::from(self.held.fold(span_id(s.span_context.span_id())));
                    lines += Self::weight(record);
                    self.render_end(s);
                }
            }
        }
        if open {
            let ended = &self.ended;
            batch.retain(|r| match r {
                Record::Start(s) => still_open(ended, s),
                Record::End(_) => false,
            });
            for record in batch.drain(..) {
                if let Record::Start(s) = record {
                    self.held.insert(span_id(s.span_id), s);
                }
            }
        }
        batch.clear();
        lines += self.render_held(false);
        Done::all(folded, true) + self.write_out(lines)
    }

    fn dropped(&mut self, drops: Drops) {
        self.gap(drops, "queue_full");
    }

    fn tick(&mut self) -> Done {
        let held = self.render_held(false);
        let done = self.write_out(held);
        let _ = self.out.flush();
        done
    }

    fn flush(&mut self) -> Done {
        let held = self.render_held(true);
        let done = self.write_out(held);
        let _ = self.out.flush();
        done
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

#[cfg(test)]
mod tests {
    use super::held::MAX_HELD;
    use super::*;
    use opentelemetry::trace::{SpanContext, TraceFlags, TraceState};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    /// The file a test's writer writes to, read back.
    struct Out(std::path::PathBuf);

    impl Out {
        fn text(&self) -> String {
            std::fs::read_to_string(&self.0).unwrap()
        }

        fn lines(&self, event: &str) -> usize {
            let needle = format!("\"event\":\"{event}\"");
            self.text().lines().filter(|l| l.contains(&needle)).count()
        }
    }

    impl Drop for Out {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn writer(name: &str) -> (LineWriter, Out) {
        let path = std::env::temp_dir().join(format!(
            "tracewire-held-{name}-{}.jsonl",
            std::process::id()
        ));
        let sink = LineWriter {
            service_field: b"\"service\":\"t\"".to_vec(),
            out: Box::new(std::fs::File::create(&path).unwrap()),
            buf: Vec::new(),
            ended: Vec::new(),
            held: Held::default(),
            write_failures: None,
        };
        (sink, Out(path))
    }

    fn context(n: u64) -> SpanContext {
        let trace = TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_0000);
        let flags = TraceFlags::SAMPLED;
        SpanContext::new(trace, SpanId::from(n), flags, false, TraceState::NONE)
    }

    fn start(n: u64, at: SystemTime) -> Record {
        Record::Start(Started {
            trace_id: context(n).trace_id(),
            span_id: SpanId::from(n),
            parent: SpanId::INVALID,
            sampled: true,
            kind: SpanKind::Producer,
            start: at,
            name: InlineName::new("send orders"),
            attributes: SmallVec::new(),
            links: Vec::new(),
        })
    }

    fn end(n: u64, started: SystemTime) -> Record {
        Record::End(SpanData {
            span_context: context(n),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Producer,
            name: "send orders".into(),
            start_time: started,
            end_time: started + Duration::from_millis(3),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: opentelemetry::trace::Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("t").build(),
        })
    }

    #[test]
    fn a_start_waits_for_its_end_in_a_later_batch_and_costs_no_line() {
        let (mut sink, out) = writer("fold");
        // Far enough ahead that no clock makes it due while the test runs.
        let later = SystemTime::now() + Duration::from_secs(3600);
        assert_eq!(sink.write(&mut vec![start(1, later)]), Done::default());
        assert_eq!(sink.tick(), Done::default(), "held, not written");
        let done = sink.write(&mut vec![end(1, later)]);
        assert_eq!(
            done,
            Done::all(2, true),
            "the end line, and its start folded"
        );
        assert_eq!((out.lines("span_start"), out.lines("span_end")), (0, 1));
        assert_eq!(sink.held.len(), 0);
    }

    #[test]
    fn a_start_still_open_after_the_hold_is_written_and_a_flush_writes_every_held_one() {
        let (mut sink, out) = writer("overdue");
        let long_ago = SystemTime::now() - HOLD - Duration::from_secs(1);
        let later = SystemTime::now() + Duration::from_secs(3600);
        assert_eq!(
            sink.write(&mut vec![start(1, long_ago), start(2, later)]),
            Done::all(1, true)
        );
        assert_eq!(out.lines("span_start"), 1, "the overdue one at once");
        assert_eq!(sink.flush(), Done::all(1, true));
        assert_eq!(
            out.lines("span_start"),
            2,
            "a flush writes the held one too"
        );
        assert_eq!(sink.write(&mut vec![end(2, later)]), Done::all(1, true));
        assert_eq!(out.lines("span_end"), 1);
    }

    #[test]
    fn held_starts_are_bounded_the_oldest_written_first() {
        let (mut sink, out) = writer("bounded");
        let later = SystemTime::now() + Duration::from_secs(3600);
        let mut batch: Vec<Record> = (1..=MAX_HELD as u64 + 10)
            .map(|n| start(n, later))
            .collect();
        assert_eq!(sink.write(&mut batch), Done::all(10, true));
        assert_eq!((sink.held.len(), out.lines("span_start")), (MAX_HELD, 10));
        let text = out.text();
        let written = |n: u64| text.contains(&format!("\"span_id\":\"{n:016x}\""));
        assert!((1..=10).all(written), "the ten oldest were written");
        assert!(!written(11));
        // Ending every held span now writes end lines only.
        let mut ends: Vec<Record> = (11..=MAX_HELD as u64 + 10).map(|n| end(n, later)).collect();
        let n = MAX_HELD as u64;
        assert_eq!(sink.write(&mut ends), Done::all(2 * n, true));
        assert_eq!((sink.held.len(), out.lines("span_start")), (0, 10));
    }
}
