//! OpenTelemetry messaging spans, shared by every broker crate: names (`{operation} {destination}`),
//! kinds, semconv attributes, the topology policy, and user hooks.

pub mod attributes;
mod metrics;
mod open_span;
mod spec;

pub use open_span::{OpenSpan, Outcome};
pub use spec::{OperationSpec, OperationType};

use crate::{CorrelationContextExt, Propagator};
use attributes as attr;
use metrics::{Instruments, Measurement};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::{Link, SpanBuilder, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, StringValue};
use std::fmt;
use std::sync::Arc;

/// Where a consumer span hangs in the trace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Topology {
    /// The producer's context is the parent (plus a link to it): one trace end to end.
    #[default]
    Parent,
    /// A new root trace with a link to the producer's context: for fan-in or very long pipelines.
    Link,
    /// An active ambient span wins as parent and the message becomes a link; without one, as
    /// `Parent`.
    Auto,
}

type TemplateHook = dyn Fn(&str) -> Option<String> + Send + Sync;
type AttributeHook = dyn Fn(&OperationSpec<'_>, &mut Vec<KeyValue>) + Send + Sync;
type DestinationFilter = dyn Fn(&str) -> bool + Send + Sync;

/// Longest key or payload recorded on a span when a destination opts in.
const MAX_RECORDED_BYTES: usize = 1024;

/// The messaging instrumentation of one client: system, tracer, propagator, policy and hooks.
/// Cheap to clone.
///
/// ```
/// use tracewire::messaging::{Messaging, OperationSpec, OperationType, Topology};
///
/// let messaging = Messaging::builder("kafka")
///     .topology(Topology::Parent)
///     .destination_template(|topic| topic.starts_with("user.").then(|| "user.{id}".to_owned()))
///     .build();
/// let cx = messaging.start_send(
///     &opentelemetry::Context::new(),
///     OperationSpec::new(OperationType::Send, "send", "orders").body(b"{}"),
/// );
/// # drop(cx);
/// ```
#[derive(Clone)]
pub struct Messaging {
    inner: Arc<Inner>,
}

struct Inner {
    system: &'static str,
    tracer: BoxedTracer,
    instruments: Arc<Instruments>,
    propagator: Propagator,
    topology: Topology,
    /// `server.address` and `server.port`, built once (cloning them is a reference count).
    server: Vec<KeyValue>,
    key_attribute: &'static str,
    template: Option<Box<TemplateHook>>,
    enrich: Option<Box<AttributeHook>>,
    record_keys: Option<Box<DestinationFilter>>,
    record_payloads: Option<Box<DestinationFilter>>,
}

/// One operation's destination, resolved once for its span and its metrics: the name, and the
/// template the user's hook maps it to. Shared strings, so both uses clone a reference count.
struct Destination {
    name: StringValue,
    template: Option<StringValue>,
}

impl Destination {
    /// What span names and metrics show: the template when there is one.
    fn shown(&self) -> &StringValue {
        self.template.as_ref().unwrap_or(&self.name)
    }
}

impl fmt::Debug for Messaging {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Messaging")
            .field("system", &self.inner.system)
            .field("topology", &self.inner.topology)
            .field("propagator", &self.inner.propagator)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Messaging`].
pub struct MessagingBuilder {
    system: &'static str,
    tracer: Option<BoxedTracer>,
    meter: Option<opentelemetry::metrics::Meter>,
    propagator: Propagator,
    topology: Topology,
    server: Option<(String, i64)>,
    key_attribute: &'static str,
    template: Option<Box<TemplateHook>>,
    enrich: Option<Box<AttributeHook>>,
    record_keys: Option<Box<DestinationFilter>>,
    record_payloads: Option<Box<DestinationFilter>>,
}

impl MessagingBuilder {
    /// The tracer to use. By default the global tracer provider's `tracewire` tracer, taken when
    /// [`build`](Self::build) runs — so install the provider before building wrappers.
    pub fn tracer(mut self, tracer: BoxedTracer) -> Self {
        self.tracer = Some(tracer);
        self
    }

    /// The meter for the messaging metrics. By default the global meter provider's `tracewire`
    /// meter, taken when [`build`](Self::build) runs.
    pub fn meter(mut self, meter: opentelemetry::metrics::Meter) -> Self {
        self.meter = Some(meter);
        self
    }

    /// The propagator (default: [`Propagator::new`]).
    pub fn propagator(mut self, propagator: Propagator) -> Self {
        self.propagator = propagator;
        self
    }

    /// Where consumer spans hang (default [`Topology::Parent`]).
    pub fn topology(mut self, topology: Topology) -> Self {
        self.topology = topology;
        self
    }

    /// `server.address` and `server.port` of the broker.
    pub fn server(mut self, address: impl Into<String>, port: u16) -> Self {
        self.server = Some((address.into(), i64::from(port)));
        self
    }

    /// The attribute that records message keys on opt-in (default `tracewire.message.key`).
    pub fn key_attribute(mut self, name: &'static str) -> Self {
        self.key_attribute = name;
        self
    }

    /// Maps a high-cardinality destination (`user.1234.events`) to a template (`user.{id}.events`),
    /// used in span names and `messaging.destination.template`; `None` keeps the name.
    pub fn destination_template(
        mut self,
        hook: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.template = Some(Box::new(hook));
        self
    }

    /// Adds attributes of your own to every span.
    pub fn attributes(
        mut self,
        hook: impl Fn(&OperationSpec<'_>, &mut Vec<KeyValue>) + Send + Sync + 'static,
    ) -> Self {
        self.enrich = Some(Box::new(hook));
        self
    }

    /// Records message keys on the destinations this returns `true` for (off by default: keys
    /// can be personal data).
    pub fn record_keys(mut self, on: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.record_keys = Some(Box::new(on));
        self
    }

    /// Records message bodies (first 1 KiB) on the destinations this returns `true` for (off by
    /// default).
    pub fn record_payloads(mut self, on: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.record_payloads = Some(Box::new(on));
        self
    }

    /// The instrumentation.
    pub fn build(self) -> Messaging {
        let tracer = self
            .tracer
            .unwrap_or_else(|| global::tracer_with_scope(crate::scope()));
        let meter = self
            .meter
            .unwrap_or_else(|| global::meter_with_scope(crate::scope()));
        Messaging {
            inner: Arc::new(Inner {
                system: self.system,
                tracer,
                instruments: Arc::new(Instruments::new(&meter)),
                propagator: self.propagator,
                topology: self.topology,
                server: self
                    .server
                    .map(|(address, port)| {
                        let address: StringValue = Arc::<str>::from(address).into();
                        vec![
                            KeyValue::new(attr::SERVER_ADDRESS, address),
                            KeyValue::new(attr::SERVER_PORT, port),
                        ]
                    })
                    .unwrap_or_default(),
                key_attribute: self.key_attribute,
                template: self.template,
                enrich: self.enrich,
                record_keys: self.record_keys,
                record_payloads: self.record_payloads,
            }),
        }
    }
}

impl Messaging {
    /// Instrumentation for `system` (`messaging.system`: `kafka`, `rabbitmq`, `nats`…).
    pub fn builder(system: &'static str) -> MessagingBuilder {
        MessagingBuilder {
            system,
            tracer: None,
            meter: None,
            propagator: Propagator::new(),
            topology: Topology::default(),
            server: None,
            key_attribute: attr::MESSAGE_KEY,
            template: None,
            enrich: None,
            record_keys: None,
            record_payloads: None,
        }
    }

    /// The system name.
    pub fn system(&self) -> &'static str {
        self.inner.system
    }

    /// The propagator.
    pub fn propagator(&self) -> &Propagator {
        &self.inner.propagator
    }

    /// The consumer topology.
    pub fn topology(&self) -> Topology {
        self.inner.topology
    }

    /// [`start_send`](Self::start_send), owned by an [`OpenSpan`] that also records the
    /// messaging metrics when it ends. What the broker crates use.
    pub fn open_send(&self, parent: &Context, spec: OperationSpec<'_>) -> OpenSpan {
        let dest = self.resolve(spec.destination);
        let measurement = self.measure(&spec, &dest);
        OpenSpan::measured(self.send_to(parent, spec, &dest), measurement)
    }

    /// [`start_consume`](Self::start_consume), owned by an [`OpenSpan`] that also records the
    /// messaging metrics.
    pub fn open_consume(&self, message: &Context, spec: OperationSpec<'_>) -> OpenSpan {
        let dest = self.resolve(spec.destination);
        let measurement = self.measure(&spec, &dest);
        OpenSpan::measured(self.consume_from(message, spec, &dest), measurement)
    }

    /// Runs the template hook once per operation.
    fn resolve(&self, destination: &str) -> Destination {
        let template = self.inner.template.as_ref().and_then(|t| t(destination));
        Destination {
            name: Arc::<str>::from(destination).into(),
            template: template.map(StringValue::from),
        }
    }

    fn measure(&self, spec: &OperationSpec<'_>, dest: &Destination) -> Measurement {
        let inner = &self.inner;
        Measurement::start(
            &inner.instruments,
            spec.kind,
            inner.system,
            spec.name,
            dest.shown().clone(),
        )
    }

    /// Starts a send/publish span as a child of `parent`, giving the context a correlation id
    /// first if it has none (the first hop). Inject the returned context into the message.
    pub fn start_send(&self, parent: &Context, spec: OperationSpec<'_>) -> Context {
        let dest = self.resolve(spec.destination);
        self.send_to(parent, spec, &dest)
    }

    fn send_to(&self, parent: &Context, spec: OperationSpec<'_>, dest: &Destination) -> Context {
        let parent = parent.with_correlation_id_or_new();
        self.start(&parent, spec, Vec::new(), dest)
    }

    /// Starts a receive or process span for one message, per the topology policy, with a link to
    /// the message's own context when it has a valid one. Baggage and correlation id come from
    /// the message whatever the parent.
    /// `message` is the message's own context, as [`Propagator::extract`] gives it.
    pub fn start_consume(&self, message: &Context, spec: OperationSpec<'_>) -> Context {
        let dest = self.resolve(spec.destination);
        self.consume_from(message, spec, &dest)
    }

    fn consume_from(&self, msg: &Context, spec: OperationSpec<'_>, dest: &Destination) -> Context {
        let msg_span = msg.span();
        let msg_sc = msg_span.span_context();
        let links = if msg_sc.is_valid() {
            vec![Link::with_context(msg_sc.clone())]
        } else {
            Vec::new()
        };
        let parent = match self.inner.topology {
            Topology::Parent if msg_sc.is_valid() => msg.clone(),
            Topology::Auto if Context::map_current(|cx| cx.has_active_span()) => {
                carry(&Context::current(), msg)
            }
            Topology::Auto if msg_sc.is_valid() => msg.clone(),
            Topology::Link => carry(&Context::new(), msg),
            _ => carry(&Context::current(), msg),
        };
        self.start(&parent, spec, links, dest)
    }

    /// Starts one span for a batch of messages (`messaging.batch.message_count`), as a child of the
    /// current context, with a link to each message's context.
    pub fn start_batch<'c>(
        &self,
        spec: OperationSpec<'_>,
        messages: impl IntoIterator<Item = &'c Context>,
    ) -> Context {
        let (links, count) = batch_links(messages);
        let spec = spec.attribute(KeyValue::new(attr::BATCH_MESSAGE_COUNT, count));
        let dest = self.resolve(spec.destination);
        self.start(&Context::current(), spec, links, &dest)
    }

    fn start(
        &self,
        parent: &Context,
        spec: OperationSpec<'_>,
        links: Vec<Link>,
        dest: &Destination,
    ) -> Context {
        let inner = &*self.inner;
        let shown = dest.shown().as_str();
        let name = if shown.is_empty() {
            spec.name.to_owned()
        } else {
            format!("{} {shown}", spec.name)
        };
        let mut attrs = Vec::with_capacity(8 + spec.attributes.len());
        attrs.push(KeyValue::new(attr::SYSTEM, inner.system));
        attrs.push(KeyValue::new(attr::OPERATION_NAME, spec.name));
        attrs.push(KeyValue::new(attr::OPERATION_TYPE, spec.kind.as_str()));
        if !spec.destination.is_empty() {
            attrs.push(KeyValue::new(attr::DESTINATION_NAME, dest.name.clone()));
        }
        if let Some(t) = &dest.template {
            attrs.push(KeyValue::new(attr::DESTINATION_TEMPLATE, t.clone()));
        }
        if let Some(id) = parent.correlation_id() {
            attrs.push(KeyValue::new(attr::CONVERSATION_ID, id.as_str().to_owned()));
        }
        if let Some(size) = spec.body_size {
            attrs.push(KeyValue::new(attr::BODY_SIZE, size as i64));
        }
        attrs.extend(inner.server.iter().cloned());
        let opted = |filter: &Option<Box<DestinationFilter>>| {
            filter.as_ref().is_some_and(|f| f(spec.destination))
        };
        if let Some(key) = spec.key.filter(|_| opted(&inner.record_keys)) {
            attrs.push(KeyValue::new(inner.key_attribute, printable(key)));
        }
        if let Some(body) = spec.payload.filter(|_| opted(&inner.record_payloads)) {
            attrs.push(KeyValue::new(attr::MESSAGE_PAYLOAD, printable(body)));
        }
        if let Some(enrich) = &inner.enrich {
            enrich(&spec, &mut attrs);
        }
        attrs.extend(spec.attributes);
        let builder = SpanBuilder::from_name(name)
            .with_kind(spec.kind.span_kind())
            .with_attributes(attrs)
            .with_links(links);
        let span = inner.tracer.build_with_context(builder, parent);
        parent.with_span(span)
    }
}

/// A link to each message's context that has a valid span, and how many messages there are
/// (`messaging.batch.message_count` counts every message, linked or not).
pub(crate) fn batch_links<'c>(messages: impl IntoIterator<Item = &'c Context>) -> (Vec<Link>, i64) {
    let mut count = 0;
    let links = messages
        .into_iter()
        .inspect(|_| count += 1)
        .map(|cx| cx.span().span_context().clone())
        .filter(|sc| sc.is_valid())
        .map(Link::with_context)
        .collect();
    (links, count)
}

/// `base` with the message's baggage and correlation id.
fn carry(base: &Context, message: &Context) -> Context {
    let mut cx = base.clone();
    let bag = message.baggage();
    if !bag.is_empty() {
        cx = cx.with_baggage(bag.iter().map(|(k, (v, m))| {
            opentelemetry::baggage::KeyValueMetadata::new(k.clone(), v.clone(), m.clone())
        }));
    }
    match message.correlation_id() {
        Some(id) => cx.with_correlation_id(*id),
        None => cx,
    }
}

/// Untrusted bytes made safe to record: at most 1 KiB, invalid UTF-8 and control characters
/// replaced by U+FFFD.
fn printable(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(MAX_RECORDED_BYTES)];
    String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}
