//! Each service of the demo gets its own `service.name`, span log and log file, even when all
//! five run in one process: its own tracer provider, and its own `tracing` dispatcher attached
//! to its tasks.

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::TracerProvider;
use std::path::Path;
use tracewire::messaging::Messaging;
use tracewire_telemetry::{Config, LogTarget, SpanLogTarget, Telemetry, TelemetryGuard};

/// One service's telemetry.
pub struct ServiceTelemetry {
    /// Keeps the providers alive; flushes on drop.
    pub guard: TelemetryGuard,
    /// Its `tracing` dispatcher (JSON log lines with trace ids, to `<service>.log.jsonl`).
    pub dispatch: tracing::Dispatch,
    /// `service.name`.
    pub name: &'static str,
}

impl ServiceTelemetry {
    /// Telemetry for `name`, writing `<dir>/<name>.spans.jsonl` and `<dir>/<name>.log.jsonl`;
    /// OTLP export (to Jaeger…) when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
    pub fn new(name: &'static str, dir: &Path) -> Result<Self, String> {
        let spans = dir.join(format!("{name}.spans.jsonl"));
        let _ = std::fs::remove_file(&spans); // each run writes its own
        let config = Config::from_env(name).map_err(|e| e.to_string())?;
        let config = Config {
            service_name: name.to_owned(),
            ..config
        };
        let guard = Telemetry::new(config)
            .span_log(Some(SpanLogTarget::File(spans)))
            .logs(LogTarget::Off)
            .build()
            .map_err(|e| e.to_string())?;
        let logs = std::fs::File::create(dir.join(format!("{name}.log.jsonl")))
            .map_err(|e| e.to_string())?;
        let dispatch = tracing::Dispatch::new(guard.subscriber_to(Box::new(logs)));
        Ok(ServiceTelemetry {
            guard,
            dispatch,
            name,
        })
    }

    /// A tracer of this service.
    pub fn tracer(&self) -> BoxedTracer {
        BoxedTracer::new(Box::new(self.guard.tracer_provider().tracer(self.name)))
    }

    /// Messaging instrumentation for `system` in this service.
    pub fn messaging(&self, system: tracewire::messaging::System) -> Messaging {
        use opentelemetry::metrics::MeterProvider;
        Messaging::builder(system)
            .tracer(self.tracer())
            .meter(self.guard.meter_provider().meter(self.name))
            .build()
    }
}
