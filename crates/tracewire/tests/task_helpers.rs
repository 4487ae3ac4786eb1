//! The context survives spawn, spawn_blocking, JoinSet, streams, jobs and batches, on a
//! multi-thread runtime where tasks move between worker threads.

use futures_util::StreamExt;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::task::JoinSet;
use tracewire::messaging::{attributes as a, Messaging};
use tracewire::task::{self, Batch, Job, JoinSetExt, TracedExt, BATCH_FAILED_COUNT, JOB_CANCELLED};
use tracewire::testing::{attribute_str, SpanRecorder};
use tracewire::{CorrelationContextExt, CorrelationId};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// The context of trace `n`: a remote parent, a correlation id and baggage of its own.
fn trace(n: u64) -> Context {
    let sc = SpanContext::new(
        TraceId::from(0x1000 + u128::from(n)),
        SpanId::from(0x100 + n),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    Context::new()
        .with_remote_span_context(sc)
        .with_correlation_id(CorrelationId::parse(format!("corr-{n}").as_bytes()).unwrap())
        .with_baggage([KeyValue::new("trace.n", n as i64)])
}

/// Asserts that the current context is trace `n`'s.
fn assert_in_trace(n: u64) {
    let cx = Context::current();
    assert_eq!(
        cx.span().span_context().trace_id(),
        TraceId::from(0x1000 + u128::from(n))
    );
    assert_eq!(
        cx.correlation_id().map(|c| c.to_string()),
        Some(format!("corr-{n}"))
    );
    assert_eq!(
        cx.baggage().get("trace.n").map(|v| v.to_string()),
        Some(n.to_string())
    );
}

#[test]
fn a_thousand_tasks_from_a_hundred_traces_keep_their_own_context() {
    runtime().block_on(async {
        let mut handles = Vec::new();
        for i in 0..1000u64 {
            let n = i % 100;
            let _attached = trace(n).attach();
            handles.push(task::spawn(async move {
                for _ in 0..5 {
                    assert_in_trace(n);
                    tokio::task::yield_now().await;
                    tokio::time::sleep(std::time::Duration::from_micros(10)).await;
                }
                assert_in_trace(n);
                n
            }));
        }
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.await.unwrap(), i as u64 % 100);
        }
    });
}

#[test]
fn without_the_helper_the_context_is_lost() {
    // The control for the test above: plain tokio::spawn does not carry the context.
    runtime().block_on(async {
        let _attached = trace(1).attach();
        let seen = tokio::spawn(async { Context::current().correlation_id().copied() })
            .await
            .unwrap();
        assert_eq!(seen, None);
    });
}

#[test]
fn no_context_leaks_into_the_next_task_on_a_worker() {
    runtime().block_on(async {
        for round in 0..20u64 {
            let mut traced = Vec::new();
            for n in 0..50 {
                let _attached = trace(round * 50 + n).attach();
                traced.push(task::spawn(async { tokio::task::yield_now().await }));
            }
            let plain: Vec<_> = (0..50)
                .map(|_| {
                    tokio::spawn(async {
                        tokio::task::yield_now().await;
                        let cx = Context::current();
                        (
                            cx.correlation_id().is_none(),
                            cx.has_active_span() || cx.span().span_context().is_valid(),
                        )
                    })
                })
                .collect();
            for h in traced {
                h.await.unwrap();
            }
            for h in plain {
                assert_eq!(
                    h.await.unwrap(),
                    (true, false),
                    "a plain task saw another task's context"
                );
            }
        }
    });
}

