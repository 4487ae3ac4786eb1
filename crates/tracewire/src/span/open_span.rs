//! A span that belongs to one operation and ends exactly once: on settle, or when dropped.

use super::{Outcome, SETTLED};
use crate::messaging::metrics::{self, Measurement};
use crate::traced::Traced;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use std::time::SystemTime;

/// Owns the span of one operation (a consumer's `process`, a producer's `send` awaiting its
/// acknowledgement, a job). [`end`](OpenSpan::end) records the outcome and ends it; dropping it
/// unsettled ends it too — a message's span marked `tracewire.settled = false` — so no span is
/// ever left open. Spans that the messaging instrumentation opens also record the semconv
/// metrics when they end.
#[derive(Debug)]
pub struct OpenSpan {
    cx: Context,
    open: bool,
    measurement: Option<Measurement>,
    abandoned: Abandoned,
}

/// What a span says when its owner drops it before ending it: an attribute, and an outcome.
/// A function, so that a span carries one pointer for it, not the values.
pub(crate) type Abandoned = fn() -> (Option<KeyValue>, Outcome);

/// A message never settled: `tracewire.settled = false`, status left alone.
fn unsettled() -> (Option<KeyValue>, Outcome) {
    (Some(KeyValue::new(SETTLED, false)), Outcome::Ok)
}

impl OpenSpan {
    /// Takes ownership of the span active in `cx` (no metrics: spans opened by
    /// [`Messaging`](crate::messaging::Messaging) also record them).
    pub fn new(cx: Context) -> Self {
        Self::owning(cx, None, unsettled)
    }

    pub(crate) fn owning(
        cx: Context,
        measurement: Option<Measurement>,
        abandoned: Abandoned,
    ) -> Self {
        OpenSpan {
            cx,
            open: true,
            measurement,
            abandoned,
        }
    }

    pub(crate) fn measured(cx: Context, measurement: Option<Measurement>) -> Self {
        Self::owning(cx, measurement, unsettled)
    }

    /// For a message the broker has nothing to settle (core NATS: no ack, no redelivery): dropped,
    /// the span ends as done, not marked `tracewire.settled = false` — only what a broker can
    /// settle is reported unsettled.
    pub fn nothing_to_settle(self) -> Self {
        self.abandoned_as(|| (None, Outcome::Ok))
    }

    /// The same span, saying `abandoned` instead when dropped before it ends.
    pub(crate) fn abandoned_as(mut self, abandoned: Abandoned) -> Self {
        self.abandoned = abandoned;
        self
    }

    /// The context in which the span is active: run the handler in it.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Runs `fut` (a message handler) in the span's context.
    pub fn in_context<F: std::future::Future>(&self, fut: F) -> Traced<F> {
        Traced::new(fut, self.cx.clone())
    }

    /// Whether the span records (is sampled or recorded): attributes only worth computing for
    /// a recording span can be skipped otherwise.
    pub fn is_recording(&self) -> bool {
        self.cx.span().is_recording()
    }

    /// Adds an attribute to the span.
    pub fn set_attribute(&self, kv: KeyValue) {
        self.cx.span().set_attribute(kv);
    }

    /// Adds a link to the span (for spans whose related contexts arrive after they start, such
    /// as a receive that learns its messages when they are in hand).
    pub fn add_link(&self, to: SpanContext) {
        self.cx.span().add_link(to, Vec::new());
    }

    /// How many messages the measured operation delivered, when it learns it only at the end.
    pub(crate) fn set_count(&mut self, count: u64) {
        if let Some(m) = &mut self.measurement {
            m.set_count(count);
        }
    }

    /// Records `outcome` and ends the span.
    pub fn end(mut self, outcome: Outcome) {
        self.finish(&outcome);
    }

    /// Ends the span with what a client call's `result` means ([`Outcome::after`]) and hands the
    /// result back untouched: the one line every settle method is.
    pub fn end_after<T, E: std::fmt::Display>(
        self,
        result: Result<T, E>,
        on_success: Outcome,
        error_type: &'static str,
    ) -> Result<T, E> {
        self.end(Outcome::after(&result, on_success, error_type));
        result
    }

    /// Records `outcome` and ends the span, if still open; for owners that cannot give it up.
    pub fn finish(&mut self, outcome: &Outcome) {
        if std::mem::take(&mut self.open) {
            let span = self.cx.span();
            outcome.record(&self.cx);
            // The metrics' duration ends first (their cheap clock), then the span (the wall
            // clock, read only for a span that records: `Span::end` reads it even for a no-op).
            let measured = (self.measurement.take()).map(|m| (m, metrics::clock().now()));
            if span.is_recording() {
                span.end_with_timestamp(SystemTime::now());
            }
            if let Some((m, ended)) = measured {
                m.record(outcome, span.span_context(), ended);
            }
        }
    }

    /// Hands out the context, ending nothing: the span then ends when its last context clone is
    /// dropped (or explicitly). For detaching a message from its handle.
    pub fn into_context(mut self) -> Context {
        self.open = false;
        self.measurement = None;
        std::mem::take(&mut self.cx)
    }
}

impl Drop for OpenSpan {
    fn drop(&mut self) {
        if self.open {
            let (mark, outcome) = (self.abandoned)();
            if let Some(mark) = mark {
                self.cx.span().set_attribute(mark);
            }
            self.finish(&outcome);
        }
    }
}
