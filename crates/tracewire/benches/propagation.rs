//! inject + extract per message: tracewire's strict codec against opentelemetry_sdk's
//! `TraceContextPropagator` with a `HashMap` carrier, in the same run.
//!
//! `cargo bench -p tracewire --bench propagation`

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TraceState};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::collections::HashMap;
use std::hint::black_box;
use tracewire::carrier::MemoryHeaders;
use tracewire::w3c::traceparent::Traceparent;
use tracewire::{CorrelationContextExt, CorrelationId, Propagator};

use tracewire::testing::sample_context as context;

fn bench(c: &mut Criterion) {
    let cx = context();
    let mut group = c.benchmark_group("inject+extract");

    let sdk = TraceContextPropagator::new();
    group.bench_function(
        "opentelemetry_sdk TraceContextPropagator (traceparent)",
        |b| {
            b.iter(|| {
                let mut map: HashMap<String, String> = HashMap::new();
                sdk.inject_context(black_box(&cx), &mut map);
                black_box(sdk.extract(&map))
            })
        },
    );

    let ours = Propagator::builder().baggage(false).build();
    group.bench_function("tracewire Propagator (traceparent + correlation id)", |b| {
        b.iter(|| {
            let mut headers = MemoryHeaders::new();
            ours.inject(black_box(&cx), &mut headers);
            black_box(ours.extract(&headers))
        })
    });

    let with_baggage = Propagator::new();
    group.bench_function("tracewire Propagator (+ baggage lookup)", |b| {
        b.iter(|| {
            let mut headers = MemoryHeaders::new();
            with_baggage.inject(black_box(&cx), &mut headers);
            black_box(with_baggage.extract(&headers))
        })
    });

    // The wire path without OpenTelemetry's Context: span context and correlation id to header
    // bytes and back. Allocation-free (tests/allocations.rs holds that).
    group.bench_function(
        "tracewire codec (traceparent + correlation id, no Context)",
        |b| {
            b.iter(|| {
                let span = black_box(&cx).span();
                let tp = Traceparent::from_span_context(span.span_context()).unwrap();
                let id = *cx.correlation_id().unwrap();
                let wire = (tp.format(), id);
                let back = Traceparent::parse(black_box(&wire.0)).unwrap();
                let id = CorrelationId::parse(black_box(wire.1.as_bytes())).unwrap();
                black_box((back.to_span_context(TraceState::NONE), id))
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
