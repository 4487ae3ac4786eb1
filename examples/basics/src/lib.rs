//! Shared set-up for the examples: a real SDK tracer provider installed globally, so spans have
//! real ids, and a one-line summary of a context.

use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracewire::CorrelationContextExt;

/// Installs a global tracer provider that samples everything (no exporter: the examples print
/// ids; `tracewire-telemetry` wires real exporters).
pub fn install_tracer() -> SdkTracerProvider {
    let provider = SdkTracerProvider::builder().build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    provider
}

/// `trace_id span_id correlation_id` of a context.
pub fn describe(cx: &Context) -> String {
    let span = cx.span();
    let sc = span.span_context();
    let id = cx
        .correlation_id()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default();
    format!(
        "trace_id={} span_id={} correlation_id={id}",
        sc.trace_id(),
        sc.span_id()
    )
}
