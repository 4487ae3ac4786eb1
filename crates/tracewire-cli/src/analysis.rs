//! `analyze`: computes the summary of every trace and the report of one trace from what a pass
//! collected.

use crate::collect::{Collector, Missing, Opened, Sent, TraceKey};
use crate::model::{Kind, Span};
use crate::report::{ErrorRow, QueueGap, Segment, Summary, TimelineRow, TraceLine, TraceReport};
use std::collections::HashMap;

fn ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

/// How many link hops a flow follows by default, each way.
pub const FLOW_DEPTH: usize = 8;

/// Builds the summary (`grace_us`: how old an unprocessed message must be to count as lost).
pub fn summary(c: &Collector, grace_us: i64) -> Summary {
    let line = |id: &TraceKey, problem: Option<String>| {
        let t = c.traces().get(id);
        TraceLine {
            trace_id: id.to_string(),
            root: t.map(|t| t.first_name.clone()).unwrap_or_default(),
            service: t
                .map(|t| c.service(t.first_service).to_owned())
                .unwrap_or_default(),
            duration_ms: t.map_or(0.0, |t| ms(t.end_us - t.start_us)),
            spans: t.map_or(0, |t| t.spans),
            errors: t.map_or(0, |t| t.errors),
            problem,
        }
    };
    let mut by_duration: Vec<(&TraceKey, i64)> = c
        .traces()
        .iter()
        .map(|(id, t)| (id, t.end_us - t.start_us))
        .collect();
    by_duration.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let (mut broken, mut uncertain) = (HashMap::new(), HashMap::new());
    for m in c.missing_messages(grace_us) {
        let s = m.item();
        let dest = s.destination.clone().unwrap_or_else(|| s.name.clone());
        let problem = format!(
            "{} sent to {dest} ({}), never processed",
            c.service(s.service),
            s.system.as_deref().unwrap_or("messaging")
        );
        note(&mut broken, &mut uncertain, s.trace_id, m.gap(), problem);
    }
    for m in c.missing_ends() {
        let o = m.item();
        let problem = format!(
            "{} started {:?} and never ended",
            c.service(o.service),
            o.name
        );
        note(&mut broken, &mut uncertain, o.trace_id, m.gap(), problem);
    }
    uncertain.retain(|id, _| !broken.contains_key(id));
    let lines = |problems: HashMap<TraceKey, String>| {
        let mut lines: Vec<TraceLine> = (problems.into_iter())
            .map(|(id, p)| line(&id, Some(p)))
            .collect();
        lines.sort_by(|a, b| a.trace_id.cmp(&b.trace_id));
        lines
    };
    Summary {
        settlement: c.settlement(),
        traces: c.traces().len(),
        error_traces: c.traces().values().filter(|t| t.errors > 0).count(),
        slowest: by_duration
            .iter()
            .take(5)
            .map(|(id, _)| line(id, None))
            .collect(),
        broken: lines(broken),
        uncertain: lines(uncertain),
        log_gaps: c.gaps().iter().map(|g| g.describe()).collect(),
        duplicates: c.duplicates(),
        flows: c.linked_flows(FLOW_DEPTH),
    }
}

/// Files a trace's problem as broken, or as uncertain when a span-log gap may explain it.
fn note(
    broken: &mut HashMap<TraceKey, String>,
    uncertain: &mut HashMap<TraceKey, String>,
    trace: TraceKey,
    gap: Option<&crate::model::LogGap>,
    problem: String,
) {
    match gap {
        None => broken.entry(trace).or_insert(problem),
        Some(g) => (uncertain.entry(trace))
            .or_insert_with(|| format!("{problem}? maybe: {}", g.describe())),
    };
}

fn lost_line(c: &Collector, s: &Sent) -> String {
    format!("{} never processed", s.hop(c))
}

fn open_line(c: &Collector, o: &Opened) -> String {
    format!(
        "{}: {} started and never ended",
        c.service(o.service),
        o.name
    )
}

