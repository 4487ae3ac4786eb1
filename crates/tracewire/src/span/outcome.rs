//! How an operation ended.

use super::ERROR_TYPE;

/// `exception.type` of the exception event an error records.
const EXCEPTION_TYPE: &str = "exception.type";
/// `exception.message` of that event.
const EXCEPTION_MESSAGE: &str = "exception.message";
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
            // The conventions' exception event: what failed, in the client's words.
            if span.is_recording() {
                span.add_event(
                    "exception",
                    vec![
                        KeyValue::new(EXCEPTION_TYPE, error_type.clone()),
                        KeyValue::new(EXCEPTION_MESSAGE, message.clone()),
                    ],
                );
            }
            span.set_status(Status::error(message.clone()));
        }
    }
}
