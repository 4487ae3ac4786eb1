//! The wrapper skeleton's per-message paths and the peer's (the hand-written SDK pattern:
//! `TraceContextPropagator` through an `Extractor`/`Injector`, a CONSUMER or PRODUCER span with
//! the conventions' three attributes and a `format!`ted name) over the same in-memory headers:
//! timed by `skeleton`, counted instruction by instruction by `skeleton_counts`.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{Span, SpanKind, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use std::hint::black_box;
use tracewire::carrier::{HeaderReader, MemoryHeaders};
use tracewire::messaging::{Messaging, OperationSpec, OperationType, System};
use tracewire::testing::sample_context;
use tracewire::{Outcome, Propagator};

struct PeerHeaders<'a>(&'a MemoryHeaders);

impl Extractor for PeerHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        std::str::from_utf8(self.0.last(key)?).ok()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.entries().iter().map(|(k, _)| k.as_str()).collect()
    }
}

struct PeerInjector(MemoryHeaders);

impl Injector for PeerInjector {
    fn set(&mut self, key: &str, value: String) {
        self.0.append(key, value);
    }
}

/// One sampling setting's four paths.
pub(crate) struct Paths {
    _provider: SdkTracerProvider,
    tracer: SdkTracer,
    messaging: Messaging,
    /// The same, without its metrics: what the clock readings and the instruments cost.
    unmeasured: Messaging,
    peer_propagator: TraceContextPropagator,
    cx: Context,
    incoming: MemoryHeaders,
    payload: [u8; 256],
}

impl Paths {
    /// The paths with every span sampled (`true`) or none.
    pub(crate) fn new(sampled: bool) -> Self {
        let cx = sample_context();
        let mut incoming = MemoryHeaders::new();
        Propagator::new().inject(&cx, &mut incoming);
        let sampler = if sampled {
            Sampler::AlwaysOn
        } else {
            Sampler::AlwaysOff
        };
        let provider = SdkTracerProvider::builder().with_sampler(sampler).build();
        let messaging = Messaging::builder(System::new("kafka"))
            .tracer(provider.tracer("bench"))
            .build();
        let unmeasured = Messaging::builder(System::new("kafka"))
            .tracer(provider.tracer("bench"))
            .metrics(false)
            .build();
        Paths {
            unmeasured,
            tracer: provider.tracer("bench"),
            _provider: provider,
            messaging,
            peer_propagator: TraceContextPropagator::new(),
            cx,
            incoming,
            payload: [0u8; 256],
        }
    }

    /// tracewire: `open_message` + end.
    pub(crate) fn receive(&self) {
        self.receive_through(&self.messaging);
    }

    /// tracewire without metrics: `open_message` + end.
    pub(crate) fn receive_unmeasured(&self) {
        self.receive_through(&self.unmeasured);
    }

    fn receive_through(&self, messaging: &Messaging) {
        let spec =
            OperationSpec::new(OperationType::Process, "process", "orders").body(&self.payload);
        let span = messaging.open_message(black_box(&self.incoming), spec);
        span.end(Outcome::Ok);
    }

    /// tracewire: `open_message`, the handler asks for the span's context, end.
    pub(crate) fn receive_in_context(&self) {
        let spec =
            OperationSpec::new(OperationType::Process, "process", "orders").body(&self.payload);
        let span = self.messaging.open_message(black_box(&self.incoming), spec);
        black_box(span.context());
        span.end(Outcome::Ok);
    }

    /// The peer: extract + span + end.
    pub(crate) fn peer_receive(&self) {
        let parent = (self.peer_propagator).extract(&PeerHeaders(black_box(&self.incoming)));
        let topic = black_box("orders");
        let mut span = (self.tracer)
            .span_builder(format!("{topic} process"))
            .with_kind(SpanKind::Consumer)
            .with_attributes([
                KeyValue::new("messaging.system", "kafka"),
                KeyValue::new("messaging.destination.name", topic.to_owned()),
                KeyValue::new("messaging.operation.type", "process"),
            ])
            .start_with_context(&self.tracer, &parent);
        span.end();
    }

    /// tracewire: `open_send_with` + inject + end.
    pub(crate) fn send(&self) {
        let spec = OperationSpec::new(OperationType::Send, "send", "orders").body(&self.payload);
        let (span, headers) =
            (self.messaging).open_send_with(black_box(&self.cx), spec, |p, cx| {
                let mut headers = MemoryHeaders::new();
                p.inject(cx, &mut headers);
                headers
            });
        black_box(headers);
        span.end(Outcome::Ok);
    }

    /// The peer: span + inject + end.
    pub(crate) fn peer_send(&self) {
        let topic = black_box("orders");
        let span = (self.tracer)
            .span_builder(format!("{topic} send"))
            .with_kind(SpanKind::Producer)
            .with_attributes([
                KeyValue::new("messaging.system", "kafka"),
                KeyValue::new("messaging.destination.name", topic.to_owned()),
                KeyValue::new("messaging.operation.type", "send"),
            ])
            .start_with_context(&self.tracer, black_box(&self.cx));
        let sent = Context::current_with_span(span);
        let mut injector = PeerInjector(MemoryHeaders::new());
        self.peer_propagator.inject_context(&sent, &mut injector);
        black_box(injector.0);
        sent.span().end();
    }
}
