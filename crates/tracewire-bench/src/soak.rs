//! The soak: `n` messages through each wrapper — Kafka's producer and consumer, RabbitMQ's, NATS'
//! core and JetStream's, all on the real brokers (librdkafka's mock cluster keeps every message
//! in this process's memory, which would hide what the wrapper keeps) — in
//! chunks of a thousand sent then received, every span recorded (sampled, the SDK's batch
//! processor to a no-op exporter). What it checks, and prints: spans started == spans ended,
//! resident memory after the warm-up (the first tenth) flat within 10 %, the destination and
//! span-name tables within their bounds (core NATS sends to 3,000 subjects to reach them).
//!
//! ```text
//! scripts/brokers.sh && cargo run --release -p tracewire-bench -- --soak 1000000
//! ```

use crate::in_flight::acknowledged;
use crate::setup::{NoopExporter, PAYLOAD};
use bytes::Bytes;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::BasicProperties;
use opentelemetry::trace::TracerProvider;
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, Sampler, SdkTracerProvider, Span, SpanData, SpanProcessor,
};
use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureRecord;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracewire::messaging::{
    Messaging, MessagingBuilder, MAX_ATTRIBUTE_SETS, MAX_DESTINATIONS, MAX_SPAN_NAMES,
};
use tracewire::Outcome;

const CHUNK: u64 = 1_000;

/// Subjects core NATS cycles through: past both tables' bounds.
const SUBJECTS: u64 = 3_000;

/// Counts every span the provider starts and ends.
#[derive(Debug, Default)]
struct Counts {
    started: AtomicU64,
    ended: AtomicU64,
}

#[derive(Debug)]
struct Counting(Arc<Counts>);

impl SpanProcessor for Counting {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {
        self.0.started.fetch_add(1, Relaxed);
    }

