//! What every row shares: the four telemetry set-ups (sampler off; sampled with the SDK's batch
//! processor to a no-op exporter; sampled with JSON span logs to a file; sampler off but every
//! span recorded for the span log, `TRACEWIRE_SPAN_LOG_SAMPLING=all`), the context messages are
//! sent in, and the payload.

use crate::harness::{Mode, PerMode};
use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::{
    SpanContext, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider,
};
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SpanData, SpanExporter,
    SpanProcessor,
};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tracewire::messaging::{Messaging, MessagingBuilder};
use tracewire::{CorrelationContextExt, CorrelationId};
use tracewire_telemetry::{QueueStats, RecordAll, SpanLogProcessor};

/// Records the span log's queue holds (tracewire's default), and batch export's queue too.
const SPAN_LOG_QUEUE: usize = 8192;

/// The message body every row sends.
pub const PAYLOAD: [u8; 256] = [b'x'; 256];

/// Accepts every batch and drops it, counting its spans: the cost measured is the SDK's and
/// tracewire's, not an exporter's.
#[derive(Debug, Default)]
pub struct NoopExporter {
    exported: Arc<AtomicU64>,
}

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.exported.fetch_add(batch.len() as u64, Relaxed);
        drop(batch);
        Ok(())
    }
}

/// The batch processor, counting the spans that end (one relaxed add each) to set against what
/// was exported: the SDK's batch processor drops spans silently when its queue is full. A
/// wrapper, not a second processor: with two processors the SDK clones every ended span's data
/// for each (attributes, events, links), a cost a service with one batch processor never pays
/// and one that grows with the attributes a span carries.
#[derive(Debug)]
struct EndCounter<P> {
    inner: P,
    ended: Arc<AtomicU64>,
}

impl<P: SpanProcessor> SpanProcessor for EndCounter<P> {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.ended.fetch_add(1, Relaxed);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

/// A span-log file emptied each time it passes [`Recycled::LIMIT`]: a run writes gigabytes, and
/// the kernel writing them back to disk (I/O wait, dirty-page throttling) would be timed as the
/// span log's cost. Emptied first, the dirty pages are dropped unwritten; each line still costs
/// what a file costs (the copy into the page cache). The file keeps the last lines written.
struct Recycled {
    file: std::fs::File,
    written: u64,
}

impl Recycled {
    const LIMIT: u64 = 256 << 20;

