//! `Traced<F>`: a future or stream that runs with its own OpenTelemetry context on every poll.

use futures_core::Stream;
use opentelemetry::Context;
use std::future::Future;
use std::pin::Pin;
use std::task::{self, Poll};

pin_project_lite::pin_project! {
    /// A future or stream with a [`Context`] attached while it is polled, and only then: the
    /// context is never held across an `.await` as a guard, so it cannot leak into whatever the
    /// worker thread polls next.
    ///
    /// ```
    /// use opentelemetry::Context;
    /// use tracewire::task::Traced;
    /// use tracewire::{CorrelationContextExt, CorrelationId};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let id = CorrelationId::parse(b"order-1").unwrap();
    /// let cx = Context::new().with_correlation_id(id);
    /// let seen = Traced::new(async { Context::current().correlation_id().copied() }, cx).await;
    /// assert_eq!(seen, Some(id));
    /// # });
    /// ```
    #[must_use = "futures and streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct Traced<F> {
        #[pin]
        inner: F,
        cx: Context,
    }
}

impl<F> Traced<F> {
    /// Wraps `inner` so that it runs in `cx`.
    pub fn new(inner: F, cx: Context) -> Self {
        Traced { inner, cx }
    }

    /// Wraps `inner` so that it runs in the caller's current context.
    pub fn current(inner: F) -> Self {
        Self::new(inner, Context::current())
    }

    /// The context it runs in.
    pub fn context(&self) -> &Context {
        &self.cx
    }
}

impl<F: Future> Future for Traced<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _attached = this.cx.clone().attach();
        this.inner.poll(task)
    }
}

impl<S: Stream> Stream for Traced<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let _attached = this.cx.clone().attach();
        this.inner.poll_next(task)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// `.traced()` and `.traced_in(cx)` on any future or stream.
pub trait TracedExt: Sized {
    /// Runs in the caller's current context.
    fn traced(self) -> Traced<Self> {
        Traced::current(self)
    }

    /// Runs in `cx`.
    fn traced_in(self, cx: Context) -> Traced<Self> {
        Traced::new(self, cx)
    }
}

impl<T> TracedExt for T {}
