//! The propagator: traceparent, tracestate, baggage and correlation id in one pass.

use crate::carrier::Transport;
use crate::carrier::{
    AppendHeaders, HeaderReader, HeaderRejected, HeaderWriter, PendingHeaders, PropagationHeaders,
};
use crate::correlation::{CorrelationContextExt, CorrelationId, CorrelationIdError};
use crate::header::{BAGGAGE, CORRELATION_HEADER, TRACEPARENT, TRACESTATE};
use crate::stats::{bump, PropagationStats};
use crate::w3c::baggage::{self, Dropped};
use crate::w3c::traceparent::{Traceparent, TraceparentError, FLAG_RANDOM};
use crate::w3c::tracestate::{self, TracestateError};
use crate::w3c::W3cExtras;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor, Injector, TextMapPropagator,
};
use opentelemetry::trace::{TraceContextExt, TraceFlags, TraceState};
use opentelemetry::Context;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Weak};

/// What was wrong with the trace part of an incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceProblem {
    /// No trace context at all.
    Missing,
    /// A `traceparent` that breaks a rule of the specification.
    Invalid(TraceparentError),
    /// A custom trace propagator found no valid context.
    NotFound,
}

/// What was wrong with the correlation id of an incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationProblem {
    /// None arrived; a new one was generated.
    Missing,
    /// The one that arrived was invalid and was replaced by a new one.
    Replaced(CorrelationIdError),
}

/// Everything extraction found wrong. Extraction never fails: problems are reported here (and
/// counted in [`PropagationStats`]) while the message goes on with a fresh or partial context.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractIssues {
    /// Trace context missing or invalid.
    pub trace: Option<TraceProblem>,
    /// `tracestate` dropped whole.
    pub tracestate: Option<TracestateError>,
    /// `tracestate` members dropped one by one: those repeating an earlier key (the first is
    /// kept). Members OpenTelemetry's type refuses are carried beside it, not dropped.
    pub tracestate_members_dropped: usize,
    /// Baggage members dropped.
    pub baggage: Dropped,
    /// Correlation id missing or replaced.
    pub correlation: Option<CorrelationProblem>,
}

impl ExtractIssues {
    /// True when nothing was missing or wrong.
    pub fn is_clean(&self) -> bool {
        *self == ExtractIssues::default()
    }
}

/// The result of extraction: the context to continue with, and what was wrong with the input.
#[derive(Debug)]
pub struct Extracted {
    /// The remote parent (when valid), baggage and correlation id (always present).
    pub context: Context,
    /// What was missing or malformed.
    pub issues: ExtractIssues,
}

/// Where the trace part (traceparent/tracestate or another format) comes from.
#[derive(Clone)]
enum TraceCodec {
    W3c,
    Custom(Arc<dyn TextMapPropagator + Send + Sync>),
    Global,
}

/// Injects and extracts trace context, baggage and correlation id in one pass.
///
/// Cheap to clone (an `Arc`); clones share their [`PropagationStats`].
///
/// ```
/// use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
/// use opentelemetry::Context;
/// use tracewire::{carrier::MemoryHeaders, CorrelationContextExt, CorrelationId, Propagator};
///
/// let propagator = Propagator::new();
/// let parent = SpanContext::new(
///     TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
///     SpanId::from(0x00f067aa0ba902b7),
///     TraceFlags::SAMPLED,
///     false,
///     TraceState::NONE,
/// );
/// let cx = Context::new()
///     .with_remote_span_context(parent.clone())
///     .with_correlation_id(CorrelationId::parse(b"order-42").unwrap());
///
/// let mut headers = MemoryHeaders::new();
/// propagator.inject(&cx, &mut headers);
///
/// let extracted = propagator.extract(&headers);
/// assert!(extracted.issues.is_clean());
/// let span = extracted.context.span();
/// assert_eq!(span.span_context().trace_id(), parent.trace_id());
/// assert_eq!(extracted.context.correlation_id().unwrap().as_str(), "order-42");
/// ```
#[derive(Clone)]
pub struct Propagator {
    inner: Arc<Inner>,
}

struct Inner {
    trace: TraceCodec,
    baggage: bool,
    stats: PropagationStats,
    missing: crate::diagnostics::MissingContext,
    fields: Vec<String>,
    /// Whether the counters are exported as a metric already (once per propagator).
    exported: AtomicBool,
}

