//! `Settle<F>`: a client's acknowledgement future that ends the operation's span with the answer.

use crate::span::{OpenSpan, Outcome};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{self, Poll};

/// What a client's answer means for the span: the broker crate's one function per future type.
type ToOutcome<T> = fn(&T, &OpenSpan) -> Outcome;

pin_project_lite::pin_project! {
    /// The client's future for the broker's answer (Kafka's delivery report, AMQP's publisher
    /// confirm, JetStream's `PublishAck`…), which also ends the send span with that answer. It
    /// resolves to the client's output untouched: nothing is retried, swallowed or acked.
    /// Dropped unresolved, the span ends unsettled.
    #[must_use = "the broker's answer says whether it took the message; dropped, the span ends unsettled"]
    pub struct Settle<F: Future> {
        #[pin]
        inner: F,
        span: Option<OpenSpan>,
        outcome: ToOutcome<F::Output>,
    }
}

impl<F: Future> Settle<F> {
    /// `inner`, ending `span` with `outcome(answer, span)` when the answer arrives.
    pub fn new(inner: F, span: OpenSpan, outcome: fn(&F::Output, &OpenSpan) -> Outcome) -> Self {
        Settle {
            inner,
            span: Some(span),
            outcome,
        }
    }

    /// `inner` with no span left to end (e.g. a publish without confirms, whose span already
    /// ended once the message was written).
    pub fn ended(inner: F) -> Self {
        Settle {
            inner,
            span: None,
            outcome: |_, _| Outcome::Ok,
        }
    }

    /// The span still waiting for the answer, if any.
    pub fn span(&self) -> Option<&OpenSpan> {
        self.span.as_ref()
    }

    /// The client's future.
    pub fn inner(&self) -> &F {
        &self.inner
    }
}

impl<F: Future> Future for Settle<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(task));
        if let Some(span) = this.span.take() {
            let outcome = (this.outcome)(&output, &span);
            span.end(outcome);
        }
        Poll::Ready(output)
    }
}

impl<F: Future> fmt::Debug for Settle<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settle")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::Context;

    #[test]
    fn the_answer_ends_the_span_once_and_comes_back_untouched() {
        let span = OpenSpan::new(Context::new());
        let settle = Settle::new(async { Err::<u8, _>("nack") }, span, |r, _| {
            Outcome::after(r, Outcome::Ok, "nack")
        });
        assert!(settle.span().is_some());
        let answer = futures_util::FutureExt::now_or_never(settle).unwrap();
        assert_eq!(answer, Err("nack"));
    }
}
