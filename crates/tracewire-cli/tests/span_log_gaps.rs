//! The span log under load, read back by the CLI: `block` mode loses nothing, `drop` mode says
//! what it dropped (gap records that add up to the counter) and `lost` calls what a gap may hide
//! uncertain, not lost; rotated (and compressed) files are read back whole.

use opentelemetry::trace::{Span as _, Tracer, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tracewire::carrier::MemoryHeaders;
use tracewire::messaging::{OperationSpec, OperationType, Topology};
use tracewire::Outcome;
use tracewire_cli::input::{self, Record};

mod common;
use common::{log_service, tracewire_cmd as tracewire, LogService as Service};
use tracewire_cli::model::Event;
use tracewire_telemetry::{
    Config, FullPolicy, LogTarget, RotateWhen, Rotation, SpanLogProcessor, SpanLogTarget, Telemetry,
};

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracewire-gaps-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// (span_end lines, gap lines' `lines` summed) in the files matching `glob`.
fn read_back(glob: &str) -> (u64, u64) {
    let (mut ends, mut gap_lines) = (0, 0);
    let inputs = input::expand(&[glob.to_owned()]).unwrap();
    let stats = input::read_all(&inputs, |record| match record {
        Record::Span(Event::End, _) => ends += 1,
        Record::Span(Event::Start, _) => {}
        Record::Gap(gap) => gap_lines += gap.lines,
        Record::Event(_) => {}
    })
    .unwrap();
    assert_eq!(stats.malformed, 0, "every line is whole and valid JSON");
    (ends, gap_lines)
}

fn file(path: &Path) -> Box<dyn Write + Send> {
    Box::new(std::fs::File::create(path).unwrap())
}

#[test]
fn block_mode_writes_every_one_of_a_million_spans() {
    let dir = dir("block");
    let path = dir.join("audit.jsonl");
    // A small queue, so the million spans wait for the writer again and again.
    let processor = SpanLogProcessor::with_policy("audit", file(&path), 1024, FullPolicy::Block);
    let stats = processor.stats();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("audit");
    for _ in 0..1_000_000 {
        tracer.start("audit entry").end();
    }
    provider.shutdown().unwrap();

    let (accepted, dropped, written, failed) = stats.snapshot();
    assert_eq!((accepted, dropped, failed), (2_000_000, 0, 0));
    assert_eq!(written, 2_000_000);
    let (ends, gaps) = read_back(path.to_str().unwrap());
    assert_eq!(ends, 1_000_000);
    assert_eq!(gaps, 0, "block mode drops nothing, so writes no gap");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A disk that takes a millisecond per write: the span-log queue overflows.
struct SlowDisk(std::fs::File);

impl Write for SlowDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::thread::sleep(Duration::from_millis(1));
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn service(name: &str, processor: SpanLogProcessor) -> Service {
    log_service(name, processor, Topology::Parent)
}

/// Sends one message from `from` to `dest`; `to` processes it when given.
fn message(from: &Service, dest: &str, to: Option<&Service>) {
    let send = (from.messaging).open_send(
        &Context::new(),
        OperationSpec::new(OperationType::Send, "send", dest),
    );
    let mut headers = MemoryHeaders::new();
    (from.messaging.propagator()).inject(send.context(), &mut headers);
    send.end(Outcome::Ok);
    if let Some(to) = to {
        let process = OperationSpec::new(OperationType::Process, "process", dest);
        to.messaging
            .open_message(&headers, process)
            .end(Outcome::Ok);
    }
}

#[test]
fn drop_mode_names_every_dropped_line_and_lost_calls_them_uncertain() {
    let dir = dir("drop");
    let at = |name: &str| dir.join(format!("{name}.jsonl"));
    let block =
        |name: &str| SpanLogProcessor::with_policy(name, file(&at(name)), 8192, FullPolicy::Block);
    let orders = service("orders", block("orders"));
    let slow = SlowDisk(std::fs::File::create(at("fulfillment")).unwrap());
    let overloaded =
        SpanLogProcessor::with_policy("fulfillment", Box::new(slow), 16, FullPolicy::Drop);
    let dropped = overloaded.stats();
    let fulfillment = service("fulfillment", overloaded);
    for _ in 0..5_000 {
        message(&orders, "shipments", Some(&fulfillment));
    }
    // Another hop, logged in full: one invoice processed, one never.
    let invoicer = service("invoicer", block("invoicer"));
    let billing = service("billing", block("billing"));
    message(&invoicer, "invoices", Some(&billing));
    message(&invoicer, "invoices", None);
    for s in [&orders, &fulfillment, &invoicer, &billing] {
        s.provider.shutdown().unwrap();
    }

    // Every dropped line is in a gap record, once.
    let dropped = dropped.dropped.load(Relaxed);
    assert!(dropped > 0, "the slow disk overflowed the queue");
    let (ends, gap_lines) = read_back(at("fulfillment").to_str().unwrap());
    assert_eq!(gap_lines, dropped);
    assert!(ends < 5_000);

    let c = |files: &[&str]| {
        let inputs: Vec<_> = files.iter().map(|f| Some(at(f))).collect();
        tracewire_cli::collect(&inputs, None).unwrap().0
    };
    let shipments = c(&["orders", "fulfillment"]);
    let missing = shipments.missing_messages(0);
    assert!(!missing.is_empty(), "some messages lost both lines");
    assert!(missing
        .iter()
        .all(|m| m.gap().is_some_and(|g| g.service == "fulfillment")));
    assert!(shipments.lost(0).is_empty(), "nothing certainly lost");
    assert!(shipments.gaps().iter().map(|g| g.lines).sum::<u64>() == dropped);

    // The CLI: uncertain only → exit 3; with a certain loss → exit 1; gaps named everywhere.
    let path = |name: &str| at(name).to_string_lossy().into_owned();
    let (code, out) = tracewire(&[
        "lost",
        "--grace",
        "0",
        &path("orders"),
        &path("fulfillment"),
    ]);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("0 message(s) sent and never processed"),
        "{out}"
    );
    assert!(
        out.contains("uncertain: orders → shipments (kafka)"),
        "{out}"
    );
    assert!(out.contains("span-log gap: fulfillment lost"), "{out}");
    let all = format!("{}/*.jsonl", dir.display());
    let (code, out) = tracewire(&["lost", "--grace", "0", &all]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("1 message(s) sent and never processed"),
        "{out}"
    );
    assert!(out.contains("lost: invoicer → invoices (kafka)"), "{out}");
    let (_, out) = tracewire(&["analyze", "--grace", "0", &all]);
    assert!(out.contains("\nuncertain:\n"), "{out}");
    assert!(out.contains("span-log gap: fulfillment lost"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rotated_and_compressed_files_are_read_back_whole() {
    let dir = dir("rotate");
    let path = dir.join("spans.jsonl");
    let config = Config::from_lookup("rotating", |_| None).unwrap();
    let guard = Telemetry::new(config)
        .span_log(Some(SpanLogTarget::File(path.clone())))
        .span_log_full(FullPolicy::Block)
        .span_log_rotation(Rotation {
            when: RotateWhen::Size(256 << 10),
            keep: 1000,
            compress: true,
        })
        .logs(LogTarget::Off)
        .build()
        .unwrap();
    let tracer = guard.tracer_provider().tracer("rotating");
    for i in 0..20_000 {
        let mut span = tracer.start("step");
        span.set_attribute(opentelemetry::KeyValue::new("app.step", i));
        span.end();
    }
    drop(tracer);
    guard.tracer_provider().shutdown().unwrap();

    let rotated: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".gz"))
        .collect();
    assert!(rotated.len() >= 2, "at least two rotations: {rotated:?}");
    let (ends, gaps) = read_back(&format!("{}*", path.display()));
    assert_eq!((ends, gaps), (20_000, 0), "nothing lost at a boundary");
    let _ = std::fs::remove_dir_all(&dir);
}
