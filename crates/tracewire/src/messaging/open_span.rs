//! A span that belongs to one message and ends exactly once: on settle, or when dropped.

use super::attributes::{ERROR_TYPE, SETTLED};
use super::metrics::Measurement;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use std::borrow::Cow;

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded (the span status stays unset, as the conventions advise for success).
    Ok,
    /// It failed: `error_type` is a low-cardinality class (`error.type`), `message` the status text.
    Error {
        /// Low-cardinality error class, e.g. `timeout`, `nack`, `MessageTimedOut`.
        error_type: Cow<'static, str>,
        /// Human-readable description.
        message: Cow<'static, str>,
    },
}

impl Outcome {
    /// A failure of class `error_type`.
    pub fn error(
        error_type: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Outcome::Error {
            error_type: error_type.into(),
            message: message.into(),
        }
    }

    /// What a client call's result means for the span: `on_success` when it succeeded, otherwise
    /// an error of class `error_type` carrying the client's message.
    pub fn after<T, E: std::fmt::Display>(
        result: &Result<T, E>,
        on_success: Outcome,
        error_type: &'static str,
    ) -> Self {
        match result {
            Ok(_) => on_success,
            Err(e) => Outcome::error(error_type, e.to_string()),
        }
    }

    /// Records this outcome on the span of `cx` (does not end it).
    pub fn record(&self, cx: &Context) {
        if let Outcome::Error {
            error_type,
            message,
        } = self
        {
            let span = cx.span();
            span.set_attribute(KeyValue::new(ERROR_TYPE, error_type.clone()));
            span.set_status(Status::error(message.clone()));
        }
    }
}

/// Owns the span of one message operation (a consumer's `process`, a producer's `send` awaiting
/// its acknowledgement). [`end`](OpenSpan::end) records the outcome and ends it; dropping it
/// unsettled ends it too, marked `tracewire.settled = false`, so no span is ever left open.
#[derive(Debug)]
pub struct OpenSpan {
    cx: Context,
    open: bool,
    measurement: Option<Measurement>,
    abandoned: Abandoned,
}

/// What a span says when its owner drops it before ending it.
#[derive(Debug, Clone, Copy)]
enum Abandoned {
    /// A message never settled: `tracewire.settled = false`, status left alone.
    Unsettled,
    /// A job aborted or dropped before completion: `tracewire.job.cancelled = true`, an error.
    Cancelled,
}

impl OpenSpan {
    /// Takes ownership of the span active in `cx` (no metrics: see
    /// [`Messaging::open_send`](super::Messaging::open_send) for spans that also record them).
    pub fn new(cx: Context) -> Self {
        Self::owning(cx, None, Abandoned::Unsettled)
    }

    /// A job's span: dropped before completion, it ends as cancelled.
    pub(crate) fn job(cx: Context) -> Self {
        Self::owning(cx, None, Abandoned::Cancelled)
    }

    fn owning(cx: Context, measurement: Option<Measurement>, abandoned: Abandoned) -> Self {
        OpenSpan {
            cx,
            open: true,
            measurement,
            abandoned,
        }
    }

    pub(crate) fn measured(cx: Context, measurement: Option<Measurement>) -> Self {
        Self::owning(cx, measurement, Abandoned::Unsettled)
    }

    /// The context in which the span is active: run the handler in it.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Runs `fut` (a message handler) in the span's context.
    pub fn in_context<F: std::future::Future>(&self, fut: F) -> crate::task::Traced<F> {
        crate::task::Traced::new(fut, self.cx.clone())
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

    /// Records `outcome` and ends the span.
    pub fn end(mut self, outcome: Outcome) {
        self.finish(&outcome);
    }

    /// Records `outcome` and ends the span, if still open; for owners that cannot give it up.
    pub fn finish(&mut self, outcome: &Outcome) {
        if std::mem::take(&mut self.open) {
            outcome.record(&self.cx);
            self.cx.span().end();
            if let Some(m) = self.measurement.take() {
                m.record(outcome);
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
        if !self.open {
            return;
        }
        match self.abandoned {
            Abandoned::Unsettled => {
                self.cx.span().set_attribute(KeyValue::new(SETTLED, false));
                self.finish(&Outcome::Ok);
            }
            Abandoned::Cancelled => {
                let cancelled = KeyValue::new(crate::task::JOB_CANCELLED, true);
                self.cx.span().set_attribute(cancelled);
                self.finish(&Outcome::error("cancelled", "dropped before completion"));
            }
        }
    }
}
