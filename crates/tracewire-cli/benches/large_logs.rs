//! Throughput and peak memory of the CLI's analysis over ~1 GB of generated span logs.
//!
//! `cargo bench -p tracewire-cli --bench large_logs` (size in MiB: `TRACEWIRE_BENCH_MIB`, default
//! 1024). Generates checkout traces in the span-log format (5 services, a lost message in one
//! trace in 50), then runs the summary, `lost` and `graph` analyses in one streaming pass and
//! prints time, MB/s and the process's peak resident memory.

use std::io::{BufWriter, Write};
use std::time::Instant;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

#[allow(clippy::too_many_arguments)] // a flat record writer for generated data
fn line(
    out: &mut impl Write,
    t: u64,
    trace: u128,
    span: u64,
    parent: u64,
    svc: &str,
    name: &str,
    kind: &str,
    event: &str,
    dest: &str,
) {
    let parent = if parent == 0 {
        "null".to_owned()
    } else {
        format!("\"{parent:016x}\"")
    };
    let secs = 1_795_321_200 + t / 1_000_000;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    let ts = format!("2026-11-22T{h:02}:{m:02}:{s:02}.{:06}Z", t % 1_000_000);
    let (duration, status) = if event == "span_end" {
        ("2.5", "\"unset\"")
    } else {
        ("null", "\"unset\"")
    };
    let _ = writeln!(
        out,
        r#"{{"timestamp":"{ts}","level":"INFO","service":"{svc}","trace_id":"{trace:032x}","span_id":"{span:016x}","parent_span_id":{parent},"span_name":"{name}","span_kind":"{kind}","event":"{event}","duration_ms":{duration},"status":{status},"error_code":null,"error_message":null,"correlation_id":"c-{trace:x}","attributes":{{"messaging.system":"kafka","messaging.destination.name":"{dest}","messaging.operation.name":"send","app.order_id":"o-{trace:x}"}},"links":[]}}"#
    );
}

fn generate(path: &std::path::Path, bytes: u64) -> u64 {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let hops = [
        ("api-gateway", "orders"),
        ("inventory", "payments"),
        ("payment", "fulfillment.requested"),
        ("fulfillment", "email"),
    ];
    let (mut trace, mut written, mut t) = (1u128, 0u64, 0u64);
    while written < bytes * 13 / 10 {
        let mut span = (trace as u64) << 8;
        let root = span;
        let mut parent = 0;
        for (i, (svc, dest)) in hops.iter().enumerate() {
            if i > 0 && trace % 50 == 0 && i == 3 {
                break; // the fulfillment message of one trace in 50 is never processed
            }
            let process = span + 1;
            let send = span + 2;
            let name = format!(
                "process {}",
                if i == 0 { "checkout" } else { hops[i - 1].1 }
            );
            let kind = if i == 0 { "server" } else { "consumer" };
            line(
                &mut out,
                t,
                trace,
                process,
                parent,
                svc,
                &name,
                kind,
                "span_start",
                dest,
            );
            if i < hops.len() - 1 {
                line(
                    &mut out,
                    t + 10,
                    trace,
                    send,
                    process,
                    svc,
                    &format!("send {dest}"),
                    "producer",
                    "span_start",
                    dest,
                );
                line(
                    &mut out,
                    t + 2500,
                    trace,
                    send,
                    process,
                    svc,
                    &format!("send {dest}"),
                    "producer",
                    "span_end",
                    dest,
                );
            }
            line(
                &mut out,
                t + 3000,
                trace,
                process,
                parent,
                svc,
                &name,
                kind,
                "span_end",
                dest,
            );
            parent = send;
            span += 2;
            t += 3000;
            written += 4 * 560;
        }
        let _ = root;
        trace += 1;
    }
    out.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

fn main() {
    let mib: u64 = std::env::var("TRACEWIRE_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let path = std::env::temp_dir().join("tracewire-large-logs.jsonl");
    let size = generate(&path, mib << 20);
    let before = peak_rss_mib();
    let started = Instant::now();
    let (c, stats) = tracewire_cli::collect(&[Some(path.clone())], None).unwrap();
    let summary = tracewire_cli::analysis::summary(&c, 0);
    let lost = c.lost(0).len();
    let edges = c.edges().len();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "large_logs: {:.0} MiB, {} lines, {} traces, {} lost, {} edges, {} malformed",
        size as f64 / 1048576.0,
        stats.lines,
        summary.traces,
        lost,
        edges,
        stats.malformed
    );
    println!(
        "large_logs: {elapsed:.2} s, {:.0} MiB/s, peak RSS {:.0} MiB (before reading: {before:.0} MiB)",
        size as f64 / 1048576.0 / elapsed,
        peak_rss_mib()
    );
    let _ = std::fs::remove_file(&path);
}
