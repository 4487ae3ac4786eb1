//! Configuration from the standard OpenTelemetry environment variables, parsed strictly: a bad
//! value is an error that names the variable and the value, never a silent default.

use crate::offload::FullPolicy;
use crate::rotation::{RotateWhen, Rotation};
use opentelemetry::KeyValue;
use std::path::PathBuf;

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?} is not valid: {reason}")]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What was expected.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(variable: &'static str, value: &str, reason: impl Into<String>) -> Self {
        ConfigError {
            variable,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (`grpc`; Jaeger and the collector listen on 4317).
    Grpc,
    /// OTLP over HTTP with protobuf bodies (`http/protobuf`, the default; port 4318).
    HttpProtobuf,
    /// OTLP over HTTP with JSON bodies (`http/json`).
    HttpJson,
}

/// Where OTLP data goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Otlp {
    /// Base endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`), e.g. `http://127.0.0.1:4317`.
    pub endpoint: String,
    /// Full traces endpoint when given (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`): used as is.
    pub traces_endpoint: Option<String>,
    /// Transport.
    pub protocol: Protocol,
}

impl Otlp {
    /// The URL spans are sent to.
    pub fn traces_url(&self) -> String {
        match (&self.traces_endpoint, self.protocol) {
            (Some(url), _) => url.clone(),
            (None, Protocol::Grpc) => self.endpoint.clone(),
            (None, _) => format!("{}/v1/traces", self.endpoint.trim_end_matches('/')),
        }
    }

    /// The URL log records are sent to.
    pub fn logs_url(&self) -> String {
        match self.protocol {
            Protocol::Grpc => self.endpoint.clone(),
            _ => format!("{}/v1/logs", self.endpoint.trim_end_matches('/')),
        }
    }

    /// The URL metrics are sent to.
    pub fn metrics_url(&self) -> String {
        match self.protocol {
            Protocol::Grpc => self.endpoint.clone(),
            _ => format!("{}/v1/metrics", self.endpoint.trim_end_matches('/')),
        }
    }
}

/// The sampler (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Debug, Clone, PartialEq)]
pub enum SamplerConfig {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio` with its ratio.
    TraceIdRatio(f64),
    /// `parentbased_*`: follow a sampled/unsampled parent, use the root sampler otherwise.
    ParentBased(Box<SamplerConfig>),
}

/// Where `tracing` log lines go (`TRACEWIRE_LOG`: `stdout`, `stderr`, `off` or a file path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// Standard output (the default).
    Stdout,
    /// Standard error.
    Stderr,
    /// A file, appended to (rotate it with the system's logrotate, `copytruncate`: the file is
    /// opened in append mode, so the truncated file keeps being written from its start).
    File(PathBuf),
    /// No subscriber is installed (compose [`JsonLogLayer`](crate::JsonLogLayer) into yours).
    Off,
}

/// Where JSON span logs go (`TRACEWIRE_SPAN_LOG`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanLogTarget {
    /// Standard output (`stdout`).
    Stdout,
    /// Standard error (`stderr`).
    Stderr,
    /// A file, appended to (any other value: a path).
    File(PathBuf),
}

/// A span exporter (`OTEL_TRACES_EXPORTER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TracesExporter {
    /// `otlp`: to the OTLP endpoint.
    Otlp,
    /// `zipkin`: Zipkin v2 JSON to `OTEL_EXPORTER_ZIPKIN_ENDPOINT`.
    Zipkin,
    /// `console`: to standard output.
    Console,
}

/// A metric exporter (`OTEL_METRICS_EXPORTER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsExporter {
    /// `otlp`: to the OTLP endpoint.
    Otlp,
    /// `console`: to standard output.
    Console,
}

/// A log-record exporter (`OTEL_LOGS_EXPORTER`): `tracing` events as OpenTelemetry log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogsExporter {
    /// `otlp`: to the OTLP endpoint.
    Otlp,
    /// `console`: to standard output.
    Console,
}

/// Which spans the JSON span log records (`TRACEWIRE_SPAN_LOG_SAMPLING`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SpanLogSampling {
    /// `sampled` (the default): what the sampler keeps, as every exporter.
    #[default]
    Sampled,
    /// `all`: every span, while exporters still ship only the sampled share — the sampler's
    /// "drop" becomes "record only", so span processors see the span and exporters skip it.
    All,
}

