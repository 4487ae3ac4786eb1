//! # tracewire-telemetry
//!
//! One call sets up a service the way OpenTelemetry users already configure everything — by the
//! standard environment variables:
//!
//! - `service.name` from the code, `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES`;
//! - exporters by `OTEL_TRACES_EXPORTER` (`otlp`, `zipkin`, `console`, `none`),
//!   `OTEL_METRICS_EXPORTER` and `OTEL_LOGS_EXPORTER` (`otlp`, `console`, `none`); unset, OTLP
//!   when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, over
//!   gRPC or HTTP per `OTEL_EXPORTER_OTLP_PROTOCOL` — spans, metrics and log records (`tracing`
//!   events with their trace and span ids) to one collector;
//! - the sampler from `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`;
//! - tracewire's propagator as the global one;
//! - JSON span logs when `TRACEWIRE_SPAN_LOG` is set (`stdout`, `stderr` or a file path), of
//!   the sampled spans or, with `TRACEWIRE_SPAN_LOG_SAMPLING=all`, of every span (exporters
//!   still ship only the sampled ones; every line says `trace_sampled`);
//! - a `tracing` subscriber whose JSON lines carry `trace_id`, `span_id`, `correlation_id`,
//!   with `tracing` spans bridged into the trace (filter with `RUST_LOG`, default `info`).
//!
//! Spans are exported and logged from worker threads behind bounded queues: an exporter that is
//! down or hanging costs dropped (and counted) spans, never a stalled consumer.
//!
//! ```no_run
//! # fn main() -> Result<(), tracewire_telemetry::TelemetryError> {
//! let _telemetry = tracewire_telemetry::init("inventory")?; // flushes and shuts down on drop
//! tracing::info!("ready"); // {"level":"INFO","service":"inventory","message":"ready",…}
//! # Ok(()) }
//! ```
//!
//! Metric exemplars: opentelemetry_sdk 0.33 has exemplars in its data model but never records
//! any, so the messaging histograms carry none until the SDK does.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod export;
mod logs;
mod offload;
mod otlp;
#[cfg(feature = "prometheus")]
mod prometheus;
mod rotation;
mod sampling;
mod span_log;

pub use config::{
    Config, ConfigError, LogTarget, LogsExporter, MetricsExporter, Otlp, Protocol, SamplerConfig,
    SpanLogSampling, SpanLogTarget, TracesExporter, DEFAULT_OTLP_ENDPOINT, DEFAULT_ZIPKIN_ENDPOINT,
};
pub use export::{ExportSpanProcessor, OtlpSpanProcessor};
pub use logs::JsonLogLayer;
pub use offload::{FullPolicy, QueueStats};
#[cfg(feature = "prometheus")]
pub use prometheus::PrometheusEndpoint;
pub use rotation::{RotateWhen, Rotation};
pub use sampling::RecordAll;
pub use span_log::{SpanLogProcessor, CORRELATION_ATTRIBUTE};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Layer as _, SubscriberExt};

/// Span-log and export queues hold this many records by default.
const DEFAULT_QUEUE: usize = 8192;

/// What could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// An environment variable has a value that cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file or thread could not be opened or started.
    #[error("could not {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A global `tracing` subscriber was already installed.
    #[error("a global tracing subscriber is already set; use .logs(LogTarget::Off) and compose JsonLogLayer into yours")]
    SubscriberAlreadySet,
}

impl TelemetryError {
    /// Wraps an I/O error with what was being done.
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| TelemetryError::Io { what, source }
    }
}

/// Sets up telemetry for `service_name` from the environment. See the crate docs.
pub fn init(service_name: &str) -> Result<TelemetryGuard, TelemetryError> {
    Telemetry::from_env(service_name)?.install()
}

/// The telemetry of one service, before it is installed.
#[derive(Debug, Clone)]
pub struct Telemetry {
    config: Config,
    logs: LogTarget,
    queue: usize,
}

