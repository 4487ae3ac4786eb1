//! What tracewire warned about: its `tracing` warnings (target `tracewire`), captured.

use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// tracewire's warnings while a closure ran on this thread.
///
/// ```
/// use tracewire::testing::Warnings;
///
/// let warned = Warnings::capture(|| {
///     tracing::warn!(target: "tracewire", "something is off");
/// });
/// assert_eq!(warned, ["something is off"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    /// Runs `f` and returns the messages of tracewire's warnings during it.
    pub fn capture(f: impl FnOnce()) -> Vec<String> {
        let warnings = Warnings::default();
        tracing::subscriber::with_default(warnings.clone(), f);
        warnings.seen()
    }

    /// Awaits `fut` and returns its output with tracewire's warnings meanwhile, on this thread
    /// (a current-thread runtime, as `#[tokio::test]` gives: what the wrappers do while it is
    /// polled).
    pub async fn capture_async<F: std::future::Future>(fut: F) -> (F::Output, Vec<String>) {
        let warnings = Warnings::default();
        let out = {
            let _guard = tracing::subscriber::set_default(warnings.clone());
            fut.await
        };
        (out, warnings.seen())
    }

    /// What was captured so far.
    fn seen(&self) -> Vec<String> {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Warnings {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        meta.target() == "tracewire" && *meta.level() == Level::WARN
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = String::new();
        event.record(&mut Message(&mut message));
        if let Ok(mut seen) = self.0.lock() {
            seen.push(message);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
