//! The order of set-up does not matter: instrumentation built before a tracer provider is
//! installed globally records once it is (its own test binary: it sets the global provider).

use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracewire::messaging::{Messaging, OperationSpec, OperationType, System};
use tracewire::task::Job;
use tracewire::Outcome;

#[tokio::test]
async fn a_wrapper_built_before_the_provider_records_after_it_is_installed() {
    // The newcomer's order: instrumentation first (global tracer, no provider yet)…
    let m = Messaging::builder(System::new("kafka")).build();
    let spec = || OperationSpec::new(OperationType::Send, "send", "orders");
    let before = m.open_send(&Context::new(), spec());
    assert!(
        !before.is_recording(),
        "no provider yet: nothing to record into"
    );
    before.end(Outcome::Ok);

    // …then the provider.
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());

    let after = m.open_send(&Context::new(), spec());
    assert!(after.is_recording());
    assert!(after.context().span().span_context().is_valid());
    after.end(Outcome::Ok);
    Job::new("receipt").instrument(async {}).await;
    let names: Vec<_> = (exporter.get_finished_spans().unwrap().into_iter())
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(names, ["send orders", "job receipt"]);
}
