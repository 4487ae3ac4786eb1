//! # tracewire-cli
//!
//! The library behind the `tracewire` binary: read span logs (tracewire's JSON lines or OTLP
//! JSON), assemble traces in one streaming pass, and report — summary, one trace's timeline,
//! critical path and root cause, the service graph, messages sent and never processed.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analysis;
pub mod check;
pub mod collect;
pub mod context_cmd;
pub mod diff;
pub mod graph;
pub mod html;
pub mod input;
pub mod model;
pub mod render;
pub mod report;
pub mod timeline;

use collect::Collector;
use std::path::PathBuf;

/// Reads `inputs` into a collector (keeping `trace_id`'s spans when given).
pub fn collect(
    inputs: &[Option<PathBuf>],
    trace_id: Option<&str>,
) -> Result<(Collector, input::ReadStats), String> {
    collect_into(Collector::new(trace_id), inputs)
}

/// Reads `inputs` into `c` (made with the options it needs, e.g. [`Collector::track_paths`]).
pub fn collect_into(
    mut c: Collector,
    inputs: &[Option<PathBuf>],
) -> Result<(Collector, input::ReadStats), String> {
    let full = c.selected_traces().clone();
    // Most reads select no trace: then no line pays a lookup.
    let full = |trace: &str| !full.is_empty() && full.contains(trace);
    let stats = input::read_all_with(inputs, &full, |record| match record {
        input::Record::Span(event, span) => c.add(event, span),
        input::Record::Gap(gap) => c.add_gap(gap),
        input::Record::Event(event) => c.add_event(event),
    })?;
    Ok((c, stats))
}
