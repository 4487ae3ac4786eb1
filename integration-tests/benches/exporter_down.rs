//! Message handling with the OTLP exporter off, pointed at a closed port, and pointed at a
//! collector that never answers — alternately, in one run — as messages/s and ratios to "off".
//! Two paths: spans alone (no broker: the worst case, where a span is all the work) and RabbitMQ
//! publishes awaited on their publisher confirm (a real message path).
//!
//! `cargo bench -p integration-tests --bench exporter_down` (RabbitMQ on AMQP_URL or locally)

use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::TracerProvider;
use opentelemetry::Context;
use std::time::Instant;
use tracewire::messaging::{Messaging, OperationSpec, OperationType};
use tracewire::Outcome;
use tracewire_telemetry::{Config, LogTarget, SpanLogTarget, Telemetry, TelemetryGuard};

const MESSAGES: u32 = 100_000;
const ROUNDS: usize = 5;
const RABBIT_MESSAGES: u32 = 3_000;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn run(endpoint: Option<(&str, &str)>) -> (f64, u64) {
    run_with(endpoint, None)
}

/// Telemetry exporting to `endpoint` (an OTLP URL and protocol; none: export off), with an
/// optional span log, and the instrumentation that uses it.
fn telemetry(
    endpoint: Option<(&str, &str)>,
    span_log: Option<SpanLogTarget>,
) -> (TelemetryGuard, Messaging) {
    let vars: Vec<(&str, String)> = endpoint
        .map(|(e, p)| {
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", e.to_owned()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", p.to_owned()),
            ]
        })
        .unwrap_or_default();
    let config = Config::from_lookup("bench", |k| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .unwrap();
    let guard = Telemetry::new(config)
        .logs(LogTarget::Off)
        .span_log(span_log)
        .build()
        .unwrap();
    let m = Messaging::builder(tracewire::messaging::System::new("rabbitmq"))
        .tracer(BoxedTracer::new(Box::new(
            guard.tracer_provider().tracer("bench"),
        )))
        .build();
    (guard, m)
}

fn run_with(endpoint: Option<(&str, &str)>, span_log: Option<SpanLogTarget>) -> (f64, u64) {
    let (guard, m) = telemetry(endpoint, span_log);
    let started = Instant::now();
    for _ in 0..MESSAGES {
        let spec = OperationSpec::new(OperationType::Process, "process", "orders");
        m.open_consume(&Context::new(), spec).end(Outcome::Ok);
    }
    let rate = f64::from(MESSAGES) / started.elapsed().as_secs_f64();
    let dropped = guard.export_stats().map_or(0, |s| s.snapshot().1);
    drop(guard); // bounded flush, outside the measurement
    (rate, dropped)
}

/// RabbitMQ publishes awaited on their confirms, the three exporter modes side by side: chunks of
/// `CHUNK` publishes, mode after mode, so drift in the broker hits every mode alike. Msg/s each.
fn rabbit_interleaved(
    rt: &tokio::runtime::Runtime,
    channel: &lapin::Channel,
    queue: &str,
    endpoints: [Option<(&str, &str)>; 3],
) -> [f64; 3] {
    const CHUNK: u32 = 50;
    let setups: Vec<_> = endpoints
        .iter()
        .map(|endpoint| {
            let (guard, m) = telemetry(*endpoint, None);
            (
                guard,
                tracewire_amqp::TracedChannel::with_messaging(channel.clone(), m),
            )
        })
        .collect();
    let mut elapsed = [std::time::Duration::ZERO; 3];
    rt.block_on(async {
        for cycle in 0..(RABBIT_MESSAGES / CHUNK) as usize {
            // The first mode of each cycle rotates, so no mode always follows another.
            for mode in (0..3).map(|i| (i + cycle) % 3) {
                let traced = &setups[mode].1;
                let started = Instant::now();
                for _ in 0..CHUNK {
                    let props = lapin::BasicProperties::default();
                    let options = lapin::options::BasicPublishOptions::default();
                    let confirm =
                        traced.basic_publish("".into(), queue.into(), options, &[0u8; 256], props);
                    confirm.await.unwrap().await.unwrap();
                }
                elapsed[mode] += started.elapsed();
            }
        }
    });
    drop(setups); // bounded flushes, outside the measurement
    elapsed.map(|e| f64::from(RABBIT_MESSAGES) / e.as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Prints the median and range of `rates` and the median's ratio to `base`.
fn show(prefix: &str, name: &str, rates: &[f64], base: f64) {
    let (lo, hi) = rates
        .iter()
        .fold((f64::MAX, 0f64), |(a, b), x| (a.min(*x), b.max(*x)));
    let median = median(rates.to_vec());
    let label = format!("{prefix}{name}");
    println!(
        "exporter_down: {label:<24} {median:>9.0} msg/s (range {lo:.0}–{hi:.0})  ratio {:.3}",
        median / base
    );
}

fn main() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging_url = format!("http://127.0.0.1:{}", hanging.local_addr().unwrap().port());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in hanging.incoming() {
            held.push(s);
        }
    });
    let (mut off, mut down, mut hang, mut dropped) = (Vec::new(), Vec::new(), Vec::new(), (0, 0));
    let mut working = Vec::new();
    for _ in 0..ROUNDS {
        off.push(run(None).0);
        let dev_null = SpanLogTarget::File("/dev/null".into());
        working.push(run_with(None, Some(dev_null)).0);
        let (r, d) = run(Some((&closed, "http/protobuf")));
        down.push(r);
        dropped.0 += d;
        let (r, d) = run(Some((&hanging_url, "grpc")));
        hang.push(r);
        dropped.1 += d;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = std::env::var("AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let (channel, queue) = rt.block_on(async {
        let conn = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
            .await
            .expect("RabbitMQ is up");
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(lapin::options::ConfirmSelectOptions::default())
            .await
            .unwrap();
        let q = ch
            .queue_declare(
                "".into(),
                lapin::options::QueueDeclareOptions {
                    exclusive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .unwrap();
        std::mem::forget(conn);
        (ch, q.name().to_string())
    });
    let (mut r_off, mut r_down, mut r_hang) = (Vec::new(), Vec::new(), Vec::new());
    let endpoints = [
        None,
        Some((closed.as_str(), "http/protobuf")),
        Some((hanging_url.as_str(), "grpc")),
    ];
    for _ in 0..ROUNDS {
        let [off, down, hang] = rabbit_interleaved(&rt, &channel, &queue, endpoints);
        r_off.push(off);
        r_down.push(down);
        r_hang.push(hang);
    }
    let base = median(off.clone());
    show("", "exporter off", &off, base);
    show("", "span log to /dev/null", &working, base);
    show("", "closed port (http)", &down, base);
    show("", "never answers (grpc)", &hang, base);
    let base = median(r_off.clone());
    show("rabbitmq ", "exporter off", &r_off, base);
    show("rabbitmq ", "closed port", &r_down, base);
    show("rabbitmq ", "never answers", &r_hang, base);
    println!("exporter_down: dropped spans counted: closed port {}, never answers {}; peak RSS {:.0} MiB", dropped.0, dropped.1, peak_rss_mib());
}
