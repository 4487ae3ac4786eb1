//! What the messaging conventions (v1.44) ask that is not covered elsewhere: the schema URL of
//! tracewire's instrumentation scope, and failures recorded as `exception` span events beside
//! `error.type`. The full audit: docs/semconv.md.

use opentelemetry::Context;
use tracewire::messaging::{Messaging, OperationSpec, OperationType};
use tracewire::testing::{attribute_str, SpanRecorder};
use tracewire::Outcome;

#[test]
fn tracewires_own_scope_names_the_conventions_it_follows() {
    let rec = SpanRecorder::new();
    opentelemetry::global::set_tracer_provider(rec.provider().clone());
    let m = Messaging::builder(tracewire::messaging::System::new("kafka")).build();
    let spec = OperationSpec::new(OperationType::Send, "send", "orders");
    m.open_send(&Context::new(), spec).end(Outcome::Ok);
    let span = rec.span("send orders");
    assert_eq!(span.instrumentation_scope.name(), "tracewire");
    assert_eq!(
        span.instrumentation_scope.schema_url(),
        Some(tracewire::SCHEMA_URL)
    );
    assert_eq!(
        tracewire::SCHEMA_URL,
        "https://opentelemetry.io/schemas/1.44.0"
    );
}

#[test]
fn a_failure_is_an_error_type_a_status_and_an_exception_event() {
    let rec = SpanRecorder::new();
    let m = Messaging::builder(tracewire::messaging::System::new("kafka"))
        .tracer(rec.tracer())
        .build();
    let spec = OperationSpec::new(OperationType::Send, "send", "orders");
    m.open_send(&Context::new(), spec)
        .end(Outcome::error("MessageTimedOut", "Message timed out"));
    let span = rec.span("send orders");
    assert_eq!(
        attribute_str(&span, "error.type").as_deref(),
        Some("MessageTimedOut")
    );
    let event = span
        .events
        .iter()
        .find(|e| e.name == "exception")
        .expect("an exception event");
    let get = |key: &str| {
        event
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
    };
    assert_eq!(get("exception.type").as_deref(), Some("MessageTimedOut"));
    assert_eq!(
        get("exception.message").as_deref(),
        Some("Message timed out")
    );
    rec.reset();
    m.open_send(
        &Context::new(),
        OperationSpec::new(OperationType::Send, "send", "orders"),
    )
    .end(Outcome::Ok);
    assert!(
        rec.span("send orders").events.is_empty(),
        "no event when all went well"
    );
}