#[test]
fn spawn_blocking_join_set_and_streams_carry_the_context() {
    runtime().block_on(async {
        let _attached = trace(7).attach();
        task::spawn_blocking(|| assert_in_trace(7)).await.unwrap();

        let mut set = JoinSet::new();
        for _ in 0..10 {
            set.spawn_traced(async {
                tokio::task::yield_now().await;
                assert_in_trace(7);
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }

        let stream = futures_util::stream::iter(0..5)
            .then(|i| async move {
                tokio::task::yield_now().await;
                assert_in_trace(7);
                i
            })
            .traced();
        drop(_attached);
        // Polled from a task without the context: the stream brings its own.
        let items = tokio::spawn(stream.collect::<Vec<_>>()).await.unwrap();
        assert_eq!(items, vec![0, 1, 2, 3, 4]);
    });
}

#[test]
fn jobs_end_their_spans_on_success_error_panic_and_abort() {
    let rec = SpanRecorder::new();
    runtime().block_on(async {
        let _attached = trace(3).attach();
        let ok = Job::new("ok")
            .tracer(rec.tracer())
            .spawn(async { Ok::<_, String>(()) });
        let err = Job::new("err")
            .tracer(rec.tracer())
            .spawn(async { Err::<(), _>("boom".to_owned()) });
        let panicking = Job::new("panics").tracer(rec.tracer()).spawn(async {
            tokio::task::yield_now().await;
            if true {
                panic!("kaboom");
            }
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let aborted = Job::new("aborted").tracer(rec.tracer()).spawn(async move {
            let _ = rx.await;
        });
        assert!(ok.await.unwrap().is_ok());
        assert!(err.await.unwrap().is_err());
        assert!(panicking.await.unwrap_err().is_panic());
        tokio::task::yield_now().await;
        aborted.abort();
        assert!(aborted.await.unwrap_err().is_cancelled());
        drop(tx);
    });
    assert_eq!(rec.started(), 4);
    assert_eq!(
        rec.spans().len(),
        rec.started(),
        "spans started == spans ended"
    );
    for name in ["job ok", "job err", "job panics", "job aborted"] {
        let span = rec.span(name);
        assert_eq!(
            span.span_context.trace_id(),
            TraceId::from(0x1003),
            "{name} is a child of the spawner"
        );
        assert_eq!(span.parent_span_id, SpanId::from(0x103));
    }
    assert_eq!(attribute_str(&rec.span("job ok"), a::ERROR_TYPE), None);
    assert_eq!(
        attribute_str(&rec.span("job err"), a::ERROR_TYPE).as_deref(),
        Some("alloc::string::String")
    );
    assert_eq!(
        rec.span("job panics").status,
        opentelemetry::trace::Status::error("kaboom")
    );
    assert_eq!(
        attribute_str(&rec.span("job panics"), a::ERROR_TYPE).as_deref(),
        Some("panic")
    );
    assert_eq!(
        attribute_str(&rec.span("job aborted"), JOB_CANCELLED).as_deref(),
        Some("true")
    );
}

#[test]
fn a_detached_job_starts_a_new_trace_that_links_back_and_keeps_the_correlation_id() {
    let rec = SpanRecorder::new();
    runtime().block_on(async {
        let _attached = trace(4).attach();
        Job::new("nightly")
            .detached()
            .tracer(rec.tracer())
            .spawn(async {
                let cx = Context::current();
                assert_eq!(cx.correlation_id().unwrap().as_str(), "corr-4");
            })
            .await
            .unwrap();
    });
    let span = rec.span("job nightly");
    assert_ne!(span.span_context.trace_id(), TraceId::from(0x1004));
    assert_eq!(span.parent_span_id, SpanId::INVALID);
    assert_eq!(
        span.links.links[0].span_context.span_id(),
        SpanId::from(0x104)
    );
}

#[test]
fn batch_items_run_in_their_own_traces_with_bounded_concurrency_and_ordered_results() {
    let rec = SpanRecorder::new();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let results = runtime().block_on(async {
        let items: Vec<(Context, u64)> = (0..10).map(|n| (trace(n), n)).collect();
        Batch::new("digest")
            .tracer(rec.tracer())
            .concurrency(3)
            .run(items, |n| {
                let (in_flight, peak) = (in_flight.clone(), peak.clone());
                async move {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    for _ in 0..(10 - n) {
                        tokio::task::yield_now().await;
                    }
                    assert_in_trace(n);
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    if n == 5 {
                        Err(format!("item {n} failed"))
                    } else {
                        Ok(n * 10)
                    }
                }
            })
            .await
    });
    assert!(peak.load(Ordering::SeqCst) <= 3, "at most 3 in flight");
    assert_eq!(peak.load(Ordering::SeqCst), 3, "and it did run 3 at once");
    let expected: Vec<Result<u64, String>> = (0..10)
        .map(|n| {
            if n == 5 {
                Err("item 5 failed".into())
            } else {
                Ok(n * 10)
            }
        })
        .collect();
    assert_eq!(
        results, expected,
        "input order, the failure did not lose the others"
    );

    let batch = rec.span("batch digest");
    assert_eq!(
        attribute_str(&batch, a::BATCH_MESSAGE_COUNT).as_deref(),
        Some("10")
    );
    assert_eq!(
        attribute_str(&batch, BATCH_FAILED_COUNT).as_deref(),
        Some("1")
    );
    for (n, link) in batch.links.links.iter().enumerate() {
        assert_eq!(
            link.span_context.trace_id(),
            TraceId::from(0x1000 + n as u128),
            "link {n}"
        );
        assert_eq!(
            link.span_context.span_id(),
            SpanId::from(0x100 + n as u64),
            "link {n}"
        );
    }
    let items: Vec<_> = rec
        .spans()
        .into_iter()
        .filter(|s| s.name == "job digest")
        .collect();
    assert_eq!(items.len(), 10);
    for item in &items {
        let n = (u128::from_be_bytes(item.span_context.trace_id().to_bytes()) - 0x1000) as u64;
        assert_eq!(
            item.parent_span_id,
            SpanId::from(0x100 + n),
            "item {n} parented on its own context"
        );
    }
    assert_eq!(rec.spans().len(), rec.started());
}

#[test]
fn a_panicking_batch_item_is_re_raised_after_the_others_finish() {
    let rec = SpanRecorder::new();
    let done = Arc::new(AtomicUsize::new(0));
    let outcome = runtime().block_on({
        let (rec, done) = (rec.clone(), done.clone());
        async move {
            tokio::spawn(async move {
                let items: Vec<(Context, u64)> = (0..4).map(|n| (trace(n), n)).collect();
                Batch::new("risky")
                    .tracer(rec.tracer())
                    .run(items, |n| {
                        let done = done.clone();
                        async move {
                            tokio::task::yield_now().await;
                            assert!(n != 1, "item 1 panics");
                            done.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, String>(n)
                        }
                    })
                    .await
            })
            .await
        }
    });
    assert!(outcome.unwrap_err().is_panic());
    assert_eq!(done.load(Ordering::SeqCst), 3, "the other items completed");
    assert_eq!(rec.spans().len(), rec.started(), "every span ended");
    let failed = rec
        .spans()
        .into_iter()
        .filter(|s| attribute_str(s, a::ERROR_TYPE).as_deref() == Some("panic"))
        .count();
    assert_eq!(failed, 1);
}

#[test]
fn a_message_batch_uses_messaging_spans() {
    let rec = SpanRecorder::new();
    let messaging = Messaging::builder(tracewire::messaging::System::new("kafka"))
        .tracer(rec.tracer())
        .build();
    runtime().block_on(async {
        let items: Vec<(Context, u64)> = (0..3).map(|n| (trace(n), n)).collect();
        Batch::messages(&messaging, "process", "orders")
            .run(items, |_| async {})
            .await;
    });
    let spans = rec.spans();
    assert_eq!(
        spans.iter().filter(|s| s.name == "process orders").count(),
        4
    );
    let batch = spans
        .iter()
        .find(|s| attribute_str(s, a::BATCH_MESSAGE_COUNT).is_some())
        .unwrap();
    assert_eq!(batch.links.links.len(), 3);
    for item in spans
        .iter()
        .filter(|s| s.span_context.span_id() != batch.span_context.span_id())
    {
        let n = (u128::from_be_bytes(item.span_context.trace_id().to_bytes()) - 0x1000) as u64;
        assert_eq!(item.parent_span_id, SpanId::from(0x100 + n));
        assert_eq!(
            attribute_str(item, a::CONVERSATION_ID),
            Some(format!("corr-{n}"))
        );
    }
}

#[tokio::test]
async fn a_first_hop_gives_its_flow_one_correlation_id_in_one_call() {
    use tracewire::carrier::{HeaderReader, MemoryHeaders};
    use tracewire::task::{correlated, correlated_as};
    use tracewire::Propagator;

    let sent = || {
        let mut headers = MemoryHeaders::new();
        Propagator::new().inject(&Context::current(), &mut headers);
        headers.last("correlation_id").map(<[u8]>::to_vec)
    };
    let flow = correlated(async { (sent(), sent()) }).await;
    assert!(flow.0.is_some());
    assert_eq!(
        flow.0, flow.1,
        "every message of the flow carries the same id"
    );
    let other = correlated(async { sent() }).await;
    assert_ne!(other, flow.0, "another flow, another id");
    let id = CorrelationId::parse(b"order-77").unwrap();
    let given = correlated_as(id, async { sent() }).await;
    assert_eq!(given.as_deref(), Some(&b"order-77"[..]));
    // Inside a flow that already has one, `correlated` keeps it (it reads the context it is
    // called in, like `.traced()`).
    let nested = correlated_as(id, async { correlated(async { sent() }).await }).await;
    assert_eq!(nested.as_deref(), Some(&b"order-77"[..]));
}
