//! Messaging metrics (OpenTelemetry semantic conventions), recorded when an operation's span
//! ends: `messaging.client.operation.duration`, `messaging.process.duration`,
//! `messaging.client.sent.messages`, `messaging.client.consumed.messages`.

use super::attributes::{DESTINATION_NAME, OPERATION_NAME, OPERATION_TYPE, SYSTEM};
use super::leaked::Leaked;
use super::OperationType;
use crate::span::{Outcome, ERROR_TYPE};
use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::trace::SpanContext;
use opentelemetry::{KeyValue, StringValue};
use smallvec::SmallVec;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

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
    /// `messaging.system`: one per instrumentation, kept here rather than in every measurement
    /// (which travels with its span: a span handle past 128 bytes is copied by a call).
    system: &'static str,
    operation_duration: Histogram<f64>,
    process_duration: Histogram<f64>,
    sent: Counter<u64>,
    consumed: Counter<u64>,
}

/// The clock the durations are measured with: the CPU's time-stamp counter where it is invariant
/// (quanta calibrates it once per process against the OS's monotonic clock, and uses that clock
/// itself where the counter cannot be trusted). Every measured operation reads it twice, an
/// unsampled one too: a reading is ~12 ns where `SystemTime::now` took 45–90 ns (a VM's vDSO
/// clock). Durations are monotonic: a wall clock stepped mid-operation cannot bend them.
pub(crate) fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

