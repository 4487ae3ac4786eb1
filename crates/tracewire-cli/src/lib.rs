//! # tracewire-cli
//!
//! The library behind the `tracewire` binary: read span logs (tracewire's JSON lines or OTLP
//! JSON), assemble traces in one streaming pass, and report — summary, one trace's timeline,
//! critical path and root cause, the service graph, messages sent and never processed.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analysis;
pub mod collect;
pub mod context_cmd;
pub mod graph;
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
    let mut c = Collector::new(trace_id);
    let stats = input::read_all(inputs, |record| match record {
        input::Record::Span(event, span) => c.add(event, span),
        input::Record::Gap(gap) => c.add_gap(gap),
    })?;
    Ok((c, stats))
}