/// The default OTLP endpoint when an exporter asks for OTLP and none is set (the
/// specification's default for `http/protobuf`).
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://localhost:4318";
/// The default Zipkin collector endpoint (the specification's).
pub const DEFAULT_ZIPKIN_ENDPOINT: &str = "http://localhost:9411/api/v2/spans";

/// Everything `init` needs, read from the environment over the service's own defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `service.name`: `OTEL_SERVICE_NAME`, else `service.name` in `OTEL_RESOURCE_ATTRIBUTES`,
    /// else the name the service gives.
    pub service_name: String,
    /// Other resource attributes (`OTEL_RESOURCE_ATTRIBUTES`).
    pub resource: Vec<KeyValue>,
    /// OTLP export, when an endpoint is set.
    pub otlp: Option<Otlp>,
    /// The sampler (default `parentbased_always_on`, as the specification says).
    pub sampler: SamplerConfig,
    /// JSON span logs, when `TRACEWIRE_SPAN_LOG` is set (and not `off`).
    pub span_log: Option<SpanLogTarget>,
    /// Where log lines go (`TRACEWIRE_LOG`, default standard output).
    pub logs: LogTarget,
    /// Which spans the span log records (`TRACEWIRE_SPAN_LOG_SAMPLING`, default `sampled`).
    pub span_log_sampling: SpanLogSampling,
    /// What a full span-log queue does (`TRACEWIRE_SPAN_LOG_FULL=drop|block`, default `drop`).
    pub span_log_full: FullPolicy,
    /// How a span-log file rotates (`TRACEWIRE_SPAN_LOG_ROTATE`, `TRACEWIRE_SPAN_LOG_KEEP`,
    /// `TRACEWIRE_SPAN_LOG_COMPRESS`; default: never).
    pub span_log_rotation: Rotation,
    /// Span exporters (`OTEL_TRACES_EXPORTER`; unset: `otlp` when an OTLP endpoint is set).
    pub traces_exporters: Vec<TracesExporter>,
    /// Metric exporters (`OTEL_METRICS_EXPORTER`; unset: `otlp` when an endpoint is set).
    pub metrics_exporters: Vec<MetricsExporter>,
    /// Log-record exporters (`OTEL_LOGS_EXPORTER`; unset: `otlp` when an endpoint is set).
    pub logs_exporters: Vec<LogsExporter>,
    /// The Zipkin collector (`OTEL_EXPORTER_ZIPKIN_ENDPOINT`).
    pub zipkin_endpoint: String,
    /// A Prometheus / OpenMetrics scrape endpoint with exemplars (`TRACEWIRE_PROMETHEUS_ADDR`,
    /// feature `prometheus`).
    pub prometheus_addr: Option<std::net::SocketAddr>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env(service_name: &str) -> Result<Self, ConfigError> {
        Self::from_lookup(service_name, |name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (for tests, or another source of settings).
    pub fn from_lookup(
        service_name: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut resource = match get("OTEL_RESOURCE_ATTRIBUTES") {
            Some(v) => parse_resource(&v)?,
            None => Vec::new(),
        };
        let from_resource = resource
            .iter()
            .position(|kv| kv.key.as_str() == "service.name")
            .map(|i| resource.remove(i).value.as_str().into_owned());
        let service_name = get("OTEL_SERVICE_NAME")
            .or(from_resource)
            .unwrap_or_else(|| service_name.to_owned());
        let mut otlp = parse_otlp(&get)?;
        let configured = otlp.is_some();
        let traces_exporters = exporters(&get, "OTEL_TRACES_EXPORTER", configured, |v| {
            Some(match v {
                "otlp" => TracesExporter::Otlp,
                "zipkin" => TracesExporter::Zipkin,
                "console" => TracesExporter::Console,
                _ => return None,
            })
        })?;
        let metrics_exporters = exporters(&get, "OTEL_METRICS_EXPORTER", configured, |v| {
            Some(match v {
                "otlp" => MetricsExporter::Otlp,
                "console" => MetricsExporter::Console,
                _ => return None,
            })
        })?;
        let logs_exporters = exporters(&get, "OTEL_LOGS_EXPORTER", configured, |v| {
            Some(match v {
                "otlp" => LogsExporter::Otlp,
                "console" => LogsExporter::Console,
                _ => return None,
            })
        })?;
        let wants_otlp = traces_exporters.contains(&TracesExporter::Otlp)
            || metrics_exporters.contains(&MetricsExporter::Otlp)
            || logs_exporters.contains(&LogsExporter::Otlp);
        if wants_otlp && otlp.is_none() {
            otlp = Some(Otlp {
                endpoint: DEFAULT_OTLP_ENDPOINT.to_owned(),
                traces_endpoint: None,
                protocol: Protocol::HttpProtobuf,
            });
        }
        Ok(Config {
            service_name,
            resource,
            otlp,
            sampler: parse_sampler(get("OTEL_TRACES_SAMPLER"), get("OTEL_TRACES_SAMPLER_ARG"))?,
            span_log: get("TRACEWIRE_SPAN_LOG").and_then(|v| parse_span_log(&v)),
            logs: match get("TRACEWIRE_LOG").as_deref().map(str::trim) {
                None | Some("stdout") | Some("-") => LogTarget::Stdout,
                Some("stderr") => LogTarget::Stderr,
                Some("off") | Some("none") => LogTarget::Off,
                Some(path) => LogTarget::File(PathBuf::from(path)),
            },
            span_log_sampling: match get("TRACEWIRE_SPAN_LOG_SAMPLING").as_deref().map(str::trim) {
                None | Some("sampled") => SpanLogSampling::Sampled,
                Some("all") => SpanLogSampling::All,
                Some(other) => {
                    let reason = "expected all or sampled";
                    return Err(ConfigError::new(
                        "TRACEWIRE_SPAN_LOG_SAMPLING",
                        other,
                        reason,
                    ));
                }
            },
            span_log_full: match get("TRACEWIRE_SPAN_LOG_FULL").as_deref().map(str::trim) {
                None | Some("drop") => FullPolicy::Drop,
                Some("block") => FullPolicy::Block,
                Some(other) => {
                    let reason = "expected drop or block";
                    return Err(ConfigError::new("TRACEWIRE_SPAN_LOG_FULL", other, reason));
                }
            },
            span_log_rotation: parse_rotation(&get)?,
            traces_exporters,
            metrics_exporters,
            logs_exporters,
            zipkin_endpoint: get("OTEL_EXPORTER_ZIPKIN_ENDPOINT")
                .unwrap_or_else(|| DEFAULT_ZIPKIN_ENDPOINT.to_owned()),
            prometheus_addr: match get("TRACEWIRE_PROMETHEUS_ADDR") {
                None => None,
                Some(v) => Some(v.trim().parse().map_err(|_| {
                    let reason = "expected an address to listen on, e.g. 0.0.0.0:9464";
                    ConfigError::new("TRACEWIRE_PROMETHEUS_ADDR", &v, reason)
                })?),
            },
        })
    }
}

/// An `OTEL_*_EXPORTER` list: comma-separated names, `none` alone for no exporter; unset, `otlp`
/// when an OTLP endpoint is configured and nothing otherwise (no collector named, nothing sent —
/// tracewire's one departure from the specification's `otlp` default, so a service without a
/// collector does not retry localhost forever).
fn exporters<T: PartialEq>(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    otlp_configured: bool,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, ConfigError> {
    let Some(value) = get(variable) else {
        return Ok(if otlp_configured {
            parse("otlp").into_iter().collect()
        } else {
            Vec::new()
        });
    };
    let names: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names == ["none"] {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for name in names {
        let exporter = parse(name).ok_or_else(|| {
            let known = match variable {
                "OTEL_TRACES_EXPORTER" => "otlp, zipkin, console or none",
                _ => "otlp, console or none",
            };
            ConfigError::new(variable, &value, format!("{name:?} is not one of {known}"))
        })?;
        if !out.contains(&exporter) {
            out.push(exporter);
        }
    }
    Ok(out)
}

fn parse_resource(value: &str) -> Result<Vec<KeyValue>, ConfigError> {
    const VAR: &str = "OTEL_RESOURCE_ATTRIBUTES";
    let mut out = Vec::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, raw) = pair
            .split_once('=')
            .ok_or_else(|| ConfigError::new(VAR, value, format!("{pair:?} is not key=value")))?;
        let decoded = percent_decode(raw.trim())
            .ok_or_else(|| ConfigError::new(VAR, value, format!("{raw:?} has a bad %-escape")))?;
        if key.trim().is_empty() {
            return Err(ConfigError::new(
                VAR,
                value,
                "an attribute has an empty key",
            ));
        }
        out.push(KeyValue::new(key.trim().to_owned(), decoded));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn parse_otlp(get: &impl Fn(&str) -> Option<String>) -> Result<Option<Otlp>, ConfigError> {
    let traces = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    let base = get("OTEL_EXPORTER_OTLP_ENDPOINT");
    if traces.is_none() && base.is_none() {
        return Ok(None);
    }
    for (variable, url) in [
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &base),
    ] {
        if let Some(url) = url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::new(
                    variable,
                    url,
                    "expected an http:// or https:// URL",
                ));
            }
        }
    }
    let (variable, protocol) = match get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") {
        Some(p) => ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", Some(p)),
        None => (
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            get("OTEL_EXPORTER_OTLP_PROTOCOL"),
        ),
    };
    let protocol = match protocol.as_deref().map(str::trim) {
        None | Some("http/protobuf") => Protocol::HttpProtobuf,
        Some("grpc") => Protocol::Grpc,
        Some("http/json") => Protocol::HttpJson,
        Some(other) => {
            return Err(ConfigError::new(
                variable,
                other,
                "expected grpc, http/protobuf or http/json",
            ))
        }
    };
    let endpoint = base.unwrap_or_else(|| traces.clone().unwrap_or_default());
    Ok(Some(Otlp {
        endpoint,
        traces_endpoint: traces,
        protocol,
    }))
}