/// OpenTelemetry's no-op propagator names no field: nothing would cross a hop.
fn warn_if_noop(p: &dyn TextMapPropagator) {
    if p.fields().next().is_none() {
        crate::diagnostics::noop_global_propagator();
    }
}

impl fmt::Debug for Propagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let trace = match self.inner.trace {
            TraceCodec::W3c => "w3c",
            TraceCodec::Custom(_) => "custom",
            TraceCodec::Global => "global",
        };
        f.debug_struct("Propagator")
            .field("trace", &trace)
            .field("baggage", &self.inner.baggage)
            .finish()
    }
}

impl Default for Propagator {
    fn default() -> Self {
        Self::new()
    }
}

/// Builds a [`Propagator`].
#[derive(Clone)]
pub struct PropagatorBuilder {
    trace: TraceCodec,
    baggage: bool,
}

impl PropagatorBuilder {
    /// Replaces the built-in W3C codec for the trace part with any OpenTelemetry propagator
    /// (B3, Jaeger, a composite…). Baggage and correlation id stay with tracewire.
    pub fn trace_propagator(mut self, p: impl TextMapPropagator + Send + Sync + 'static) -> Self {
        self.trace = TraceCodec::Custom(Arc::new(p));
        self
    }

    /// Uses whatever propagator is installed globally (`opentelemetry::global`) for the trace part,
    /// looked up on every call. Do not combine with installing this propagator as the global one.
    pub fn global_trace_propagator(mut self) -> Self {
        self.trace = TraceCodec::Global;
        self
    }

    /// Turns W3C baggage on (the default) or off.
    pub fn baggage(mut self, on: bool) -> Self {
        self.baggage = on;
        self
    }

    /// The propagator.
    pub fn build(self) -> Propagator {
        let mut fields = Vec::new();
        let mut add = |f: &str| {
            if !fields.iter().any(|x: &String| x == f) {
                fields.push(f.to_owned());
            }
        };
        match &self.trace {
            TraceCodec::W3c => [TRACEPARENT, TRACESTATE].into_iter().for_each(&mut add),
            TraceCodec::Custom(p) => p.fields().for_each(&mut add),
            TraceCodec::Global => {}
        }
        if self.baggage {
            add(BAGGAGE);
        }
        add(CORRELATION_HEADER);
        Propagator {
            inner: Arc::new(Inner {
                trace: self.trace,
                baggage: self.baggage,
                stats: PropagationStats::default(),
                missing: Default::default(),
                fields,
                exported: AtomicBool::new(false),
            }),
        }
    }
}

impl Propagator {
    /// The default: strict W3C Trace Context and Baggage, plus the correlation id.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder, to swap the trace codec or turn baggage off.
    pub fn builder() -> PropagatorBuilder {
        PropagatorBuilder {
            trace: TraceCodec::W3c,
            baggage: true,
        }
    }

    /// The problem counters of this propagator and its clones.
    pub fn stats(&self) -> &PropagationStats {
        &self.inner.stats
    }

    /// Exports the problem counters as the OpenTelemetry counter `tracewire.propagation.problems`
    /// (attribute `kind`: a [`StatsSnapshot`](crate::StatsSnapshot) field name), read when the
    /// meter collects. Once per propagator and its clones: later calls do nothing. A
    /// [`Messaging`](crate::messaging::Messaging) built with metrics on calls it with its meter.
    pub fn export_problems(&self, meter: &opentelemetry::metrics::Meter) {
        if self.inner.exported.swap(true, Relaxed) {
            return;
        }
        let inner: Weak<Inner> = Arc::downgrade(&self.inner);
        meter
            .u64_observable_counter("tracewire.propagation.problems")
            .with_unit("{problem}")
            .with_description("Propagation problems met on inject and extract, by kind")
            .with_callback(move |observer| {
                let Some(inner) = inner.upgrade() else { return };
                for (kind, count) in inner.stats.snapshot().by_kind() {
                    observer.observe(count, &[opentelemetry::KeyValue::new("kind", kind)]);
                }
            })
            .build();
    }

