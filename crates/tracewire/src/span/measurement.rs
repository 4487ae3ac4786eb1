//! What an operation records when its span ends: one duration, and a sent count for sends.
//! The instruments and attributes are chosen by whoever opens the span (the messaging metrics).

use super::{Outcome, ERROR_TYPE};
use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::trace::SpanContext;
use opentelemetry::KeyValue;
use std::time::Instant;

/// One operation being measured; recorded once, when its span ends.
#[derive(Debug)]
pub(crate) struct Measurement {
    /// The duration histogram and its name.
    duration: (Histogram<f64>, &'static str),
    /// The sent or consumed counter, its name, and how many messages the operation adds to it.
    messages: (Counter<u64>, &'static str, u64),
    attributes: [KeyValue; 4],
    started: Instant,
}

impl Measurement {
    /// Starts the clock: when the span ends, `duration` gets the seconds and `messages.0` adds
    /// `messages.2`, with `attributes` (and `error.type` on failure).
    pub(crate) fn start(
        duration: (Histogram<f64>, &'static str),
        messages: (Counter<u64>, &'static str, u64),
        attributes: [KeyValue; 4],
    ) -> Self {
        Measurement {
            duration,
            messages,
            attributes,
            started: Instant::now(),
        }
    }

    /// How many messages the operation turned out to deliver (a fetch learns it at the end).
    pub(crate) fn set_count(&mut self, count: u64) {
        self.messages.2 = count;
    }

    /// Records the measurement of the span whose context is `span` (for the metrics tap's
    /// exemplars).
    pub(crate) fn record(self, outcome: &Outcome, span: &SpanContext) {
        let with_error;
        let attributes: &[KeyValue] = match outcome {
            Outcome::Ok => &self.attributes,
            Outcome::Error { error_type, .. } => {
                let [a, b, c, d] = self.attributes;
                with_error = [a, b, c, d, KeyValue::new(ERROR_TYPE, error_type.clone())];
                &with_error
            }
        };
        let seconds = self.started.elapsed().as_secs_f64();
        let (histogram, duration_name) = &self.duration;
        histogram.record(seconds, attributes);
        let (counter, count_name, count) = &self.messages;
        if *count > 0 {
            counter.add(*count, attributes);
        }
        if let Some(tap) = super::tap::tap() {
            tap.duration(duration_name, seconds, attributes, span);
            if *count > 0 {
                tap.count(count_name, *count, attributes, span);
            }
        }
    }
}
