//! One streaming pass over the input: per-trace aggregates (small), the hops between services,
//! messages sent but never processed, spans started but never ended — and, for one selected
//! trace, its full spans. Memory grows with the number of traces and producer spans, not with
//! the number of lines.

use crate::model::{Event, Kind, LogGap, Span, SpanEvent};
use crate::report::{Edge, Settlement};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// A trace id held as a number (16 bytes instead of a 32-character string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceKey(pub u128);

impl TraceKey {
    fn of(hex: &str) -> TraceKey {
        TraceKey(u128::from_str_radix(hex, 16).unwrap_or(0))
    }
}

impl fmt::Display for TraceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Per-trace summary.
#[derive(Debug, Clone)]
pub struct TraceAgg {
    /// Earliest start (µs).
    pub start_us: i64,
    /// Latest end (µs).
    pub end_us: i64,
    /// Spans seen (ended).
    pub spans: u32,
    /// Failed spans.
    pub errors: u32,
    /// Name of the earliest span (usually the root).
    pub first_name: String,
    /// Service of the earliest span.
    pub first_service: u32,
}

/// A message sent: a producer span.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Trace id.
    pub trace_id: TraceKey,
    /// Producing service.
    pub service: u32,
    /// Span name.
    pub name: String,
    /// `messaging.system`.
    pub system: Option<String>,
    /// Destination.
    pub destination: Option<String>,
    /// `messaging.destination.template`, when the destination has one.
    pub template: Option<String>,
    /// When it was sent (µs).
    pub at_us: i64,
    /// Correlation id.
    pub correlation_id: Option<String>,
}

impl Sent {
    /// `payment → fulfillment.requested (nats)`: who sent it where.
    pub fn hop(&self, c: &Collector) -> String {
        format!(
            "{} → {} ({})",
            c.service(self.service),
            self.destination.as_deref().unwrap_or(&self.name),
            self.system.as_deref().unwrap_or("messaging")
        )
    }
}

/// A span that started and (so far) never ended.
#[derive(Debug, Clone)]
pub struct Opened {
    /// Trace id.
    pub trace_id: TraceKey,
    /// Service.
    pub service: u32,
    /// Span name.
    pub name: String,
    /// Start (µs).
    pub start_us: i64,
    /// A broker client's or HTTP stack's own span (see [`Span::infrastructure`]).
    pub infrastructure: bool,
}

/// Everything one pass collects.
#[derive(Debug, Default)]
pub struct Collector {
    /// The traces whose full spans are kept.
    filter: HashSet<String>,
    /// The selected trace's spans by span id.
    selected: HashMap<u64, Span>,
    /// Per-trace summaries.
    traces: HashMap<TraceKey, TraceAgg>,
    /// Producer spans no consumer has continued yet, by span id.
    sent: HashMap<u64, Sent>,
    /// Producer span ids that a consumer span continued (as parent or link).
    consumed: HashSet<u64>,
    /// Consumers seen before their producer: producer span id → (consumer service, its start).
    early: HashMap<u64, (u32, i64)>,
    /// Single-message consumer spans by (producer span id, operation, consumer service): how
    /// many times that service handled the message.
    handled: HashMap<(u64, Operation, u32), u32>,
    /// Per hop (consumer service, system, destination): messages handled more than once, and
    /// the extra deliveries.
    duplicates: HashMap<(u32, String, String), (u64, u64)>,
    /// Time in queue (µs) of every message seen sent and consumed.
    queue_us: Vec<i64>,
    /// Failed spans by error code (`error.type`, else `error`).
    errors: HashMap<String, u64>,
    /// With [`Collector::track_paths`]: per trace, its services and when each first appeared.
    paths: Option<HashMap<TraceKey, Vec<(u32, i64)>>>,
    /// Service edges: (from, to, system, destination) → messages.
    edges: HashMap<(u32, u32, String, String), u64>,
    /// Per destination: message spans that ended unsettled, and redeliveries.
    settlement: HashMap<String, (u64, u64)>,
    /// Spans started and not (yet) ended.
    open: HashMap<u64, Opened>,
    /// Service names, interned.
    services: Vec<String>,
    service_ids: HashMap<String, u32>,
    /// Latest timestamp seen (µs).
    latest_us: i64,
    /// Span-log gaps, with the service interned.
    gaps: Vec<(u32, LogGap)>,
    /// Span events of the selected traces, by span id.
    events: HashMap<u64, Vec<SpanEvent>>,
    /// Traces whose spans link to spans of a trace: the traces downstream of it.
    downstream: HashMap<TraceKey, Vec<TraceKey>>,
    /// Traces a trace's spans link to: its upstream traces.
    upstream: HashMap<TraceKey, Vec<TraceKey>>,
}