    /// Whether `name` is one of the headers this propagator writes (never captured on spans).
    pub(crate) fn is_own_header(&self, name: &str, correlation_header: &str) -> bool {
        let is = |own: &str| own.eq_ignore_ascii_case(name);
        [TRACEPARENT, TRACESTATE, BAGGAGE, correlation_header]
            .into_iter()
            .any(is)
            || self.inner.fields.iter().any(|f| is(f))
    }

    /// Writes `cx` into `carrier`, replacing any stale value of the same headers. A header the
    /// context has nothing for is removed. Never fails: refused values are counted.
    ///
    /// A context without a correlation id gets a fresh one on the wire; callers that also record
    /// it on a span should call [`CorrelationContextExt::with_correlation_id_or_new`] first.
    pub fn inject<W: HeaderWriter>(&self, cx: &Context, carrier: &mut W) {
        let stats = &self.inner.stats;
        match &self.inner.trace {
            TraceCodec::W3c => self.inject_w3c(cx, carrier),
            TraceCodec::Custom(p) => p.inject_context(cx, &mut WriterInjector::new(carrier, stats)),
            TraceCodec::Global => opentelemetry::global::get_text_map_propagator(|p| {
                warn_if_noop(p);
                p.inject_context(cx, &mut WriterInjector::new(carrier, stats))
            }),
        }
        if self.inner.baggage {
            let bag = cx.baggage();
            if bag.is_empty() {
                carrier.remove(BAGGAGE);
            } else {
                let mut value = Vec::new();
                bump(
                    &stats.baggage_members_dropped,
                    baggage::format(bag, &mut value).total(),
                );
                self.write(carrier, BAGGAGE, &value);
            }
        }
        let id = cx
            .correlation_id()
            .copied()
            .unwrap_or_else(CorrelationId::generate);
        self.write(carrier, W::CORRELATION_HEADER, id.as_bytes());
    }

    /// Injects `cx` into a client's header list that can only be appended to: the caller's
    /// headers kept in order, stale tracing headers of any case dropped, ours appended. What the
    /// Kafka and NATS crates' `inject` is.
    ///
    /// ```
    /// use opentelemetry::Context;
    /// use tracewire::carrier::{AppendHeaders, HeaderReader, MemoryHeaders};
    /// use tracewire::{CorrelationContextExt, Propagator};
    ///
    /// struct List(Vec<(String, Vec<u8>)>);
    /// impl AppendHeaders for List {
    ///     type Value = Vec<u8>;
    ///     fn convert(_: &str, value: &[u8]) -> Option<Vec<u8>> { Some(value.to_vec()) }
    ///     fn empty() -> Self { List(Vec::new()) }
    ///     fn without(mut self, stale: impl Fn(&str) -> bool) -> Self {
    ///         self.0.retain(|(n, _)| !stale(n));
    ///         self
    ///     }
    ///     fn append(mut self, name: &str, value: Vec<u8>) -> Self {
    ///         self.0.push((name.to_owned(), value));
    ///         self
    ///     }
    /// }
    ///
    /// let user = List(vec![("x-user".into(), b"1".to_vec()), ("TraceParent".into(), b"stale".to_vec())]);
    /// let cx = Context::new().with_correlation_id_or_new();
    /// let out = Propagator::new().inject_merged(&cx, Some(user));
    /// let names: Vec<_> = out.0.iter().map(|(n, _)| n.as_str()).collect();
    /// assert_eq!(names, ["x-user", "correlation_id"], "the stale parent is gone, the user's header kept");
    /// ```
    pub fn inject_merged<H: AppendHeaders>(&self, cx: &Context, headers: Option<H>) -> H {
        let mut ours = PendingHeaders::new(H::convert);
        self.inject(cx, &mut ours);
        let base = match headers {
            Some(user) => user.without(|name| ours.touches(name)),
            None => H::empty(),
        };
        (ours.into_values()).fold(base, |out, (name, value)| out.append(&name, value))
    }

