//! The wrapper skeleton's per-message path with no broker in the way: one received message
//! (`open_message` + end) and one send (`open_send_with` + inject + end) against the peer — the
//! hand-written SDK pattern (`TraceContextPropagator` through an `Extractor`/`Injector`, a
//! CONSUMER or PRODUCER span with the conventions' three attributes and a `format!`ted name) —
//! over the same in-memory headers, unsampled and sampled (no span processor). What the broker
//! rows of `tracewire-bench` add on top is the client's.
//!
//! `cargo bench -p tracewire --bench skeleton`

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{Span, SpanKind, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
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

fn bench(c: &mut Criterion) {
    let cx = sample_context();
    let mut incoming = MemoryHeaders::new();
    Propagator::new().inject(&cx, &mut incoming);
    let payload = [0u8; 256];
    let peer_propagator = TraceContextPropagator::new();
    for (label, sampler) in [
        ("unsampled", Sampler::AlwaysOff),
        ("sampled", Sampler::AlwaysOn),
    ] {
        let provider = SdkTracerProvider::builder().with_sampler(sampler).build();
        let tracer = provider.tracer("bench");
        let messaging = Messaging::builder(System::new("kafka"))
            .tracer(provider.tracer("bench"))
            .build();
        let mut group = c.benchmark_group(format!("one message, {label}"));
        group.bench_function("receive: tracewire open_message + end", |b| {
            b.iter(|| {
                let spec =
                    OperationSpec::new(OperationType::Process, "process", "orders").body(&payload);
                let span = messaging.open_message(black_box(&incoming), spec);
                span.end(Outcome::Ok);
            })
        });
        group.bench_function("receive: peer extract + span + end", |b| {
            b.iter(|| {
                let parent = peer_propagator.extract(&PeerHeaders(black_box(&incoming)));
                let topic = black_box("orders");
                let mut span = tracer
                    .span_builder(format!("{topic} process"))
                    .with_kind(SpanKind::Consumer)
                    .with_attributes([
                        KeyValue::new("messaging.system", "kafka"),
                        KeyValue::new("messaging.destination.name", topic.to_owned()),
                        KeyValue::new("messaging.operation.type", "process"),
                    ])
                    .start_with_context(&tracer, &parent);
                span.end();
            })
        });
        group.bench_function("send: tracewire open_send_with + inject + end", |b| {
            b.iter(|| {
                let spec = OperationSpec::new(OperationType::Send, "send", "orders").body(&payload);
                let (span, headers) = messaging.open_send_with(black_box(&cx), spec, |p, cx| {
                    let mut headers = MemoryHeaders::new();
                    p.inject(cx, &mut headers);
                    headers
                });
                black_box(headers);
                span.end(Outcome::Ok);
            })
        });
        group.bench_function("send: peer span + inject + end", |b| {
            b.iter(|| {
                let topic = black_box("orders");
                let span = tracer
                    .span_builder(format!("{topic} send"))
                    .with_kind(SpanKind::Producer)
                    .with_attributes([
                        KeyValue::new("messaging.system", "kafka"),
                        KeyValue::new("messaging.destination.name", topic.to_owned()),
                        KeyValue::new("messaging.operation.type", "send"),
                    ])
                    .start_with_context(&tracer, black_box(&cx));
                let sent = Context::current_with_span(span);
                let mut injector = PeerInjector(MemoryHeaders::new());
                peer_propagator.inject_context(&sent, &mut injector);
                black_box(injector.0);
                sent.span().end();
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
