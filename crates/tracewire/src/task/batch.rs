//! Batches: items from many traces handled together, each in its own trace.

use super::job::{cancelled, job_name, job_span, start_internal, JobFuture, JobOutcome};
use crate::messaging::attributes::BATCH_MESSAGE_COUNT;
use crate::messaging::{batch_links, Messaging, OperationSpec, OperationType};
use crate::span::{OpenSpan, Outcome};
use crate::traced::Traced;
use crate::tracer::AnyTracer;
use futures_util::{FutureExt, StreamExt};
use opentelemetry::trace::Tracer;
use opentelemetry::{Context, KeyValue};
use std::future::Future;
use std::panic::{resume_unwind, AssertUnwindSafe};

/// `tracewire.batch.failed_count`: items whose handler failed or panicked.
pub const BATCH_FAILED_COUNT: &str = "tracewire.batch.failed_count";

/// Processes items that each carry their own context (say N messages from N traces): one batch
/// span, child of the current context, with a link to every item's context and
/// `messaging.batch.message_count`; each item handled in a child span parented on *that item's*
/// context; at most `concurrency` items at once; results in input order. A failing item does
/// not stop the others; a panicking one is recorded on its span and re-raised once all the
/// others have finished.
///
/// ```
/// use opentelemetry::Context;
/// use tracewire::task::Batch;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let items = vec![(Context::new(), 1), (Context::new(), 2), (Context::new(), 3)];
/// let doubled = Batch::new("digest")
///     .concurrency(2)
///     .run(items, |n| async move { Ok::<_, String>(n * 2) })
///     .await;
/// assert_eq!(doubled, vec![Ok(2), Ok(4), Ok(6)]);
/// # });
/// ```
#[derive(Debug)]
pub struct Batch {
    spans: Spans,
    concurrency: usize,
}

#[derive(Debug)]
enum Spans {
    /// INTERNAL `batch {name}` and `job {name}` per item.
    Jobs { name: String, tracer: AnyTracer },
    /// Messaging `process {destination}` for the batch and for each message.
    Messages {
        messaging: Messaging,
        operation: &'static str,
        destination: String,
    },
}

impl Batch {
    /// A batch of jobs named `name`: spans `batch {name}` and `job {name}` per item.
    pub fn new(name: impl Into<String>) -> Self {
        Batch {
            spans: Spans::Jobs {
                name: name.into(),
                tracer: AnyTracer::global(),
            },
            concurrency: 16,
        }
    }

    /// A batch of messages from `destination`: `{operation} {destination}` spans of the broker's
    /// [`Messaging`] for the batch and for each message (per its topology policy).
    pub fn messages(
        messaging: &Messaging,
        operation: &'static str,
        destination: impl Into<String>,
    ) -> Self {
        Batch {
            spans: Spans::Messages {
                messaging: messaging.clone(),
                operation,
                destination: destination.into(),
            },
            concurrency: 16,
        }
    }

    /// At most `n` items in flight at once (default 16, at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The tracer for a batch of jobs (default: the global provider's `tracewire` tracer, taken
    /// when the batch is created).
    pub fn tracer<T>(mut self, tracer: T) -> Self
    where
        T: Tracer + Send + Sync + 'static,
        T::Span: Send + Sync + 'static,
    {
        if let Spans::Jobs { tracer: t, .. } = &mut self.spans {
            *t = AnyTracer::new(tracer);
        }
        self
    }

    /// Runs `handler` on every item; see [`Batch`].
    pub async fn run<T, R, F, Fut>(self, items: Vec<(Context, T)>, handler: F) -> Vec<R>
    where
        F: Fn(T) -> Fut,
        Fut: Future<Output = R>,
        R: JobOutcome,
    {
        let batch = self.start_batch(items.iter().map(|(cx, _)| cx));
        let spans = &self.spans;
        let handler = &handler;
        let work = futures_util::stream::iter(items)
            .map(|(item_cx, value)| {
                let fut = JobFuture::new(handler(value), spans.start_item(&item_cx));
                AssertUnwindSafe(fut).catch_unwind()
            })
            .buffered(self.concurrency)
            .collect::<Vec<_>>();
        let outcomes = Traced::new(work, batch.context().clone()).await;

        let mut results = Vec::with_capacity(outcomes.len());
        let mut panic = None;
        let mut failed = 0i64;
        for outcome in outcomes {
            match outcome {
                Ok(r) => {
                    failed += i64::from(r.outcome() != Outcome::Ok);
                    results.push(r);
                }
                Err(payload) => {
                    failed += 1;
                    panic.get_or_insert(payload);
                }
            }
        }
        batch.set_attribute(KeyValue::new(BATCH_FAILED_COUNT, failed));
        batch.end(Outcome::Ok);
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
        results
    }

    fn start_batch<'c>(&self, items: impl Iterator<Item = &'c Context>) -> OpenSpan {
        match &self.spans {
            Spans::Messages {
                messaging,
                operation,
                destination,
            } => messaging
                .open_batch(
                    OperationSpec::new(OperationType::Process, operation, destination),
                    items,
                )
                .abandoned_as(cancelled),
            Spans::Jobs { name, tracer } => {
                let (links, count) = batch_links(items);
                let span = (
                    format!("batch {name}"),
                    KeyValue::new(BATCH_MESSAGE_COUNT, count),
                );
                job_span(start_internal(tracer, span, &Context::current(), links))
            }
        }
    }
}

impl Spans {
    fn start_item(&self, item: &Context) -> OpenSpan {
        match self {
            Spans::Messages {
                messaging,
                operation,
                destination,
            } => messaging
                .open_consume(
                    item,
                    // Counted once, by the batch span.
                    OperationSpec::new(OperationType::Process, operation, destination)
                        .message_count(0),
                )
                .abandoned_as(cancelled),
            Spans::Jobs { name, tracer } => {
                job_span(start_internal(tracer, job_name(name), item, Vec::new()))
            }
        }
    }
}
