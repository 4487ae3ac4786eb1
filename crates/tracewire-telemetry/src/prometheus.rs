//! The messaging metrics on a Prometheus / OpenMetrics scrape endpoint, with exemplars: each
//! histogram bucket and counter carries the `trace_id` and `span_id` of a sampled span it
//! counted — what opentelemetry_sdk 0.33 never records (its histograms leave exemplars empty).
//! Fed by the core's [`MetricsTap`]; served by a small thread on `TRACEWIRE_PROMETHEUS_ADDR`.

use opentelemetry::trace::{SpanContext, SpanId, TraceId};
use opentelemetry::{KeyValue, StringValue, Value};
use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, LabelEncoder, LabelSetEncoder};
use prometheus_client::metrics::exemplar::{CounterWithExemplar, HistogramWithExemplars};
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use tracewire::messaging::attributes::{
    DESTINATION_NAME, ERROR_TYPE, OPERATION_NAME, OPERATION_TYPE, SYSTEM,
};
use tracewire::messaging::{MetricsTap, DURATION_BUCKETS};

/// One metric label: an attribute's key with its dots made underscores, its value shared with
/// the attribute (a reference count, not a copy).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct Label {
    key: Cow<'static, str>,
    value: StringValue,
}

impl EncodeLabel for Label {
    fn encode(&self, mut encoder: LabelEncoder) -> fmt::Result {
        let mut key = encoder.encode_label_key()?;
        key.write_str(&self.key)?;
        let mut value = key.encode_label_value()?;
        value.write_str(self.value.as_str())?;
        value.finish()
    }
}

/// A measurement's labels (the messaging attributes, and `error.type` on failure), held inline:
/// looking up a measurement's series allocates nothing.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct Labels(SmallVec<[Label; 5]>);

impl EncodeLabelSet for Labels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        self.0
            .iter()
            .try_for_each(|l| l.encode(encoder.encode_label()))
    }
}

/// An exemplar's labels, `trace_id` and `span_id`, written as hex when scraped.
#[derive(Debug, Clone)]
struct Exemplar {
    trace_id: TraceId,
    span_id: SpanId,
}

impl EncodeLabelSet for Exemplar {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        let ids: [(&str, &dyn fmt::Display); 2] =
            [("trace_id", &self.trace_id), ("span_id", &self.span_id)];
        for (name, id) in ids {
            let mut label = encoder.encode_label();
            let mut key = label.encode_label_key()?;
            key.write_str(name)?;
            let mut value = key.encode_label_value()?;
            write!(value, "{id}")?;
            value.finish()?;
        }
        Ok(())
    }
}

type Durations = Family<Labels, HistogramWithExemplars<Exemplar>>;
type Counts = Family<Labels, CounterWithExemplar<Exemplar>>;

/// The families the tap fills and the endpoint encodes.
struct Metrics {
    registry: Registry,
    operation: Durations,
    process: Durations,
    sent: Counts,
    consumed: Counts,
}

fn durations() -> Durations {
    Family::new_with_constructor(|| HistogramWithExemplars::new(DURATION_BUCKETS.into_iter()))
}

impl Metrics {
    fn new() -> Self {
        let (operation, process) = (durations(), durations());
        let (sent, consumed) = (Counts::default(), Counts::default());
        let mut registry = Registry::default();
        registry.register_with_unit(
            "messaging_client_operation_duration",
            "Duration of messaging operation initiated by a producer or consumer client",
            prometheus_client::registry::Unit::Seconds,
            operation.clone(),
        );
        registry.register_with_unit(
            "messaging_process_duration",
            "Duration of processing operation",
            prometheus_client::registry::Unit::Seconds,
            process.clone(),
        );
        registry.register(
            "messaging_client_sent_messages",
            "Number of messages producer attempted to send to the broker",
            sent.clone(),
        );
        registry.register(
            "messaging_client_consumed_messages",
            "Number of messages that were delivered to the application",
            consumed.clone(),
        );
        Metrics {
            registry,
            operation,
            process,
            sent,
            consumed,
        }
    }
}

fn labels(attributes: &[KeyValue]) -> Labels {
    Labels(
        (attributes.iter())
            .map(|kv| Label {
                key: label_key(kv.key.as_str()),
                value: match &kv.value {
                    Value::String(shared) => shared.clone(),
                    other => other.as_str().into_owned().into(),
                },
            })
            .collect(),
    )
}

/// Prometheus' spelling of an attribute key: the messaging metrics' own without a copy.
fn label_key(key: &str) -> Cow<'static, str> {
    const KNOWN: [(&str, &str); 5] = [
        (SYSTEM, "messaging_system"),
        (OPERATION_NAME, "messaging_operation_name"),
        (OPERATION_TYPE, "messaging_operation_type"),
        (DESTINATION_NAME, "messaging_destination_name"),
        (ERROR_TYPE, "error_type"),
    ];
    match KNOWN.iter().find(|(k, _)| *k == key) {
        Some((_, label)) => Cow::Borrowed(label),
        None => Cow::Owned(key.replace('.', "_")),
    }
}

/// The trace and span id of a sampled span, as an exemplar.
fn exemplar(span: &SpanContext) -> Option<Exemplar> {
    (span.is_valid() && span.is_sampled()).then(|| Exemplar {
        trace_id: span.trace_id(),
        span_id: span.span_id(),
    })
}

struct Tap(Arc<Metrics>);

impl MetricsTap for Tap {
    fn duration(
        &self,
        metric: &'static str,
        seconds: f64,
        attributes: &[KeyValue],
        span: &SpanContext,
    ) {
        let family = match metric {
            "messaging.process.duration" => &self.0.process,
            _ => &self.0.operation,
        };
        family
            .get_or_create(&labels(attributes))
            .observe(seconds, exemplar(span), None);
    }

    fn count(
        &self,
        metric: &'static str,
        messages: u64,
        attributes: &[KeyValue],
        span: &SpanContext,
    ) {
        let family = match metric {
            "messaging.client.sent.messages" => &self.0.sent,
            _ => &self.0.consumed,
        };
        family
            .get_or_create(&labels(attributes))
            .inc_by(messages, exemplar(span), None);
    }
}

/// The scrape endpoint: OpenMetrics text on every GET (any path).
#[derive(Debug)]
pub struct PrometheusEndpoint {
    addr: SocketAddr,
}

impl PrometheusEndpoint {
    /// Listens on `addr` (port 0: any free port) and installs the tap; `Err` if the address is
    /// taken, or another endpoint already feeds from this process's tap.
    pub fn start(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let metrics = Arc::new(Metrics::new());
        if !tracewire::messaging::set_metrics_tap(Arc::new(Tap(metrics.clone()))) {
            return Err(std::io::Error::other(
                "a metrics tap is already installed in this process",
            ));
        }
        std::thread::Builder::new()
            .name("tracewire-prometheus".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let _ = serve(stream, &metrics);
                }
            })?;
        Ok(PrometheusEndpoint { addr })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

fn serve(stream: std::net::TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear(); // the request line and headers: every request gets the metrics
    }
    let mut body = String::new();
    prometheus_client::encoding::text::encode(&mut body, &metrics.registry)
        .map_err(std::io::Error::other)?;
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 200 OK\r\ncontent-type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}
