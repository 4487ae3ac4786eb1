//! Span-log writer throughput: lines a second the writer thread (one core) turns into JSON and
//! writes, for typical messaging spans (10 attributes, one link), to a file and to /dev/null.
//!
//! `cargo bench -p tracewire-telemetry --bench span_log_writer` — prints the median of 5 rounds.
//! Spans are built before the clock starts and handed over through the default-size queue in
//! `block` mode, so nothing is dropped and the time measured is the writer's: from the first
//! span handed over to the flush.

mod common;

use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks, SpanProcessor};
use std::time::{Duration, Instant, SystemTime};
use tracewire_telemetry::{FullPolicy, SpanLogProcessor};

const SPANS: usize = 300_000;
const ROUNDS: usize = 5;

fn context(n: u64) -> SpanContext {
    SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_0000 + u128::from(n)),
        SpanId::from(0x00f0_67aa_0ba9_0000 + n),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    )
}

/// A consumer span as tracewire records it: 10 attributes, a link to the producer.
fn span(n: u64) -> SpanData {
    let start = SystemTime::now();
    let mut links = SpanLinks::default();
    links.links.push(Link::new(context(n + 1), Vec::new(), 0));
    SpanData {
        span_context: context(n),
        parent_span_id: SpanId::from(0x1111_0000 + n),
        parent_span_is_remote: true,
        span_kind: SpanKind::Consumer,
        name: "process orders".into(),
        start_time: start,
        end_time: start + Duration::from_micros(1234),
        attributes: common::consumer_attributes(1_000_000 + n as i64),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links,
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("tracewire").build(),
    }
}

/// Lines a second for one round into `out`.
fn round(out: Box<dyn std::io::Write + Send>) -> f64 {
    let spans: Vec<SpanData> = (0..SPANS as u64).map(span).collect();
    let processor = SpanLogProcessor::with_policy("fulfillment", out, 8192, FullPolicy::Block);
    let started = Instant::now();
    for s in spans {
        processor.on_end(s);
    }
    processor.force_flush().unwrap();
    let elapsed = started.elapsed();
    let (_, dropped, written, _) = processor.stats().snapshot();
    assert_eq!((dropped, written), (0, SPANS as u64));
    SPANS as f64 / elapsed.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let path = std::env::temp_dir().join(format!("tracewire-writer-{}.jsonl", std::process::id()));
    let to_file = median(
        (0..ROUNDS)
            .map(|_| round(Box::new(std::fs::File::create(&path).unwrap())))
            .collect(),
    );
    let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    let _ = std::fs::remove_file(&path);
    let to_null = median(
        (0..ROUNDS)
            .map(|_| round(Box::new(std::fs::File::create("/dev/null").unwrap())))
            .collect(),
    );
    println!(
        "span-log writer, {SPANS} consumer spans (10 attributes, 1 link), median of {ROUNDS}:"
    );
    println!(
        "  to a file:     {to_file:>12.0} lines/s ({} bytes a line)",
        bytes / SPANS as u64
    );
    println!("  to /dev/null:  {to_null:>12.0} lines/s");
}
