//! Runs the modes of one row side by side: chunks of messages, mode after mode, the first mode of
//! each cycle rotating — so drift in the broker (and the cost of going first) hits every mode
//! alike — and turns the chunk timings into per-round rates.

use crate::alloc;
use opentelemetry::Context;
use std::time::{Duration, Instant};
use tracewire::task::TracedExt;

/// One way of sending or receiving the same messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The raw client, no headers.
    Raw,
    /// The raw client sending (or receiving) the same headers tracewire writes.
    RawHeaders,
    /// tracewire's inject (producer) or extract (consumer) on the raw client: no spans.
    Propagation,
    /// The tracewire wrapper, sampler always off.
    Unsampled,
    /// The tracewire wrapper, sampled, SDK batch span processor to a no-op exporter.
    Batch,
    /// The tracewire wrapper, sampled, JSON span logs written to a file.
    SpanLog,
    /// The hand-rolled OpenTelemetry SDK pattern (the peer), sampler always off.
    PeerUnsampled,
    /// The hand-rolled OpenTelemetry SDK pattern, sampled, batch export to a no-op exporter.
    PeerBatch,
}

impl Mode {
    /// The modes every broker row runs.
    pub const TRACEWIRE: [Mode; 6] = [
        Mode::Raw,
        Mode::RawHeaders,
        Mode::Propagation,
        Mode::Unsampled,
        Mode::Batch,
        Mode::SpanLog,
    ];

    /// The Kafka rows also run the peer.
    pub const WITH_PEER: [Mode; 8] = [
        Mode::Raw,
        Mode::RawHeaders,
        Mode::Propagation,
        Mode::Unsampled,
        Mode::Batch,
        Mode::SpanLog,
        Mode::PeerUnsampled,
        Mode::PeerBatch,
    ];

    /// A short column label.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Raw => "raw",
            Mode::RawHeaders => "raw + headers",
            Mode::Propagation => "propagation only",
            Mode::Unsampled => "unsampled",
            Mode::Batch => "sampled, batch export",
            Mode::SpanLog => "sampled, span log",
            Mode::PeerUnsampled => "peer unsampled",
            Mode::PeerBatch => "peer sampled, batch",
        }
    }
}

/// How much to run: `rounds` rounds of `chunks` chunks of `chunk` messages per mode.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Rounds (each gives one rate per mode).
    pub rounds: usize,
    /// Chunks per mode in a round.
    pub chunks: usize,
    /// Messages per chunk.
    pub chunk: u32,
}

impl Plan {
    /// Messages each mode handles, the warm-up chunk included (what a consumer row pre-fills).
    pub fn per_mode(&self) -> u64 {
        (self.rounds * self.chunks + 1) as u64 * u64::from(self.chunk)
    }
}

/// One row: a broker path where every mode can handle `n` more messages.
pub trait Row {
    /// The modes this row runs.
    fn modes(&self) -> &'static [Mode];

    /// Handles `n` messages the `mode` way and returns once they are settled (delivered,
    /// confirmed or consumed).
    async fn run(&mut self, mode: Mode, n: u32);
}

/// What one mode measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The mode.
    pub mode: Mode,
    /// Messages per second, one per round.
    pub rates: Vec<f64>,
    /// Heap allocations per message (all threads of the process).
    pub allocations: f64,
}

/// Runs `row` under `plan`, every chunk in the context `cx` (a handler's), and returns each
/// mode's rates, in the row's mode order.
pub async fn measure<R: Row>(row: &mut R, plan: Plan, cx: &Context) -> Vec<Measured> {
    let modes = row.modes();
    for &mode in modes {
        row.run(mode, plan.chunk).traced_in(cx.clone()).await; // warm-up: connections, caches, lazy set-up
    }
    let mut elapsed = vec![vec![Duration::ZERO; plan.rounds]; modes.len()];
    let mut allocations = vec![0u64; modes.len()];
    let mut cycle = 0;
    for round in 0..plan.rounds {
        for _ in 0..plan.chunks {
            for i in (0..modes.len()).map(|i| (i + cycle) % modes.len()) {
                let before = alloc::count();
                let started = Instant::now();
                row.run(modes[i], plan.chunk).traced_in(cx.clone()).await;
                elapsed[i][round] += started.elapsed();
                allocations[i] += alloc::count() - before;
            }
            cycle += 1;
        }
    }
    let per_round = f64::from(plan.chunk) * plan.chunks as f64;
    let total = per_round * plan.rounds as f64;
    modes
        .iter()
        .zip(elapsed)
        .zip(allocations)
        .map(|((&mode, times), allocated)| Measured {
            mode,
            rates: times
                .iter()
                .map(|t| per_round / t.as_secs_f64())
                .collect(),
            allocations: allocated as f64 / total,
        })
        .collect()
}

/// Median and range of `values`.
pub fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    (median, sorted[0], sorted[n - 1])
}

/// Per-round ratios `a / b` (the rounds are paired: same broker moment).
pub fn ratios(a: &Measured, b: &Measured) -> Vec<f64> {
    a.rates.iter().zip(&b.rates).map(|(x, y)| x / y).collect()
}
