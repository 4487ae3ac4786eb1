//! One markdown table per row: rates, the three ratios (to the raw client sending the same headers,
//! to the raw client without headers, and tracewire's to the peer's with the same sampling), the
//! time added per message, the process's CPU time per message and what a mode adds to it,
//! allocations per message.

use crate::harness::{ratios, spread, Measured, Mode};
use std::fmt::Write;

fn rate(values: &[f64]) -> String {
    let (median, low, high) = spread(values);
    format!("{median:.0} ({low:.0}–{high:.0})")
}

fn ratio(values: &[f64]) -> String {
    let (median, low, high) = spread(values);
    format!("{median:.3} ({low:.2}–{high:.2})")
}

/// The table of one row.
pub fn table(title: &str, measured: &[Measured]) -> String {
    let find = |mode| {
        measured
            .iter()
            .find(|m| m.mode == mode)
            .expect("raw modes run")
    };
    let raw = find(Mode::Raw);
    let headers = find(Mode::RawHeaders);
    let per_message = |m: &Measured| 1e9 / spread(&m.rates).0;
    let cpu = |m: &Measured| spread(&m.cpu).0;
    let mut out = format!(
        "\n### {title}\n\n| mode | msg/s median (range) | ÷ raw + same headers | ÷ raw, no headers | ÷ peer | added ns/msg | CPU ns/msg | added CPU ns/msg | allocs/msg |\n|---|---|---|---|---|---|---|---|---|\n"
    );
    for m in measured {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:+.0} | {:.0} | {:+.0} | {:.1} |",
            m.mode.label(),
            rate(&m.rates),
            ratio(&ratios(m, headers)),
            ratio(&ratios(m, raw)),
            m.mode
                .peer()
                .and_then(|p| measured.iter().find(|m| m.mode == p))
                .map_or_else(|| "".to_owned(), |peer| ratio(&ratios(m, peer))),
            per_message(m) - per_message(headers),
            cpu(m),
            cpu(m) - cpu(headers),
            m.allocations,
        );
    }
    out.push_str(&ceilings(measured, headers));
    let (span_log, batch) = (
        measured.iter().find(|m| m.mode == Mode::SpanLog),
        measured.iter().find(|m| m.mode == Mode::Batch),
    );
    if let (Some(span_log), Some(batch)) = (span_log, batch) {
        out.push('\n');
        for (what, per_message) in [("ns", wall_ns as PerMessage), ("CPU ns", cpu_ns)] {
            let paired = added_ratios(span_log, batch, headers, per_message);
            if !paired.is_empty() {
                let _ = writeln!(
                    out,
                    "span log ÷ batch export, added {what} per message, paired per round: {} ({} of {} rounds: those where batch export added {what})",
                    ratio(&paired),
                    paired.len(),
                    batch.rates.len(),
                );
            }
        }
    }
    out
}

/// The most any instrumentation could gain on the peer: the raw client sending (or receiving)
/// the same headers and doing nothing else, ÷ the peer, per round. tracewire does at least
/// that much work, so its ratio to the peer cannot exceed this (beyond the rounds' noise).
fn ceilings(measured: &[Measured], headers: &Measured) -> String {
    let mut out = String::new();
    for peer in [Mode::PeerUnsampled, Mode::PeerBatch] {
        if let Some(peer) = measured.iter().find(|m| m.mode == peer) {
            let _ = writeln!(
                out,
                "\nceiling ÷ {}: raw + same headers ÷ the peer, paired per round: {}",
                peer.mode.label(),
                ratio(&ratios(headers, peer)),
            );
        }
    }
    out
}

/// One mode's nanoseconds per message, a value per round.
type PerMessage = fn(&Measured) -> Vec<f64>;

/// Wall-clock nanoseconds per message, per round.
fn wall_ns(m: &Measured) -> Vec<f64> {
    m.rates.iter().map(|rate| 1e9 / rate).collect()
}

/// The process's CPU nanoseconds per message, per round.
fn cpu_ns(m: &Measured) -> Vec<f64> {
    m.cpu.clone()
}

/// Per round, what `a` adds per message over `base` divided by what `b` adds (the rounds are
/// paired); rounds where `b` adds nothing measurable are left out.
fn added_ratios(a: &Measured, b: &Measured, base: &Measured, ns: PerMessage) -> Vec<f64> {
    let (a, b, base) = (ns(a), ns(b), ns(base));
    let rounds = a.iter().zip(&b).zip(&base);
    rounds
        .map(|((a, b), base)| (a - base, b - base))
        .filter(|&(_, added_b)| added_b > 0.0)
        .map(|(added_a, added_b)| added_a / added_b)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(mode: Mode, rates: [f64; 2], cpu: [f64; 2]) -> Measured {
        Measured {
            mode,
            rates: rates.to_vec(),
            cpu: cpu.to_vec(),
            allocations: 0.0,
        }
    }

    #[test]
    fn added_time_ratios_pair_rounds_and_skip_those_where_the_divisor_adds_nothing() {
        // ns per message: base 1000 / 1000, batch 2000 / 1000 (adds nothing in round 2),
        // span log 2500 / 1500; CPU: base 100, batch 300 / 200, span log 400 / 400.
        let base = measured(Mode::RawHeaders, [1e6, 1e6], [100.0, 100.0]);
        let batch = measured(Mode::Batch, [5e5, 1e6], [300.0, 200.0]);
        let span_log = measured(Mode::SpanLog, [4e5, 1e9 / 1500.0], [400.0, 400.0]);
        let wall = added_ratios(&span_log, &batch, &base, wall_ns);
        assert_eq!(wall.len(), 1);
        assert!((wall[0] - 1.5).abs() < 1e-9);
        assert_eq!(added_ratios(&span_log, &batch, &base, cpu_ns), [1.5, 3.0]);
        let raw = measured(Mode::Raw, [1e6, 1e6], [100.0, 100.0]);
        let table = table("row", &[raw, base, batch, span_log]);
        assert!(table.contains("added ns per message, paired per round: 1.500"));
        assert!(table.contains("added CPU ns per message, paired per round: 2.250"));
        assert!(!table.contains("ceiling"), "no peer ran: no ceiling");
    }

    #[test]
    fn the_ceiling_is_raw_with_the_same_headers_over_the_peer_per_round() {
        let raw = measured(Mode::Raw, [2e6, 2e6], [0.0, 0.0]);
        let base = measured(Mode::RawHeaders, [1e6, 9e5], [0.0, 0.0]);
        let peer = measured(Mode::PeerUnsampled, [8e5, 9e5], [0.0, 0.0]);
        let table = table("row", &[raw, base, peer]);
        // Rounds: 1.25 and 1.0; median 1.125.
        assert!(table.contains("ceiling ÷ peer unsampled: raw + same headers ÷ the peer, paired per round: 1.125 (1.00–1.25)"), "{table}");
    }
}