    fn on_end(&self, _span: SpanData) {
        self.0.ended.fetch_add(1, Relaxed);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Resident memory of this process, in bytes (`/proc/self/statm`).
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = (statm.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// What one wrapper's soak measured.
struct Soaked {
    name: &'static str,
    messages: u64,
    seconds: f64,
    started: u64,
    ended: u64,
    warm_rss: u64,
    peak_rss: u64,
    destinations: usize,
}

impl Soaked {
    fn growth(&self) -> f64 {
        (self.peak_rss as f64 - self.warm_rss as f64) / self.warm_rss as f64
    }

    fn row(&self) -> String {
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        format!(
            "| {} | {} | {:.0} | {} | {} | {:.1} | {:.1} | {:+.1} % | {} |",
            self.name,
            self.messages,
            self.messages as f64 / self.seconds,
            self.started,
            self.ended,
            mib(self.warm_rss),
            mib(self.peak_rss),
            self.growth() * 100.0,
            self.destinations,
        )
    }
}

/// A provider that records every span, and its counts.
struct Recording {
    provider: SdkTracerProvider,
    counts: Arc<Counts>,
}

impl Recording {
    fn new() -> Self {
        let counts = Arc::new(Counts::default());
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::AlwaysOn)
            .with_span_processor(Counting(counts.clone()))
            .with_span_processor(BatchSpanProcessor::builder(NoopExporter::default()).build())
            .build();
        Recording { provider, counts }
    }

    fn messaging(&self, builder: MessagingBuilder) -> Messaging {
        builder.tracer(self.provider.tracer("soak")).build()
    }
}

/// Runs `chunk(i)` for every chunk of `n` messages, sampling resident memory after each; the
/// warm-up is the first tenth.
async fn soak(
    name: &'static str,
    n: u64,
    recording: &Recording,
    destinations: impl Fn() -> usize,
    mut chunk: impl AsyncFnMut(u64),
) -> Soaked {
    let clock = Instant::now();
    let chunks = n.div_ceil(CHUNK);
    let (mut warm_rss, mut peak_rss) = (0, 0);
    for i in 0..chunks {
        chunk(i).await;
        let rss = resident();
        if i + 1 == (chunks / 10).max(1) {
            warm_rss = rss;
        }
        if warm_rss > 0 {
            peak_rss = peak_rss.max(rss);
        }
    }
    let seconds = clock.elapsed().as_secs_f64();
    let _ = recording.provider.force_flush();
    Soaked {
        name,
        messages: chunks * CHUNK,
        seconds,
        started: recording.counts.started.load(Relaxed),
        ended: recording.counts.ended.load(Relaxed),
        warm_rss,
        peak_rss,
        destinations: destinations(),
    }
}

async fn kafka(brokers: &str, n: u64) -> Soaked {
    let topic = crate::kafka::topic(brokers, "tracewire-soak").await;
    let mut config = rdkafka::ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    let recording = Recording::new();
    let inner: rdkafka::producer::FutureProducer = config.create().expect("a producer");
    let producer = tracewire_kafka::TracedProducer::with_messaging(
        inner,
        recording.messaging(tracewire_kafka::builder()),
    );
    config
        .set("group.id", "soak")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "5");
    let inner: rdkafka::consumer::StreamConsumer = config.create().expect("a consumer");
    inner.subscribe(&[&topic]).expect("subscribed");
    let messaging = recording.messaging(tracewire_kafka::builder());
    let consumer =
        tracewire_kafka::TracedConsumer::with_messaging(inner, messaging.clone()).group("soak");
    let destinations = || messaging.cached_destinations();
    soak("Kafka", n, &recording, destinations, async |_| {
        let mut deliveries = Vec::with_capacity(CHUNK as usize);
        for _ in 0..CHUNK {
            let record = FutureRecord::<(), [u8]>::to(&topic).payload(&PAYLOAD);
            deliveries.push(
                producer
                    .send_result(record)
                    .map_err(|(e, _)| e)
                    .expect("queued"),
            );
        }
        for delivery in deliveries {
            delivery.await.expect("delivered").expect("written");
        }
        for _ in 0..CHUNK {
            consumer
                .recv()
                .await
                .expect("a message")
                .finish(Outcome::Ok);
        }
    })
    .await
}

async fn amqp(url: &str, n: u64) -> Soaked {
    let connection = crate::amqp::connect(url).await;
    let channel = connection.create_channel().await.expect("a channel");
    (channel
        .confirm_select(ConfirmSelectOptions::default())
        .await)
        .expect("confirms");
    crate::amqp::queue(&channel, "tracewire-soak", None).await;
    let recording = Recording::new();
    let messaging = recording.messaging(tracewire_amqp::builder());
    let publisher =
        tracewire_amqp::TracedChannel::with_messaging(channel.clone(), messaging.clone());
    let inner = channel
        .basic_consume(
            "tracewire-soak".into(),
            "soak".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consuming");
    let mut consumer = tracewire_amqp::TracedConsumer::with_messaging(
        inner,
        recording.messaging(tracewire_amqp::builder()),
    );
    let destinations = || messaging.cached_destinations();
    soak("RabbitMQ", n, &recording, destinations, async |_| {
        let mut confirms = Vec::with_capacity(CHUNK as usize);
        for _ in 0..CHUNK {
            let publish = publisher.basic_publish(
                "".into(),
                "tracewire-soak".into(),
                BasicPublishOptions::default(),
                &PAYLOAD,
                BasicProperties::default(),
            );
            confirms.push(publish.await.expect("published"));
        }
        for confirm in confirms {
            acknowledged(confirm.await);
        }
        for _ in 0..CHUNK {
            let delivery = consumer.next().await.expect("a delivery").expect("ok");
            delivery
                .ack(BasicAckOptions::default())
                .await
                .expect("acked");
        }
    })
    .await
}

async fn nats(url: &str, n: u64) -> Soaked {
    let client = async_nats::connect(url).await.expect("nats-server is up");
    let recording = Recording::new();
    let publisher = tracewire_nats::TracedClient::with_messaging(
        client.clone(),
        recording.messaging(tracewire_nats::builder()),
    );
    let messaging = recording.messaging(tracewire_nats::builder());
    let subscribing =
        tracewire_nats::TracedClient::with_messaging(client.clone(), messaging.clone());
    let mut subscriber = subscribing
        .subscribe("soak.core.>")
        .await
        .expect("subscribed");
    client.flush().await.expect("flushed");
    let destinations = || messaging.cached_destinations();
    soak("NATS core", n, &recording, destinations, async |chunk| {
        for i in 0..CHUNK {
            let subject = format!("soak.core.{}", (chunk * CHUNK + i) % SUBJECTS);
            let payload = Bytes::from_static(&PAYLOAD);
            publisher
                .publish(subject, payload)
                .await
                .expect("published");
        }
        client.flush().await.expect("flushed");
        for _ in 0..CHUNK {
            subscriber
                .next()
                .await
                .expect("a message")
                .finish(Outcome::Ok);
        }
    })
    .await
}

async fn jetstream(url: &str, n: u64) -> Soaked {
    use async_nats::jetstream::{self, consumer, stream};
    let client = async_nats::connect(url).await.expect("nats-server is up");
    let js = jetstream::new(client);
    let _ = js.delete_stream("TRACEWIRE_SOAK").await;
    let stream = js
        .create_stream(stream::Config {
            name: "TRACEWIRE_SOAK".into(),
            subjects: vec!["soak.js.>".into()],
            max_messages: 100_000,
            ..Default::default()
        })
        .await
        .expect("JetStream is on");
    let pull: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("soak".into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("a consumer");
    let recording = Recording::new();
    let messaging = recording.messaging(tracewire_nats::builder());
    let publisher = tracewire_nats::TracedJetStream::with_messaging(js.clone(), messaging.clone());
    let mut messages = tracewire_nats::TracedJsStream::with_messaging(
        pull.messages().await.expect("messages"),
        recording.messaging(tracewire_nats::builder()),
    );
    let destinations = || messaging.cached_destinations();
    let soaked = soak("JetStream", n, &recording, destinations, async |chunk| {
        let mut acks = Vec::with_capacity(CHUNK as usize);
        for i in 0..CHUNK {
            let subject = format!("soak.js.{}", (chunk * CHUNK + i) % 100);
            let payload = Bytes::from_static(&PAYLOAD);
            acks.push(
                publisher
                    .publish(subject, payload)
                    .await
                    .expect("published"),
            );
        }
        for ack in acks {
            acknowledged(ack.await);
        }
        for _ in 0..CHUNK {
            let message = messages.next().await.expect("a message").expect("ok");
            message.ack().await.expect("acked");
        }
    })
    .await;
    let _ = js.delete_stream("TRACEWIRE_SOAK").await;
    soaked
}

/// Soaks every wrapper with `n` messages, prints the table, and fails on a broken check.
pub async fn run(n: u64, kafka_brokers: &str, amqp_url: &str, nats_url: &str) {
    let soaked = [
        kafka(kafka_brokers, n).await,
        amqp(amqp_url, n).await,
        nats(nats_url, n).await,
        jetstream(nats_url, n).await,
    ];
    println!(
        "\n| wrapper | messages | msg/s | spans started | spans ended | RSS after warm-up MiB | peak RSS MiB | growth | destinations cached |\n|---|---|---|---|---|---|---|---|---|"
    );
    for s in &soaked {
        println!("{}", s.row());
    }
    let names = Messaging::interned_span_names();
    let sets = Messaging::interned_metric_attribute_sets();
    println!("\nspan names interned (process): {names} (bound {MAX_SPAN_NAMES})");
    println!("metric attribute sets interned (process): {sets} (bound {MAX_ATTRIBUTE_SETS})");
    for s in &soaked {
        assert_eq!(s.started, s.ended, "{}: every span started ended", s.name);
        assert!(
            s.ended >= 2 * s.messages,
            "{}: a span per send and per message",
            s.name
        );
        assert!(
            s.growth() <= 0.10,
            "{}: resident memory grew {:.1} %",
            s.name,
            s.growth() * 100.0
        );
        assert!(
            s.destinations <= MAX_DESTINATIONS,
            "{}: destination table bounded",
            s.name
        );
    }
    assert!(names <= MAX_SPAN_NAMES, "span-name table bounded");
    assert!(sets <= MAX_ATTRIBUTE_SETS, "metric attribute sets bounded");
}