fn parse_sampler(name: Option<String>, arg: Option<String>) -> Result<SamplerConfig, ConfigError> {
    let ratio = || -> Result<f64, ConfigError> {
        match &arg {
            None => Ok(1.0),
            Some(a) => match a.trim().parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(ConfigError::new(
                    "OTEL_TRACES_SAMPLER_ARG",
                    a,
                    "expected a ratio from 0 to 1",
                )),
            },
        }
    };
    let parent = |root| SamplerConfig::ParentBased(Box::new(root));
    Ok(match name.as_deref().map(str::trim) {
        None | Some("parentbased_always_on") => parent(SamplerConfig::AlwaysOn),
        Some("always_on") => SamplerConfig::AlwaysOn,
        Some("always_off") => SamplerConfig::AlwaysOff,
        Some("traceidratio") => SamplerConfig::TraceIdRatio(ratio()?),
        Some("parentbased_always_off") => parent(SamplerConfig::AlwaysOff),
        Some("parentbased_traceidratio") => parent(SamplerConfig::TraceIdRatio(ratio()?)),
        Some(other) => {
            return Err(ConfigError::new(
                "OTEL_TRACES_SAMPLER",
                other,
                "expected always_on, always_off, traceidratio or parentbased_{always_on,always_off,traceidratio}",
            ))
        }
    })
}

