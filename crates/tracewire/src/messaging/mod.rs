//! OpenTelemetry messaging spans, shared by every broker crate: names (`{operation} {destination}`),
//! kinds, semconv attributes, the topology policy, and user hooks.

pub mod attributes;
mod boundary;
mod capture;
mod destinations;
mod glob;
mod leaked;
pub(crate) mod metrics;
mod policy;
mod recent;
mod spec;
mod system;

pub use crate::span::{set_metrics_tap, MetricsTap};
pub use boundary::{HOP_COUNT, HOP_MEMBER, QUEUE_TIME_MS, TRACE_BOUNDARY};
pub use capture::MAX_CAPTURED_VALUE;
pub use destinations::{MAX_DESTINATIONS, MAX_SPAN_NAMES};
pub use glob::Glob;
pub use metrics::{DURATION_BUCKETS, MAX_ATTRIBUTE_SETS, MAX_STATIC_INSTRUMENTS};
pub use policy::{BaggageRules, HopPolicy};
pub use spec::{Details, OperationSpec, OperationType};
pub use system::System;

use crate::carrier::HeaderReader;
use crate::span::{self, OpenSpan, Starting};
use crate::tracer::AnyTracer;
use crate::{CorrelationContextExt, Propagator};
use attributes as attr;
use capture::printable;
use destinations::{Destination, Destinations, Policies, Resolved, TemplateHook};
use metrics::{Instruments, Measurement, SharedInstruments};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::global;
use opentelemetry::trace::{Link, SpanBuilder, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, StringValue};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Where a consumer span hangs in the trace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Topology {
    /// The producer's context is the parent: one trace end to end (a link to that same span
    /// too only on request, [`MessagingBuilder::link_parent`]).
    #[default]
    Parent,
    /// A new root trace with a link to the producer's context: for fan-in or very long pipelines.
    Link,
    /// An active ambient span wins as parent and the message becomes a link; without one, as
    /// `Parent`.
    Auto,
}

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
/// use tracewire::messaging::System;
///
/// let messaging = Messaging::builder(System::new("kafka"))
///     .topology(Topology::Parent)
///     .destination_template(|topic| topic.starts_with("user.").then(|| "user.{id}".to_owned()))
///     .build();
/// let span = messaging.open_send(
///     &opentelemetry::Context::new(),
///     OperationSpec::new(OperationType::Send, "send", "orders").body(b"{}"),
/// );
/// span.end(tracewire::Outcome::Ok);
/// ```
#[derive(Clone)]
pub struct Messaging {
    inner: Arc<Inner>,
}

struct Inner {
    system: System,
    tracer: AnyTracer,
    /// `None` when metrics are off.
    instruments: Option<SharedInstruments>,
    propagator: Propagator,
    topology: Topology,
    link_parent: bool,
    /// `server.address` and `server.port`, built once (cloning them is a reference count).
    server: Vec<KeyValue>,
    key_attribute: &'static str,
    template: Option<Box<TemplateHook>>,
    destinations: Destinations,
    policies: Policies,
    enrich: Option<Box<AttributeHook>>,
    record_keys: Option<Box<DestinationFilter>>,
    record_payloads: Option<Box<DestinationFilter>>,
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
    system: System,
    tracer: Option<AnyTracer>,
    meter: Option<opentelemetry::metrics::Meter>,
    metrics: bool,
    propagator: Propagator,
    topology: Topology,
    link_parent: bool,
    server: Option<(String, i64)>,
    key_attribute: &'static str,
    template: Option<Box<TemplateHook>>,
    policies: Policies,
    enrich: Option<Box<AttributeHook>>,
    record_keys: Option<Box<DestinationFilter>>,
    record_payloads: Option<Box<DestinationFilter>>,
}

impl MessagingBuilder {
    /// The tracer to use. By default the global tracer provider's `tracewire` tracer, taken when
    /// [`build`](Self::build) runs — so install the provider before building wrappers.
    ///
    /// Any tracer will do; your provider's own (`SdkTracerProvider::tracer`) saves an allocation
    /// per sampled span over the global one, whose spans come boxed.
    pub fn tracer<T>(mut self, tracer: T) -> Self
    where
        T: Tracer + Send + Sync + 'static,
        T::Span: Send + Sync + 'static,
    {
        self.tracer = Some(AnyTracer::new(tracer));
        self
    }

