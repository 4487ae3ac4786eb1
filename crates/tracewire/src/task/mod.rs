//! Task helpers (feature `tokio`): the context survives `spawn`, `spawn_blocking`, `JoinSet`,
//! streams, named background jobs and batches.
//!
//! The context is attached by [`Traced`] on every poll and detached before the poll returns, so
//! it never leaks into the next task a worker thread runs, however tasks move between threads.

mod batch;
mod correlated;
mod job;
#[cfg(feature = "tokio")]
mod spawn;

pub use crate::traced::{Traced, TracedExt};
pub use batch::{Batch, BATCH_FAILED_COUNT};
pub use correlated::{correlated, correlated_as};
pub use job::{Job, JobFuture, JobOutcome, JOB_CANCELLED, JOB_NAME};
#[cfg(feature = "tokio")]
pub use spawn::{spawn, spawn_blocking, JoinSetExt};
