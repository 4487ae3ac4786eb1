//! What `analyze` reports: the types of the summary of all traces and of one trace's report
//! (services, timeline, critical path, errors and their root cause, time in queue, business
//! context, service edges). [`analysis`](crate::analysis) computes them; [`render`](crate::render)
//! and [`timeline`](crate::timeline) show them.

use crate::model::Kind;
use serde::Serialize;

/// The summary of every trace.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// How many traces.
    pub traces: usize,
    /// Traces with at least one failed span.
    pub error_traces: usize,
    /// The slowest traces.
    pub slowest: Vec<TraceLine>,
    /// Traces where a message was sent and never processed, or a span never ended.
    pub broken: Vec<TraceLine>,
    /// Traces that look broken only where a span-log gap may have hidden the missing line.
    pub uncertain: Vec<TraceLine>,
    /// Span-log gaps: lines services lost (see `docs/span-log.md`).
    pub log_gaps: Vec<String>,
    /// Messages a consumer handled more than once, per hop.
    pub duplicates: Vec<crate::collect::Duplicate>,
    /// Flows of linked traces (a root trace and the traces downstream of it), largest first.
    pub flows: Vec<Vec<String>>,
    /// Per destination: messages never settled, and redeliveries.
    pub settlement: Vec<Settlement>,
}

/// One trace in a summary.
#[derive(Debug, Serialize)]
pub struct TraceLine {
    /// Trace id.
    pub trace_id: String,
    /// Its first span.
    pub root: String,
    /// Service of the first span.
    pub service: String,
    /// Duration (ms).
    pub duration_ms: f64,
    /// Spans.
    pub spans: u32,
    /// Failed spans.
    pub errors: u32,
    /// What is wrong, for broken traces.
    pub problem: Option<String>,
}

/// The report of one trace.
#[derive(Debug, Serialize)]
pub struct TraceReport {
    /// Trace id.
    pub trace_id: String,
    /// The traces of its flow (itself, and those linked to and from it), sorted.
    pub traces: Vec<String>,
    /// Duration (ms), first start to last end.
    pub duration_ms: f64,
    /// Services in order of first appearance.
    pub services: Vec<String>,
    /// Every span, by start time.
    pub timeline: Vec<TimelineRow>,
    /// The critical path, segment by segment.
    pub critical_path: Vec<Segment>,
    /// Failed spans.
    pub errors: Vec<ErrorRow>,
    /// The deepest failing span: where the failure started.
    pub root_cause: Option<ErrorRow>,
    /// Busy time per service (ms), slowest first.
    pub service_time_ms: Vec<(String, f64)>,
    /// Time between a send and its processing.
    pub queue_gaps: Vec<QueueGap>,
    /// Business context: correlation ids and business attributes.
    pub context: Vec<(String, String)>,
    /// Messages of this trace sent and never processed.
    pub lost: Vec<String>,
    /// Spans of this trace that started and never ended.
    pub never_ended: Vec<String>,
    /// What looks lost or never ended but falls in a span-log gap: maybe only its line is missing.
    pub uncertain: Vec<String>,
    /// Span-log gaps during this trace, of its services.
    pub log_gaps: Vec<String>,
}

/// One span on the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineRow {
    /// Span id (hex).
    pub span_id: String,
    /// Parent span id (hex).
    pub parent_span_id: Option<String>,
    /// Nesting depth.
    pub depth: usize,
    /// Service.
    pub service: String,
    /// Span name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// Offset from the trace start (ms).
    pub offset_ms: f64,
    /// Duration (ms); none while open.
    pub duration_ms: Option<f64>,
    /// Failed.
    pub error: bool,
    /// `error.type`.
    pub error_code: Option<String>,
    /// Links (hex span ids).
    pub links: Vec<String>,
    /// Its trace (a flow has several).
    pub trace_id: String,
    /// On the critical path.
    pub critical: bool,
    /// For a message handled after a send of this flow: when the send ended (ms from the
    /// start) — the time in queue is from there to this row's start.
    pub queued_from_ms: Option<f64>,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// Every attribute, as text.
    pub attributes: Vec<(String, String)>,
    /// Span events: (ms from the start, name, attributes).
    pub events: Vec<EventRow>,
}

/// A span event on the timeline: (ms from the start, name, attributes as text).
pub type EventRow = (f64, String, Vec<(String, String)>);

/// One segment of the critical path.
#[derive(Debug, Serialize)]
pub struct Segment {
    /// What the time was spent on.
    pub what: String,
    /// Service (empty for time in a queue).
    pub service: String,
    /// Duration (ms).
    pub duration_ms: f64,
    /// Share of the trace's duration (0–1).
    pub share: f64,
}

/// A failed span.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorRow {
    /// Service.
    pub service: String,
    /// Span name.
    pub span: String,
    /// `error.type`.
    pub error_code: Option<String>,
    /// Description.
    pub message: Option<String>,
    /// Depth in the trace.
    pub depth: usize,
}

/// Time between a send and its processing.
#[derive(Debug, Serialize)]
pub struct QueueGap {
    /// Destination.
    pub destination: String,
    /// From service.
    pub from: String,
    /// To service.
    pub to: String,
    /// Send start to process start (ms).
    pub queue_ms: f64,
}

/// Messages of one destination that were not settled cleanly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settlement {
    /// The destination (its template when it has one).
    pub destination: String,
    /// Message spans that ended unsettled: dropped without ack, nack or commit.
    pub unsettled: u64,
    /// Deliveries the broker marked as redelivered.
    pub redelivered: u64,
}

/// One edge of the service graph: messages from one service to another through a destination.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    /// The producing service.
    pub from: String,
    /// The consuming service.
    pub to: String,
    /// `messaging.system` (`messaging` when unknown).
    pub system: String,
    /// The destination.
    pub destination: String,
    /// How many messages.
    pub messages: u64,
}
