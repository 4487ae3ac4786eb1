//! Named jobs: an INTERNAL span `job {name}` that ends when the work completes, records failures
//! and panics, and says `cancelled` when the work is dropped before completion.

use crate::span::{OpenSpan, Outcome};
use crate::traced::Traced;
use crate::tracer::AnyTracer;
use opentelemetry::trace::{Link, SpanBuilder, SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use std::any::Any;
use std::fmt::Display;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{self, Poll};

/// `tracewire.job.name`: the job's name.
pub const JOB_NAME: &str = "tracewire.job.name";
/// `tracewire.job.cancelled`: `true` when the job was aborted or dropped before completing.
pub const JOB_CANCELLED: &str = "tracewire.job.cancelled";

/// What a finished job reports on its span. Implemented for `()` and for `Result<T, E>` with a
/// displayable error; implement it for your own output types.
pub trait JobOutcome {
    /// The outcome to record.
    fn outcome(&self) -> Outcome;
}

impl JobOutcome for () {
    fn outcome(&self) -> Outcome {
        Outcome::Ok
    }
}

impl<T, E: Display> JobOutcome for Result<T, E> {
    fn outcome(&self) -> Outcome {
        match self {
            Ok(_) => Outcome::Ok,
            Err(e) => Outcome::error(std::any::type_name::<E>(), e.to_string()),
        }
    }
}

/// A named background job. Its span is a child of the spawning context, or — for a
/// [`detached`](Job::detached) job — the root of a new trace with a link back, keeping the
/// correlation id either way.
///
/// ```
/// use tracewire::task::Job;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let receipt = Job::new("write-receipt")
///     .spawn(async { Ok::<_, std::io::Error>("receipt-7") })
///     .await
///     .unwrap();
/// assert_eq!(receipt.unwrap(), "receipt-7");
/// # });
/// ```
#[derive(Debug)]
pub struct Job {
    name: String,
    detached: bool,
    tracer: Option<AnyTracer>,
}

impl Job {
    /// A job named `name`: its span is `job {name}`.
    pub fn new(name: impl Into<String>) -> Self {
        Job {
            name: name.into(),
            detached: false,
            tracer: None,
        }
    }

    /// Starts a new trace with a link to the spawning context instead of a child span, so a long
    /// or periodic job does not hang off a request's trace. The correlation id is kept.
    pub fn detached(mut self) -> Self {
        self.detached = true;
        self
    }

    /// The tracer (default: the global provider's `tracewire` tracer).
    pub fn tracer<T>(mut self, tracer: T) -> Self
    where
        T: Tracer + Send + Sync + 'static,
        T::Span: Send + Sync + 'static,
    {
        self.tracer = Some(AnyTracer::new(tracer));
        self
    }

    /// Wraps `fut` in the job's span, started now in the current context, without spawning.
    pub fn instrument<F>(self, fut: F) -> JobFuture<F>
    where
        F: Future,
        F::Output: JobOutcome,
    {
        self.instrument_in(&Context::current(), fut)
    }

    /// Wraps `fut` in the job's span, started now as a child of `parent`.
    pub fn instrument_in<F>(self, parent: &Context, fut: F) -> JobFuture<F>
    where
        F: Future,
        F::Output: JobOutcome,
    {
        JobFuture::new(fut, self.start(parent))
    }

    /// Spawns `fut` on the Tokio runtime inside the job's span.
    #[cfg(feature = "tokio")]
    #[track_caller]
    pub fn spawn<F>(self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: JobOutcome + Send + 'static,
    {
        tokio::spawn(self.instrument(fut))
    }

    fn start(self, parent: &Context) -> OpenSpan {
        job_span(self.start_context(parent))
    }

    fn start_context(self, parent: &Context) -> Context {
        let tracer = self.tracer.unwrap_or_else(AnyTracer::global);
        if !self.detached {
            return start_internal(&tracer, job_name(&self.name), parent, Vec::new());
        }
        let spawner = parent.span().span_context().clone();
        let links = if spawner.is_valid() {
            vec![Link::with_context(spawner)]
        } else {
            Vec::new()
        };
        let root = crate::correlation::with_correlation_of(Context::new(), parent);
        start_internal(&tracer, job_name(&self.name), &root, links)
    }
}

/// A job's span: dropped before completion, it ends as cancelled.
pub(crate) fn job_span(cx: Context) -> OpenSpan {
    OpenSpan::owning(cx, None, cancelled)
}

/// What a job span dropped before completion says.
pub(crate) fn cancelled() -> (Option<KeyValue>, Outcome) {
    let outcome = Outcome::error("cancelled", "dropped before completion");
    (Some(KeyValue::new(JOB_CANCELLED, true)), outcome)
}

/// The name and attribute of a job span.
pub(crate) fn job_name(name: &str) -> (String, KeyValue) {
    (
        format!("job {name}"),
        KeyValue::new(JOB_NAME, name.to_owned()),
    )
}

/// Starts an INTERNAL span under `parent`.
pub(crate) fn start_internal(
    tracer: &AnyTracer,
    (name, attribute): (String, KeyValue),
    parent: &Context,
    links: Vec<Link>,
) -> Context {
    let builder = SpanBuilder::from_name(name)
        .with_kind(SpanKind::Internal)
        .with_attributes([attribute])
        .with_links(links);
    tracer.start_in(builder, parent)
}

pin_project_lite::pin_project! {
    /// A future inside a job span; see [`Job`].
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct JobFuture<F> {
        #[pin]
        inner: Traced<F>,
        // Ends once: with the outcome, the panic, or as cancelled when dropped before completion.
        span: OpenSpan,
    }
}

impl<F> JobFuture<F> {
    /// Runs `fut` in the span's context and owns the span.
    pub(crate) fn new(fut: F, span: OpenSpan) -> Self {
        JobFuture {
            inner: Traced::new(fut, span.context().clone()),
            span,
        }
    }

    /// The context of the job span.
    pub fn context(&self) -> &Context {
        self.span.context()
    }
}

impl<F> Future for JobFuture<F>
where
    F: Future,
    F::Output: JobOutcome,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let inner = this.inner;
        match catch_unwind(AssertUnwindSafe(|| inner.poll(task))) {
            Ok(Poll::Ready(out)) => {
                this.span.finish(&out.outcome());
                Poll::Ready(out)
            }
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                this.span
                    .finish(&Outcome::error("panic", panic_message(&*payload)));
                resume_unwind(payload)
            }
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => (*s).to_owned(),
        (_, Some(s)) => s.clone(),
        _ => "panic".to_owned(),
    }
}
