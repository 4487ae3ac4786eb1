//! The OTLP exporters of spans, metrics and log records, each driven in a small Tokio runtime of
//! its own, so gRPC (tonic) and async HTTP work whatever runtime — or none — the service uses;
//! every export is bounded by a timeout. Spans reach them through [`crate::export`].

use crate::config::{Otlp, Protocol};
use opentelemetry_otlp::{LogExporter, MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::LogBatch;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use std::time::Duration;
use tokio::runtime::Runtime;

/// How long one export may take before its spans are counted as failed.
pub(crate) const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn runtime() -> std::io::Result<Runtime> {
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
pub(crate) fn span_exporter(
    otlp: &Otlp,
) -> Result<SpanExporter, opentelemetry_otlp::ExporterBuildError> {
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

/// The OTLP log-record exporter, driven in its own small Tokio runtime (the SDK's batch log
/// processor calls it from a plain thread), each export bounded by a timeout.
#[derive(Debug)]
pub(crate) struct RuntimeLogExporter {
    rt: Runtime,
    inner: LogExporter,
}

impl RuntimeLogExporter {
    pub(crate) fn new(otlp: &Otlp) -> std::io::Result<Self> {
        let rt = runtime()?;
        let inner = {
            let _entered = rt.enter();
            let builder = LogExporter::builder();
            match otlp.protocol {
                Protocol::Grpc => builder
                    .with_tonic()
                    .with_endpoint(otlp.endpoint.clone())
                    .with_timeout(EXPORT_TIMEOUT)
                    .build(),
                p => builder
                    .with_http()
                    .with_endpoint(otlp.logs_url())
                    .with_protocol(protocol(p))
                    .with_timeout(EXPORT_TIMEOUT)
                    .build(),
            }
            .map_err(std::io::Error::other)?
        };
        Ok(RuntimeLogExporter { rt, inner })
    }
}

impl opentelemetry_sdk::logs::LogExporter for RuntimeLogExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let export = async { tokio::time::timeout(EXPORT_TIMEOUT, self.inner.export(batch)).await };
        match self.rt.block_on(export) {
            Ok(result) => result,
            Err(_) => Err(OTelSdkError::Timeout(EXPORT_TIMEOUT)),
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}