impl Telemetry {
    /// Configuration from the environment over `service_name`.
    pub fn from_env(service_name: &str) -> Result<Self, ConfigError> {
        Ok(Self::new(Config::from_env(service_name)?))
    }

    /// An explicit configuration.
    pub fn new(config: Config) -> Self {
        Telemetry {
            logs: config.logs.clone(),
            config,
            queue: DEFAULT_QUEUE,
        }
    }

    /// Where JSON span logs go (overrides `TRACEWIRE_SPAN_LOG`; `None` turns them off).
    pub fn span_log(mut self, target: Option<SpanLogTarget>) -> Self {
        self.config.span_log = target;
        self
    }

    /// Where `tracing` log lines go (default stdout).
    pub fn logs(mut self, target: LogTarget) -> Self {
        self.logs = target;
        self
    }

    /// Capacity of the span-log and export queues (default 8192).
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue = capacity.max(1);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Which spans the span log records (overrides `TRACEWIRE_SPAN_LOG_SAMPLING`): with
    /// [`SpanLogSampling::All`] every span is logged, each line saying `trace_sampled`, while
    /// exporters still ship only the sampled share.
    pub fn span_log_sampling(mut self, sampling: SpanLogSampling) -> Self {
        self.config.span_log_sampling = sampling;
        self
    }

    /// What a full span-log queue does (overrides `TRACEWIRE_SPAN_LOG_FULL`): drop and say so
    /// in a `span_log_gap` line (the default), or block the caller until there is room — for
    /// audits, tests and low-rate services.
    pub fn span_log_full(mut self, full: FullPolicy) -> Self {
        self.config.span_log_full = full;
        self
    }

    /// How a span-log file rotates (overrides `TRACEWIRE_SPAN_LOG_ROTATE`, `_KEEP`, `_COMPRESS`).
    pub fn span_log_rotation(mut self, rotation: Rotation) -> Self {
        self.config.span_log_rotation = rotation;
        self
    }

    /// Serves the messaging metrics with exemplars on `addr` (overrides
    /// `TRACEWIRE_PROMETHEUS_ADDR`; port 0 picks a free port, see
    /// [`TelemetryGuard::prometheus_addr`]). Needs the `prometheus` feature.
    pub fn prometheus(mut self, addr: std::net::SocketAddr) -> Self {
        self.config.prometheus_addr = Some(addr);
        self
    }