    fn create(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::File::create(path)?;
        Ok(Recycled { file, written: 0 })
    }
}

impl std::io::Write for Recycled {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use std::io::Seek;
        if self.written >= Self::LIMIT {
            self.file.set_len(0)?;
            self.file.seek(std::io::SeekFrom::Start(0))?;
            self.written = 0;
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// The tracer providers of the instrumented modes, alive for the whole run.
pub struct Telemetry {
    unsampled: SdkTracerProvider,
    batch: SdkTracerProvider,
    span_log: SdkTracerProvider,
    span_log_all: SdkTracerProvider,
    span_log_stats: [Arc<QueueStats>; 2],
    /// Spans ended and exported with batch export.
    batch_counts: [Arc<AtomicU64>; 2],
    /// Where tracewire's metrics go with `--metrics-sdk` (else OpenTelemetry's no-op meter).
    meters: Option<SdkMeterProvider>,
}

impl Telemetry {
    /// Builds the three providers; span logs go to `span_log` (a file, truncated). With
    /// `metrics_sdk`, an SDK meter provider (periodic reader, exported to memory) takes
    /// tracewire's metrics.
    pub fn new(span_log: &Path, metrics_sdk: bool) -> std::io::Result<Self> {
        let file = Recycled::create(span_log)?;
        let processor = SpanLogProcessor::new("bench", Box::new(file), SPAN_LOG_QUEUE);
        let all_file = Recycled::create(&span_log.with_extension("all.jsonl"))?;
        let all = SpanLogProcessor::new("bench", Box::new(all_file), SPAN_LOG_QUEUE);
        let span_log_stats = [processor.stats(), all.stats()];
        let (ended, exporter) = (Arc::<AtomicU64>::default(), NoopExporter::default());
        let batch_counts = [ended.clone(), exporter.exported.clone()];
        // The span log's queue size: with the SDK's default (2,048) the bursts of sends in
        // flight overflow it and a quarter of the spans are never exported, which would time
        // batch export doing less work than the span log.
        let batch = BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(SPAN_LOG_QUEUE)
                    .build(),
            )
            .build();
        Ok(Telemetry {
            unsampled: SdkTracerProvider::builder()
                .with_sampler(Sampler::AlwaysOff)
                .build(),
            batch: SdkTracerProvider::builder()
                .with_sampler(Sampler::AlwaysOn)
                .with_span_processor(EndCounter {
                    inner: batch,
                    ended,
                })
                .build(),
            span_log: SdkTracerProvider::builder()
                .with_sampler(Sampler::AlwaysOn)
                .with_span_processor(processor)
                .build(),
            span_log_all: SdkTracerProvider::builder()
                .with_sampler(RecordAll(Sampler::AlwaysOff))
                .with_span_processor(all)
                .build(),
            span_log_stats,
            batch_counts,
            meters: metrics_sdk.then(|| {
                // Exported once a minute (the SDK's default), to memory: the cost measured is
                // the instruments' own, per message.
                let reader = PeriodicReader::builder(InMemoryMetricExporter::default()).build();
                SdkMeterProvider::builder().with_reader(reader).build()
            }),
        })
    }

    fn provider(&self, mode: Mode) -> &SdkTracerProvider {
        match mode {
            Mode::Batch | Mode::PeerBatch => &self.batch,
            Mode::SpanLog => &self.span_log,
            Mode::SpanLogAll => &self.span_log_all,
            _ => &self.unsampled,
        }
    }

    /// The tracer of `mode`'s provider.
    pub fn tracer(&self, mode: Mode) -> BoxedTracer {
        BoxedTracer::new(Box::new(self.provider(mode).tracer("tracewire-bench")))
    }

    /// The peer's tracers, one per peer mode.
    pub fn peer_tracers(&self) -> PerMode<BoxedTracer> {
        PerMode::new(&Mode::PEER, |m| self.tracer(m))
    }

    /// The messaging instrumentation of each instrumented mode, from a broker crate's builder,
    /// with the provider's own tracer (as a service passing it would).
    pub fn messaging(&self, builder: impl Fn() -> MessagingBuilder) -> PerMode<Messaging> {
        PerMode::new(&Mode::INSTRUMENTED, |mode| {
            let tracer = self.provider(mode).tracer("tracewire-bench");
            let builder = builder().tracer(tracer);
            match &self.meters {
                Some(meters) => builder.meter(meters.meter("tracewire-bench")).build(),
                None => builder.build(),
            }
        })
    }

    /// Waits until the spans `mode` made are exported or written.
    pub fn settle(&self, mode: Mode) {
        if matches!(
            mode,
            Mode::Batch | Mode::PeerBatch | Mode::SpanLog | Mode::SpanLogAll
        ) {
            let _ = self.provider(mode).force_flush();
        }
    }

    /// Span-log lines accepted and dropped (queue full) so far.
    pub fn span_log_counts(&self) -> (u64, u64) {
        let counts = self.span_log_stats.iter().map(|s| s.snapshot());
        counts.fold((0, 0), |(a, d), (accepted, dropped, _, _)| {
            (a + accepted, d + dropped)
        })
    }

    /// Spans ended and exported so far with batch export (the difference: the SDK's drops).
    pub fn batch_counts(&self) -> (u64, u64) {
        let _ = self.batch.force_flush();
        let [ended, exported] = &self.batch_counts;
        (ended.load(Relaxed), exported.load(Relaxed))
    }

    /// Flushes and shuts the providers down (outside any measurement).
    pub fn shutdown(self) {
        for provider in [self.unsampled, self.batch, self.span_log, self.span_log_all] {
            let _ = provider.shutdown();
        }
    }
}

/// The context every message is sent in: a handler's, with a sampled remote parent and a
/// correlation id, as after an incoming request.
pub fn sending_context() -> Context {
    let parent = SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        0x00f0_67aa_0ba9_02b7.into(),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    Context::new()
        .with_remote_span_context(parent)
        .with_correlation_id(CorrelationId::parse(b"7d1c5e52-0b8e-4b6e-9d7e-3f1f8f6f2a10").unwrap())
}

/// The machine's busy CPU time so far (every core: user, nice, system, irq, softirq, steal),
/// from `/proc/stat`, in clock ticks.
fn busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = (stat.lines().next().unwrap_or_default())
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| fields.get(i))
        .sum()
}

/// Waits until the machine goes quiet — this process's background threads and the brokers it
/// talks to (a Kafka broker still serving fetches is busy while this process waits on it) —
/// at most a minute: under 5 % of one core for half a second.
pub async fn wait_until_idle() {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut last = busy_ticks();
    while std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let now = busy_ticks();
        if now - last <= 2 {
            return;
        }
        last = now;
    }
}
