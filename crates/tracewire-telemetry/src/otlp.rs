//! OTLP export of spans and metrics. Spans go through tracewire's bounded queue (drops counted)
//! to a worker thread that owns a small Tokio runtime, so gRPC (tonic) and async HTTP exporters
//! work whatever runtime — or none — the service uses; each export is bounded by a timeout, and
//! after a failure the worker backs off (batches counted as failed, not encoded), so a dead or
//! hanging collector costs queued spans, never a stalled or slowed consumer.

use crate::config::{Otlp, Protocol};
use crate::offload::{Offload, QueueStats, Sink};
use opentelemetry::Context;
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter as _, SpanProcessor};
use opentelemetry_sdk::Resource;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// How long one export may take before its spans are counted as failed.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

fn runtime() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn protocol(p: Protocol) -> opentelemetry_otlp::Protocol {
    match p {
        Protocol::Grpc => opentelemetry_otlp::Protocol::Grpc,
        Protocol::HttpProtobuf => opentelemetry_otlp::Protocol::HttpBinary,
        Protocol::HttpJson => opentelemetry_otlp::Protocol::HttpJson,
    }
}

/// Builds the span exporter for `otlp`; must run inside a Tokio runtime (tonic needs one).
fn span_exporter(otlp: &Otlp) -> Result<SpanExporter, opentelemetry_otlp::ExporterBuildError> {
    let builder = SpanExporter::builder();
    match otlp.protocol {
        Protocol::Grpc => builder
            .with_tonic()
            .with_endpoint(otlp.traces_url())
            .with_timeout(EXPORT_TIMEOUT)
            .build(),
        p => builder
            .with_http()
            .with_endpoint(otlp.traces_url())
            .with_protocol(protocol(p))
            .with_timeout(EXPORT_TIMEOUT)
            .build(),
    }
}

/// A `SpanProcessor` that exports ended, sampled spans over OTLP from a worker thread.
#[derive(Debug)]
pub struct OtlpSpanProcessor {
    queue: Offload<SpanData>,
}

impl OtlpSpanProcessor {
    /// Exports to `otlp` with `resource`, through a queue of `capacity` spans.
    pub fn new(otlp: &Otlp, resource: Resource, capacity: usize) -> std::io::Result<Self> {
        let rt = runtime()?;
        let mut exporter = {
            let _entered = rt.enter();
            span_exporter(otlp).map_err(std::io::Error::other)?
        };
        exporter.set_resource(&resource);
        let sink = ExportSink {
            rt,
            exporter,
            failures: 0,
            paused_until: None,
        };
        Ok(OtlpSpanProcessor {
            queue: Offload::spawn(
                "tracewire-otlp",
                capacity,
                512,
                Duration::from_secs(1),
                sink,
            ),
        })
    }

    /// Spans accepted, dropped (queue full), exported and failed.
    pub fn stats(&self) -> Arc<QueueStats> {
        self.queue.stats().clone()
    }
}

impl SpanProcessor for OtlpSpanProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.queue.push(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        if self.queue.flush(EXPORT_TIMEOUT + Duration::from_secs(1)) {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(EXPORT_TIMEOUT))
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.queue.shutdown(timeout) {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(timeout))
        }
    }
}

struct ExportSink {
    rt: Runtime,
    exporter: SpanExporter,
    /// Consecutive failed exports.
    failures: u32,
    /// After a failure, batches are counted as failed without being encoded and sent until
    /// then: a dead collector must not cost the service the CPU of exporting into the void.
    paused_until: Option<Instant>,
}

/// The pause after `failures` consecutive failed exports: 100 ms doubling, at most 30 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << failures.min(9))).min(Duration::from_secs(30))
}

impl Sink for ExportSink {
    type Item = SpanData;

    fn write(&mut self, batch: &mut Vec<SpanData>) -> usize {
        let n = batch.len();
        if self
            .paused_until
            .is_some_and(|until| Instant::now() < until)
        {
            batch.clear();
            return n;
        }
        let spans = std::mem::take(batch);
        let exporter = &self.exporter;
        // The timer must be made inside the runtime, so the whole export runs in block_on.
        let export = async { tokio::time::timeout(EXPORT_TIMEOUT, exporter.export(spans)).await };
        match self.rt.block_on(export) {
            Ok(Ok(())) => {
                self.failures = 0;
                self.paused_until = None;
                0
            }
            _ => {
                self.failures += 1;
                self.paused_until = Some(Instant::now() + backoff(self.failures));
                n
            }
        }
    }

    fn shutdown(&mut self) {
        let _ = self.exporter.shutdown_with_timeout(Duration::from_secs(1));
    }
}

/// The OTLP metric exporter, driven in its own small Tokio runtime (the SDK's periodic reader
/// calls it from a plain thread), each export bounded by a timeout.
#[derive(Debug)]
pub(crate) struct RuntimeMetricExporter {
    rt: Runtime,
    inner: MetricExporter,
}

impl RuntimeMetricExporter {
    pub(crate) fn new(otlp: &Otlp) -> std::io::Result<Self> {
        let rt = runtime()?;
        let inner = {
            let _entered = rt.enter();
            let builder = MetricExporter::builder();
            match otlp.protocol {
                Protocol::Grpc => builder
                    .with_tonic()
                    .with_endpoint(otlp.metrics_url())
                    .with_timeout(EXPORT_TIMEOUT)
                    .build(),
                p => builder
                    .with_http()
                    .with_endpoint(otlp.metrics_url())
                    .with_protocol(protocol(p))
                    .with_timeout(EXPORT_TIMEOUT)
                    .build(),
            }
            .map_err(std::io::Error::other)?
        };
        Ok(RuntimeMetricExporter { rt, inner })
    }
}

impl PushMetricExporter for RuntimeMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let export =
            async { tokio::time::timeout(EXPORT_TIMEOUT, self.inner.export(metrics)).await };
        match self.rt.block_on(export) {
            Ok(result) => result,
            Err(_) => Err(OTelSdkError::Timeout(EXPORT_TIMEOUT)),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert_eq!(backoff(50), Duration::from_secs(30));
    }
}