/// `start` and what `graph` leads to from it in at most `depth` hops.
fn reach(graph: &HashMap<TraceKey, Vec<TraceKey>>, start: TraceKey, depth: usize) -> Vec<TraceKey> {
    let (mut seen, mut frontier) = (vec![start], vec![start]);
    for _ in 0..depth {
        let next: Vec<TraceKey> = (frontier.iter())
            .flat_map(|t| graph.get(t).into_iter().flatten())
            .copied()
            .filter(|t| !seen.contains(t))
            .collect();
        next.iter().for_each(|t| add_once(&mut seen, *t));
        frontier = next;
    }
    seen
}

fn add_once(list: &mut Vec<TraceKey>, trace: TraceKey) {
    if !list.contains(&trace) {
        list.push(trace);
    }
}

/// The operation a consumer span performs, as far as telling duplicates apart needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Operation {
    Process,
    Receive,
    Other,
}

impl Operation {
    fn of(span: &Span) -> Operation {
        match span.operation.as_deref() {
            Some("process") | None if span.kind == Kind::Consumer => Operation::Process,
            Some("receive") => Operation::Receive,
            _ => Operation::Other,
        }
    }
}

/// Messages one consumer handled more than once: the same message (the same producer span
/// continued) processed again by the same service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Duplicate {
    /// The consumer's service.
    pub consumer: String,
    /// `messaging.system`.
    pub system: String,
    /// The destination it consumed from.
    pub destination: String,
    /// Messages handled more than once.
    pub messages: u64,
    /// Deliveries beyond the first.
    pub extra: u64,
}

/// Something missing from the logs: certainly, or possibly hidden by a span-log gap.
#[derive(Debug, Clone, Copy)]
pub enum Missing<'a, T> {
    /// Nothing explains its absence.
    Certain(&'a T),
    /// It falls in a gap of the service that should have logged it: the line may have been
    /// dropped, not the message.
    Uncertain(&'a T, &'a LogGap),
}

impl<'a, T> Missing<'a, T> {
    /// What is missing.
    pub fn item(&self) -> &'a T {
        match self {
            Missing::Certain(t) | Missing::Uncertain(t, _) => t,
        }
    }

    /// What is certainly missing, or `None`.
    pub fn certain(self) -> Option<&'a T> {
        match self {
            Missing::Certain(t) => Some(t),
            Missing::Uncertain(..) => None,
        }
    }

    /// What may be hidden by a gap, and the gap, or `None`.
    pub fn uncertain(self) -> Option<(&'a T, &'a LogGap)> {
        match self {
            Missing::Certain(_) => None,
            Missing::Uncertain(t, g) => Some((t, g)),
        }
    }

    /// The gap that may hide it.
    pub fn gap(&self) -> Option<&'a LogGap> {
        match self {
            Missing::Certain(_) => None,
            Missing::Uncertain(_, g) => Some(g),
        }
    }
}

impl Collector {
    /// Collects everything; keeps the full spans of `trace_id` when given.
    pub fn new(trace_id: Option<&str>) -> Self {
        Collector {
            filter: trace_id.map(str::to_ascii_lowercase).into_iter().collect(),
            ..Default::default()
        }
    }

    /// Collects everything; keeps the full spans of every trace of `traces` (a flow).
    pub fn for_flow(traces: &[String]) -> Self {
        Collector {
            filter: traces.iter().map(|t| t.to_ascii_lowercase()).collect(),
            ..Default::default()
        }
    }

    /// The traces whose spans are kept in full (lower-case hex).
    pub fn selected_traces(&self) -> &HashSet<String> {
        &self.filter
    }

