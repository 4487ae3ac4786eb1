//! `diff`: two traces (or flows) side by side, hop by hop — which hop got slower and by how
//! much, time in queue apart from time processing.

use crate::analysis::parents_across_links;
use crate::model::{Kind, Span};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;

/// One step of a flow: the entry span, or a message from one service to the next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hop {
    /// `POST /checkout [api-gateway]` or `api-gateway → inventory (orders)`; the n-th repeat
    /// of a hop gets ` #n`.
    pub hop: String,
    /// Send start to process start (ms); `None` for the entry span.
    pub queue_ms: Option<f64>,
    /// The receiving span's duration (ms).
    pub processing_ms: f64,
}

/// A hop in both flows (or in one of them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HopDiff {
    /// The hop.
    pub hop: String,
    /// In A.
    pub a: Option<Hop>,
    /// In B.
    pub b: Option<Hop>,
    /// B − A, queue plus processing (ms); `None` when the hop is in one flow only.
    pub delta_ms: Option<f64>,
}

/// The comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    /// Every hop, in A's order, then those only in B.
    pub hops: Vec<HopDiff>,
    /// A's and B's durations (ms), first start to last end.
    pub duration_ms: (f64, f64),
    /// The hop whose time grew most, and by how much (ms).
    pub slowest_change: Option<(String, f64)>,
}

fn ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

/// The hops of one flow's spans, in time order.
pub fn hops(spans: &HashMap<u64, Span>) -> Vec<Hop> {
    let spans = parents_across_links(spans);
    let mut consumers: Vec<&Span> = spans.values().collect();
    consumers.sort_by_key(|s| (s.start_us, s.span_id));
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for s in consumers {
        let parent = s.parent.and_then(|p| spans.get(&p));
        let (hop, queue_ms) = match parent {
            None => (format!("{} [{}]", s.name, s.service), None),
            Some(p) if p.kind == Kind::Producer && s.kind != Kind::Producer => {
                let dest = p.destination.as_deref().unwrap_or(&p.name);
                let hop = format!("{} → {} ({dest})", p.service, s.service);
                (hop, Some(ms(s.start_us - p.start_us)))
            }
            Some(_) => continue, // inside a service: part of its hop's processing
        };
        let n = seen.entry(hop.clone()).or_default();
        *n += 1;
        let hop = if *n > 1 { format!("{hop} #{n}") } else { hop };
        out.push(Hop {
            hop,
            queue_ms,
            processing_ms: ms(s.duration_us()),
        });
    }
    out
}

fn duration(spans: &HashMap<u64, Span>) -> f64 {
    let start = spans.values().map(|s| s.start_us).min().unwrap_or(0);
    let end = (spans.values())
        .map(|s| s.end_us.unwrap_or(s.start_us))
        .max()
        .unwrap_or(start);
    ms(end - start)
}

/// Compares flow `a` with flow `b`.
pub fn diff(a: &HashMap<u64, Span>, b: &HashMap<u64, Span>) -> Diff {
    let (ha, hb) = (hops(a), hops(b));
    let total = |h: &Hop| h.queue_ms.unwrap_or(0.0) + h.processing_ms;
    let mut out: Vec<HopDiff> = (ha.iter())
        .map(|x| {
            let y = hb.iter().find(|y| y.hop == x.hop);
            HopDiff {
                hop: x.hop.clone(),
                a: Some(x.clone()),
                b: y.cloned(),
                delta_ms: y.map(|y| total(y) - total(x)),
            }
        })
        .collect();
    out.extend(
        (hb.iter())
            .filter(|y| !ha.iter().any(|x| x.hop == y.hop))
            .map(|y| HopDiff {
                hop: y.hop.clone(),
                a: None,
                b: Some(y.clone()),
                delta_ms: None,
            }),
    );
    let slowest_change = (out.iter())
        .filter_map(|h| Some((h.hop.clone(), h.delta_ms?)))
        .filter(|(_, d)| *d > 0.0)
        .max_by(|x, y| x.1.total_cmp(&y.1));
    Diff {
        hops: out,
        duration_ms: (duration(a), duration(b)),
        slowest_change,
    }
}

/// The diff as a table.
pub fn text(d: &Diff, a: &str, b: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "A {a}  {:.1} ms", d.duration_ms.0);
    let _ = writeln!(
        out,
        "B {b}  {:.1} ms  ({:+.1} ms)",
        d.duration_ms.1,
        d.duration_ms.1 - d.duration_ms.0
    );
    let _ = writeln!(
        out,
        "\n{:<48} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "hop", "A queue", "B queue", "A proc", "B proc", "Δ"
    );
    let cell = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    for h in &d.hops {
        let q = |x: &Option<Hop>| x.as_ref().and_then(|h| h.queue_ms);
        let p = |x: &Option<Hop>| x.as_ref().map(|h| h.processing_ms);
        let delta = h
            .delta_ms
            .map_or("only in one".to_owned(), |v| format!("{v:+.1}"));
        let _ = writeln!(
            out,
            "{:<48} {:>9} {:>9} {:>9} {:>9} {:>9}",
            h.hop,
            cell(q(&h.a)),
            cell(q(&h.b)),
            cell(p(&h.a)),
            cell(p(&h.b)),
            delta
        );
    }
    if let Some((hop, by)) = &d.slowest_change {
        let what = (d.hops.iter()).find(|h| &h.hop == hop).and_then(|h| {
            let (a, b) = (h.a.as_ref()?, h.b.as_ref()?);
            let queue = b.queue_ms.unwrap_or(0.0) - a.queue_ms.unwrap_or(0.0);
            let proc = b.processing_ms - a.processing_ms;
            Some(if queue.abs() >= proc.abs() {
                "in queue"
            } else {
                "processing"
            })
        });
        let _ = writeln!(
            out,
            "\nslower: {hop} {by:+.1} ms, mostly {}",
            what.unwrap_or("processing")
        );
    }
    out
}