    /// Builds the providers without installing anything globally (for tests and libraries).
    pub fn build(self) -> Result<TelemetryGuard, TelemetryError> {
        let c = &self.config;
        let resource = Resource::builder_empty()
            .with_service_name(c.service_name.clone())
            .with_attributes(c.resource.clone())
            .build();
        let head = sampler(&c.sampler);
        let record_all = c.span_log.is_some() && c.span_log_sampling == SpanLogSampling::All;
        let mut tracer = SdkTracerProvider::builder().with_resource(resource.clone());
        tracer = match record_all {
            true => tracer.with_sampler(RecordAll(head)),
            false => tracer.with_sampler(head),
        };
        let mut meter = SdkMeterProvider::builder().with_resource(resource.clone());
        let mut guard = Stats::default();
        if let Some(target) = &c.span_log {
            let out = open(target, c.span_log_rotation)?;
            let processor = SpanLogProcessor::with_policy(
                c.service_name.clone(),
                out,
                self.queue,
                c.span_log_full,
            );
            guard.span_log = Some(processor.stats());
            tracer = tracer.with_span_processor(processor);
        }
        let otlp = || {
            c.otlp
                .as_ref()
                .expect("an OTLP endpoint whenever an exporter is otlp")
        };
        for exporter in &c.traces_exporters {
            let (processor, what) = match exporter {
                TracesExporter::Otlp => (
                    ExportSpanProcessor::new(otlp(), resource.clone(), self.queue),
                    "start the OTLP span exporter",
                ),
                TracesExporter::Zipkin => (
                    ExportSpanProcessor::zipkin(&c.zipkin_endpoint, resource.clone(), self.queue),
                    "start the Zipkin span exporter",
                ),
                TracesExporter::Console => (
                    ExportSpanProcessor::console(resource.clone(), self.queue),
                    "start the console span exporter",
                ),
            };
            let processor = processor.map_err(TelemetryError::io(what))?;
            if *exporter == TracesExporter::Otlp {
                guard.export = Some(processor.stats());
            }
            tracer = tracer.with_span_processor(processor);
        }
        for exporter in &c.metrics_exporters {
            let interval = Duration::from_secs(10);
            meter = match exporter {
                MetricsExporter::Otlp => {
                    let metrics = otlp::RuntimeMetricExporter::new(otlp())
                        .map_err(TelemetryError::io("start the OTLP metric exporter"))?;
                    meter.with_reader(
                        PeriodicReader::builder(metrics)
                            .with_interval(interval)
                            .build(),
                    )
                }
                MetricsExporter::Console => {
                    let metrics = opentelemetry_stdout::MetricExporter::default();
                    meter.with_reader(
                        PeriodicReader::builder(metrics)
                            .with_interval(interval)
                            .build(),
                    )
                }
            };
        }
        let logger = match c.logs_exporters.is_empty() {
            true => None,
            false => {
                let mut logger = SdkLoggerProvider::builder().with_resource(resource.clone());
                for exporter in &c.logs_exporters {
                    logger = match exporter {
                        LogsExporter::Otlp => logger.with_batch_exporter(
                            otlp::RuntimeLogExporter::new(otlp())
                                .map_err(TelemetryError::io("start the OTLP log exporter"))?,
                        ),
                        LogsExporter::Console => logger
                            .with_simple_exporter(opentelemetry_stdout::LogExporter::default()),
                    };
                }
                Some(logger.build())
            }
        };
        let log_file = match &self.logs {
            LogTarget::File(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(TelemetryError::io(format!(
                        "open the log file {}",
                        path.display()
                    )))?,
            ),
            _ => None,
        };
        let prometheus_addr = match c.prometheus_addr {
            None => None,
            #[cfg(feature = "prometheus")]
            Some(addr) => Some(
                PrometheusEndpoint::start(addr)
                    .map_err(TelemetryError::io(format!(
                        "serve the Prometheus endpoint on {addr}"
                    )))?
                    .addr(),
            ),
            #[cfg(not(feature = "prometheus"))]
            Some(addr) => {
                let reason = "tracewire-telemetry was built without its `prometheus` feature";
                let value = addr.to_string();
                return Err(ConfigError::new("TRACEWIRE_PROMETHEUS_ADDR", &value, reason).into());
            }
        };
        Ok(TelemetryGuard {
            prometheus_addr,
            log_file,
            tracer: tracer.build(),
            meter: meter.build(),
            logger,
            stats: guard,
            logs: self.logs,
            service: c.service_name.clone(),
            installed: None,
        })
    }

    /// Builds and installs: global tracer and meter providers, tracewire's propagator as the
    /// global propagator, and (unless [`LogTarget::Off`]) the global `tracing` subscriber.
    pub fn install(self) -> Result<TelemetryGuard, TelemetryError> {
        let mut guard = self.build()?;
        guard.installed = Some(std::time::Instant::now());
        opentelemetry::global::set_tracer_provider(guard.tracer.clone());
        opentelemetry::global::set_meter_provider(guard.meter.clone());
        opentelemetry::global::set_text_map_propagator(tracewire::Propagator::new());
        if let Some(subscriber) = guard.subscriber() {
            tracing::subscriber::set_global_default(subscriber)
                .map_err(|_| TelemetryError::SubscriberAlreadySet)?;
        }
        Ok(guard)
    }
}

fn sampler(config: &SamplerConfig) -> Sampler {
    match config {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::TraceIdRatio(r) => Sampler::TraceIdRatioBased(*r),
        SamplerConfig::ParentBased(root) => Sampler::ParentBased(Box::new(sampler(root))),
    }
}