    /// Takes an event of a span of a selected trace.
    pub fn add_event(&mut self, event: SpanEvent) {
        self.events.entry(event.span_id).or_default().push(event);
    }

    /// The events of a selected trace's span, in the order written.
    pub fn events_of(&self, span_id: u64) -> &[SpanEvent] {
        self.events.get(&span_id).map_or(&[], Vec::as_slice)
    }

    /// Also keeps, per trace, the services it crossed in order (for `check --path`; a few
    /// words of memory per trace).
    pub fn track_paths(mut self) -> Self {
        self.paths = Some(HashMap::new());
        self
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.service_ids.get(name) {
            return id;
        }
        let id = self.services.len() as u32;
        self.services.push(name.to_owned());
        self.service_ids.insert(name.to_owned(), id);
        id
    }

    /// Takes one span line.
    pub fn add(&mut self, event: Event, span: Span) {
        let service = self.intern(&span.service);
        let trace = TraceKey::of(&span.trace_id);
        self.latest_us = self.latest_us.max(span.end_us.unwrap_or(span.start_us));
        if span.kind == Kind::Producer {
            let sent = || Sent {
                trace_id: trace,
                service,
                name: span.name.clone(),
                system: span.system.clone(),
                destination: span.destination.clone(),
                template: span.template.clone(),
                at_us: span.start_us,
                correlation_id: span.correlation_id.clone(),
            };
            if let Some((consumer, start_us)) = self.early.remove(&span.span_id) {
                let sent = sent();
                self.queue_us.push(start_us - sent.at_us);
                self.edge(&sent, consumer);
            } else if !self.consumed.contains(&span.span_id) {
                self.sent.entry(span.span_id).or_insert_with(sent);
            }
        }
        if matches!(span.kind, Kind::Consumer | Kind::Client)
            && (span.system.is_some() || span.kind == Kind::Consumer)
        {
            // The one message a span handles: its link (Link and Auto topologies, or the
            // parent linked too), else its parent (Parent topology). Batch spans handle many.
            let message = match span.links.as_slice() {
                [] => span.parent,
                [one] => Some(*one),
                _ => None,
            };
            if let (Some(message), false, Event::End) = (message, span.batch, event) {
                self.handled_by(message, service, &span);
            }
            for producer in span.parent.iter().chain(&span.links) {
                if !self.consumed.insert(*producer) {
                    continue;
                }
                match self.sent.remove(producer) {
                    Some(sent) => {
                        self.queue_us.push(span.start_us - sent.at_us);
                        self.edge(&sent, service);
                    }
                    None => {
                        self.early.insert(*producer, (service, span.start_us));
                    }
                }
            }
        }
        if let Some(paths) = &mut self.paths {
            let path = paths.entry(trace).or_default();
            match path.iter_mut().find(|(s, _)| *s == service) {
                Some((_, first)) => *first = (*first).min(span.start_us),
                None => path.push((service, span.start_us)),
            }
        }
        match event {
            Event::Start => {
                self.traces.entry(trace).or_insert_with(|| TraceAgg {
                    start_us: span.start_us,
                    end_us: span.start_us,
                    spans: 0,
                    errors: 0,
                    first_name: span.name.clone(),
                    first_service: service,
                });
                self.open.entry(span.span_id).or_insert_with(|| Opened {
                    trace_id: trace,
                    service,
                    name: span.name.clone(),
                    start_us: span.start_us,
                    infrastructure: span.infrastructure,
                });
            }
            Event::End => {
                self.open.remove(&span.span_id);
                if span.unsettled || span.redelivered {
                    let shown = span.template.as_ref().or(span.destination.as_ref());
                    let key = shown.cloned().unwrap_or_else(|| span.name.clone());
                    let entry = self.settlement.entry(key).or_default();
                    entry.0 += u64::from(span.unsettled);
                    entry.1 += u64::from(span.redelivered);
                }
                let agg = self.traces.entry(trace).or_insert_with(|| TraceAgg {
                    start_us: span.start_us,
                    end_us: span.end_us.unwrap_or(span.start_us),
                    spans: 0,
                    errors: 0,
                    first_name: span.name.clone(),
                    first_service: service,
                });
                if span.start_us < agg.start_us {
                    agg.start_us = span.start_us;
                    agg.first_name.clone_from(&span.name);
                    agg.first_service = service;
                }
                agg.end_us = agg.end_us.max(span.end_us.unwrap_or(span.start_us));
                agg.spans += 1;
                agg.errors += u32::from(span.error);
                if span.error {
                    let code = span.error_code.as_deref().unwrap_or("error");
                    match self.errors.get_mut(code) {
                        Some(n) => *n += 1,
                        None => {
                            self.errors.insert(code.to_owned(), 1);
                        }
                    }
                }
            }
        }
        for linked in span.link_traces.iter().map(|t| TraceKey(*t)) {
            if linked != trace && linked.0 != 0 {
                // A span of `trace` links to a span of `linked`: `trace` is downstream.
                add_once(self.downstream.entry(linked).or_default(), trace);
                add_once(self.upstream.entry(trace).or_default(), linked);
            }
        }
        if self.filter.contains(span.trace_id.as_str()) {
            match (event, self.selected.get_mut(&span.span_id)) {
                (Event::Start, Some(_)) => {}
                _ => {
                    self.selected.insert(span.span_id, span);
                }
            }
        }
    }