fn parse_rotation(get: &impl Fn(&str) -> Option<String>) -> Result<Rotation, ConfigError> {
    let mut rotation = Rotation::default();
    if let Some(v) = get("TRACEWIRE_SPAN_LOG_ROTATE") {
        rotation.when = RotateWhen::parse(&v).ok_or_else(|| {
            let reason = "expected never, hourly, daily or a size such as 64MiB";
            ConfigError::new("TRACEWIRE_SPAN_LOG_ROTATE", &v, reason)
        })?;
    }
    if let Some(v) = get("TRACEWIRE_SPAN_LOG_KEEP") {
        rotation.keep = v.trim().parse().map_err(|_| {
            let reason = "expected how many rotated files to keep, e.g. 10";
            ConfigError::new("TRACEWIRE_SPAN_LOG_KEEP", &v, reason)
        })?;
    }
    if let Some(v) = get("TRACEWIRE_SPAN_LOG_COMPRESS") {
        rotation.compress = match v.trim() {
            "gzip" | "true" => true,
            "none" | "false" => false,
            _ => {
                let reason = "expected gzip or none";
                return Err(ConfigError::new("TRACEWIRE_SPAN_LOG_COMPRESS", &v, reason));
            }
        };
    }
    Ok(rotation)
}

fn parse_span_log(value: &str) -> Option<SpanLogTarget> {
    match value.trim() {
        "off" | "none" | "false" | "0" => None,
        "stdout" | "-" => Some(SpanLogTarget::Stdout),
        "stderr" => Some(SpanLogTarget::Stderr),
        path => Some(SpanLogTarget::File(PathBuf::from(path))),
    }
}
