//! Span export behind tracewire's bounded queue (drops counted): a worker thread that owns a
//! small Tokio runtime drives any OpenTelemetry span exporter — OTLP, Zipkin, console — each
//! export bounded by a timeout; after a failure the worker backs off (batches counted as failed,
//! not encoded), so a dead or hanging collector costs queued spans, never a stalled or slowed
//! consumer. Only sampled spans are exported: a record-only span (see [`crate::RecordAll`])
//! reaches the span log, not the backend.

use crate::config::Otlp;
use crate::offload::{Done, FullPolicy, Offload, QueueStats, Sink};
use crate::otlp::{runtime, span_exporter, EXPORT_TIMEOUT};
use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// A `SpanProcessor` that exports ended, sampled spans from a worker thread.
#[derive(Debug)]
pub struct ExportSpanProcessor {
    queue: Offload<SpanData>,
}

/// The name it had when OTLP was its only exporter.
pub type OtlpSpanProcessor = ExportSpanProcessor;

impl ExportSpanProcessor {
    /// Exports over OTLP to `otlp` with `resource`, through a queue of `capacity` spans.
    pub fn new(otlp: &Otlp, resource: Resource, capacity: usize) -> std::io::Result<Self> {
        let rt = runtime()?;
        let exporter = {
            let _entered = rt.enter();
            span_exporter(otlp).map_err(std::io::Error::other)?
        };
        Ok(Self::spawn(
            "tracewire-otlp",
            rt,
            exporter,
            &resource,
            capacity,
        ))
    }

    /// Exports Zipkin v2 JSON to `endpoint` (`…/api/v2/spans`). opentelemetry-zipkin 0.33 marks
    /// its exporter deprecated (Zipkin also takes OTLP now); the environment specification still
    /// defines `OTEL_TRACES_EXPORTER=zipkin`, so it is offered for the Zipkin servers that don't.
    #[allow(deprecated)]
    pub fn zipkin(endpoint: &str, resource: Resource, capacity: usize) -> std::io::Result<Self> {
        let rt = runtime()?;
        let exporter = {
            let _entered = rt.enter();
            opentelemetry_zipkin::ZipkinExporter::builder()
                .with_http_client(reqwest::Client::new())
                .with_collector_endpoint(endpoint)
                .build()
                .map_err(std::io::Error::other)?
        };
        Ok(Self::spawn(
            "tracewire-zipkin",
            rt,
            exporter,
            &resource,
            capacity,
        ))
    }

    /// Prints spans to standard output (OpenTelemetry's console exporter).
    pub fn console(resource: Resource, capacity: usize) -> std::io::Result<Self> {
        let exporter = opentelemetry_stdout::SpanExporter::default();
        Ok(Self::spawn(
            "tracewire-console",
            runtime()?,
            exporter,
            &resource,
            capacity,
        ))
    }

    fn spawn<E: SpanExporter + 'static>(
        name: &str,
        rt: Runtime,
        mut exporter: E,
        resource: &Resource,
        capacity: usize,
    ) -> Self {
        exporter.set_resource(resource);
        let sink = ExportSink {
            rt,
            exporter,
            failures: 0,
            paused_until: None,
        };
        let queue = Offload::spawn(
            name,
            capacity,
            512,
            Duration::from_secs(1),
            FullPolicy::Drop,
            sink,
        );
        ExportSpanProcessor { queue }
    }

    /// Spans accepted, dropped (queue full), exported and failed.
    pub fn stats(&self) -> Arc<QueueStats> {
        self.queue.stats().clone()
    }
}

impl SpanProcessor for ExportSpanProcessor {
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

struct ExportSink<E> {
    rt: Runtime,
    exporter: E,
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

impl<E: SpanExporter + 'static> Sink for ExportSink<E> {
    type Item = SpanData;

    fn write(&mut self, batch: &mut Vec<SpanData>) -> Done {
        let n = batch.len() as u64;
        if self
            .paused_until
            .is_some_and(|until| Instant::now() < until)
        {
            batch.clear();
            return Done::all(n, false);
        }
        let spans = std::mem::take(batch);
        let exporter = &self.exporter;
        // The timer must be made inside the runtime, so the whole export runs in block_on.
        let export = async { tokio::time::timeout(EXPORT_TIMEOUT, exporter.export(spans)).await };
        match self.rt.block_on(export) {
            Ok(Ok(())) => {
                self.failures = 0;
                self.paused_until = None;
                Done::all(n, true)
            }
            _ => {
                self.failures += 1;
                self.paused_until = Some(Instant::now() + backoff(self.failures));
                Done::all(n, false)
            }
        }
    }

    fn shutdown(&mut self) {
        let _ = self.exporter.shutdown_with_timeout(Duration::from_secs(1));
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