/// The spans of a flow with each span's parent taken across links where it has none in the
/// flow: a consumer that started a new trace (Link topology, another language's consumer) or a
/// batch hangs under the producer it links to — the latest-ending one of a batch's — so the
/// timeline, the critical path and the queue times follow the message from trace to trace.
/// A consumer whose parent is only its poll's root (OpenTelemetry Python's Kafka consumer: a
/// `recv` root, its `process` child linked to the producer) hangs under the producer too.
pub fn parents_across_links(spans: &HashMap<u64, Span>) -> HashMap<u64, Span> {
    let mut out = spans.clone();
    for s in out.values_mut() {
        let parent = s.parent.and_then(|p| spans.get(&p));
        if parent.is_some_and(|p| !is_poll_root(p, s, spans)) {
            continue;
        }
        let latest = (s.links.iter())
            .filter_map(|l| spans.get(l))
            .filter(|p| p.span_id != s.span_id)
            .max_by_key(|p| p.end_us.unwrap_or(p.start_us));
        if let Some(p) = latest {
            s.parent = Some(p.span_id);
        }
    }
    out
}

/// `parent` only wraps the poll that received `child`'s message: a consumer root with no link
/// of its own, while `child` links to a producer of the flow.
fn is_poll_root(parent: &Span, child: &Span, spans: &HashMap<u64, Span>) -> bool {
    let polls = matches!(parent.kind, Kind::Consumer | Kind::Client);
    let links_a_producer = (child.links.iter())
        .filter_map(|l| spans.get(l))
        .any(|p| p.kind == Kind::Producer);
    polls && parent.parent.is_none() && parent.links.is_empty() && links_a_producer
}

fn depth_of(spans: &HashMap<u64, Span>, id: u64) -> usize {
    let mut depth = 0;
    let mut cur = spans.get(&id).and_then(|s| s.parent);
    while let Some(p) = cur {
        if depth > spans.len() {
            break; // a cycle in hostile input
        }
        match spans.get(&p) {
            Some(s) => {
                depth += 1;
                cur = s.parent;
            }
            None => break,
        }
    }
    depth
}

/// Builds the report of the collector's selected trace; `None` when it has no span.
pub fn trace_report(c: &Collector, trace_id: &str, grace_us: i64) -> Option<TraceReport> {
    flow_report(c, c.selected(), trace_id, grace_us)
}

