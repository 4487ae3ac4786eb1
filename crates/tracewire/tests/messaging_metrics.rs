//! The messaging metrics: recorded once per operation when its span ends, with the conventions'
//! names, units and attributes.

use opentelemetry::metrics::MeterProvider;
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics, Sum};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, SdkMeterProvider};
use tracewire::messaging::{Messaging, OperationSpec, OperationType};
use tracewire::testing::SpanRecorder;
use tracewire::Outcome;

fn metric<'a>(all: &'a [ResourceMetrics], name: &str) -> &'a AggregatedMetrics {
    all.iter()
        .flat_map(|rm| rm.scope_metrics())
        .flat_map(|sm| sm.metrics())
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("metric {name} was recorded"))
        .data()
}

/// A u64 sum metric (the sent, consumed and problem counters).
fn u64_sum<'a>(all: &'a [ResourceMetrics], name: &str) -> &'a Sum<u64> {
    let AggregatedMetrics::U64(MetricData::Sum(sum)) = metric(all, name) else {
        panic!("{name} is a u64 sum")
    };
    sum
}

/// Everything the provider has recorded, flushed to its exporter.
fn collected(
    exporter: &InMemoryMetricExporter,
    provider: &SdkMeterProvider,
) -> Vec<ResourceMetrics> {
    provider.force_flush().unwrap();
    exporter.get_finished_metrics().unwrap()
}

fn has<'a>(mut attrs: impl Iterator<Item = &'a KeyValue>, key: &str, value: &str) -> bool {
    attrs.any(|kv| kv.key.as_str() == key && kv.value.as_str() == value)
}

/// Messaging instrumentation whose metrics land in an in-memory exporter.
fn metered() -> (
    InMemoryMetricExporter,
    SdkMeterProvider,
    SpanRecorder,
    Messaging,
) {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_periodic_exporter(exporter.clone())
        .build();
    let rec = SpanRecorder::new();
    let m = Messaging::builder(tracewire::messaging::System::new("kafka"))
        .tracer(rec.tracer())
        .meter(provider.meter("test"))
        .build();
    (exporter, provider, rec, m)
}

#[test]
fn sends_and_consumes_are_counted_and_timed() {
    let (exporter, provider, _rec, m) = metered();

    m.open_send(
        &Context::new(),
        OperationSpec::new(OperationType::Send, "send", "orders"),
    )
    .end(Outcome::Ok);
    m.open_send(
        &Context::new(),
        OperationSpec::new(OperationType::Send, "send", "orders"),
    )
    .end(Outcome::error("MessageTimedOut", "timed out"));
    let msg = Context::new();
    m.open_consume(
        &msg,
        OperationSpec::new(OperationType::Process, "process", "orders"),
    )
    .end(Outcome::Ok);
    drop(m.open_consume(
        &msg,
        OperationSpec::new(OperationType::Process, "process", "orders"),
    ));
    let all = collected(&exporter, &provider);

    let sent = u64_sum(&all, "messaging.client.sent.messages");
    let total: u64 = sent.data_points().map(|p| p.value()).sum();
    assert_eq!(total, 2);
    assert!(sent
        .data_points()
        .any(|p| has(p.attributes(), "error.type", "MessageTimedOut")));
    assert!(sent.data_points().all(|p| has(
        p.attributes(),
        "messaging.destination.name",
        "orders"
    )));

    let consumed = u64_sum(&all, "messaging.client.consumed.messages");
    assert_eq!(consumed.data_points().map(|p| p.value()).sum::<u64>(), 2);

    let AggregatedMetrics::F64(MetricData::Histogram(process)) =
        metric(&all, "messaging.process.duration")
    else {
        panic!("an f64 histogram")
    };
    assert_eq!(
        process.data_points().map(|p| p.count()).sum::<u64>(),
        2,
        "a dropped message is timed too"
    );
    let AggregatedMetrics::F64(MetricData::Histogram(ops)) =
        metric(&all, "messaging.client.operation.duration")
    else {
        panic!("an f64 histogram")
    };
    assert_eq!(ops.data_points().map(|p| p.count()).sum::<u64>(), 2);
    assert!(ops
        .data_points()
        .all(|p| has(p.attributes(), "messaging.operation.name", "send")));
    // opentelemetry_sdk 0.33 has exemplars in its data model but never fills them.
    assert_eq!(
        ops.data_points()
            .map(|p| p.exemplars().count())
            .sum::<usize>(),
        0
    );
}

/// Past the destination cache's bound an operation's attributes are made per measurement, not
/// once: they say the same.
#[test]
fn a_destination_past_the_cache_is_measured_with_the_same_attributes() {
    let (exporter, provider, _rec, m) = metered();
    fn send(topic: &str) -> OperationSpec<'_> {
        OperationSpec::new(OperationType::Send, "send", topic)
    }
    for i in 0..tracewire::messaging::MAX_DESTINATIONS {
        m.open_send(&Context::new(), send(&format!("t{i}")))
            .end(Outcome::Ok);
    }
    m.open_send(&Context::new(), send("past.the.cache"))
        .end(Outcome::error("MessageTimedOut", "timed out"));
    let all = collected(&exporter, &provider);

    let sent = u64_sum(&all, "messaging.client.sent.messages");
    let past = sent
        .data_points()
        .find(|p| {
            has(
                p.attributes(),
                "messaging.destination.name",
                "past.the.cache",
            )
        })
        .expect("the destination past the cache is counted");
    assert_eq!(past.value(), 1);
    for (key, value) in [
        ("messaging.system", "kafka"),
        ("messaging.operation.name", "send"),
        ("messaging.operation.type", "send"),
        ("error.type", "MessageTimedOut"),
    ] {
        assert!(has(past.attributes(), key, value), "{key}={value}");
    }
    let cached = sent
        .data_points()
        .find(|p| has(p.attributes(), "messaging.destination.name", "t7"))
        .expect("a cached destination is counted");
    assert!(has(cached.attributes(), "messaging.operation.name", "send"));
}

