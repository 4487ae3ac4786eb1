//! `tracewire-bench`: what tracewire costs per message, against the raw clients, on real brokers,
//! in one run. Every row runs its modes side by side (chunks of messages, mode after mode, the
//! first mode rotating) on one single-threaded Tokio runtime, 256-byte payloads, and prints
//! msg/s with the ratios to the raw client with the same headers and without headers.
//!
//! ```text
//! scripts/brokers.sh && cargo run --release -p tracewire-bench -- [ROW…] [--rounds 5] [--scale 1]
//! ```

// A binary: nothing here is reachable from outside anyway.
#![allow(unreachable_pub)]
// `in_flight` starts each operation (awaited: enqueued) and gets back its acknowledgement, a
// future awaited later, on purpose.
#![allow(clippy::async_yields_async)]

mod alloc;
mod amqp;
mod count;
mod cpu;
mod harness;
mod in_flight;
mod kafka;
mod nats;
mod peer;
mod report;
mod setup;
mod soak;

use clap::{Parser, ValueEnum};
use harness::{measure, Mode, Plan, Row};
use setup::{sending_context, Telemetry};

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// One broker path and side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RowName {
    KafkaProduce,
    KafkaConsume,
    AmqpPublish,
    AmqpPublishConfirms,
    AmqpConsume,
    NatsPublish,
    NatsSubscribe,
    JetstreamPublish,
    JetstreamConsume,
}

impl RowName {
    fn title(self) -> &'static str {
        match self {
            RowName::KafkaProduce => "Kafka producer: send_result, a chunk's sends in flight",
            RowName::KafkaConsume => "Kafka consumer: StreamConsumer::recv",
            RowName::AmqpPublish => "RabbitMQ publish, no confirms",
            RowName::AmqpPublishConfirms => {
                "RabbitMQ publish with publisher confirms (64 outstanding)"
            }
            RowName::AmqpConsume => "RabbitMQ consume, manual ack per message (prefetch 256)",
            RowName::NatsPublish => "NATS core publish",
            RowName::NatsSubscribe => "NATS core subscribe (feeder publishing in the same process)",
            RowName::JetstreamPublish => "JetStream publish, PublishAck awaited (64 outstanding)",
            RowName::JetstreamConsume => "JetStream pull consumer, ack per message",
        }
    }

    /// Messages per chunk at `--scale 1`: about 50–200 ms of raw work each.
    fn chunk(self) -> u32 {
        match self {
            RowName::KafkaProduce | RowName::KafkaConsume => 20_000,
            RowName::NatsPublish => 20_000,
            RowName::NatsSubscribe => 10_000,
            RowName::AmqpPublish => 4_000,
            RowName::AmqpPublishConfirms | RowName::AmqpConsume => 2_000,
            RowName::JetstreamPublish | RowName::JetstreamConsume => 2_000,
        }
    }
}

#[derive(Debug, Parser)]
#[command(about = "tracewire's overhead against the raw broker clients, side by side")]
struct Args {
    /// Rows to run (default: all).
    #[arg(value_enum)]
    rows: Vec<RowName>,
    /// Rounds; each gives one rate per mode.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Chunks per mode in each round.
    #[arg(long, default_value_t = 4)]
    chunks: usize,
    /// Multiplies every row's chunk size.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Where the span-log mode writes.
    #[arg(long, default_value = "target/tracewire-bench-spans.jsonl")]
    span_log: std::path::PathBuf,
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    kafka: String,
    /// RabbitMQ URL.
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp: String,
    /// NATS URL.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// Instead of the rows: this many messages through each wrapper, checking spans, memory
    /// and tables stay bounded (the soak).
    #[arg(long)]
    soak: Option<u64>,
    /// Instead of measuring every mode: run this mode alone, its messages inside the future
    /// callgrind counts (`--toggle-collect='*Counted*'`; see `count.rs`).
    #[arg(long, value_enum)]
    count: Option<Mode>,
    /// Record tracewire's messaging metrics into an SDK meter provider (a periodic reader
    /// exporting to memory once a minute: the instruments aggregate) instead of OpenTelemetry's
    /// no-op global meter — what a service that collects metrics pays. The peer records no
    /// metrics either way.
    #[arg(long)]
    metrics_sdk: bool,
}

