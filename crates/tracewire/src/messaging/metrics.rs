//! Messaging metrics (OpenTelemetry semantic conventions), recorded when an operation's span
//! ends: `messaging.client.operation.duration`, `messaging.process.duration`,
//! `messaging.client.sent.messages`, `messaging.client.consumed.messages`.

use super::attributes::{DESTINATION_NAME, OPERATION_NAME, OPERATION_TYPE, SYSTEM};
use super::OperationType;
use crate::span::Measurement;
use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::{KeyValue, StringValue};

/// The metric names, as the conventions spell them.
const OPERATION_DURATION: &str = "messaging.client.operation.duration";
const PROCESS_DURATION: &str = "messaging.process.duration";
const SENT: &str = "messaging.client.sent.messages";
const CONSUMED: &str = "messaging.client.consumed.messages";

/// Bucket boundaries the conventions recommend for messaging durations, in seconds.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The four instruments of one [`Messaging`](super::Messaging).
#[derive(Debug)]
pub(crate) struct Instruments {
    operation_duration: Histogram<f64>,
    process_duration: Histogram<f64>,
    sent: Counter<u64>,
    consumed: Counter<u64>,
}

impl Instruments {
    pub(crate) fn new(meter: &Meter) -> Self {
        let histogram = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build()
        };
        Instruments {
            operation_duration: histogram(
                OPERATION_DURATION,
                "Duration of messaging operation initiated by a producer or consumer client.",
            ),
            process_duration: histogram(PROCESS_DURATION, "Duration of processing operation."),
            sent: meter
                .u64_counter(SENT)
                .with_unit("{message}")
                .with_description("Number of messages producer attempted to send to the broker.")
                .build(),
            consumed: meter
                .u64_counter(CONSUMED)
                .with_unit("{message}")
                .with_description("Number of messages that were delivered to the application.")
                .build(),
        }
    }
}

impl Instruments {
    /// Starts measuring one operation of `count` messages (1, a batch's size, or 0 for a
    /// message its batch or receive already counts): recorded when its span ends.
    pub(crate) fn measure(
        &self,
        kind: OperationType,
        system: &'static str,
        name: &'static str,
        destination: StringValue,
        count: u64,
    ) -> Measurement {
        let attributes = [
            KeyValue::new(SYSTEM, system),
            KeyValue::new(OPERATION_NAME, name),
            KeyValue::new(OPERATION_TYPE, kind.as_str()),
            KeyValue::new(DESTINATION_NAME, destination),
        ];
        let (histogram, duration) = match kind {
            OperationType::Process => (&self.process_duration, PROCESS_DURATION),
            _ => (&self.operation_duration, OPERATION_DURATION),
        };
        let (counter, counted) = match kind {
            OperationType::Send => (&self.sent, SENT),
            _ => (&self.consumed, CONSUMED),
        };
        let count = if kind == OperationType::Settle {
            0
        } else {
            count
        };
        Measurement::start(
            (histogram.clone(), duration),
            (counter.clone(), counted, count),
            attributes,
        )
    }
}
