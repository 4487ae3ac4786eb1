//! Tokio spawning that carries the current context: `spawn`, `spawn_blocking`, `JoinSet`.

use crate::traced::Traced;
use opentelemetry::Context;
use std::future::Future;
use tokio::task::{JoinHandle, JoinSet};

/// Like `tokio::spawn`, carrying the caller's [`Context`] — span, baggage and correlation id —
/// into the task, attached on every poll.
///
/// ```
/// use opentelemetry::Context;
/// use tracewire::{task, CorrelationContextExt, CorrelationId};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let id = CorrelationId::parse(b"order-9").unwrap();
/// let _cx = Context::new().with_correlation_id(id).attach();
/// let seen = task::spawn(async { Context::current().correlation_id().copied() }).await.unwrap();
/// assert_eq!(seen, Some(id));
/// # });
/// ```
#[track_caller]
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(Traced::current(fut))
}

/// Like `tokio::task::spawn_blocking`: the closure runs with the caller's context attached.
///
/// ```
/// use opentelemetry::{baggage::BaggageExt, Context, KeyValue};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let _cx = Context::new().with_baggage([KeyValue::new("tenant", "acme")]).attach();
/// let tenant = tracewire::task::spawn_blocking(|| {
///     Context::current().baggage().get("tenant").map(|v| v.to_string())
/// });
/// assert_eq!(tenant.await.unwrap().as_deref(), Some("acme"));
/// # });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let cx = Context::current();
    tokio::task::spawn_blocking(move || {
        let _attached = cx.attach();
        f()
    })
}

/// `spawn_traced` on a [`JoinSet`]: the task carries the caller's context.
///
/// ```
/// use tokio::task::JoinSet;
/// use tracewire::task::JoinSetExt;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut set = JoinSet::new();
/// set.spawn_traced(async { 1 });
/// assert_eq!(set.join_next().await.unwrap().unwrap(), 1);
/// # });
/// ```
pub trait JoinSetExt<T> {
    /// Spawns `fut` in this set with the caller's context attached on every poll.
    fn spawn_traced<F>(&mut self, fut: F) -> tokio::task::AbortHandle
    where
        F: Future<Output = T> + Send + 'static;
}

impl<T: Send + 'static> JoinSetExt<T> for JoinSet<T> {
    #[track_caller]
    fn spawn_traced<F>(&mut self, fut: F) -> tokio::task::AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.spawn(Traced::current(fut))
    }
}
