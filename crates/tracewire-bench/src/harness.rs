//! Runs the modes of one row side by side: chunks of messages, mode after mode, the first mode of
//! each cycle rotating — so drift in the broker (and the cost of going first) hits every mode
//! alike — and turns the chunk timings into per-round rates.

use crate::{alloc, cpu};
use opentelemetry::Context;
use std::time::{Duration, Instant};
use tracewire::task::TracedExt;

/// One way of sending or receiving the same messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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
    /// The tracewire wrapper, sampler off but `TRACEWIRE_SPAN_LOG_SAMPLING=all`: every span
    /// recorded (not sampled) and written to the span log.
    SpanLogAll,
    /// The hand-rolled OpenTelemetry SDK pattern (the peer), sampler always off.
    PeerUnsampled,
    /// The hand-rolled OpenTelemetry SDK pattern, sampled, batch export to a no-op exporter.
    PeerBatch,
}

impl Mode {
    /// The modes that run the tracewire wrapper.
    pub const INSTRUMENTED: [Mode; 4] = [
        Mode::Unsampled,
        Mode::Batch,
        Mode::SpanLog,
        Mode::SpanLogAll,
    ];

    /// The peer's modes.
    pub const PEER: [Mode; 2] = [Mode::PeerUnsampled, Mode::PeerBatch];

    /// Every mode: what every broker row runs.
    pub const ALL: [Mode; 9] = [
        Mode::Raw,
        Mode::RawHeaders,
        Mode::Propagation,
        Mode::Unsampled,
        Mode::Batch,
        Mode::SpanLog,
        Mode::SpanLogAll,
        Mode::PeerUnsampled,
        Mode::PeerBatch,
    ];

    /// Whether this mode runs the tracewire wrapper (else the raw client, or the peer).
    pub fn runs_wrapper(self) -> bool {
        Mode::INSTRUMENTED.contains(&self)
    }

    /// Whether this mode runs the peer.
    pub fn runs_peer(self) -> bool {
        Mode::PEER.contains(&self)
    }

    /// The peer mode this tracewire mode is compared with: the same sampling; the sampled span
    /// log against the peer's batch export (the peer has no span log).
    pub fn peer(self) -> Option<Mode> {
        match self {
            Mode::Unsampled => Some(Mode::PeerUnsampled),
            Mode::Batch | Mode::SpanLog => Some(Mode::PeerBatch),
            _ => None,
        }
    }

    /// A short column label.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Raw => "raw",
            Mode::RawHeaders => "raw + headers",
            Mode::Propagation => "propagation only",
            Mode::Unsampled => "unsampled",
            Mode::Batch => "sampled, batch export",
            Mode::SpanLog => "sampled, span log",
            Mode::SpanLogAll => "unsampled, span log all",
            Mode::PeerUnsampled => "peer unsampled",
            Mode::PeerBatch => "peer sampled, batch",
        }
    }
}

/// One value per mode (a client, a consumer, an instrumentation), looked up by mode.
pub struct PerMode<T>(Vec<(Mode, T)>);

impl<T> PerMode<T> {
    /// `make(mode)` for each of `modes`.
    pub fn new(modes: &[Mode], make: impl FnMut(Mode) -> T) -> Self {
        let mut make = make;
        PerMode(modes.iter().map(|&m| (m, make(m))).collect())
    }

    /// From values already made (e.g. awaited one by one).
    pub fn from_pairs(pairs: Vec<(Mode, T)>) -> Self {
        PerMode(pairs)
    }

    /// The value of `mode`; a row asks only for the modes it made.
    pub fn get(&self, mode: Mode) -> &T {
        let (_, value) = self
            .0
            .iter()
            .find(|(m, _)| *m == mode)
            .expect("made per mode");
        value
    }

    /// The value of `mode`, mutably.
    pub fn get_mut(&mut self, mode: Mode) -> &mut T {
        let (_, value) = self
            .0
            .iter_mut()
            .find(|(m, _)| *m == mode)
            .expect("made per mode");
        value
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
    /// The modes this row runs: every one.
    fn modes(&self) -> &'static [Mode] {
        &Mode::ALL
    }

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
    /// CPU nanoseconds per message (the whole process), one per round.
    pub cpu: Vec<f64>,
    /// Heap allocations per message (all threads of the process).
    pub allocations: f64,
}