/// The report of the flow made of `selected` (spans the collector kept), named after
/// `trace_id`; `None` when it has no span.
pub fn flow_report(
    c: &Collector,
    selected: &HashMap<u64, Span>,
    trace_id: &str,
    grace_us: i64,
) -> Option<TraceReport> {
    if selected.is_empty() {
        return None;
    }
    let linked = parents_across_links(selected);
    let spans = &linked;
    let mut traces: Vec<String> = spans.values().map(|s| s.trace_id.clone()).collect();
    traces.sort();
    traces.dedup();
    let in_flow = |t: TraceKey| traces.binary_search(&t.to_string()).is_ok();
    let mut ordered: Vec<&Span> = spans.values().collect();
    ordered.sort_by_key(|s| (s.start_us, depth_of(spans, s.span_id)));
    let start = ordered[0].start_us;
    let end = spans
        .values()
        .map(|s| s.end_us.unwrap_or(s.start_us))
        .max()
        .unwrap_or(start);
    let total = (end - start).max(1);
    let mut services: Vec<String> = Vec::new();
    for s in &ordered {
        if !services.contains(&s.service) {
            services.push(s.service.clone());
        }
    }
    let (critical_path, critical_spans) = critical_path(spans, &ordered, total);
    let timeline: Vec<TimelineRow> = ordered
        .iter()
        .map(|s| TimelineRow {
            span_id: format!("{:016x}", s.span_id),
            parent_span_id: s
                .parent
                .filter(|p| spans.contains_key(p))
                .map(|p| format!("{p:016x}")),
            depth: depth_of(spans, s.span_id),
            service: s.service.clone(),
            name: s.name.clone(),
            kind: s.kind,
            offset_ms: ms(s.start_us - start),
            duration_ms: s.end_us.map(|e| ms(e - s.start_us)),
            error: s.error,
            error_code: s.error_code.clone(),
            links: s.links.iter().map(|l| format!("{l:016x}")).collect(),
            trace_id: s.trace_id.clone(),
            critical: critical_spans.contains(&s.span_id),
            queued_from_ms: (s.parent.and_then(|p| spans.get(&p)))
                .filter(|p| p.kind == Kind::Producer && s.kind != Kind::Producer)
                .map(|p| ms(p.end_us.unwrap_or(p.start_us).min(s.start_us) - start)),
            correlation_id: s.correlation_id.clone(),
            attributes: s.attributes.clone(),
            events: (c.events_of(s.span_id).iter())
                .map(|e| (ms(e.at_us - start), e.name.clone(), e.attributes.clone()))
                .collect(),
        })
        .collect();
    let errors: Vec<ErrorRow> = ordered
        .iter()
        .filter(|s| s.error)
        .map(|s| ErrorRow {
            service: s.service.clone(),
            span: s.name.clone(),
            error_code: s.error_code.clone(),
            message: s.error_message.clone(),
            depth: depth_of(spans, s.span_id),
        })
        .collect();
    let root_cause = errors.iter().max_by_key(|e| e.depth).cloned();
    let (mut lost, mut never_ended, mut uncertain) = (Vec::new(), Vec::new(), Vec::new());
    let mut maybe = |text: String, gap: &crate::model::LogGap| {
        uncertain.push(format!("{text}? maybe: {}", gap.describe()))
    };
    for m in c.missing_messages(grace_us) {
        match m {
            Missing::Certain(s) if in_flow(s.trace_id) => lost.push(lost_line(c, s)),
            Missing::Uncertain(s, g) if in_flow(s.trace_id) => maybe(lost_line(c, s), g),
            _ => {}
        }
    }
    for m in c.missing_ends() {
        match m {
            Missing::Certain(o) if in_flow(o.trace_id) => never_ended.push(open_line(c, o)),
            Missing::Uncertain(o, g) if in_flow(o.trace_id) => maybe(open_line(c, o), g),
            _ => {}
        }
    }
    // Gaps of this trace's services while it ran (one second of slack each side).
    let log_gaps = (c.gaps().into_iter())
        .filter(|g| services.contains(&g.service))
        .filter(|g| g.may_hide(start) && g.first_us <= end + 1_000_000)
        .map(|g| g.describe())
        .collect();
    Some(TraceReport {
        trace_id: trace_id.to_owned(),
        traces,
        duration_ms: ms(end - start),
        services,
        critical_path,
        service_time_ms: service_time(spans),
        queue_gaps: queue_gaps(spans),
        context: business(&ordered),
        timeline,
        errors,
        root_cause,
        lost,
        never_ended,
        uncertain,
        log_gaps,
    })
}

