//! Span-log writer throughput: lines a second the writer thread (one core) turns into JSON and
//! writes, for typical messaging spans (10 attributes, one link), to a file and to /dev/null.
//!
//! `cargo bench -p tracewire-telemetry --bench span_log_writer` — prints the median of 5 rounds.
//! Spans are built before the clock starts and handed over through the default-size queue in
//! `block` mode, so nothing is dropped and the time measured is the writer's: from the first
//! span handed over to the flush. Two figures a target: lines per second of wall-clock, and
//! lines per second of the writer thread's own CPU time (its `schedstat`: user and kernel time,
//! the `write` calls included) — what one core spends a line, without the time the writer waits
//! for a core on a machine whose other cores are busy (the caller, the kernel's writeback).

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

/// The writer thread's name as the kernel keeps it (15 bytes).
const WRITER_COMM: &str = "tracewire-span-";

/// Thread ids of this process whose name is the writer's.
fn writer_threads() -> Vec<String> {
    let tasks = std::fs::read_dir("/proc/self/task").into_iter().flatten();
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == WRITER_COMM)
        })
        .map(|t| t.file_name().to_string_lossy().into_owned())
        .collect()
}

/// CPU time a thread has run, from `/proc/self/task/TID/schedstat` (nanoseconds, first field).
fn cpu_time(tid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    let ns = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Lines a second for one round into `out`: of wall-clock, and of the writer thread's CPU time
/// (`None` where `/proc` does not say).
fn round(out: Box<dyn std::io::Write + Send>) -> (f64, Option<f64>) {
    let spans: Vec<SpanData> = (0..SPANS as u64).map(span).collect();
    let before = writer_threads();
    let processor = SpanLogProcessor::with_policy("fulfillment", out, 8192, FullPolicy::Block);
    let started = Instant::now();
    for s in spans {
        processor.on_end(s);
    }
    processor.force_flush().unwrap();
    let elapsed = started.elapsed();
    // Looked up now: a thread names itself once it runs.
    let writer = writer_threads().into_iter().find(|t| !before.contains(t));
    let cpu = writer.as_deref().and_then(cpu_time);
    let (_, dropped, written, _) = processor.stats().snapshot();
    assert_eq!((dropped, written), (0, SPANS as u64));
    let per_second = |t: Duration| SPANS as f64 / t.as_secs_f64();
    (per_second(elapsed), cpu.map(per_second))
}

/// Medians of `ROUNDS` rounds: wall-clock lines/s, writer-CPU lines/s.
fn rounds(mut out: impl FnMut() -> Box<dyn std::io::Write + Send>) -> (f64, Option<f64>) {
    let measured: Vec<_> = (0..ROUNDS).map(|_| round(out())).collect();
    let cpu: Option<Vec<f64>> = measured.iter().map(|m| m.1).collect();
    (
        median(measured.iter().map(|m| m.0).collect()),
        cpu.map(median),
    )
}

fn show(target: &str, (wall, cpu): (f64, Option<f64>), note: &str) {
    let cpu = cpu.map_or("?".to_owned(), |c| format!("{c:.0}"));
    println!("  {target:<14}{wall:>12.0} lines/s wall-clock, {cpu:>9} lines/s of writer CPU{note}");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let path = std::env::temp_dir().join(format!("tracewire-writer-{}.jsonl", std::process::id()));
    let to_file = rounds(|| Box::new(std::fs::File::create(&path).unwrap()));
    let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    let _ = std::fs::remove_file(&path);
    let to_null = rounds(|| Box::new(std::fs::File::create("/dev/null").unwrap()));
    println!(
        "span-log writer, {SPANS} consumer spans (10 attributes, 1 link), median of {ROUNDS}:"
    );
    let line = format!(" ({} bytes a line)", bytes / SPANS as u64);
    show("to a file:", to_file, &line);
    show("to /dev/null:", to_null, "");
}