/// Runs `row` under `plan`, every chunk in the context `cx` (a handler's), and returns each
/// mode's rates, in the row's mode order. `settle(mode)` runs at the end of each timed chunk: it
/// waits for the background work the chunk left (span export, span-log writing), so that work is
/// charged to the mode that made it, not to the next one.
pub async fn measure<R: Row>(
    row: &mut R,
    plan: Plan,
    cx: &Context,
    settle: impl Fn(Mode),
) -> Vec<Measured> {
    let modes = row.modes();
    for &mode in modes {
        row.run(mode, plan.chunk).traced_in(cx.clone()).await; // warm-up: connections, caches…
        settle(mode);
    }
    let mut elapsed = vec![Vec::with_capacity(plan.rounds); modes.len()];
    let mut cpu_used = vec![Vec::with_capacity(plan.rounds); modes.len()];
    let mut allocations = vec![0u64; modes.len()];
    let mut cycle = 0;
    for _ in 0..plan.rounds {
        let mut round = vec![Duration::ZERO; modes.len()];
        let mut round_cpu = vec![Duration::ZERO; modes.len()];
        for _ in 0..plan.chunks {
            for i in (0..modes.len()).map(|i| (i + cycle) % modes.len()) {
                let before = alloc::count();
                let cpu_before = cpu::used();
                let started = Instant::now();
                row.run(modes[i], plan.chunk).traced_in(cx.clone()).await;
                settle(modes[i]);
                round[i] += started.elapsed();
                round_cpu[i] += cpu::used() - cpu_before;
                allocations[i] += alloc::count() - before;
            }
            cycle += 1;
        }
        for (mode, time) in elapsed.iter_mut().zip(round) {
            mode.push(time);
        }
        for (mode, time) in cpu_used.iter_mut().zip(round_cpu) {
            mode.push(time);
        }
    }
    let per_round = f64::from(plan.chunk) * plan.chunks as f64;
    let total = per_round * plan.rounds as f64;
    modes
        .iter()
        .zip(elapsed)
        .zip(cpu_used)
        .zip(allocations)
        .map(|(((&mode, times), cpu), allocated)| Measured {
            mode,
            rates: times.iter().map(|t| per_round / t.as_secs_f64()).collect(),
            cpu: cpu
                .iter()
                .map(|t| t.as_nanos() as f64 / per_round)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the order modes ran in.
    struct Recorder(Vec<Mode>);

    impl Row for Recorder {
        fn modes(&self) -> &'static [Mode] {
            &[Mode::Raw, Mode::RawHeaders, Mode::Unsampled]
        }

        async fn run(&mut self, mode: Mode, _n: u32) {
            self.0.push(mode);
        }
    }

    #[test]
    fn every_mode_runs_equally_and_no_mode_always_goes_first() {
        let plan = Plan {
            rounds: 2,
            chunks: 3,
            chunk: 10,
        };
        let mut row = Recorder(Vec::new());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let measured = runtime.block_on(measure(&mut row, plan, &Context::new(), |_| {}));
        let modes = row.modes();
        // A warm-up chunk each, then rounds × chunks each.
        for &mode in modes {
            assert_eq!(row.0.iter().filter(|m| **m == mode).count(), 1 + 2 * 3);
        }
        let firsts: Vec<Mode> = row.0[3..].chunks(3).map(|cycle| cycle[0]).collect();
        assert_eq!(
            firsts,
            [Mode::Raw, Mode::RawHeaders, Mode::Unsampled].repeat(2)
        );
        assert_eq!(measured.len(), 3);
        assert!(measured
            .iter()
            .all(|m| m.rates.len() == 2 && m.cpu.len() == 2));
        assert!(measured.iter().all(|m| m.cpu.iter().all(|&ns| ns >= 0.0)));
        assert_eq!(plan.per_mode(), 70);
    }

    #[test]
    fn spread_and_paired_ratios() {
        assert_eq!(spread(&[3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(spread(&[4.0, 1.0, 2.0, 3.0]), (2.5, 1.0, 4.0));
        let a = Measured {
            mode: Mode::Unsampled,
            rates: vec![90.0, 45.0],
            cpu: vec![],
            allocations: 0.0,
        };
        let b = Measured {
            mode: Mode::RawHeaders,
            rates: vec![100.0, 50.0],
            cpu: vec![],
            allocations: 0.0,
        };
        assert_eq!(
            ratios(&a, &b),
            [0.9, 0.9],
            "each round against its own baseline"
        );
    }
}