/// From the first span, repeatedly into the child that ends last; the time between is split
/// into segments (a producer's span, the queue, the consumer's span…).
/// The critical path's segments, and the ids of the spans on it.
fn critical_path(
    spans: &HashMap<u64, Span>,
    ordered: &[&Span],
    total: i64,
) -> (Vec<Segment>, Vec<u64>) {
    let mut children: HashMap<u64, Vec<&Span>> = HashMap::new();
    for s in spans.values() {
        if let Some(p) = s.parent.filter(|p| spans.contains_key(p)) {
            children.entry(p).or_default().push(s);
        }
    }
    let mut memo = HashMap::new();
    let mut path = vec![ordered[0]];
    while let Some(kids) = children.get(&path.last().map(|s| s.span_id).unwrap_or(0)) {
        // Into the child whose chain finishes last, not merely the child that ends last.
        let next = kids.iter().max_by_key(|k| {
            (
                subtree_end(k.span_id, spans, &children, &mut memo),
                k.start_us,
            )
        });
        match next {
            Some(n) if path.len() <= spans.len() => path.push(n),
            _ => break,
        }
    }
    let mut segments = Vec::new();
    let mut push = |what: String, service: String, us: i64| {
        if us > 0 {
            segments.push(Segment {
                what,
                service,
                duration_ms: ms(us),
                share: us as f64 / total as f64,
            });
        }
    };
    for pair in path.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let a_end = a.end_us.unwrap_or(a.start_us);
        if a.kind == Kind::Producer && b.start_us > a_end {
            push(a.name.clone(), a.service.clone(), a_end - a.start_us);
            let dest = a.destination.clone().unwrap_or_else(|| a.name.clone());
            push(
                format!("in queue {dest}"),
                String::new(),
                b.start_us - a_end,
            );
        } else {
            push(a.name.clone(), a.service.clone(), b.start_us - a.start_us);
        }
    }
    if let Some(last) = path.last() {
        push(last.name.clone(), last.service.clone(), last.duration_us());
    }
    (segments, path.iter().map(|s| s.span_id).collect())
}

/// The latest end of a span or anything under it (memoized; cycles in hostile input stop).
fn subtree_end(
    id: u64,
    spans: &HashMap<u64, Span>,
    children: &HashMap<u64, Vec<&Span>>,
    memo: &mut HashMap<u64, i64>,
) -> i64 {
    if let Some(end) = memo.get(&id) {
        return *end;
    }
    let own = spans.get(&id).map_or(0, |s| s.end_us.unwrap_or(s.start_us));
    memo.insert(id, own); // a cycle back here sees this provisional value
    let below = children
        .get(&id)
        .into_iter()
        .flatten()
        .map(|k| subtree_end(k.span_id, spans, children, memo))
        .max()
        .unwrap_or(own);
    let end = own.max(below);
    memo.insert(id, end);
    end
}

/// Busy time per service: the union of its spans' intervals.
fn service_time(spans: &HashMap<u64, Span>) -> Vec<(String, f64)> {
    let mut by_service: HashMap<&str, Vec<(i64, i64)>> = HashMap::new();
    for s in spans.values() {
        by_service
            .entry(&s.service)
            .or_default()
            .push((s.start_us, s.end_us.unwrap_or(s.start_us)));
    }
    let mut out: Vec<(String, f64)> = by_service
        .into_iter()
        .map(|(svc, mut iv)| {
            iv.sort();
            let (mut busy, mut cur) = (0, None::<(i64, i64)>);
            for (s, e) in iv {
                cur = match cur {
                    Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
                    Some((cs, ce)) => {
                        busy += ce - cs;
                        Some((s, e))
                    }
                    None => Some((s, e)),
                };
            }
            if let Some((cs, ce)) = cur {
                busy += ce - cs;
            }
            (svc.to_owned(), ms(busy))
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

fn queue_gaps(spans: &HashMap<u64, Span>) -> Vec<QueueGap> {
    let mut gaps: Vec<QueueGap> = spans
        .values()
        .filter(|s| matches!(s.kind, Kind::Consumer | Kind::Client))
        .filter_map(|c| {
            let p = c
                .parent
                .and_then(|p| spans.get(&p))
                .filter(|p| p.kind == Kind::Producer)?;
            Some(QueueGap {
                destination: p.destination.clone().unwrap_or_else(|| p.name.clone()),
                from: p.service.clone(),
                to: c.service.clone(),
                queue_ms: ms(c.start_us - p.start_us),
            })
        })
        .collect();
    gaps.sort_by(|a, b| b.queue_ms.total_cmp(&a.queue_ms));
    gaps
}

fn business(ordered: &[&Span]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for s in ordered {
        let correlation = s
            .correlation_id
            .iter()
            .map(|c| ("correlation_id".to_owned(), c.clone()));
        for kv in correlation.chain(s.business.iter().cloned()) {
            if !out.contains(&kv) {
                out.push(kv);
            }
        }
    }
    out
}
