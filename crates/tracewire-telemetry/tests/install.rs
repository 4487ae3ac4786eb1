//! `install` wires the globals: tracer provider, tracewire's propagator, the tracing subscriber.

use tracewire_telemetry::{Config, LogTarget, Telemetry, TelemetryError};

#[test]
fn install_sets_the_global_propagator_and_refuses_a_second_subscriber() {
    let config = Config::from_lookup("svc", |_| None).unwrap();
    let guard = Telemetry::new(config.clone())
        .logs(LogTarget::Stderr)
        .install()
        .unwrap();
    let fields: Vec<String> =
        opentelemetry::global::get_text_map_propagator(|p| p.fields().map(str::to_owned).collect());
    assert_eq!(
        fields,
        ["traceparent", "tracestate", "baggage", "correlation_id"]
    );
    let again = Telemetry::new(config).logs(LogTarget::Stderr).install();
    assert!(matches!(again, Err(TelemetryError::SubscriberAlreadySet)));
    drop(guard);
}
