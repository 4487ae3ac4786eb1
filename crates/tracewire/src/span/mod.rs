//! The span of one operation, owned until it ends exactly once — what messages, sends awaiting
//! their acknowledgement and jobs all hold. Knows nothing of brokers or jobs: the owner decides
//! what an abandoned span says.

mod open_span;
mod outcome;
mod starting;
mod tap;

pub use open_span::OpenSpan;
pub use outcome::Outcome;
pub use starting::{identifying, set_start_listener, skeleton_starting, StartListener, Starting};
pub(crate) use starting::{listening, parent_span_id, start_told};
pub(crate) use tap::tap;
pub use tap::{set_metrics_tap, MetricsTap};

/// `error.type`: a low-cardinality error class.
pub const ERROR_TYPE: &str = "error.type";
/// `tracewire.settled`: `false` when a message span ended because its handle was dropped.
pub const SETTLED: &str = "tracewire.settled";
