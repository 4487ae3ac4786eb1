//! Shared helpers for the integration tests: broker addresses (from the environment, with the
//! local defaults `scripts/brokers.sh` starts) and names unique to each test run.

#![allow(missing_docs)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// `AMQP_URL`, default the local RabbitMQ.
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// `NATS_URL`, default the local nats-server.
pub fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// `KAFKA_BROKERS`, default the local Kafka-protocol broker.
pub fn kafka_brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// A name no other test (or earlier run) uses: `{prefix}-{pid}-{nanos}-{n}`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Checks the span a wrapped consumer made for one hostile case: parent kept or fresh as the case
/// says, the correlation id kept or fresh, no hostile value recorded.
pub fn check_hostile(
    case: &tracewire::testing::hostile::Case,
    span: &opentelemetry_sdk::trace::SpanData,
    correlation_id: &str,
) {
    use tracewire::testing::hostile::{Trace, VALID_PARENT_ID};
    let parent = u64::from_be_bytes(span.parent_span_id.to_bytes());
    match case.trace {
        Trace::Kept => assert_eq!(
            parent, VALID_PARENT_ID,
            "{}: the valid parent is kept",
            case.name
        ),
        Trace::Fresh => assert_eq!(parent, 0, "{}: a fresh trace", case.name),
    }
    match case.correlation {
        Some(id) => assert_eq!(correlation_id, id, "{}", case.name),
        None => assert_eq!(
            correlation_id.len(),
            36,
            "{}: a fresh correlation id, not {correlation_id:?}",
            case.name
        ),
    }
    for kv in &span.attributes {
        let v = kv.value.as_str();
        assert!(
            !v.contains(case.poison) && !v.contains(['\r', '\n', '\0']) && v.len() <= 1024,
            "{}: hostile value recorded in {}",
            case.name,
            kv.key
        );
    }
}

/// What every broker's hop-control test (tests/hop_control_*.rs) sets and checks, so that the
/// brokers are held to the same policies.
pub mod hop {
    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::trace::SpanId;
    use opentelemetry::{Context, KeyValue};
    use opentelemetry_sdk::trace::SpanData;
    use std::time::Duration;
    use tracewire::messaging::{
        BaggageRules, HopPolicy, Messaging, System, Topology, HOP_COUNT, TRACE_BOUNDARY,
    };
    use tracewire::testing::{
        assert_continues, assert_correlation_survived, assert_no_baggage_leak, attribute,
        attribute_str, baggage_of, hostile, SpanRecorder,
    };

    /// The tenant header every test sends and expects captured.
    pub const TENANT: &str = "x-tenant-id";

    /// Destinations whose name holds this start a new trace past 3 hops.
    pub const HOPS: &str = "hops";
    /// Destinations whose name holds this start a new trace after 1 ms in the queue.
    pub const WAITS: &str = "waits";

    /// The leakiest topology (an ambient span wins as parent) and the policies under test.
    pub fn messaging(system: System, rec: &SpanRecorder) -> Messaging {
        let hops = HopPolicy::new().new_trace_after_hops(3);
        let waits = HopPolicy::new().new_trace_after_queue_time(Duration::from_millis(1));
        let everywhere = HopPolicy::new()
            .capture_headers(["x-tenant-*"])
            .baggage(BaggageRules::new().deny(["secret"]));
        Messaging::builder(system)
            .tracer(rec.tracer())
            .topology(Topology::Auto)
            .policy(format!("*{HOPS}*").as_str(), hops)
            .policy(format!("*{WAITS}*").as_str(), waits)
            .policy("*", everywhere)
            .build()
    }

    /// The first message's context: an order, and a secret that must not cross.
    pub fn first() -> Context {
        Context::new().with_baggage([KeyValue::new("order", "1"), KeyValue::new("secret", "s")])
    }

    /// Checks the two handlers of a leaky loop (the first's context still attached when the
    /// second message arrived, which carried no baggage) and what the second handler sent.
    pub fn assert_no_leak(first: &Context, second: &Context, second_sent: Vec<(String, String)>) {
        assert_no_baggage_leak([
            (baggage_of(first), vec![("order", "1")]),
            (baggage_of(second), vec![]),
            (second_sent, vec![]),
        ]);
        assert_eq!(baggage_of(first), [("order".to_owned(), "1".to_owned())]);
    }

    /// The first span named `name` to end (the first message's, when each ended in turn).
    pub fn first_named(rec: &SpanRecorder, name: &str) -> SpanData {
        (rec.spans().into_iter())
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("a span named {name:?}"))
    }

    /// The first message's hop: its send span, and the process span that continues it, both
    /// record the tenant header, and the correlation id survives.
    pub fn assert_first_hop(rec: &SpanRecorder, send: &str, process: &str) {
        let send = first_named(rec, send);
        let process = (rec.spans().into_iter())
            .find(|s| s.name == process && s.parent_span_id == send.span_context.span_id())
            .unwrap_or_else(|| panic!("the process span of the first message ({process:?})"));
        assert_captured(&send, &process);
        assert_continues(&process, &send);
        assert_correlation_survived(&send, &process);
    }

    /// The send and the process span both record the tenant header, and nothing of ours.
    pub fn assert_captured(send: &SpanData, process: &SpanData) {
        for span in [send, process] {
            let tenant = attribute_str(span, &format!("messaging.header.{TENANT}"));
            assert_eq!(tenant.as_deref(), Some("acme"), "{}", span.name);
            assert!(attribute(span, "messaging.header.traceparent").is_none());
        }
    }

    /// The headers of a message from a producer five hops down a trace.
    pub fn five_hops_in() -> [(&'static str, &'static str); 2] {
        [
            ("traceparent", hostile::VALID_TRACEPARENT),
            ("tracestate", "tracewire=h:5,vendor=x"),
        ]
    }

    /// `span` starts a new trace for `reason`, linked to the message's context.
    pub fn assert_new_linked_trace(span: &SpanData, reason: &str, parent_trace: &str) {
        assert_eq!(
            attribute_str(span, TRACE_BOUNDARY).as_deref(),
            Some(reason),
            "{span:#?}"
        );
        assert_eq!(span.parent_span_id, SpanId::INVALID, "a root");
        assert_ne!(span.span_context.trace_id().to_string(), parent_trace);
        assert!(
            span.links
                .iter()
                .any(|l| l.span_context.trace_id().to_string() == parent_trace),
            "linked to the message's trace"
        );
        if reason == "hop_count" {
            assert_eq!(
                attribute(span, HOP_COUNT),
                Some(&opentelemetry::Value::I64(5))
            );
        }
    }

    /// The trace id of [`five_hops_in`].
    pub const FIVE_HOPS_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    /// How many context-less messages make the missing-context warning speak (one window).
    pub const UNINSTRUMENTED: usize = 1024;

    /// The warnings of a consumer that read [`UNINSTRUMENTED`] messages without a context.
    pub fn assert_warned_once(warnings: &[String]) {
        let said: Vec<_> = (warnings.iter())
            .filter(|w| w.contains("most received messages carry no trace context"))
            .collect();
        assert_eq!(said.len(), 1, "{warnings:?}");
    }
}