    /// Counts a single-message consumer span that ended; the same service handling the same
    /// message (the same producer span continued) again is a duplicate.
    fn handled_by(&mut self, producer: u64, service: u32, span: &Span) {
        // Keyed by service too: another consumer (group) handling it is fan-out, not a repeat.
        let times = (self.handled)
            .entry((producer, Operation::of(span), service))
            .or_insert(0);
        *times += 1;
        if *times < 2 {
            return;
        }
        let first_repeat = *times == 2;
        let destination = (span.template.clone())
            .or_else(|| span.destination.clone())
            .unwrap_or_else(|| span.name.clone());
        let system = span.system.clone().unwrap_or_else(|| "messaging".into());
        let d = self
            .duplicates
            .entry((service, system, destination))
            .or_default();
        d.0 += u64::from(first_repeat);
        d.1 += 1;
    }

    /// Messages handled more than once, per hop (consumer and destination), most first.
    pub fn duplicates(&self) -> Vec<Duplicate> {
        let mut out: Vec<Duplicate> = (self.duplicates.iter())
            .map(
                |((service, system, destination), (messages, extra))| Duplicate {
                    consumer: self.services[*service as usize].clone(),
                    system: system.clone(),
                    destination: destination.clone(),
                    messages: *messages,
                    extra: *extra,
                },
            )
            .collect();
        out.sort_by(|a, b| {
            b.extra
                .cmp(&a.extra)
                .then(a.destination.cmp(&b.destination))
        });
        out
    }

    /// Failed spans per error code (`error.type`; `error` without one), sorted by code.
    pub fn error_codes(&self) -> Vec<(String, u64)> {
        let mut out: Vec<_> = self.errors.iter().map(|(k, v)| (k.clone(), *v)).collect();
        out.sort();
        out
    }

    /// Time in queue (µs) of every message seen both sent and consumed, in no order.
    pub fn queue_times_us(&self) -> &[i64] {
        &self.queue_us
    }