impl Instruments {
    pub(crate) fn new(meter: &Meter, system: &'static str) -> Self {
        clock(); // calibrated now, not on the first message
        let histogram = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build()
        };
        Instruments {
            system,
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

/// A [`Messaging`](super::Messaging)'s instruments, as its measurements hold them: made
/// `'static` for the first [`MAX_STATIC_INSTRUMENTS`] instrumentations a process builds (a
/// measurement then copies a pointer, where a reference count is a locked write, twice a
/// message, on a line every thread of a shared `Messaging` writes), shared by count past that.
#[derive(Debug, Clone)]
pub(crate) enum SharedInstruments {
    Static(&'static Instruments),
    Counted(Arc<Instruments>),
}

/// How many instrumentations' instruments a process makes `'static` (a few hundred bytes
/// each); past this, they are reference-counted. A service builds one `Messaging` per broker
/// client; a process that builds them by the thousand still leaks no more than this.
pub const MAX_STATIC_INSTRUMENTS: usize = 64;

impl SharedInstruments {
    pub(crate) fn new(instruments: Instruments) -> Self {
        static MADE_STATIC: AtomicUsize = AtomicUsize::new(0);
        match MADE_STATIC.fetch_add(1, Ordering::Relaxed) < MAX_STATIC_INSTRUMENTS {
            true => SharedInstruments::Static(Box::leak(Box::new(instruments))),
            false => SharedInstruments::Counted(Arc::new(instruments)),
        }
    }

    /// The instruments.
    pub(crate) fn get(&self) -> &Instruments {
        match self {
            SharedInstruments::Static(i) => i,
            SharedInstruments::Counted(i) => i,
        }
    }

    /// Starts measuring one operation of `count` messages (1, a batch's size, or 0 for a
    /// message its batch or receive already counts): recorded when its span ends. `interned`:
    /// the operation's attributes made once ([`interned`](Instruments::interned)), if they
    /// were.
    pub(crate) fn measure(
        &self,
        kind: OperationType,
        name: &'static str,
        destination: &StringValue,
        interned: Option<&'static AttributeSet>,
        count: u64,
    ) -> Measurement {
        let source = match interned {
            Some(set) => Source::Interned(self.clone(), set),
            None => Source::Made(Box::new((self.clone(), name, destination.clone()))),
        };
        Measurement {
            source,
            kind,
            count: if kind == OperationType::Settle {
                0
            } else {
                count
            },
            started: clock().now(),
        }
    }
}

impl Instruments {
    /// The attributes of an operation's measurements: system, operation name and type,
    /// destination.
    fn attributes(
        &self,
        kind: OperationType,
        name: &'static str,
        destination: StringValue,
    ) -> AttributeSet {
        [
            KeyValue::new(SYSTEM, self.system),
            KeyValue::new(OPERATION_NAME, name),
            KeyValue::new(OPERATION_TYPE, kind.as_str()),
            KeyValue::new(DESTINATION_NAME, destination),
        ]
    }

    /// An operation's attributes made `'static` once per process — a measurement then builds and
    /// drops none (four values, ~200 instructions a message) —, at most
    /// [`MAX_ATTRIBUTE_SETS`] sets; `None` past that (each measurement makes its own).
    pub(crate) fn interned(
        &self,
        kind: OperationType,
        name: &'static str,
        destination: &StringValue,
    ) -> Option<&'static AttributeSet> {
        let key = (self.system, name, kind, destination.as_str().to_owned());
        ATTRIBUTE_SETS.get(&key, || {
            let set = self.attributes(kind, name, destination.clone());
            (key.clone(), Box::leak(Box::new(set)))
        })
    }
}

/// The metric attribute sets made `'static`: system, operation name and type, destination.
static ATTRIBUTE_SETS: Leaked<(&str, &str, OperationType, String), AttributeSet> =
    Leaked::new(MAX_ATTRIBUTE_SETS);

/// How many metric attribute sets the process holds as `'static` (at most
/// [`MAX_ATTRIBUTE_SETS`]).
pub(crate) fn interned_attribute_sets() -> usize {
    ATTRIBUTE_SETS.len()
}

/// Metric attribute sets made `'static` per process (system × operation × destination, which
/// the conventions keep low-cardinality, as span names); past this, made per measurement.
pub const MAX_ATTRIBUTE_SETS: usize = 4096;

/// One operation being measured; recorded once, when its span ends. Small on purpose: it
/// travels with the span (into every message handle).
#[derive(Debug)]
pub(crate) struct Measurement {
    source: Source,
    kind: OperationType,
    /// How many messages the operation adds to the sent or consumed counter.
    count: u64,
    /// When the operation started, on [`clock`].
    started: quanta::Instant,
}

/// An operation's metric attributes: system, operation name and type, destination.
pub(crate) type AttributeSet = [KeyValue; 4];

/// A measurement's instruments and attributes. Three words (a tag and two pointers): a
/// measurement travels with its span, in every message handle and settle future, and each of
/// their moves is a copy.
#[derive(Debug)]
enum Source {
    /// The common case: attributes made once per process (the instruments too, unless past
    /// [`MAX_STATIC_INSTRUMENTS`]).
    Interned(SharedInstruments, &'static AttributeSet),
    /// Past [`MAX_ATTRIBUTE_SETS`] (rare): the attributes made when recorded, from the
    /// operation name and destination; boxed, not carried inline by every measurement.
    Made(Box<(SharedInstruments, &'static str, StringValue)>),
}

impl Measurement {
    /// How many messages the operation turned out to deliver (a fetch learns it at the end).
    pub(crate) fn set_count(&mut self, count: u64) {
        self.count = count;
    }

    /// Records the duration up to `ended` (read on [`clock`] as the span ends) and the count, if
    /// any, of the span whose context is `span`, with `error.type` on failure; the metrics tap
    /// gets them too, with the span for exemplars.
    pub(crate) fn record(self, outcome: &Outcome, span: &SpanContext, ended: quanta::Instant) {
        let seconds = ended.saturating_duration_since(self.started).as_secs_f64();
        let made;
        let (i, base): (&Instruments, &[KeyValue]) = match &self.source {
            Source::Interned(i, set) => (i.get(), *set),
            Source::Made(from) => {
                let (instruments, name, destination) = &**from;
                let i = instruments.get();
                made = i.attributes(self.kind, name, destination.clone());
                (i, &made)
            }
        };
        let with_error: SmallVec<[KeyValue; 5]>;
        let attributes = match outcome {
            Outcome::Ok => base,
            Outcome::Error { error_type, .. } => {
                let error = KeyValue::new(ERROR_TYPE, error_type.clone());
                with_error = base.iter().cloned().chain([error]).collect();
                &with_error[..]
            }
        };
        let (histogram, duration) = match self.kind {
            OperationType::Process => (&i.process_duration, PROCESS_DURATION),
            _ => (&i.operation_duration, OPERATION_DURATION),
        };
        let (counter, counted) = match self.kind {
            OperationType::Send => (&i.sent, SENT),
            _ => (&i.consumed, CONSUMED),
        };
        histogram.record(seconds, attributes);
        if self.count > 0 {
            counter.add(self.count, attributes);
        }
        if let Some(tap) = crate::span::tap() {
            tap.duration(duration, seconds, attributes, span);
            if self.count > 0 {
                tap.count(counted, self.count, attributes, span);
            }
        }
    }
}