    fn inject_w3c<W: HeaderWriter>(&self, cx: &Context, carrier: &mut W) {
        let span = cx.span();
        let sc = span.span_context();
        let Some(mut tp) = Traceparent::from_span_context(sc) else {
            carrier.remove(TRACEPARENT);
            carrier.remove(TRACESTATE);
            return;
        };
        // Level 2: the random flag the trace arrived with, or — for a trace that began here,
        // whose id the SDK drew at random — set.
        let extras = crate::correlation::w3c_extras(cx).filter(|e| e.trace_id == sc.trace_id());
        let random = match extras {
            Some(e) => e.random,
            None if sc.is_remote() => sc.trace_flags().to_u8() & FLAG_RANDOM != 0,
            None => true,
        };
        let flags =
            (sc.trace_flags().to_u8() & !FLAG_RANDOM) | if random { FLAG_RANDOM } else { 0 };
        tp.flags = TraceFlags::new(flags);
        self.write(carrier, TRACEPARENT, &tp.format());
        let state = sc.trace_state();
        let beside = extras.and_then(|e| e.beside.as_deref()).unwrap_or_default();
        if *state == TraceState::NONE && beside.is_empty() {
            carrier.remove(TRACESTATE);
            return;
        }
        let mut value = Vec::new();
        bump(
            &self.inner.stats.tracestate_members_dropped,
            tracestate::format_with(state, beside, &mut value),
        );
        if value.is_empty() {
            carrier.remove(TRACESTATE);
        } else {
            self.write(carrier, TRACESTATE, &value);
        }
    }

    fn write<W: HeaderWriter>(&self, carrier: &mut W, name: &str, value: &[u8]) {
        if carrier.set(name, value).is_err() {
            bump(&self.inner.stats.inject_rejected, 1);
        }
    }

    /// Reads a message's headers onto an empty context. See [`Propagator::extract_with_context`].
    pub fn extract<R: HeaderReader>(&self, carrier: &R) -> Extracted {
        self.extract_with_context(&Context::new(), carrier)
    }

    /// Reads a message's headers onto `cx`: the remote parent when one is valid, baggage, and a
    /// correlation id — the incoming one, `cx`'s own, or a fresh one, in that order. Never fails.
    pub fn extract_with_context<R: HeaderReader>(&self, cx: &Context, carrier: &R) -> Extracted {
        let stats = &self.inner.stats;
        let mut issues = ExtractIssues::default();
        // One pass over the headers for all four, where the carrier can.
        let found = carrier.propagation_headers();
        let (mut context, w3c) = match &self.inner.trace {
            TraceCodec::W3c => self.extract_w3c(cx, &found, &mut issues),
            TraceCodec::Custom(p) => (custom_extract(p.as_ref(), cx, carrier, &mut issues), None),
            TraceCodec::Global => opentelemetry::global::get_text_map_propagator(|p| {
                warn_if_noop(p);
                (custom_extract(p, cx, carrier, &mut issues), None)
            }),
        };
        let missing = matches!(
            issues.trace,
            Some(TraceProblem::Missing | TraceProblem::NotFound)
        );
        self.inner.missing.record(missing);
        match issues.trace {
            Some(TraceProblem::Invalid(_)) => bump(&stats.traceparent_invalid, 1),
            Some(_) => bump(&stats.traceparent_missing, 1),
            None => {}
        }
        if self.inner.baggage {
            let (bag, dropped) = baggage::parse(found.baggage.iter().copied());
            issues.baggage = dropped;
            bump(&stats.baggage_members_dropped, dropped.total());
            if !bag.is_empty() {
                context = context.with_baggage(bag);
            }
        }
        let id = match found.correlation.map(CorrelationId::parse) {
            Some(Ok(id)) => id,
            Some(Err(e)) => {
                issues.correlation = Some(CorrelationProblem::Replaced(e));
                bump(&stats.correlation_replaced, 1);
                CorrelationId::generate()
            }
            None => {
                issues.correlation = Some(CorrelationProblem::Missing);
                bump(&stats.correlation_missing, 1);
                cx.correlation_id()
                    .copied()
                    .unwrap_or_else(CorrelationId::generate)
            }
        };
        // No trace context arrived: the trace `cx` had goes on, with what it carried.
        let w3c = w3c.or_else(|| crate::correlation::w3c_extras(cx).cloned());
        Extracted {
            context: crate::correlation::with_carried(&context, id, w3c),
            issues,
        }
    }

