//! Messaging metrics (OpenTelemetry semantic conventions), recorded when an operation's span
//! ends: `messaging.client.operation.duration`, `messaging.process.duration`,
//! `messaging.client.sent.messages`, `messaging.client.consumed.messages`.

use super::attributes::{DESTINATION_NAME, ERROR_TYPE, OPERATION_NAME, OPERATION_TYPE, SYSTEM};
use super::{OperationType, Outcome};
use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::{KeyValue, StringValue};
use std::sync::Arc;
use std::time::Instant;

/// Bucket boundaries the conventions recommend for messaging durations, in seconds.
const DURATION_BUCKETS: [f64; 14] = [
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
                "messaging.client.operation.duration",
                "Duration of messaging operation initiated by a producer or consumer client.",
            ),
            process_duration: histogram(
                "messaging.process.duration",
                "Duration of processing operation.",
            ),
            sent: meter
                .u64_counter("messaging.client.sent.messages")
                .with_unit("{message}")
                .with_description("Number of messages producer attempted to send to the broker.")
                .build(),
            consumed: meter
                .u64_counter("messaging.client.consumed.messages")
                .with_unit("{message}")
                .with_description("Number of messages that were delivered to the application.")
                .build(),
        }
    }
}

/// One operation being measured; recorded once, when its span ends. The attributes are built
/// on the stack when recorded (no allocation per message).
#[derive(Debug)]
pub(crate) struct Measurement {
    instruments: Arc<Instruments>,
    kind: OperationType,
    system: &'static str,
    name: &'static str,
    destination: StringValue,
    started: Instant,
}

impl Measurement {
    pub(crate) fn start(
        instruments: &Arc<Instruments>,
        kind: OperationType,
        system: &'static str,
        name: &'static str,
        destination: StringValue,
    ) -> Self {
        let measurement = Measurement {
            instruments: instruments.clone(),
            kind,
            system,
            name,
            destination,
            started: Instant::now(),
        };
        if matches!(kind, OperationType::Receive | OperationType::Process) {
            instruments.consumed.add(1, &measurement.attributes());
        }
        measurement
    }

    /// The metric attributes of every measurement.
    fn attributes(&self) -> [KeyValue; 4] {
        [
            KeyValue::new(SYSTEM, self.system),
            KeyValue::new(OPERATION_NAME, self.name),
            KeyValue::new(OPERATION_TYPE, self.kind.as_str()),
            KeyValue::new(DESTINATION_NAME, self.destination.clone()),
        ]
    }

    pub(crate) fn record(self, outcome: &Outcome) {
        let common = self.attributes();
        let with_error;
        let attributes: &[KeyValue] = match outcome {
            Outcome::Ok => &common,
            Outcome::Error { error_type, .. } => {
                let [system, name, kind, destination] = common;
                let error = KeyValue::new(ERROR_TYPE, error_type.clone());
                with_error = [system, name, kind, destination, error];
                &with_error
            }
        };
        let seconds = self.started.elapsed().as_secs_f64();
        let i = &self.instruments;
        match self.kind {
            OperationType::Process => i.process_duration.record(seconds, attributes),
            _ => i.operation_duration.record(seconds, attributes),
        }
        if self.kind == OperationType::Send {
            i.sent.add(1, attributes);
        }
    }
}
