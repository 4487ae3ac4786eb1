//! `check`: assertions over span logs for CI pipelines — no lost messages after a grace, no
//! error spans (or only listed ones), every flow through a sequence of services, queue-time and
//! end-to-end percentiles under limits. Each assertion passes or fails with the figures that
//! decided it; `tracewire check` exits 1 when one fails.

use crate::collect::Collector;
use serde::Serialize;
use std::fmt::Write as _;

/// A percentile limit: `p99=200` — the 99th percentile at most 200 ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// The percentile, 0–100.
    pub percentile: f64,
    /// The limit (ms).
    pub max_ms: f64,
}

impl std::str::FromStr for Limit {
    type Err = String;

    /// `p99=200`, `99=200` or `p50=12.5`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?}: expected a percentile and a limit in ms, e.g. p99=200");
        let (p, ms) = s.split_once('=').ok_or_else(bad)?;
        let percentile: f64 = p
            .trim()
            .trim_start_matches(['p', 'P'])
            .parse()
            .map_err(|_| bad())?;
        let max_ms: f64 = ms
            .trim()
            .trim_end_matches("ms")
            .parse()
            .map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&percentile) || !max_ms.is_finite() || max_ms < 0.0 {
            return Err(bad());
        }
        Ok(Limit { percentile, max_ms })
    }
}

/// What to assert.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// How old an unprocessed message must be to count as lost (µs).
    pub grace_us: i64,
    /// Lost messages and never-ended spans do not fail the check.
    pub allow_lost: bool,
    /// What a span-log gap may hide (uncertain) does not fail the check.
    pub allow_uncertain: bool,
    /// Error spans do not fail the check.
    pub allow_errors: bool,
    /// Error codes (`error.type`) that do not fail the check.
    pub allowed_errors: Vec<String>,
    /// Service sequences every flow that enters the first service must cross, in order.
    pub paths: Vec<Vec<String>>,
    /// Limits on the time messages spend in queues.
    pub queue: Vec<Limit>,
    /// Limits on traces' durations, first start to last end.
    pub duration: Vec<Limit>,
}

/// One assertion's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// What was asserted.
    pub check: String,
    /// Whether it held.
    pub passed: bool,
    /// The figures behind the verdict.
    pub detail: String,
}

/// Nearest-rank percentile of `samples` (sorted in place); `None` when empty.
fn percentile(samples: &mut [f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    Some(samples[rank.clamp(1, samples.len()) - 1])
}

/// Runs every assertion of `options` over what `c` collected (collected with
/// [`Collector::track_paths`] when `options.paths` is not empty).
pub fn check(c: &Collector, options: &CheckOptions) -> Vec<Verdict> {
    let mut out = Vec::new();
    let (lost, open) = (c.lost(options.grace_us), c.never_ended());
    let uncertain = c.missing_messages(options.grace_us).len() + c.missing_ends().len()
        - lost.len()
        - open.len();
    out.push(Verdict {
        check: "no lost messages".into(),
        passed: options.allow_lost || (lost.is_empty() && open.is_empty()),
        detail: format!(
            "{} sent and never processed, {} started and never ended (grace {} s)",
            lost.len(),
            open.len(),
            options.grace_us as f64 / 1e6
        ),
    });
    if uncertain > 0 || !c.gaps().is_empty() {
        out.push(Verdict {
            check: "nothing hidden by span-log gaps".into(),
            passed: options.allow_uncertain || uncertain == 0,
            detail: format!(
                "{uncertain} uncertain, in {} span-log gap(s)",
                c.gaps().len()
            ),
        });
    }
    let errors = c.error_codes();
    let failing: Vec<_> = (errors.iter())
        .filter(|(code, _)| !options.allowed_errors.contains(code))
        .collect();
    let mut detail = format!(
        "{} error span(s)",
        errors.iter().map(|(_, n)| n).sum::<u64>()
    );
    for (code, n) in &errors {
        let allowed = if options.allowed_errors.contains(code) {
            ", allowed"
        } else {
            ""
        };
        let _ = write!(detail, "; {code}: {n}{allowed}");
    }
    out.push(Verdict {
        check: "no error spans".into(),
        passed: options.allow_errors || failing.is_empty(),
        detail,
    });
    for path in &options.paths {
        out.push(path_verdict(c, path));
    }
    let mut queue: Vec<f64> = (c.queue_times_us().iter())
        .map(|&us| us as f64 / 1000.0)
        .collect();
    for limit in &options.queue {
        out.push(limit_verdict("time in queue", &mut queue, *limit));
    }
    let mut durations: Vec<f64> = (c.traces().values())
        .map(|t| (t.end_us - t.start_us) as f64 / 1000.0)
        .collect();
    for limit in &options.duration {
        out.push(limit_verdict("trace duration", &mut durations, *limit));
    }
    out
}

fn path_verdict(c: &Collector, path: &[String]) -> Verdict {
    let (mut flows, mut broken) = (0, Vec::new());
    for (trace, services) in c.paths() {
        let Some(start) = services.iter().position(|s| *s == path[0]) else {
            continue; // the flow does not enter the path
        };
        flows += 1;
        let mut rest = services[start..].iter();
        if !path.iter().all(|want| rest.any(|s| s == want)) {
            broken.push(format!("{trace} ({})", services.join(" → ")));
        }
    }
    let mut detail = format!("{flows} flow(s) enter {}", path[0]);
    if let Some(first) = broken.first() {
        let _ = write!(detail, "; {} do not cross it, e.g. {first}", broken.len());
    }
    Verdict {
        check: format!("every flow crosses {}", path.join(" → ")),
        passed: broken.is_empty() && flows > 0,
        detail,
    }
}

fn limit_verdict(what: &str, samples: &mut [f64], limit: Limit) -> Verdict {
    let value = percentile(samples, limit.percentile);
    Verdict {
        check: format!("{what} p{} ≤ {} ms", limit.percentile, limit.max_ms),
        passed: value.is_some_and(|v| v <= limit.max_ms),
        detail: match value {
            Some(v) => format!(
                "p{} = {v:.1} ms over {} sample(s)",
                limit.percentile,
                samples.len()
            ),
            None => "no samples".into(),
        },
    }
}

/// The verdicts as text: a `PASS` / `FAIL` line each, then the count.
pub fn text(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    for v in verdicts {
        let mark = if v.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "{mark} {}: {}", v.check, v.detail);
    }
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    let _ = writeln!(
        out,
        "check: {} passed, {failed} failed",
        verdicts.len() - failed
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_percentiles_rank() {
        let l: Limit = "p99=200".parse().unwrap();
        assert_eq!((l.percentile, l.max_ms), (99.0, 200.0));
        assert_eq!("50=1.5ms".parse::<Limit>().unwrap().max_ms, 1.5);
        assert!("p101=5".parse::<Limit>().is_err());
        assert!("p99".parse::<Limit>().is_err());
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut v, 99.0), Some(99.0));
        assert_eq!(percentile(&mut v, 50.0), Some(50.0));
        assert_eq!(percentile(&mut v, 100.0), Some(100.0));
        assert_eq!(percentile(&mut [], 50.0), None);
    }
}