    fn extract_w3c(
        &self,
        cx: &Context,
        found: &PropagationHeaders<'_>,
        issues: &mut ExtractIssues,
    ) -> (Context, Option<W3cExtras>) {
        let tp = match Traceparent::parse_all(found.traceparent.iter().copied()) {
            Ok(Some(tp)) => tp,
            Ok(None) => {
                issues.trace = Some(TraceProblem::Missing);
                return (cx.clone(), None);
            }
            Err(e) => {
                issues.trace = Some(TraceProblem::Invalid(e));
                return (cx.clone(), None);
            }
        };
        let stats = &self.inner.stats;
        let (state, beside) = match tracestate::parse(found.tracestate.iter().copied()) {
            Ok(parsed) => {
                issues.tracestate_members_dropped = parsed.duplicates;
                bump(&stats.tracestate_members_dropped, parsed.duplicates);
                let beside = (!parsed.beside.is_empty()).then(|| parsed.beside.into());
                (parsed.state, beside)
            }
            Err(e) => {
                issues.tracestate = Some(e);
                bump(&stats.tracestate_dropped, 1);
                (TraceState::NONE, None)
            }
        };
        let extras = W3cExtras {
            trace_id: tp.trace_id,
            random: tp.flags.to_u8() & FLAG_RANDOM != 0,
            beside,
        };
        (
            cx.with_remote_span_context(tp.to_span_context(state)),
            Some(extras),
        )
    }
}

fn custom_extract<R: HeaderReader>(
    p: &(impl TextMapPropagator + ?Sized),
    cx: &Context,
    carrier: &R,
    issues: &mut ExtractIssues,
) -> Context {
    let out = p.extract_with_context(cx, &ReaderExtractor(carrier));
    let found = out.span().span_context().is_remote();
    if !found {
        issues.trace = Some(TraceProblem::NotFound);
    }
    out
}

/// Lets an OpenTelemetry propagator read a tracewire carrier.
struct ReaderExtractor<'a, R>(&'a R);

impl<R: HeaderReader> Extractor for ReaderExtractor<'_, R> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.last(key).and_then(|v| std::str::from_utf8(v).ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.names()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let all: Vec<&str> = self
            .0
            .values(key)
            .filter_map(|v| std::str::from_utf8(v).ok())
            .collect();
        (!all.is_empty()).then_some(all)
    }
}

/// Lets an OpenTelemetry propagator write a tracewire carrier, refusing unsafe values.
struct WriterInjector<'a, W> {
    carrier: &'a mut W,
    stats: &'a PropagationStats,
}

impl<'a, W> WriterInjector<'a, W> {
    fn new(carrier: &'a mut W, stats: &'a PropagationStats) -> Self {
        WriterInjector { carrier, stats }
    }
}

impl<W: HeaderWriter> Injector for WriterInjector<'_, W> {
    fn set(&mut self, key: &str, value: String) {
        let safe = value.bytes().all(|b| matches!(b, 0x20..=0x7e | b'\t'));
        let written = safe
            && self
                .carrier
                .set(&key.to_ascii_lowercase(), value.as_bytes())
                .is_ok();
        if !written {
            bump(&self.stats.inject_rejected, 1);
        }
    }
}

/// tracewire's propagator as an OpenTelemetry one, so it can be installed globally and code that
/// uses the global propagator agrees with the broker wrappers.
impl TextMapPropagator for Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.inject(cx, &mut InjectorWriter(injector));
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.extract_with_context(cx, &ExtractorReader(extractor))
            .context
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.inner.fields)
    }
}

/// An OpenTelemetry injector seen as a tracewire carrier.
struct InjectorWriter<'a>(&'a mut dyn Injector);

impl Transport for InjectorWriter<'_> {}

impl HeaderWriter for InjectorWriter<'_> {
    fn set(&mut self, name: &str, value: &[u8]) -> Result<(), HeaderRejected> {
        let value = std::str::from_utf8(value).map_err(|_| HeaderRejected {
            name: name.to_owned(),
        })?;
        self.0.set(name, value.to_owned());
        Ok(())
    }

    /// OpenTelemetry injectors cannot remove; a missing value is simply not written.
    fn remove(&mut self, _name: &str) {}
}

/// An OpenTelemetry extractor seen as a tracewire carrier.
struct ExtractorReader<'a>(&'a dyn Extractor);

impl Transport for ExtractorReader<'_> {}

impl HeaderReader for ExtractorReader<'_> {
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        self.0
            .get_all(name)
            .into_iter()
            .flatten()
            .map(str::as_bytes)
    }

    fn names(&self) -> Vec<&str> {
        self.0.keys()
    }
}
