//! Text rendering of the reports, for the terminal.

use crate::collect::{Collector, Missing, Sent};
use crate::report::{Settlement, Summary, TraceReport};
use std::fmt::Write as _;

/// `tracewire lost` as text: messages sent and never processed (after `grace_us`), spans started
/// and never ended; then what only looks so because a span-log gap may hide it, and the gaps.
pub fn lost_text(c: &Collector, grace_us: i64) -> String {
    let (lost, open) = (c.lost(grace_us), c.never_ended());
    let uncertain_sent: Vec<_> = (c.missing_messages(grace_us).into_iter())
        .filter_map(Missing::uncertain)
        .collect();
    let uncertain_open: Vec<_> = (c.missing_ends().into_iter())
        .filter_map(Missing::uncertain)
        .collect();
    let svc = |i: u32| c.service(i);
    let hop = |s: &Sent| format!("{} trace {}", s.hop(c), s.trace_id);
    let mut out = format!(
        "{} message(s) sent and never processed, {} span(s) started and never ended\n",
        lost.len(),
        open.len()
    );
    for s in &lost {
        let correlation = s
            .correlation_id
            .as_ref()
            .map_or(String::new(), |id| format!(" correlation_id {id}"));
        let _ = writeln!(out, "lost: {}{correlation}", hop(s));
    }
    for o in &open {
        let _ = writeln!(
            out,
            "never ended: {} {} trace {}",
            svc(o.service),
            o.name,
            o.trace_id
        );
    }
    if !uncertain_sent.is_empty() || !uncertain_open.is_empty() {
        let _ = writeln!(
            out,
            "uncertain (in a span-log gap: the line may be missing, not the message): {} message(s), {} span(s)",
            uncertain_sent.len(),
            uncertain_open.len()
        );
    }
    for (s, g) in &uncertain_sent {
        let _ = writeln!(out, "uncertain: {} — {}", hop(s), g.service);
    }
    for (o, g) in &uncertain_open {
        let _ = writeln!(
            out,
            "uncertain: never ended {} {} trace {} — {}",
            svc(o.service),
            o.name,
            o.trace_id,
            g.service
        );
    }
    write_gaps(&mut out, c.gaps().iter().map(|g| g.describe()));
    write_settlement(&mut out, &c.settlement());
    for o in c.infrastructure_open() {
        let what = "still open (a client library's own span, not a broken trace)";
        let _ = writeln!(
            out,
            "{what}: {} {} trace {}",
            svc(o.service),
            o.name,
            o.trace_id
        );
    }
    out
}

/// The summary as text.
pub fn summary_text(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} traces, {} with errors, {} broken",
        s.traces,
        s.error_traces,
        s.broken.len()
    );
    write_settlement(&mut out, &s.settlement);
    if !s.slowest.is_empty() {
        let _ = writeln!(out, "\nslowest:");
        for t in &s.slowest {
            let _ = writeln!(
                out,
                "  {}  {:>10.1} ms  {} spans  {} [{}]",
                t.trace_id, t.duration_ms, t.spans, t.root, t.service
            );
        }
    }
    for (title, traces) in [("broken", &s.broken), ("uncertain", &s.uncertain)] {
        if traces.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title}:");
        for t in traces {
            let problem = t.problem.as_deref().unwrap_or("");
            let _ = writeln!(out, "  {}  {problem}", t.trace_id);
        }
    }
    write_gaps(&mut out, s.log_gaps.iter().cloned());
    if !s.flows.is_empty() {
        let _ = writeln!(out, "\nlinked flows (traces joined by links, root first):");
        for f in s.flows.iter().take(10) {
            let _ = writeln!(out, "  {}  {} traces: {}", f[0], f.len(), f[1..].join(", "));
        }
    }
    for d in &s.duplicates {
        let _ = writeln!(
            out,
            "duplicates: {} handled {} message(s) from {} ({}) more than once, {} extra deliveries",
            d.consumer, d.messages, d.destination, d.system, d.extra
        );
    }
    out
}

/// `span-log gap: …`, one line per gap.
pub fn write_gaps(out: &mut String, gaps: impl Iterator<Item = String>) {
    for g in gaps {
        let _ = writeln!(out, "span-log gap: {g}");
    }
}

/// The trace report as text.
pub fn report_text(r: &TraceReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "trace {}  {:.1} ms", r.trace_id, r.duration_ms);
    if r.traces.len() > 1 {
        let _ = writeln!(
            out,
            "flow: {} linked traces: {}",
            r.traces.len(),
            r.traces.join(", ")
        );
    }
    let _ = writeln!(out, "services: {}", r.services.join(" → "));
    if !r.context.is_empty() {
        let ctx: Vec<String> = r.context.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "context: {}", ctx.join(", "));
    }
    let _ = writeln!(out, "\ntimeline:");
    out.push_str(&crate::timeline::text(&r.timeline, r.duration_ms));
    let _ = writeln!(out, "\ncritical path:");
    for s in &r.critical_path {
        let who = if s.service.is_empty() {
            String::new()
        } else {
            format!(" [{}]", s.service)
        };
        let _ = writeln!(
            out,
            "  {:>9.1} ms {:>5.1}%  {}{who}",
            s.duration_ms,
            s.share * 100.0,
            s.what
        );
    }
    if let Some(rc) = &r.root_cause {
        let _ = writeln!(
            out,
            "\nroot cause: {} in {} — {} ({})",
            rc.span,
            rc.service,
            rc.message.as_deref().unwrap_or("error"),
            rc.error_code.as_deref().unwrap_or("error")
        );
    }
    if r.errors.len() > 1 {
        let _ = writeln!(out, "errors:");
        for e in &r.errors {
            let _ = writeln!(
                out,
                "  {} [{}] {}",
                e.span,
                e.service,
                e.error_code.as_deref().unwrap_or("")
            );
        }
    }
    for l in r.lost.iter().chain(&r.never_ended) {
        let _ = writeln!(out, "broken: {l}");
    }
    for l in &r.uncertain {
        let _ = writeln!(out, "uncertain: {l}");
    }
    write_gaps(&mut out, r.log_gaps.iter().cloned());
    if let (Some(slow), Some(fast)) = (r.service_time_ms.first(), r.service_time_ms.last()) {
        let _ = writeln!(
            out,
            "\nslowest service: {} ({:.1} ms); fastest: {} ({:.1} ms)",
            slow.0, slow.1, fast.0, fast.1
        );
    }
    for g in &r.queue_gaps {
        let _ = writeln!(
            out,
            "in queue: {} {} → {} {:.1} ms",
            g.destination, g.from, g.to, g.queue_ms
        );
    }
    out
}

/// Per destination, messages never settled and redeliveries (nothing when all went cleanly).
fn write_settlement(out: &mut String, settlement: &[Settlement]) {
    for s in settlement {
        let _ = writeln!(
            out,
            "{}: {} message(s) never settled (dropped without ack/commit), {} redelivered",
            s.destination, s.unsettled, s.redelivered
        );
    }
}