fn open(
    target: &SpanLogTarget,
    rotation: Rotation,
) -> Result<Box<dyn Write + Send>, TelemetryError> {
    Ok(match target {
        SpanLogTarget::Stdout => Box::new(std::io::stdout()),
        SpanLogTarget::Stderr => Box::new(std::io::stderr()),
        SpanLogTarget::File(path) => Box::new(
            rotation::RotatingFile::open(path, rotation).map_err(TelemetryError::io(format!(
                "open the span log {}",
                path.display()
            )))?,
        ),
    })
}

#[derive(Debug, Default)]
struct Stats {
    span_log: Option<Arc<QueueStats>>,
    export: Option<Arc<QueueStats>>,
}

/// The installed telemetry. Dropping it flushes and shuts down (waiting a bounded time): keep it
/// alive for as long as the service runs.
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// # use tracewire_telemetry::{Config, Telemetry};
/// # let config = Config::from_lookup("svc", |_| None).unwrap();
/// Telemetry::new(config).build().unwrap(); // the guard, dropped at once: refused
/// ```
///
/// `let _ = init(..)?` drops it at once too, which no lint sees: a guard dropped within a
/// second of [`Telemetry::install`] says so in a warning.
#[derive(Debug)]
#[must_use = "dropping the guard shuts telemetry down: keep it alive as `let _telemetry = …` (`let _ = …` drops it at once)"]
pub struct TelemetryGuard {
    tracer: SdkTracerProvider,
    meter: SdkMeterProvider,
    /// OpenTelemetry log records, when a logs exporter is configured.
    logger: Option<SdkLoggerProvider>,
    stats: Stats,
    logs: LogTarget,
    /// The open log file of [`LogTarget::File`].
    log_file: Option<std::fs::File>,
    /// Where the Prometheus endpoint listens, when it is on.
    prometheus_addr: Option<std::net::SocketAddr>,
    service: String,
    /// When `install` made it the process's telemetry (none for `build`).
    installed: Option<std::time::Instant>,
}

/// The warning for a guard installed `age` ago and dropped now, when that is too soon to be
/// anything but `let _ = init(..)` (a service runs longer than a second).
fn dropped_early(service: &str, age: Duration) -> Option<String> {
    (age < Duration::from_secs(1)).then(|| {
        format!(
            "tracewire-telemetry: the TelemetryGuard of {service:?} was dropped {} ms after it \
             was installed, so spans and logs from now on are lost; keep it alive: \
             `let _telemetry = tracewire_telemetry::init(..)?` (not `let _ = …`)",
            age.as_millis()
        )
    })
}