async fn run_row<R: Row>(
    title: &str,
    mut row: R,
    plan: Plan,
    telemetry: &Telemetry,
    count: Option<Mode>,
) {
    if let Some(mode) = count {
        assert!(row.modes().contains(&mode), "{title}: no {mode:?} mode");
        let n = count::count(&mut row, plan, &sending_context(), mode).await;
        return println!("{title}: {n} messages counted, {}", mode.label());
    }
    let settle = |mode| telemetry.settle(mode);
    let measured = measure(&mut row, plan, &sending_context(), settle).await;
    println!("{}", report::table(title, &measured));
}

async fn run(name: RowName, args: &Args, telemetry: &Telemetry) {
    let chunk = ((f64::from(name.chunk()) * args.scale) as u32).max(1);
    let plan = Plan {
        rounds: args.rounds,
        chunks: args.chunks,
        chunk,
    };
    let title = format!(
        "{} — {} rounds × {} chunks × {chunk} messages per mode",
        name.title(),
        plan.rounds,
        plan.chunks
    );
    match name {
        RowName::KafkaProduce => {
            run_row(
                &title,
                kafka::Produce::new(&args.kafka, telemetry).await,
                plan,
                telemetry,
                args.count,
            )
            .await
        }
        RowName::KafkaConsume => {
            let row = kafka::Consume::new(&args.kafka, telemetry, plan.per_mode()).await;
            run_row(&title, row, plan, telemetry, args.count).await
        }
        RowName::AmqpPublish | RowName::AmqpPublishConfirms => {
            let connection = amqp::connect(&args.amqp).await;
            let confirms = name == RowName::AmqpPublishConfirms;
            let row = amqp::Publish::new(&connection, telemetry, confirms).await;
            run_row(&title, row, plan, telemetry, args.count).await
        }
        RowName::AmqpConsume => {
            let connection = amqp::connect(&args.amqp).await;
            let row = amqp::Consume::new(&connection, telemetry, plan.per_mode()).await;
            run_row(&title, row, plan, telemetry, args.count).await
        }
        RowName::NatsPublish => {
            run_row(
                &title,
                nats::CorePublish::new(&args.nats, telemetry).await,
                plan,
                telemetry,
                args.count,
            )
            .await
        }
        RowName::NatsSubscribe => {
            run_row(
                &title,
                nats::CoreSubscribe::new(&args.nats, telemetry).await,
                plan,
                telemetry,
                args.count,
            )
            .await
        }
        RowName::JetstreamPublish => {
            run_row(
                &title,
                nats::JsPublish::new(&args.nats, telemetry).await,
                plan,
                telemetry,
                args.count,
            )
            .await
        }
        RowName::JetstreamConsume => {
            let row = nats::JsConsume::new(&args.nats, telemetry, plan.per_mode()).await;
            run_row(&title, row, plan, telemetry, args.count).await
        }
    }
}

fn main() {
    let args = Args::parse();
    let rows = if args.rows.is_empty() {
        RowName::value_variants().to_vec()
    } else {
        args.rows.clone()
    };
    if let Some(dir) = args.span_log.parent() {
        std::fs::create_dir_all(dir).expect("the span log's directory");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    if let Some(n) = args.soak {
        return runtime.block_on(soak::run(n, &args.kafka, &args.amqp, &args.nats));
    }
    let telemetry = Telemetry::new(&args.span_log, args.metrics_sdk).expect("the span log file");
    println!(
        "tracewire-bench: 256-byte payloads; rounds {}, chunks {}, scale {}",
        args.rounds, args.chunks, args.scale
    );
    for name in rows {
        runtime.block_on(run(name, &args, &telemetry));
    }
    let (accepted, dropped) = telemetry.span_log_counts();
    println!("\nspan log: {accepted} lines accepted, {dropped} dropped (queue full)");
    let (ended, exported) = telemetry.batch_counts();
    println!(
        "batch export: {ended} spans ended, {exported} exported ({} dropped by the SDK's full queue)",
        ended.saturating_sub(exported)
    );
    telemetry.shutdown();
}
