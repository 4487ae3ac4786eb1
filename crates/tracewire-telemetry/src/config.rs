//! Configuration from the standard OpenTelemetry environment variables, parsed strictly: a bad
//! value is an error that names the variable and the value, never a silent default.

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
    fn new(variable: &'static str, value: &str, reason: impl Into<String>) -> Self {
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
        Ok(Config {
            service_name,
            resource,
            otlp: parse_otlp(&get)?,
            sampler: parse_sampler(get("OTEL_TRACES_SAMPLER"), get("OTEL_TRACES_SAMPLER_ARG"))?,
            span_log: get("TRACEWIRE_SPAN_LOG").and_then(|v| parse_span_log(&v)),
        })
    }
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

fn parse_span_log(value: &str) -> Option<SpanLogTarget> {
    match value.trim() {
        "off" | "none" | "false" | "0" => None,
        "stdout" | "-" => Some(SpanLogTarget::Stdout),
        "stderr" => Some(SpanLogTarget::Stderr),
        path => Some(SpanLogTarget::File(PathBuf::from(path))),
    }
}