/// The first instrumentations of a process keep their instruments `'static`; one built past
/// that bound shares them by reference count — and measures the same.
#[test]
fn instrumentations_past_the_static_bound_are_measured_the_same() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_periodic_exporter(exporter.clone())
        .build();
    let built: Vec<Messaging> = (0..=tracewire::messaging::MAX_STATIC_INSTRUMENTS)
        .map(|i| {
            let system = if i == 0 { "first" } else { "last" };
            Messaging::builder(tracewire::messaging::System::new(system))
                .meter(provider.meter("test"))
                .build()
        })
        .collect();
    for m in [&built[0], &built[built.len() - 1]] {
        m.open_send(
            &Context::new(),
            OperationSpec::new(OperationType::Send, "send", "orders"),
        )
        .end(Outcome::Ok);
    }
    let all = collected(&exporter, &provider);
    let sent = u64_sum(&all, "messaging.client.sent.messages");
    for system in ["first", "last"] {
        let point = (sent.data_points())
            .find(|p| has(p.attributes(), "messaging.system", system))
            .unwrap_or_else(|| panic!("{system}'s send is counted"));
        assert_eq!(point.value(), 1, "{system}");
        assert!(has(
            point.attributes(),
            "messaging.destination.name",
            "orders"
        ));
    }
}

#[test]
fn a_duration_is_in_seconds_from_open_to_end() {
    let (exporter, provider, _rec, m) = metered();
    let span = m.open_consume(
        &Context::new(),
        OperationSpec::new(OperationType::Process, "process", "orders"),
    );
    // A lower bound the sleep guarantees; the upper one only rules out a unit or scale mistake
    // (the clock is the CPU's counter, scaled to nanoseconds).
    std::thread::sleep(std::time::Duration::from_millis(30));
    span.end(Outcome::Ok);
    let all = collected(&exporter, &provider);
    let AggregatedMetrics::F64(MetricData::Histogram(process)) =
        metric(&all, "messaging.process.duration")
    else {
        panic!("an f64 histogram")
    };
    let seconds: f64 = process.data_points().map(|p| p.sum()).sum();
    assert!((0.030..60.0).contains(&seconds), "{seconds} s");
}

#[tokio::test]
async fn a_batch_of_messages_is_timed_and_counted_once() {
    let (exporter, provider, _rec, m) = metered();
    let items: Vec<_> = (0..3).map(|i| (Context::new(), i)).collect();
    let done = tracewire::task::Batch::messages(&m, "process", "orders")
        .run(items, |i| async move { Ok::<_, String>(i) })
        .await;
    assert_eq!(done.len(), 3);
    let all = collected(&exporter, &provider);
    assert_eq!(
        recorded(&all, "messaging.process.duration"),
        4,
        "the batch span and each message's span are timed"
    );
    assert_eq!(
        recorded(&all, "messaging.client.consumed.messages"),
        3,
        "every message counted once: by the batch, not again by its own span"
    );
}

/// A counter's total, or a histogram's count of measurements.
fn recorded(all: &[ResourceMetrics], name: &str) -> u64 {
    match metric(all, name) {
        AggregatedMetrics::U64(MetricData::Sum(sum)) => sum.data_points().map(|p| p.value()).sum(),
        AggregatedMetrics::F64(MetricData::Histogram(h)) => {
            h.data_points().map(|p| p.count()).sum()
        }
        _ => panic!("{name}: a u64 sum or an f64 histogram"),
    }
}

#[test]
fn propagation_problems_are_exported_by_kind_once_per_propagator() {
    use tracewire::carrier::MemoryHeaders;
    let (exporter, provider, _rec, m) = metered();
    // A second instrumentation sharing the propagator does not register it twice.
    let _again = Messaging::builder(tracewire::messaging::System::new("kafka"))
        .propagator(m.propagator().clone())
        .meter(provider.meter("test"))
        .build();
    m.extract(&MemoryHeaders::new());
    m.extract(&MemoryHeaders::from_pairs([("traceparent", "00-zz")]));
    m.extract(&MemoryHeaders::from_pairs([
        ("traceparent", "junk"),
        ("correlation_id", "a\tb"),
    ]));
    let all = collected(&exporter, &provider);
    let problems = u64_sum(&all, "tracewire.propagation.problems");
    let count = |kind: &str| -> u64 {
        let points = problems
            .data_points()
            .filter(|p| has(p.attributes(), "kind", kind));
        points.map(|p| p.value()).sum()
    };
    assert_eq!(count("traceparent_missing"), 1);
    assert_eq!(count("traceparent_invalid"), 2);
    assert_eq!(count("correlation_missing"), 2);
    assert_eq!(count("correlation_replaced"), 1);
    assert_eq!(count("inject_rejected"), 0);
    assert_eq!(
        problems
            .data_points()
            .filter(|p| has(p.attributes(), "kind", "traceparent_missing"))
            .count(),
        1,
        "one series per kind: registered once"
    );
    assert!(problems.is_monotonic());
}
