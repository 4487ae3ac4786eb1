//! Span start + end per message: tracewire's messaging spans (name, kind, semconv attributes,
//! link, metrics hook) against a bare opentelemetry_sdk span with the same name and kind, unsampled
//! and sampled (no span processor: the SDK's and tracewire's own cost, not an exporter's). Both
//! use the provider's own tracer (`SdkTracer`), as a service that passes it would.
//!
//! `cargo bench -p tracewire --bench spans`

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::trace::{Span, SpanKind, Tracer, TracerProvider};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use std::hint::black_box;
use tracewire::messaging::{Messaging, OperationSpec, OperationType};
use tracewire::testing::sample_context;
use tracewire::Outcome;

fn bench(c: &mut Criterion) {
    let cx = sample_context();
    let payload = [0u8; 256];
    for (label, sampler) in [
        ("unsampled", Sampler::AlwaysOff),
        ("sampled", Sampler::AlwaysOn),
    ] {
        let provider = SdkTracerProvider::builder().with_sampler(sampler).build();
        let tracer = || provider.tracer("bench");
        let mut group = c.benchmark_group(format!("span start+end, {label}"));

        let sdk = tracer();
        group.bench_function("opentelemetry_sdk span (name + kind)", |b| {
            b.iter(|| {
                let mut span = sdk
                    .span_builder(format!("send {}", black_box("orders")))
                    .with_kind(SpanKind::Producer)
                    .start_with_context(&sdk, black_box(&cx));
                span.end();
            })
        });

        let messaging = Messaging::builder(tracewire::messaging::System::new("kafka"))
            .tracer(tracer())
            .build();
        group.bench_function("tracewire send span (open_send + end)", |b| {
            b.iter(|| {
                let spec = OperationSpec::new(OperationType::Send, "send", black_box("orders"))
                    .body(&payload);
                messaging.open_send(black_box(&cx), spec).end(Outcome::Ok);
            })
        });
        let unmetered = Messaging::builder(tracewire::messaging::System::new("kafka"))
            .tracer(tracer())
            .metrics(false)
            .build();
        group.bench_function("tracewire send span, metrics off", |b| {
            b.iter(|| {
                let spec = OperationSpec::new(OperationType::Send, "send", black_box("orders"))
                    .body(&payload);
                unmetered.open_send(black_box(&cx), spec).end(Outcome::Ok);
            })
        });
        group.bench_function("tracewire process span (open_consume + end, linked)", |b| {
            b.iter(|| {
                let spec =
                    OperationSpec::new(OperationType::Process, "process", black_box("orders"))
                        .body(&payload);
                messaging
                    .open_consume(black_box(&cx), spec)
                    .end(Outcome::Ok);
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