impl TelemetryGuard {
    /// The tracer provider.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer
    }

    /// The meter provider.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter
    }

    /// Counters of the span-log queue, when span logs are on.
    pub fn span_log_stats(&self) -> Option<&Arc<QueueStats>> {
        self.stats.span_log.as_ref()
    }

    /// Counters of the OTLP export queue, when export is on.
    pub fn export_stats(&self) -> Option<&Arc<QueueStats>> {
        self.stats.export.as_ref()
    }

    /// The `tracing` subscriber this telemetry installs: JSON log lines with trace ids, and
    /// `tracing` spans bridged into OpenTelemetry. `None` for [`LogTarget::Off`].
    pub fn subscriber(&self) -> Option<impl tracing::Subscriber + Send + Sync + 'static> {
        let out: Box<dyn Write + Send> = match self.logs {
            LogTarget::Stdout => Box::new(std::io::stdout()),
            LogTarget::Stderr => Box::new(std::io::stderr()),
            LogTarget::File(_) => Box::new(self.log_file.as_ref()?.try_clone().ok()?),
            LogTarget::Off => return None,
        };
        Some(self.subscriber_to(out))
    }

    /// The same subscriber, writing its log lines to `out`.
    pub fn subscriber_to(
        &self,
        out: Box<dyn Write + Send>,
    ) -> impl tracing::Subscriber + Send + Sync + 'static {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let bridge = tracing_opentelemetry::layer()
            .with_tracer(self.tracer.tracer("tracing"))
            .with_filter(span_filter());
        // The exporters' own clients log through `tracing` too: exporting those records would
        // feed the log pipeline with itself.
        let records = self.logger.as_ref().map(|logger| {
            OpenTelemetryTracingBridge::new(logger).with_filter(filter_fn(|meta| {
                !EXPORTER_TARGETS
                    .iter()
                    .any(|t| meta.target().starts_with(t))
            }))
        });
        tracing_subscriber::registry()
            .with(filter)
            .with(bridge)
            .with(records)
            .with(JsonLogLayer::new(&self.service, out))
    }

    /// Where the Prometheus / OpenMetrics endpoint listens, when it is on.
    pub fn prometheus_addr(&self) -> Option<std::net::SocketAddr> {
        self.prometheus_addr
    }

    /// The logger provider of OpenTelemetry log records, when a logs exporter is configured.
    pub fn logger_provider(&self) -> Option<&SdkLoggerProvider> {
        self.logger.as_ref()
    }

    /// Flushes span logs and exports now (bounded wait).
    pub fn flush(&self) {
        let _ = self.tracer.force_flush();
        let _ = self.meter.force_flush();
        if let Some(logger) = &self.logger {
            let _ = logger.force_flush();
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let early = (self.installed).and_then(|at| dropped_early(&self.service, at.elapsed()));
        if let Some(warning) = early {
            tracing::warn!(target: "tracewire_telemetry", "{warning}");
            eprintln!("{warning}");
        }
        let _ = self.tracer.force_flush();
        let _ = self.tracer.shutdown_with_timeout(Duration::from_secs(5));
        let _ = self.meter.shutdown_with_timeout(Duration::from_secs(5));
        if let Some(logger) = &self.logger {
            let _ = logger.shutdown_with_timeout(Duration::from_secs(5));
        }
    }
}

/// Which `tracing` spans become OpenTelemetry spans by default: the application's, not those of
/// the broker clients and HTTP stacks underneath (lapin's never-ending `io_loop` span would
/// otherwise hang in every trace as an open span). `TRACEWIRE_SPAN_FILTER` replaces it (the
/// `RUST_LOG` syntax); `RUST_LOG` still decides what is enabled at all.
pub const DEFAULT_SPAN_FILTER: &str = "trace,lapin=off,amq_protocol=off,async_nats=off,\
    rdkafka=off,hyper=off,hyper_util=off,h2=off,tower=off,tonic=off,reqwest=off,\
    opentelemetry=off,opentelemetry_sdk=off,tokio=off,mio=off,rustls=off";

fn span_filter() -> tracing_subscriber::EnvFilter {
    let directives = std::env::var("TRACEWIRE_SPAN_FILTER").ok();
    let parsed = directives
        .as_deref()
        .map(tracing_subscriber::EnvFilter::try_new);
    match parsed {
        Some(Ok(filter)) => filter,
        Some(Err(e)) => {
            eprintln!(
                "tracewire-telemetry: TRACEWIRE_SPAN_FILTER is not valid ({e}); using the default"
            );
            tracing_subscriber::EnvFilter::new(DEFAULT_SPAN_FILTER)
        }
        None => tracing_subscriber::EnvFilter::new(DEFAULT_SPAN_FILTER),
    }
}

/// `tracing` targets of the exporters' own clients, never turned into exported log records.
const EXPORTER_TARGETS: [&str; 7] = [
    "opentelemetry",
    "hyper",
    "h2",
    "tonic",
    "tower",
    "reqwest",
    "tracewire_telemetry",
];

#[cfg(test)]
mod tests {
    use super::dropped_early;
    use std::time::Duration;

    #[test]
    fn a_guard_dropped_right_after_install_says_how_to_keep_it() {
        let warning = dropped_early("inventory", Duration::from_millis(3)).unwrap();
        assert!(warning.contains("\"inventory\"") && warning.contains("let _telemetry"));
        assert_eq!(
            dropped_early("inventory", Duration::from_secs(30)),
            None,
            "a normal exit"
        );
    }
}
