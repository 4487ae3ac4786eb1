//! Counters of propagation problems: one relaxed atomic add when something is wrong, nothing
//! when all is well, so they stay on the hot path.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Live counters, shared by every clone of a [`Propagator`](crate::Propagator).
        #[derive(Debug, Default)]
        pub struct PropagationStats {
            $($(#[$doc])* pub $name: AtomicU64,)*
        }

        /// A point-in-time copy of [`PropagationStats`].
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct StatsSnapshot {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl PropagationStats {
            /// Reads every counter.
            pub fn snapshot(&self) -> StatsSnapshot {
                StatsSnapshot { $($name: self.$name.load(Relaxed),)* }
            }
        }

        impl StatsSnapshot {
            /// Each counter with its name: the `kind` of `tracewire.propagation.problems`.
            pub fn by_kind(&self) -> impl Iterator<Item = (&'static str, u64)> {
                [$((stringify!($name), self.$name),)*].into_iter()
            }
        }
    };
}

counters! {
    /// Messages that arrived without a trace context (a new trace was started).
    traceparent_missing,
    /// Messages whose trace context was malformed (a new trace was started).
    traceparent_invalid,
    /// `tracestate` values dropped whole (a malformed member, too many members, too long).
    tracestate_dropped,
    /// `tracestate` members dropped one by one: repeating an earlier key (the first kept), or
    /// past 32 members when written.
    tracestate_members_dropped,
    /// Baggage members dropped on extract or inject (malformed or past the W3C limits).
    baggage_members_dropped,
    /// Baggage members a destination's rules kept from crossing (`HopPolicy`), either way.
    baggage_members_refused,
    /// Messages that arrived without a correlation id (a new one was generated).
    correlation_missing,
    /// Incoming correlation ids that were invalid and replaced by a new one.
    correlation_replaced,
    /// Header values that the transport refused, or that were unsafe to write, on inject.
    inject_rejected,
}

pub(crate) fn bump(counter: &AtomicU64, by: usize) {
    if by > 0 {
        counter.fetch_add(by as u64, Relaxed);
    }
}
