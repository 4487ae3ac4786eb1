//! Assertions for your own tests of a traced pipeline: that a hop continued the trace, that the
//! correlation id survived it, that every span ended, that no baggage leaked between messages.
//! Each panics with what it found, the way `assert_eq!` does.

use super::{attribute_str, SpanRecorder};
use crate::carrier::HeaderReader;
use crate::correlation::CONVERSATION_ID_ATTRIBUTE;
use crate::header::BAGGAGE;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::Context;
use opentelemetry_sdk::trace::SpanData;

/// Panics unless `consumer` continues `producer`: the producer span is its parent, or one of its
/// links (the [`Link`](crate::messaging::Topology::Link) topology, a batch, a trace boundary).
///
/// ```
/// use opentelemetry::trace::{Span, TraceContextExt, Tracer, TracerProvider};
/// use tracewire::testing::{assert_continues, SpanRecorder};
///
/// let rec = SpanRecorder::new();
/// let tracer = rec.provider().tracer("t");
/// let send = tracer.start("send");
/// let cx = opentelemetry::Context::new().with_remote_span_context(send.span_context().clone());
/// drop(send);
/// drop(tracer.start_with_context("process", &cx));
/// assert_continues(&rec.span("process"), &rec.span("send"));
/// ```
#[track_caller]
pub fn assert_continues(consumer: &SpanData, producer: &SpanData) {
    let sc = &producer.span_context;
    let parent = consumer.span_context.trace_id() == sc.trace_id()
        && consumer.parent_span_id == sc.span_id();
    let linked = (consumer.links.iter()).any(|l| {
        l.span_context.trace_id() == sc.trace_id() && l.span_context.span_id() == sc.span_id()
    });
    assert!(
        parent || linked,
        "{:?} does not continue {:?}: its parent is {} in trace {}, its links {:?}; the \
         producer is {} in trace {}",
        consumer.name,
        producer.name,
        consumer.parent_span_id,
        consumer.span_context.trace_id(),
        (consumer.links.iter())
            .map(|l| l.span_context.span_id().to_string())
            .collect::<Vec<_>>(),
        sc.span_id(),
        sc.trace_id(),
    );
}

/// Panics unless both spans record the same correlation id
/// (`messaging.message.conversation_id`).
#[track_caller]
pub fn assert_correlation_survived(producer: &SpanData, consumer: &SpanData) {
    let sent = attribute_str(producer, CONVERSATION_ID_ATTRIBUTE);
    let received = attribute_str(consumer, CONVERSATION_ID_ATTRIBUTE);
    assert!(
        sent.is_some() && sent == received,
        "the correlation id did not survive {:?} → {:?}: {sent:?} → {received:?}",
        producer.name,
        consumer.name,
    );
}

/// Panics unless every span `recorder` saw start has also ended.
#[track_caller]
pub fn assert_all_ended(recorder: &SpanRecorder) {
    let ended = recorder.spans().len();
    let started = recorder.started();
    assert_eq!(
        started,
        ended,
        "{started} spans started, {ended} ended: {} still open",
        started.saturating_sub(ended)
    );
}

/// The baggage of `cx` as sorted `(key, value)` pairs.
pub fn baggage_of(cx: &Context) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = (cx.baggage().iter())
        .map(|(k, (v, _))| (k.to_string(), v.to_string()))
        .collect();
    pairs.sort();
    pairs
}

/// The baggage a message carries on the wire (its `baggage` headers, parsed), as sorted pairs:
/// to check what a handler sent.
pub fn wire_baggage<R: HeaderReader>(headers: &R) -> Vec<(String, String)> {
    let (bag, _) = crate::w3c::baggage::parse(headers.values(BAGGAGE));
    baggage_of(&Context::new().with_baggage(bag))
}

/// Panics when a handler's context holds a baggage member its own message did not carry. Each
/// item: the context a handler ran in (or the baggage it saw) and the members its message
/// carried; the panic names the earlier message a leaked member came from.
///
/// ```
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::{Context, KeyValue};
/// use tracewire::testing::{assert_no_baggage_leak, baggage_of};
///
/// let first = Context::new().with_baggage([KeyValue::new("tenant", "a")]);
/// let second = Context::new();
/// assert_no_baggage_leak([
///     (baggage_of(&first), vec![("tenant", "a")]),
///     (baggage_of(&second), vec![]),
/// ]);
/// ```
#[track_caller]
pub fn assert_no_baggage_leak<'a>(
    handled: impl IntoIterator<Item = (Vec<(String, String)>, Vec<(&'a str, &'a str)>)>,
) {
    let handled: Vec<_> = handled.into_iter().collect();
    for (i, (seen, carried)) in handled.iter().enumerate() {
        for (key, value) in seen {
            if carried.iter().any(|(k, v)| k == key && v == value) {
                continue;
            }
            let from = (handled[..i].iter())
                .rposition(|(_, c)| c.iter().any(|(k, v)| k == key && v == value));
            match from {
                Some(j) => {
                    panic!("message {i}'s handler saw {key}={value}, leaked from message {j}")
                }
                None => panic!("message {i}'s handler saw {key}={value}, which it did not carry"),
            }
        }
    }
}