    /// The meter for the messaging metrics. By default the global meter provider's `tracewire`
    /// meter, taken when [`build`](Self::build) runs.
    pub fn meter(mut self, meter: opentelemetry::metrics::Meter) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Whether to record the messaging metrics (default `true`). Each measured operation reads
    /// a clock twice (the CPU's counter: ~12 ns a reading), whether or not a meter provider is
    /// installed (OpenTelemetry cannot tell a no-op meter apart): turn them off when nothing
    /// collects them.
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = on;
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

    /// Also link a consumer span to the producer span that is already its parent (off by
    /// default: the link says nothing the parent does not, and costs a `Vec` and a link per
    /// message; some backends draw links and not parents across services).
    pub fn link_parent(mut self, on: bool) -> Self {
        self.link_parent = on;
        self
    }

    /// `server.address` and `server.port` of the broker.
    pub fn server(mut self, address: impl Into<String>, port: u16) -> Self {
        self.server = Some((address.into(), i64::from(port)));
        self
    }

    /// The attribute that records message keys on opt-in (default: the system's own, see
    /// [`System::with_key_attribute`]).
    pub fn key_attribute(mut self, name: &'static str) -> Self {
        self.key_attribute = name;
        self
    }

    /// Maps a high-cardinality destination (`user.1234.events`) to a template (`user.{id}.events`),
    /// used in span names and `messaging.destination.template`; `None` keeps the name. The answer
    /// is remembered per destination (for the first 1024), so the hook should be a pure function.
    pub fn destination_template(
        mut self,
        hook: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.template = Some(Box::new(hook));
        self
    }

    /// What may cross a hop at the destinations matching `destinations` (a name, or a pattern
    /// with `*`, matched against the topic, `exchange:routing_key` or queue, subject — the name
    /// before any template): header capture, baggage rules, a trust boundary, trace
    /// boundaries. The first matching policy applies, in the order they were added; resolved
    /// once per destination. Without policies (the default) nothing of this costs anything.
    pub fn policy(mut self, destinations: impl Into<Glob>, policy: HopPolicy) -> Self {
        self.policies.push((destinations.into(), Arc::new(policy)));
        self
    }

    /// Adds attributes of your own to every span: the hook gets the operation and the span's
    /// attributes so far (the system's own and the conventions'; `spec.attributes` is empty by
    /// then, its contents already moved there), to push onto. They are given at creation, where
    /// a sampler sees them; the conversation id is not among them (it is set on a span that
    /// records, once started).
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
        let tracer = self.tracer.unwrap_or_else(AnyTracer::global);
        let instruments = self.metrics.then(|| {
            let meter = self
                .meter
                .unwrap_or_else(|| global::meter_with_scope(crate::scope()));
            self.propagator.export_problems(&meter);
            SharedInstruments::new(Instruments::new(&meter, self.system.name()))
        });
        Messaging {
            inner: Arc::new(Inner {
                system: self.system,
                tracer,
                instruments,
                propagator: self.propagator,
                topology: self.topology,
                link_parent: self.link_parent,
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
                destinations: Destinations::default(),
                policies: self.policies,
                enrich: self.enrich,
                record_keys: self.record_keys,
                record_payloads: self.record_payloads,
            }),
        }
    }
}

impl Messaging {
    /// Instrumentation for `system`, with its defaults (each broker crate exports its `SYSTEM`;
    /// its `builder()` is this).
    pub fn builder(system: System) -> MessagingBuilder {
        MessagingBuilder {
            system,
            tracer: None,
            meter: None,
            metrics: true,
            propagator: Propagator::new(),
            topology: Topology::default(),
            link_parent: false,
            server: None,
            key_attribute: system.key_attribute(),
            template: None,
            policies: Vec::new(),
            enrich: None,
            record_keys: None,
            record_payloads: None,
        }
    }

