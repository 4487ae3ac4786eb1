//! Warnings for set-ups that work silently wrong: spans started on OpenTelemetry's no-op tracer
//! provider, a global propagator that is the no-op one, most messages arriving without a trace
//! context (an uninstrumented upstream). Each is a `tracing` warning with target `tracewire` —
//! the first two once per process, the third at most once every ten minutes per propagator.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

static NOOP_PROVIDER: AtomicBool = AtomicBool::new(false);
static NOOP_PROPAGATOR: AtomicBool = AtomicBool::new(false);

/// A span was started on the no-op provider: said once.
pub(crate) fn noop_provider() {
    if !NOOP_PROVIDER.swap(true, Relaxed) {
        tracing::warn!(
            target: "tracewire",
            "tracewire started a span on OpenTelemetry's no-op tracer provider: nothing is \
             recorded or exported. Install a provider (tracewire_telemetry::init, or \
             opentelemetry::global::set_tracer_provider); wrappers built before it pick it up."
        );
    }
}

/// A propagator built with `global_trace_propagator()` found the no-op global: said once.
pub(crate) fn noop_global_propagator() {
    if !NOOP_PROPAGATOR.swap(true, Relaxed) {
        tracing::warn!(
            target: "tracewire",
            "tracewire's propagator uses the global OpenTelemetry propagator, which is the no-op \
             one: no trace context is injected or extracted, no trace connects. Install one \
             (opentelemetry::global::set_text_map_propagator) or use Propagator::new()."
        );
    }
}

/// Messages received per check of the share that had no trace context.
const WINDOW: u64 = 1024;
/// Seconds between two warnings of one propagator.
const QUIET_SECS: u64 = 600;

/// Counts received messages and those without a trace context; when most of a window of them
/// had none, warns (rate-limited). The received count is a plain load and store, not an atomic
/// add: a locked instruction on every message's path for a heuristic. Threads racing on it may
/// lose a few counts (a window then runs a little longer); it never skips a window for good,
/// since it moves one at a time.
#[derive(Debug, Default)]
pub(crate) struct MissingContext {
    received: AtomicU64,
    missing: AtomicU64,
    warned_at: AtomicU64,
}

impl MissingContext {
    pub(crate) fn record(&self, missing: bool) {
        if missing {
            self.missing.fetch_add(1, Relaxed);
        }
        let received = self.received.load(Relaxed) + 1;
        self.received.store(received, Relaxed);
        if !received.is_multiple_of(WINDOW) {
            return;
        }
        let missing = self.missing.swap(0, Relaxed);
        if missing * 2 <= WINDOW {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.warned_at.load(Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= QUIET_SECS;
        if due
            && self
                .warned_at
                .compare_exchange(last, now.max(1), Relaxed, Relaxed)
                .is_ok()
        {
            tracing::warn!(
                target: "tracewire",
                missing,
                of = WINDOW,
                "most received messages carry no trace context (traceparent): their producer \
                 is not instrumented, or its propagator writes another format. Each starts a new \
                 trace (counted in PropagationStats::traceparent_missing)."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Warnings;

    #[test]
    fn most_messages_without_a_context_warn_once_per_quiet_period() {
        let m = MissingContext::default();
        // A window where a third is missing: no warning.
        let warned = Warnings::capture(|| (0..WINDOW).for_each(|i| m.record(i % 3 == 0)));
        assert!(warned.is_empty(), "{warned:?}");
        // Then windows where all are: one warning, not one per window.
        let warned = Warnings::capture(|| (0..WINDOW * 3).for_each(|_| m.record(true)));
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(warned[0].contains("most received messages carry no trace context"));
    }
}
