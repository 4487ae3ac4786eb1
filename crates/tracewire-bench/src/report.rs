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
    let (span_log, batch) = (
        measured.iter().find(|m| m.mode == Mode::SpanLog),
        measured.iter().find(|m| m.mode == Mode::Batch),
    );
    if let (Some(span_log), Some(batch)) = (span_log, batch) {
        let paired = added_ratios(span_log, batch, headers);
        if !paired.is_empty() {
            let _ = writeln!(
                out,
                "\nspan log ÷ batch export, added ns per message, paired per round: {} ({} of {} rounds: those where batch export added time)",
                ratio(&paired),
                paired.len(),
                batch.rates.len(),
            );
        }
        let paired = added_cpu_ratios(span_log, batch, headers);
        if !paired.is_empty() {
            let _ = writeln!(
                out,
                "span log ÷ batch export, added CPU ns per message, paired per round: {} ({} of {} rounds: those where batch export added CPU time)",
                ratio(&paired),
                paired.len(),
                batch.cpu.len(),
            );
        }
    }
    out
}

/// Per round, the CPU time `a` adds per message over `base` divided by the CPU time `b` adds;
/// rounds where `b` adds nothing measurable are left out.
fn added_cpu_ratios(a: &Measured, b: &Measured, base: &Measured) -> Vec<f64> {
    let rounds = a.cpu.iter().zip(&b.cpu).zip(&base.cpu);
    rounds
        .map(|((a, b), base)| (a - base, b - base))
        .filter(|&(_, added_b)| added_b > 0.0)
        .map(|(added_a, added_b)| added_a / added_b)
        .collect()
}

/// Per round, the time `a` adds per message over `base` divided by the time `b` adds (the
/// rounds are paired); rounds where `b` adds nothing measurable are left out.
fn added_ratios(a: &Measured, b: &Measured, base: &Measured) -> Vec<f64> {
    let rounds = a.rates.iter().zip(&b.rates).zip(&base.rates);
    rounds
        .map(|((a, b), base)| (1e9 / a - 1e9 / base, 1e9 / b - 1e9 / base))
        .filter(|&(_, added_b)| added_b > 0.0)
        .map(|(added_a, added_b)| added_a / added_b)
        .collect()
}