    /// The system.
    pub fn system(&self) -> System {
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

    /// How many destinations this instrumentation remembers (their strings, template and
    /// policy): at most [`MAX_DESTINATIONS`]; past that, further destinations are resolved per
    /// message. For soaks and dashboards that check memory stays bounded.
    pub fn cached_destinations(&self) -> usize {
        self.inner.destinations.len()
    }

    /// How many span names this process holds as `&'static str` (every `Messaging`'s together):
    /// at most [`MAX_SPAN_NAMES`]; past that, names are allocated per span.
    pub fn interned_span_names() -> usize {
        destinations::interned_span_names()
    }

    /// How many metric attribute sets (system, operation, destination) this process holds made
    /// once (every `Messaging`'s together): at most [`MAX_ATTRIBUTE_SETS`]; past that, each
    /// measurement makes its own.
    pub fn interned_metric_attribute_sets() -> usize {
        metrics::interned_attribute_sets()
    }

    /// Opens a send/publish span as a child of `parent`, giving the context a correlation id
    /// first if it has none (the first hop). The span records the messaging metrics when it
    /// ends. Inject [`OpenSpan::context`] into the message — or let
    /// [`open_send_with`](Self::open_send_with) do both (it also applies the destination's
    /// [`HopPolicy`] and the hop count to what it injects; injecting by hand does not).
    pub fn open_send(&self, parent: &Context, spec: OperationSpec<'_>) -> OpenSpan {
        self.send_span(parent, spec).0
    }

    fn send_span(
        &self,
        parent: &Context,
        mut spec: OperationSpec<'_>,
    ) -> (OpenSpan, Option<Arc<HopPolicy>>) {
        let (resolved, measurement) = self.prepare(&spec);
        let policy = resolved.destination.policy.clone();
        let parent = parent.with_correlation_id_or_new();
        let cx = self.start(&parent, &mut spec, Vec::new(), resolved);
        (OpenSpan::measured(cx, measurement), policy)
    }

    /// The send skeleton of every broker wrapper: opens the send span in `parent` and hands its
    /// context to `inject`, which writes it into the client's outgoing headers. Returns the span
    /// (end it on the broker's acknowledgement) and what `inject` made. The destination's
    /// [`HopPolicy`] decides what `inject` sees (baggage rules, trust boundary); a trace that
    /// counts hops gets its count advanced.
    ///
    /// ```
    /// use opentelemetry::Context;
    /// use tracewire::carrier::{HeaderReader, MemoryHeaders};
    /// use tracewire::messaging::{Messaging, OperationSpec, OperationType, System};
    ///
    /// let messaging = Messaging::builder(System::new("queue")).build();
    /// let spec = OperationSpec::new(OperationType::Send, "send", "orders");
    /// let (span, headers) = messaging.open_send_with(&Context::new(), spec, |propagator, cx| {
    ///     let mut headers = MemoryHeaders::new();
    ///     propagator.inject(cx, &mut headers);
    ///     headers
    /// });
    /// assert!(headers.last("correlation_id").is_some());
    /// span.end(tracewire::Outcome::Ok);
    /// ```
    pub fn open_send_with<T>(
        &self,
        parent: &Context,
        spec: OperationSpec<'_>,
        inject: impl FnOnce(&Propagator, &Context) -> T,
    ) -> (OpenSpan, T) {
        let (span, policy) = self.send_span(parent, spec);
        let stats = self.inner.propagator.stats();
        let governed = policy
            .as_deref()
            .and_then(|p| p.outgoing(span.context(), stats));
        let cx = governed.as_ref().unwrap_or(span.context());
        let start_counting = policy.is_some_and(|p| p.boundary.count_hops);
        let counted = boundary::next_hop(cx, start_counting);
        let written = inject(&self.inner.propagator, counted.as_ref().unwrap_or(cx));
        (span, written)
    }

    /// `spec` with the headers its destination's [`HopPolicy`] captures
    /// (`messaging.header.<name>`) among its attributes. [`open_message`](Self::open_message)
    /// does this itself; a broker crate calls it on a send with the user's headers before
    /// [`open_send_with`](Self::open_send_with), and on a receive it opens with
    /// [`open_consume`](Self::open_consume). `headers` is called only when a policy captures
    /// headers at this destination.
    #[inline] // a spec passed by value and returned is copied twice (about 152 bytes) otherwise
    pub fn capture_headers<'a, R: HeaderReader>(
        &self,
        mut spec: OperationSpec<'a>,
        headers: impl FnOnce() -> R,
    ) -> OperationSpec<'a> {
        self.capture_into(&mut spec, headers);
        spec
    }

    /// [`capture_headers`](Self::capture_headers) in place: the skeleton moves a spec (about
    /// 152 bytes) as little as it can, each move being a copy.
    fn capture_into<R: HeaderReader>(
        &self,
        spec: &mut OperationSpec<'_>,
        headers: impl FnOnce() -> R,
    ) {
        if let Some(policy) = self.capturing(spec) {
            self.captured(spec, &policy, &headers());
        }
    }

    /// The policy of `spec`'s destination when it captures headers (no lookup without policies).
    fn capturing(&self, spec: &OperationSpec<'_>) -> Option<Arc<HopPolicy>> {
        if self.inner.policies.is_empty() {
            return None;
        }
        let hook = self.inner.template.as_deref();
        let resolved = (self.inner.destinations).resolve(
            (spec.name, spec.kind),
            spec.destination,
            hook,
            &self.inner.policies,
            self.inner.instruments.as_ref().map(SharedInstruments::get),
        );
        resolved
            .destination
            .policy
            .filter(|p| !p.capture.is_empty())
    }

    fn captured<R: HeaderReader>(
        &self,
        spec: &mut OperationSpec<'_>,
        policy: &HopPolicy,
        headers: &R,
    ) {
        let propagator = &self.inner.propagator;
        let own = |name: &str| propagator.is_own_header(name, R::CORRELATION_HEADER);
        capture::capture(&policy.capture, headers, own, &mut spec.attributes);
    }

    /// The receive skeleton of every broker wrapper: extracts the message's context from its
    /// `headers` (never failing; problems counted by the propagator) and opens its receive or
    /// process span per the topology ([`open_consume`](Self::open_consume)).
    pub fn open_message<R: HeaderReader>(
        &self,
        headers: &R,
        mut spec: OperationSpec<'_>,
    ) -> OpenSpan {
        // `mut spec` in place: `let mut spec = spec;` copied its 152 bytes on every message.
        self.capture_into(&mut spec, || headers);
        let extracted = self.inner.propagator.extract(headers);
        self.consume(Cow::Owned(extracted.context), &mut spec)
    }

    /// The message's own context, extracted from its `headers`: for batches, whose span links
    /// every message.
    pub fn extract<R: HeaderReader>(&self, headers: &R) -> Context {
        self.inner.propagator.extract(headers).context
    }

    /// Opens a receive or process span for one message, per the topology policy: the message's
    /// own context (when valid) is its parent, or — when something else is the parent — a link. Baggage and correlation id come from
    /// the message whatever the parent. `message` is the message's own context, as
    /// [`Propagator::extract`] gives it. The span records the messaging metrics when it ends.
    pub fn open_consume(&self, message: &Context, mut spec: OperationSpec<'_>) -> OpenSpan {
        self.consume(Cow::Borrowed(message), &mut spec)
    }

    /// [`open_consume`](Self::open_consume) with the message's context moved in where the caller
    /// owns it: a parent it becomes without a clone (two reference counts up, and down again).
    fn consume(&self, message: Cow<'_, Context>, spec: &mut OperationSpec<'_>) -> OpenSpan {
        let (resolved, measurement) = self.prepare(spec);
        let cx = self.consume_from(message, spec, resolved);
        OpenSpan::measured(cx, measurement)
    }

    /// Opens one span for a batch of messages (`messaging.batch.message_count`), as a child of
    /// the current context, with a link to each message's context; it records the messaging
    /// metrics (every message counted as consumed) when it ends.
    pub fn open_batch<'c>(
        &self,
        spec: OperationSpec<'_>,
        messages: impl IntoIterator<Item = &'c Context>,
    ) -> OpenSpan {
        let (links, count) = batch_links(messages);
        let mut spec = (spec.attribute(KeyValue::new(attr::BATCH_MESSAGE_COUNT, count)))
            .message_count(count as u64);
        let (resolved, measurement) = self.prepare(&spec);
        let cx = self.start(&Context::current(), &mut spec, links, resolved);
        OpenSpan::measured(cx, measurement)
    }

    /// Opens a receive span for a pull whose messages are not in hand yet (a fetch), as a child
    /// of the current context: it measures the pull itself. Open each message's span in its
    /// context (so the [`Auto`](Topology::Auto) topology parents them on it), then call
    /// [`received`](Self::received) and end it.
    pub fn open_receive(&self, spec: OperationSpec<'_>) -> OpenSpan {
        let mut spec = spec.message_count(0);
        let (resolved, measurement) = self.prepare(&spec);
        let cx = self.start(&Context::current(), &mut spec, Vec::new(), resolved);
        OpenSpan::measured(cx, measurement)
    }

    /// Tells a receive span what it received: a link to each message's own context,
    /// `messaging.batch.message_count`, and the count for the consumed-messages metric.
    pub fn received<'c>(
        &self,
        receive: &mut OpenSpan,
        messages: impl IntoIterator<Item = &'c Context>,
    ) {
        let (links, count) = batch_links(messages);
        links
            .into_iter()
            .for_each(|l| receive.add_link(l.span_context));
        receive.set_attribute(KeyValue::new(attr::BATCH_MESSAGE_COUNT, count));
        receive.set_count(count as u64);
    }

    /// The operation's destination and span name (from the cache when it has them), and its
    /// metrics when they are on.
    fn prepare(&self, spec: &OperationSpec<'_>) -> (Resolved, Option<Measurement>) {
        let inner = &self.inner;
        let hook = inner.template.as_deref();
        let instruments = inner.instruments.as_ref();
        let resolved = (inner.destinations).resolve(
            (spec.name, spec.kind),
            spec.destination,
            hook,
            &inner.policies,
            instruments.map(SharedInstruments::get),
        );
        let measurement = instruments.map(|i| {
            let (shown, interned) = (resolved.destination.shown(), resolved.metric_attributes);
            i.measure(spec.kind, spec.name, shown, interned, spec.message_count)
        });
        (resolved, measurement)
    }

    fn consume_from(
        &self,
        msg: Cow<'_, Context>,
        spec: &mut OperationSpec<'_>,
        resolved: Resolved,
    ) -> Context {
        let policy = resolved.destination.policy.as_deref();
        let stats = self.inner.propagator.stats();
        let msg = match policy.and_then(|p| p.incoming(&msg, stats)) {
            Some(governed) => Cow::Owned(governed),
            None => msg,
        };
        let msg_span = msg.span();
        let msg_sc = msg_span.span_context();
        // A boundary the policy draws: a new trace, linked to the message.
        if let Some(crossed) = policy.and_then(|p| p.boundary.crossed(msg_sc, spec.sent_at)) {
            spec.attributes.extend(crossed);
            let links = vec![Link::with_context(msg_sc.clone())];
            return self.start(&carry(&Context::new(), &msg), spec, links, resolved);
        }
        // The message's own context is the parent, or a link (not both, unless asked); a
        // parent's baggage and correlation id are the message's, whatever the parent.
        let valid = msg_sc.is_valid();
        let base = match self.inner.topology {
            Topology::Parent if valid => None,
            Topology::Auto if Context::map_current(|cx| cx.has_active_span()) => {
                Some(Context::current())
            }
            Topology::Auto if valid => None,
            Topology::Link => Some(Context::new()),
            _ => Some(Context::current()),
        };
        let links = match valid && (base.is_some() || self.inner.link_parent) {
            true => vec![Link::with_context(msg_sc.clone())],
            false => Vec::new(),
        };
        let parent = match base {
            Some(base) => carry(&base, &msg),
            None => msg.into_owned(),
        };
        self.start(&parent, spec, links, resolved)
    }

    fn start(
        &self,
        parent: &Context,
        spec: &mut OperationSpec<'_>,
        mut links: Vec<Link>,
        Resolved {
            destination: dest,
            span_name: name,
            ..
        }: Resolved,
    ) -> Context {
        let inner = &*self.inner;
        // The spec's own attributes first, in the Vec the span keeps.
        let mut attrs = std::mem::take(&mut spec.attributes);
        let has_destination = !spec.destination.is_empty();
        self.identifying(has_destination, &dest, None, &mut attrs);
        attrs.put(|| KeyValue::new(attr::OPERATION_NAME, spec.name));
        attrs.put(|| KeyValue::new(attr::OPERATION_TYPE, spec.kind.as_str()));
        if let Some(size) = spec.body_size {
            attrs.put(|| KeyValue::new(attr::BODY_SIZE, size as i64));
        }
        attrs.extend(inner.server.iter().cloned());
        let opted = |filter: &Option<Box<DestinationFilter>>| {
            filter.as_ref().is_some_and(|f| f(spec.destination))
        };
        if let Some(key) = spec.key.filter(|_| opted(&inner.record_keys)) {
            attrs.push(KeyValue::new(
                inner.key_attribute,
                printable(key, MAX_RECORDED_BYTES, Some('\u{fffd}')),
            ));
        }
        if let Some(body) = spec.payload.filter(|_| opted(&inner.record_payloads)) {
            attrs.push(KeyValue::new(
                attr::MESSAGE_PAYLOAD,
                printable(body, MAX_RECORDED_BYTES, Some('\u{fffd}')),
            ));
        }
        if let Some(enrich) = &inner.enrich {
            enrich(spec, &mut attrs);
        }
        let kind = spec.kind.span_kind();
        // A start listener (the span log) is told what started, if it records: the name and
        // links the SDK takes are kept back (a name is interned, links are usually none), the
        // attributes made again only for a span that records.
        let told = span::listening().then(|| (name.clone(), links.clone()));
        // A literal, not `from_name(…).with_kind(…)…`: each `with_` moves the whole builder,
        // and the tracer's call copied the last one out in loads that stalled on its pieces.
        // `with_links` keeps the valid links only; so does this.
        links.retain(|l| l.span_context.is_valid());
        let builder = SpanBuilder {
            span_kind: Some(kind.clone()),
            name,
            start_time: None,
            attributes: Some(attrs),
            events: None,
            links: Some(links),
        };
        // The conversation id is no sampling input (the conventions' sampling-relevant
        // attributes are the system, destination, operation, server and consumer group): made
        // only for a span that records, with the broker crate's details.
        let mut details = spec.details.take();
        let mut late = |push: &mut dyn FnMut(KeyValue)| {
            if let Some(id) = parent.correlation_value() {
                push(KeyValue::new(attr::CONVERSATION_ID, id));
            }
            if let Some(details) = details.as_mut() {
                details(push);
            }
        };
        let Some((mut name, mut links)) = told else {
            return (inner.tracer).start_in_then(builder, parent, &mut late);
        };
        let describe = || {
            let mut attributes = SmallVec::new();
            self.identifying(has_destination, &dest, Some(parent), &mut attributes);
            Starting {
                parent: span::parent_span_id(parent),
                name: std::mem::take(&mut name),
                kind: kind.clone(),
                attributes,
                links: std::mem::take(&mut links),
            }
        };
        let start = || (inner.tracer).start_in_then(builder, parent, &mut late);
        span::start_told(start, describe)
    }

    /// The core's attributes that say which operation a span is — system, destination name
    /// and template, and with `parent` its conversation id — into `to`: the span's (whose
    /// conversation id is set once it records), and a start listener's.
    fn identifying(
        &self,
        has_destination: bool,
        dest: &Destination,
        parent: Option<&Context>,
        to: &mut impl Attributes,
    ) {
        to.put(|| KeyValue::new(attr::SYSTEM, self.inner.system.name()));
        if has_destination {
            to.put(|| KeyValue::new(attr::DESTINATION_NAME, dest.name.clone()));
        }
        if let Some(t) = &dest.template {
            to.put(|| KeyValue::new(attr::DESTINATION_TEMPLATE, t.clone()));
        }
        if let Some(id) = parent.and_then(|p| p.correlation_value()) {
            to.put(|| KeyValue::new(attr::CONVERSATION_ID, id));
        }
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

/// Where the core's attributes go: a span's `Vec`, or a start listener's description.
trait Attributes {
    /// Adds the attribute `make` makes.
    fn put(&mut self, make: impl FnOnce() -> KeyValue);
}

impl Attributes for Vec<KeyValue> {
    #[inline(always)]
    fn put(&mut self, make: impl FnOnce() -> KeyValue) {
        // Made once its room is there, in place. `push(make())` makes it first, on the stack,
        // in 8-byte pieces, and copies it in 16-byte loads that stall on those pieces (the
        // store buffer cannot forward them): the receive's start spent a third of its time
        // there.
        self.extend(std::iter::once_with(make));
    }
}

impl<A: smallvec::Array<Item = KeyValue>> Attributes for SmallVec<A> {
    fn put(&mut self, make: impl FnOnce() -> KeyValue) {
        self.push(make());
    }
}

/// `base` with the message's baggage — the message's only: an ambient context's baggage (the
/// previous message's handler, say) never leaks into this one — and its correlation id.
fn carry(base: &Context, message: &Context) -> Context {
    let bag = message.baggage();
    let cx = match (bag.is_empty(), base.baggage().is_empty()) {
        (true, true) => base.clone(),
        (true, false) => base.with_cleared_baggage(),
        (false, _) => base.with_baggage(
            bag.iter()
                .map(|(k, (v, m))| (k.clone(), (v.clone(), m.clone())))
                .collect::<opentelemetry::baggage::Baggage>(),
        ),
    };
    crate::correlation::with_correlation_of(cx, message)
}