    /// With [`track_paths`](Self::track_paths): each trace's services, by first appearance.
    pub fn paths(&self) -> impl Iterator<Item = (TraceKey, Vec<&str>)> + '_ {
        self.paths.iter().flatten().map(|(trace, path)| {
            let mut path = path.clone();
            path.sort_by_key(|(_, first)| *first);
            let names = path.iter().map(|(s, _)| self.service(*s)).collect();
            (*trace, names)
        })
    }

    fn edge(&mut self, sent: &Sent, consumer: u32) {
        let key = (
            sent.service,
            consumer,
            sent.system.clone().unwrap_or_else(|| "messaging".into()),
            // Templated destinations (per-user subjects) collapse to one edge.
            (sent.template.clone().or_else(|| sent.destination.clone())).unwrap_or_default(),
        );
        *self.edges.entry(key).or_default() += 1;
    }

    /// Takes one span-log gap line.
    pub fn add_gap(&mut self, gap: LogGap) {
        let service = self.intern(&gap.service);
        self.gaps.push((service, gap));
    }

    /// The flow of `trace`: itself, the traces upstream of it (the producers its consumers link
    /// to, and theirs) and downstream (batch or linked consumers, and theirs), `depth` link hops
    /// each way, sorted. Upstream stays upstream: a digest's other orders are not pulled in.
    pub fn flow(&self, trace: &str, depth: usize) -> Vec<String> {
        let start = TraceKey::of(&trace.to_ascii_lowercase());
        let mut seen = reach(&self.upstream, start, depth);
        for t in reach(&self.downstream, start, depth) {
            add_once(&mut seen, t);
        }
        let mut out: Vec<String> = seen.iter().map(|t| t.to_string()).collect();
        out.sort();
        out
    }

    /// Flows of more than one trace: each trace no link leads up from, and the traces
    /// downstream of it (`depth` hops), largest first.
    pub fn linked_flows(&self, depth: usize) -> Vec<Vec<String>> {
        self.flows_from(self.downstream.keys(), depth)
    }

    /// Every flow: each trace no link leads up from, with the traces downstream of it (`depth`
    /// hops), the flow's root first; largest flows first.
    pub fn flows(&self, depth: usize) -> Vec<Vec<String>> {
        self.flows_from(self.traces.keys(), depth)
    }

    fn flows_from<'a>(
        &self,
        candidates: impl Iterator<Item = &'a TraceKey>,
        depth: usize,
    ) -> Vec<Vec<String>> {
        // A root has no upstream trace in the input (one in logs not read does not count).
        let has_upstream = |t: &TraceKey| {
            (self.upstream.get(t)).is_some_and(|up| up.iter().any(|u| self.traces.contains_key(u)))
        };
        let mut roots: Vec<&TraceKey> = candidates.filter(|t| !has_upstream(t)).collect();
        roots.sort();
        let mut flows: Vec<Vec<String>> = (roots.into_iter())
            .map(|root| {
                let flow = reach(&self.downstream, *root, depth);
                flow.iter().map(|t| t.to_string()).collect()
            })
            .collect();
        flows.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        flows
    }

    /// Span-log gaps, oldest first.
    pub fn gaps(&self) -> Vec<&LogGap> {
        let mut gaps: Vec<&LogGap> = self.gaps.iter().map(|(_, g)| g).collect();
        gaps.sort_by_key(|g| g.first_us);
        gaps
    }

    /// Producer spans no consumer continued, sent at least `grace_us` before the latest
    /// timestamp, and not in a span-log gap (see [`missing_messages`](Self::missing_messages)).
    pub fn lost(&self, grace_us: i64) -> Vec<&Sent> {
        let missing = self.missing_messages(grace_us).into_iter();
        missing.filter_map(Missing::certain).collect()
    }

    /// Producer spans no consumer continued, sent at least `grace_us` before the latest
    /// timestamp, oldest first: certainly lost, or uncertain when a service that consumes from
    /// that destination (any service, when none is known) lost span-log lines after the send.
    pub fn missing_messages(&self, grace_us: i64) -> Vec<Missing<'_, Sent>> {
        let mut sent: Vec<&Sent> = (self.sent.values())
            .filter(|s| s.at_us <= self.latest_us - grace_us)
            .collect();
        sent.sort_by_key(|s| s.at_us);
        sent.into_iter()
            .map(|s| {
                let shown = s.template.as_ref().or(s.destination.as_ref());
                let consumers: HashSet<u32> = (self.edges.keys())
                    .filter(|(_, _, _, d)| Some(d) == shown)
                    .map(|(_, to, _, _)| *to)
                    .collect();
                let gap = self.gaps.iter().find(|(service, g)| {
                    (consumers.is_empty() || consumers.contains(service)) && g.may_hide(s.at_us)
                });
                match gap {
                    Some((_, g)) => Missing::Uncertain(s, g),
                    None => Missing::Certain(s),
                }
            })
            .collect()
    }

    /// The application's spans started and never ended, oldest first: a broken trace — not
    /// counting those whose end may be in a span-log gap of their service.
    pub fn never_ended(&self) -> Vec<&Opened> {
        (self.missing_ends().into_iter())
            .filter_map(Missing::certain)
            .collect()
    }

    /// The application's spans started and never ended, oldest first: certain, or uncertain
    /// when their service lost span-log lines after they started.
    pub fn missing_ends(&self) -> Vec<Missing<'_, Opened>> {
        (self.still_open(false).into_iter())
            .map(|o| {
                let gap = (self.gaps.iter())
                    .find(|(service, g)| *service == o.service && g.may_hide(o.start_us));
                match gap {
                    Some((_, g)) => Missing::Uncertain(o, g),
                    None => Missing::Certain(o),
                }
            })
            .collect()
    }

    /// Infrastructure spans (a broker client's connection loop) still open, oldest first: not a
    /// broken trace, reported apart.
    pub fn infrastructure_open(&self) -> Vec<&Opened> {
        self.still_open(true)
    }

    fn still_open(&self, infrastructure: bool) -> Vec<&Opened> {
        let mut open: Vec<&Opened> = (self.open.values())
            .filter(|o| o.infrastructure == infrastructure)
            .collect();
        open.sort_by_key(|o| o.start_us);
        open
    }

    /// Service dependency edges, sorted.
    pub fn edges(&self) -> Vec<Edge> {
        let name = |i: u32| self.services[i as usize].clone();
        let mut edges: Vec<_> = (self.edges.iter())
            .map(|((from, to, system, destination), n)| Edge {
                from: name(*from),
                to: name(*to),
                system: system.clone(),
                destination: destination.clone(),
                messages: *n,
            })
            .collect();
        edges.sort();
        edges
    }

    /// Per destination (its template when it has one), the messages that were never settled
    /// (dropped without ack or commit) and the deliveries the broker said came again, sorted.
    pub fn settlement(&self) -> Vec<Settlement> {
        let mut out: Vec<Settlement> = (self.settlement.iter())
            .map(|(destination, (unsettled, redelivered))| Settlement {
                destination: destination.clone(),
                unsettled: *unsettled,
                redelivered: *redelivered,
            })
            .collect();
        out.sort_by(|a, b| a.destination.cmp(&b.destination));
        out
    }

    /// The name of service `id` (as [`Sent::service`] and [`Opened::service`] give it).
    pub fn service(&self, id: u32) -> &str {
        &self.services[id as usize]
    }

    /// The index entry of a flow (its traces, root first), with [`track_paths`](Self::track_paths)
    /// for its services.
    pub fn flow_entry(&self, flow: &[String], grace_us: i64) -> crate::html::FlowEntry {
        let keys: Vec<TraceKey> = flow.iter().map(|t| TraceKey::of(t)).collect();
        let aggs: Vec<&TraceAgg> = keys.iter().filter_map(|k| self.traces.get(k)).collect();
        let start = aggs.iter().map(|a| a.start_us).min().unwrap_or(0);
        let end = aggs.iter().map(|a| a.end_us).max().unwrap_or(start);
        let mut services: Vec<(u32, i64)> = Vec::new();
        for path in keys.iter().filter_map(|k| self.paths.as_ref()?.get(k)) {
            for (s, at) in path {
                match services.iter_mut().find(|(x, _)| x == s) {
                    Some((_, first)) => *first = (*first).min(*at),
                    None => services.push((*s, *at)),
                }
            }
        }
        services.sort_by_key(|(_, at)| *at);
        let lost = (self.missing_messages(grace_us).iter())
            .filter(|m| keys.contains(&m.item().trace_id))
            .count()
            + (self.missing_ends().iter())
                .filter(|m| keys.contains(&m.item().trace_id))
                .count();
        crate::html::FlowEntry {
            root: flow.first().cloned().unwrap_or_default(),
            traces: flow.len(),
            duration_ms: (end - start) as f64 / 1000.0,
            services: services
                .iter()
                .map(|(s, _)| self.service(*s).to_owned())
                .collect(),
            errors: aggs.iter().map(|a| a.errors).sum(),
            lost,
        }
    }

    /// Per-trace summaries.
    pub fn traces(&self) -> &HashMap<TraceKey, TraceAgg> {
        &self.traces
    }

    /// The selected trace's spans by span id (empty without a `trace_id`).
    pub fn selected(&self) -> &HashMap<u64, Span> {
        &self.selected
    }
}
