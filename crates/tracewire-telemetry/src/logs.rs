//! Log correlation for `tracing`: every event is written as one JSON line — with the `tracing`
//! span it is in (`span`: name and fields, as `#[instrument]` records them; `spans` on request)
//! — that carries the
//! `trace_id`, `span_id` and `correlation_id` of the current OpenTelemetry context — the
//! message's, inside a handler run with `in_context`, or a `tracing` span's (bridged by
//! tracing-opentelemetry) — and `trace_sampled`, whether the backend gets that trace. Outside
//! any span those fields are absent, not zeros.

use crate::span_log::rfc3339;
use opentelemetry::trace::TraceContextExt;
use serde_json::{json, Map, Value};
use std::fmt::Debug;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tracewire::CorrelationContextExt;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// A `tracing` layer writing JSON log lines with trace ids. Compose it into your own subscriber,
/// or let [`Telemetry::install`](crate::Telemetry::install) do it.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let layer = tracewire_telemetry::JsonLogLayer::new("checkout", Box::new(std::io::sink()));
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || tracing::info!(order = 7, "accepted"));
/// ```
#[derive(Clone)]
pub struct JsonLogLayer {
    service: Arc<str>,
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    span_list: bool,
}

impl Debug for JsonLogLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLogLayer")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl JsonLogLayer {
    /// Lines for `service`, written to `out`.
    pub fn new(service: &str, out: Box<dyn Write + Send>) -> Self {
        JsonLogLayer {
            service: service.into(),
            out: Arc::new(Mutex::new(out)),
            span_list: false,
        }
    }

    /// Also writes `spans`: every `tracing` span the event is in, root first, each with its
    /// name and fields (as tracing-subscriber's JSON format does). Off by default: the current
    /// span (`span`) is always written.
    pub fn with_span_list(mut self, on: bool) -> Self {
        self.span_list = on;
        self
    }
}

/// A `tracing` span's fields, kept in its extensions for the events inside it.
struct SpanFields(Map<String, Value>);

/// `{"name": …, field: value…}` of one span.
fn span_json<S: for<'a> LookupSpan<'a>>(
    span: &tracing_subscriber::registry::SpanRef<'_, S>,
) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(span.name()));
    if let Some(fields) = span.extensions().get::<SpanFields>() {
        out.extend(fields.0.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Value::Object(out)
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for JsonLogLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let mut fields = Fields(Map::new());
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields.0));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(map)) = extensions.get_mut::<SpanFields>() {
            let mut fields = Fields(std::mem::take(map));
            values.record(&mut fields);
            *map = fields.0;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let meta = event.metadata();
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        let mut line = Map::new();
        line.insert("timestamp".into(), json!(rfc3339(SystemTime::now())));
        line.insert("level".into(), json!(meta.level().as_str()));
        line.insert("service".into(), json!(&*self.service));
        line.insert("target".into(), json!(meta.target()));
        let message = fields.0.remove("message").unwrap_or(Value::Null);
        line.insert("message".into(), message);
        opentelemetry::Context::map_current(|cx| {
            let span = cx.span();
            let sc = span.span_context();
            if sc.is_valid() {
                line.insert("trace_id".into(), json!(sc.trace_id().to_string()));
                line.insert("span_id".into(), json!(sc.span_id().to_string()));
                line.insert("trace_sampled".into(), json!(sc.is_sampled()));
            }
            if let Some(id) = cx.correlation_id() {
                line.insert("correlation_id".into(), json!(id.as_str()));
            }
        });
        if !fields.0.is_empty() {
            line.insert("fields".into(), Value::Object(fields.0));
        }
        if let Some(scope) = ctx.event_scope(event) {
            let spans: Vec<Value> = scope.from_root().map(|span| span_json(&span)).collect();
            if let Some(current) = spans.last() {
                line.insert("span".into(), current.clone());
            }
            if self.span_list {
                line.insert("spans".into(), Value::Array(spans));
            }
        }
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{}", Value::Object(line));
        }
    }
}

struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), json!(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), json!(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), json!(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), json!(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), json!(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0
            .insert(field.name().into(), json!(format!("{value:?}")));
    }
}
