//! The first hop of a flow (a cron job, a CLI command, a batch import) gives it a correlation id
//! with one call — no `opentelemetry` import needed.

use crate::traced::Traced;
use crate::{CorrelationContextExt, CorrelationId};
use opentelemetry::Context;

/// Runs `fut` with a correlation id in scope: the current context's if it has one, else a fresh
/// one. Every message `fut` sends carries it, and every log line inside says it.
///
/// ```
/// use tracewire::task::correlated;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let (a, b) = correlated(async {
///     let id = || opentelemetry::Context::current().correlation_id().copied();
///     (id(), id())
/// })
/// .await;
/// assert!(a.is_some() && a == b, "one id for the whole flow");
/// # });
/// # use tracewire::CorrelationContextExt;
/// ```
pub fn correlated<F>(fut: F) -> Traced<F> {
    Traced::new(fut, Context::current().with_correlation_id_or_new())
}

/// Runs `fut` with `id` as its correlation id (an id the job was given, e.g. an order number).
pub fn correlated_as<F>(id: CorrelationId, fut: F) -> Traced<F> {
    Traced::new(fut, Context::current().with_correlation_id(id))
}
