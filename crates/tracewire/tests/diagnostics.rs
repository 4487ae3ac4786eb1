//! Set-ups that would work silently wrong say so, once: spans on the no-op provider, the no-op
//! global propagator. (Its own process: these warnings are once per process.)

use opentelemetry::Context;
use tracewire::carrier::MemoryHeaders;
use tracewire::messaging::{Messaging, OperationSpec, OperationType, System};
use tracewire::testing::Warnings;
use tracewire::{Outcome, Propagator};

#[test]
fn the_no_op_provider_and_the_no_op_global_propagator_are_named_once() {
    // No provider installed: the default tracer is the global no-op one.
    let m = Messaging::builder(System::new("kafka")).build();
    let send = || {
        let span = m.open_send(
            &Context::new(),
            OperationSpec::new(OperationType::Send, "send", "orders"),
        );
        span.end(Outcome::Ok);
    };
    let warned = Warnings::capture(|| {
        send();
        send();
    });
    assert_eq!(warned.len(), 1, "once: {warned:?}");
    assert!(warned[0].contains("no-op tracer provider"), "{warned:?}");

    // The global propagator asked for, and none installed.
    let p = Propagator::builder().global_trace_propagator().build();
    let warned = Warnings::capture(|| {
        let mut headers = MemoryHeaders::new();
        p.inject(&Context::new(), &mut headers);
        p.extract(&headers);
    });
    assert_eq!(warned.len(), 1, "once: {warned:?}");
    assert!(warned[0].contains("no-op one"), "{warned:?}");

    // A real global propagator: nothing more to say.
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let warned = Warnings::capture(|| {
        let mut headers = MemoryHeaders::new();
        p.inject(&Context::new(), &mut headers);
    });
    assert!(warned.is_empty(), "{warned:?}");
}
