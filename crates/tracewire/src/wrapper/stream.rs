//! `TracedStream<S, W>`: a client's message stream yielding traced messages.

use crate::messaging::Messaging;
use futures_core::Stream;
use std::fmt;
use std::pin::Pin;
use std::task::{self, Poll};

/// How a broker crate turns one item of its client's stream into a traced one (extract, open
/// the span): the only part of a consumer stream that is the broker's.
pub trait WrapMessage<T> {
    /// The traced item (errors pass through untouched).
    type Wrapped;
    /// The instrumentation the spans start with.
    fn messaging(&self) -> &Messaging;
    /// Starts the item's span. `&mut`: the stream yields one item at a time, so what the
    /// wrapper keeps between items (a [`Repeated`](super::Repeated) value) needs no lock.
    fn wrap(&mut self, item: T) -> Self::Wrapped;
}

/// How a broker crate's wrapper is made for a client stream, so that
/// [`TracedStream::new`] and [`TracedStream::with_messaging`] exist for it.
pub trait WrapStream<S>: Sized {
    /// The wrapper for `stream` (reading what it needs from it, e.g. the queue's name).
    fn for_stream(stream: &S, messaging: Messaging) -> Self;
    /// The broker crate's default instrumentation.
    fn default_messaging() -> Messaging;
}

pin_project_lite::pin_project! {
    /// A client's message stream (`lapin::Consumer`, a NATS `Subscriber`, JetStream's
    /// `messages()`, rdkafka's `MessageStream`) yielding traced messages, each with its span
    /// started. The broker crates name it (`TracedConsumer`, `TracedSubscriber`…).
    #[must_use = "streams do nothing unless polled"]
    pub struct TracedStream<S, W> {
        #[pin]
        inner: S,
        wrap: W,
    }
}

impl<S, W: WrapStream<S>> TracedStream<S, W> {
    /// Wraps `stream` with the broker crate's default instrumentation.
    pub fn new(stream: S) -> Self {
        Self::with_messaging(stream, W::default_messaging())
    }

    /// Wraps `stream` with your own instrumentation settings (topology, hooks…).
    pub fn with_messaging(stream: S, messaging: Messaging) -> Self {
        let wrap = W::for_stream(&stream, messaging);
        TracedStream {
            inner: stream,
            wrap,
        }
    }
}

impl<S, W> TracedStream<S, W> {
    /// `stream`, its items wrapped by `wrap`.
    pub fn from_parts(stream: S, wrap: W) -> Self {
        TracedStream {
            inner: stream,
            wrap,
        }
    }

    /// The client's stream.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The client's stream, mutably (to unsubscribe, drain…).
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The client's stream, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Stream, W: WrapMessage<S::Item>> TracedStream<S, W> {
    /// The instrumentation.
    pub fn messaging(&self) -> &Messaging {
        self.wrap.messaging()
    }
}

impl<S: Stream, W: WrapMessage<S::Item>> Stream for TracedStream<S, W> {
    type Item = W::Wrapped;

    fn poll_next(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<Option<W::Wrapped>> {
        let this = self.project();
        let next = std::task::ready!(this.inner.poll_next(task));
        Poll::Ready(next.map(|item| this.wrap.wrap(item)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<S, W> fmt::Debug for TracedStream<S, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedStream").finish_non_exhaustive()
    }
}
