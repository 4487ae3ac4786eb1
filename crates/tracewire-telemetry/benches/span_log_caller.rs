//! What the span log costs the caller per span, against the SDK's batch processor: a sampled
//! consumer span as tracewire records it (10 attributes) started and ended, the span log
//! writing to `/dev/null` (its worker thread on the other core; a full queue drops), the batch
//! processor exporting to a no-op exporter: the caller's side. In `block` mode the caller waits
//! for the writer when it falls behind: the pair's throughput on two cores.
//!
//! `cargo bench -p tracewire-telemetry --bench span_log_caller`

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::trace::{Span, SpanKind, Tracer, TracerProvider};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
};
use tracewire_telemetry::{FullPolicy, SpanLogProcessor};

#[derive(Debug)]
struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(batch);
        Ok(())
    }
}

fn bench(c: &mut Criterion) {
    let batch = SdkTracerProvider::builder()
        // The span log's queue size: with the SDK's default (2,048) the batch side drops
        // spans unexported and times less work than the span log does.
        .with_span_processor(
            BatchSpanProcessor::builder(NoopExporter)
                .with_batch_config(
                    BatchConfigBuilder::default()
                        .with_max_queue_size(8192)
                        .build(),
                )
                .build(),
        )
        .build();
    let null = || {
        Box::new(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .unwrap(),
        )
    };
    let span_log = SdkTracerProvider::builder()
        .with_span_processor(SpanLogProcessor::new("bench", null(), 8192))
        .build();
    // Back-pressure: the caller waits for the writer, so this is the pair's throughput.
    let blocking = SdkTracerProvider::builder()
        .with_span_processor(SpanLogProcessor::with_policy(
            "bench",
            null(),
            8192,
            FullPolicy::Block,
        ))
        .build();
    let mut group = c.benchmark_group("sampled span start+end, caller's side");
    for (label, provider) in [
        ("batch export", &batch),
        ("span log (drop when full)", &span_log),
        ("span log, block: caller and writer together", &blocking),
    ] {
        let tracer = provider.tracer("bench");
        group.bench_function(label, |b| {
            b.iter(|| {
                let mut span = tracer
                    .span_builder("process orders")
                    .with_kind(SpanKind::Consumer)
                    .with_attributes(common::consumer_attributes(1_000_000))
                    .start(&tracer);
                span.end();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
