//! The start listener: told what the skeleton started — only spans that record — with the
//! parent, name, kind, links and identifying attributes the span itself got. Its own test
//! binary: the listener is one per process.

use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use std::sync::{Arc, Mutex};
use tracewire::messaging::{Messaging, OperationSpec, OperationType, System};
use tracewire::span::{set_start_listener, skeleton_starting, StartListener, Starting};
use tracewire::testing::{attribute_str, linked_send, SpanRecorder};
use tracewire::Outcome;

/// Keeps what it is told (every description asked for), and whether each `started` call came
/// while the skeleton was still marked as starting (it must not).
#[derive(Default)]
struct Told(Mutex<Vec<(opentelemetry::trace::SpanId, Starting)>>);

impl StartListener for Told {
    fn started(&self, cx: &Context, describe: &mut dyn FnMut() -> Starting) {
        assert!(!skeleton_starting(), "told after the start, not during it");
        let id = cx.span().span_context().span_id();
        self.0.lock().unwrap().push((id, describe()));
    }
}

#[test]
fn the_listener_is_told_what_each_recording_span_started_as() {
    let told = Arc::new(Told::default());
    assert!(set_start_listener(told.clone()));
    assert!(
        !set_start_listener(Arc::new(Told::default())),
        "one per process"
    );
    assert!(!skeleton_starting());

    let rec = SpanRecorder::new();
    let (m, send, headers) = linked_send(rec.tracer());
    send.end(Outcome::Ok);
    let process = m.open_message(
        &headers,
        OperationSpec::new(OperationType::Process, "process", "orders"),
    );
    process.end(Outcome::Ok);

    // A span that does not record: nothing is told.
    let off = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .build();
    let unsampled = Messaging::builder(System::new("kafka"))
        .tracer(opentelemetry::global::BoxedTracer::new(Box::new(
            opentelemetry::trace::TracerProvider::tracer(&off, "t"),
        )))
        .build();
    unsampled
        .open_send(
            &Context::new(),
            OperationSpec::new(OperationType::Send, "send", "orders"),
        )
        .end(Outcome::Ok);

    let told = told.0.lock().unwrap();
    assert_eq!(told.len(), 2, "the two recording spans only");
    for (span, name, kind) in [
        ("send orders", "send orders", SpanKind::Producer),
        ("process orders", "process orders", SpanKind::Consumer),
    ] {
        let data = rec.span(span);
        let (_, starting) = (told.iter())
            .find(|(id, _)| *id == data.span_context.span_id())
            .unwrap_or_else(|| panic!("{span} told"));
        assert_eq!(starting.name, name);
        assert_eq!(starting.kind, kind);
        assert_eq!(starting.parent, data.parent_span_id);
        assert_eq!(starting.links.len(), data.links.len());
        let keys: Vec<&str> = starting
            .attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "messaging.system",
                "messaging.destination.name",
                "messaging.message.conversation_id"
            ]
        );
        for kv in &starting.attributes {
            assert_eq!(
                Some(kv.value.as_str().into_owned()),
                attribute_str(&data, kv.key.as_str()),
                "{} as the span has it",
                kv.key
            );
        }
    }
    let process = rec.span("process orders");
    assert_eq!(process.links.len(), 1, "linked to the send (link_parent)");
}
