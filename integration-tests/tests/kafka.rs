//! tracewire-kafka against a real Kafka-protocol broker (tansu from scripts/brokers.sh, or
//! Apache Kafka at KAFKA_BROKERS).

use integration_tests::{kafka_brokers, unique};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TraceState, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use std::process::Command;
use std::time::Duration;
use tracewire::carrier::HeaderReader;
use tracewire::messaging::attributes as a;
use tracewire::task::TracedExt;
use tracewire::testing::{attribute_str, SpanRecorder};
use tracewire::{CorrelationContextExt, CorrelationId};
use tracewire_kafka::{KafkaHeaders, TracedConsumer, TracedProducer};

const TIMEOUT: Duration = Duration::from_secs(10);

fn config() -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", kafka_brokers());
    c
}

async fn topic(partitions: i32) -> String {
    let name = unique("tw-kafka");
    let admin: AdminClient<DefaultClientContext> = config().create().unwrap();
    let results = admin
        .create_topics(
            &[NewTopic::new(&name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .expect("a Kafka-protocol broker is up (scripts/brokers.sh)");
    results.into_iter().for_each(|r| {
        r.unwrap();
    });
    name
}

fn producer(rec: &SpanRecorder) -> TracedProducer {
    let inner: FutureProducer = config()
        .set("message.timeout.ms", "10000")
        .create()
        .unwrap();
    TracedProducer::with_messaging(
        inner,
        tracewire_kafka::builder().tracer(rec.tracer()).build(),
    )
}

fn consumer(rec: &SpanRecorder, topic: &str) -> TracedConsumer {
    let mut c = config();
    c.set("group.id", unique("tw-group"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    let consumer = TracedConsumer::from_config_with(
        &c,
        tracewire_kafka::builder().tracer(rec.tracer()).build(),
    )
    .unwrap();
    consumer.inner().subscribe(&[topic]).unwrap();
    consumer
}

fn request_context(rec: &SpanRecorder, n: u32) -> Context {
    let root = rec.provider().tracer("test").start(format!("checkout {n}"));
    let cx = Context::new().with_span(root);
    let sc = cx.span().span_context().clone();
    let state = TraceState::from_key_value([("vendor", format!("v{n}"))]).unwrap();
    let with_state = opentelemetry::trace::SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags(),
        false,
        state,
    );
    Context::new()
        .with_remote_span_context(with_state)
        .with_baggage([KeyValue::new("tenant", format!("t{n}"))])
        .with_correlation_id(CorrelationId::parse(format!("order-{n}").as_bytes()).unwrap())
}

async fn next(consumer: &TracedConsumer) -> tracewire_kafka::TracedMessage<'_> {
    tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("a message within 30 s")
        .unwrap()
}

#[tokio::test]
async fn context_survives_produce_and_consume() {
    let rec = SpanRecorder::new();
    let topic = topic(1).await;
    let producer = producer(&rec);
    let cx = request_context(&rec, 1);
    let delivery = producer
        .send(FutureRecord::to(&topic).key("o-1").payload("{}"), TIMEOUT)
        .traced_in(cx.clone())
        .await
        .expect("delivered");
    let consumer = consumer(&rec, &topic);
    let message = next(&consumer).await;
    assert_eq!(message.message().offset(), delivery.offset);
    let got = message.context().clone();
    assert_eq!(
        got.span().span_context().trace_id(),
        cx.span().span_context().trace_id()
    );
    assert_eq!(
        got.span().span_context().trace_state().header(),
        "vendor=v1"
    );
    assert_eq!(
        got.baggage()
            .get("tenant")
            .map(|v| v.to_string())
            .as_deref(),
        Some("t1")
    );
    assert_eq!(got.correlation_id().unwrap().as_str(), "order-1");
    message.commit(CommitMode::Sync).unwrap();

    let send = rec.span(&format!("send {topic}"));
    let process = rec.span(&format!("process {topic}"));
    assert_eq!(send.span_kind, opentelemetry::trace::SpanKind::Producer);
    assert_eq!(send.parent_span_id, cx.span().span_context().span_id());
    assert_eq!(
        process.parent_span_id,
        send.span_context.span_id(),
        "the consumer is a child of the send"
    );
    assert_eq!(
        attribute_str(&send, tracewire_kafka::KAFKA_OFFSET),
        Some(delivery.offset.to_string())
    );
    assert_eq!(
        attribute_str(&process, a::DESTINATION_PARTITION_ID).as_deref(),
        Some("0")
    );
    assert!(attribute_str(&process, a::CONSUMER_GROUP_NAME)
        .unwrap()
        .starts_with("tw-group"));
    assert_eq!(attribute_str(&process, a::BODY_SIZE).as_deref(), Some("2"));
    assert_eq!(
        attribute_str(&process, tracewire_kafka::KAFKA_MESSAGE_KEY),
        None,
        "keys only on opt-in"
    );
    assert_eq!(
        attribute_str(&process, a::SETTLED),
        None,
        "ended by the commit"
    );
}

#[tokio::test]
async fn each_message_keeps_its_own_trace_across_partitions_and_a_consumer_group() {
    let rec = SpanRecorder::new();
    let topic = topic(3).await;
    let producer = producer(&rec);
    let mut expected = std::collections::HashMap::new();
    for n in 0..6u32 {
        let cx = request_context(&rec, n);
        let record = FutureRecord::to(&topic)
            .partition((n % 3) as i32)
            .payload("x")
            .key("k");
        producer
            .send(record, TIMEOUT)
            .traced_in(cx.clone())
            .await
            .unwrap();
        expected.insert(
            format!("order-{n}"),
            (cx.span().span_context().trace_id(), (n % 3) as i32),
        );
    }
    let consumer = consumer(&rec, &topic);
    for _ in 0..6 {
        let m = next(&consumer).await;
        let id = m.context().correlation_id().unwrap().to_string();
        let (trace, partition) = expected.remove(&id).expect("each message once");
        assert_eq!(m.context().span().span_context().trace_id(), trace, "{id}");
        assert_eq!(m.message().partition(), partition, "{id}");
        m.commit(CommitMode::Async).unwrap();
    }
    assert!(expected.is_empty());
}

#[tokio::test]
async fn a_forwarded_message_carries_the_new_parent() {
    let rec = SpanRecorder::new();
    let (first, second) = (topic(1).await, topic(1).await);
    let producer = producer(&rec);
    producer
        .send(FutureRecord::<str, str>::to(&first).payload("a"), TIMEOUT)
        .traced_in(request_context(&rec, 7))
        .await
        .unwrap();
    let consumer_a = consumer(&rec, &first);
    let m = next(&consumer_a).await;
    // Forward with the consumed headers copied as they are (stale traceparent included).
    let copied: OwnedHeaders = m.message().headers().map(|h| h.detach()).unwrap();
    let stale = KafkaHeaders::of_owned(Some(&copied))
        .last("traceparent")
        .map(<[u8]>::to_vec);
    assert!(
        stale.is_some(),
        "the copy carries the producer's traceparent"
    );
    let record = FutureRecord::<str, str>::to(&second)
        .payload("b")
        .headers(copied.insert(Header {
            key: "x-user",
            value: Some("kept"),
        }));
    producer
        .send(record, TIMEOUT)
        .traced_in(m.context().clone())
        .await
        .unwrap();
    let process_a = m.context().span().span_context().span_id();
    m.commit(CommitMode::Sync).unwrap();

    let consumer_b = consumer(&rec, &second);
    let forwarded = next(&consumer_b).await;
    let headers = KafkaHeaders::of_message(forwarded.message());
    assert_ne!(
        headers.last("traceparent").map(<[u8]>::to_vec),
        stale,
        "not the stale parent"
    );
    assert_eq!(
        headers.values("traceparent").count(),
        1,
        "one traceparent, not the stale one plus ours"
    );
    assert_eq!(
        headers.last("x-user"),
        Some(&b"kept"[..]),
        "user headers kept"
    );
    let send_b = rec.span(&format!("send {second}"));
    assert_eq!(
        send_b.parent_span_id, process_a,
        "the forward is a child of the consumer"
    );
    assert_eq!(
        forwarded.context().span().span_context().trace_id(),
        send_b.span_context.trace_id()
    );
    forwarded.finish(tracewire::Outcome::Ok);
    assert_eq!(
        rec.span(&format!("process {second}")).parent_span_id,
        send_b.span_context.span_id(),
        "the NEW parent"
    );
}

fn kcat(topic: &str, headers: &[&[u8]], payload: &str) {
    let mut cmd = Command::new("kcat");
    cmd.args(["-P", "-b", &kafka_brokers(), "-t", topic]);
    for h in headers {
        use std::os::unix::ffi::OsStrExt;
        cmd.arg("-H").arg(std::ffi::OsStr::from_bytes(h));
    }
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("kcat is installed (scripts/brokers.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[tokio::test]
async fn a_message_produced_by_kcat_with_hand_written_headers_is_continued() {
    let rec = SpanRecorder::new();
    let topic = topic(1).await;
    kcat(
        &topic,
        &[
            b"traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            b"tracestate=congo=t61rcWkgMzE",
            b"baggage=user=ana,region=eu",
            b"correlation_id=kcat-1",
        ],
        "hand-made",
    );
    let consumer = consumer(&rec, &topic);
    let m = next(&consumer).await;
    let cx = m.context().clone();
    m.commit(CommitMode::Sync).unwrap();
    let span = rec.span(&format!("process {topic}"));
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from(0x0af7651916cd43dd8448eb211c80319c)
    );
    assert_eq!(span.parent_span_id, SpanId::from(0xb7ad6b7169203331));
    assert_eq!(
        cx.span().span_context().trace_state().header(),
        "congo=t61rcWkgMzE"
    );
    assert_eq!(
        cx.baggage().get("region").map(|v| v.to_string()).as_deref(),
        Some("eu")
    );
    assert_eq!(
        attribute_str(&span, a::CONVERSATION_ID).as_deref(),
        Some("kcat-1")
    );
}

#[tokio::test]
async fn messages_without_or_with_garbage_headers_are_delivered_with_a_fresh_trace() {
    let rec = SpanRecorder::new();
    let topic = topic(1).await;
    // A non-UTF-8 header KEY: rdkafka's own header iteration would panic on it.
    kcat(
        &topic,
        &[
            b"\xff\xfe\xfdkey=v",
            b"traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ],
        "bad-key",
    );
    let raw: FutureProducer = config().create().unwrap();
    raw.send(
        FutureRecord::<str, str>::to(&topic).payload("no-headers"),
        TIMEOUT,
    )
    .await
    .unwrap();
    let garbage = OwnedHeaders::new()
        .insert(Header {
            key: "traceparent",
            value: Some(&b"\xff\x00\x80garbage"[..]),
        })
        .insert(Header {
            key: "traceparent",
            value: None::<&[u8]>,
        })
        .insert(Header {
            key: "tracestate",
            value: Some(&b"a=1\r\nb=2"[..]),
        })
        .insert(Header {
            key: "correlation_id",
            value: Some(&b"evil\r\nid"[..]),
        })
        // librdkafka refuses messages over message.max.bytes (1 MB), so 512 KiB of baggage.
        .insert(Header {
            key: "baggage",
            value: Some(&vec![b'x'; 512 << 10][..]),
        });
    raw.send(
        FutureRecord::<str, str>::to(&topic)
            .payload("garbage")
            .headers(garbage),
        TIMEOUT,
    )
    .await
    .unwrap();

    let consumer = consumer(&rec, &topic);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let m = next(&consumer).await;
        let payload = String::from_utf8_lossy(m.message().payload().unwrap()).into_owned();
        let cx = m.context().clone();
        assert!(
            !cx.correlation_id().unwrap().as_str().contains("evil"),
            "{payload}"
        );
        m.commit(CommitMode::Sync).unwrap();
        let span = rec.spans().into_iter().last().unwrap();
        let continued = span.parent_span_id == SpanId::from(0xb7ad6b7169203331);
        assert_eq!(
            continued,
            payload == "bad-key",
            "{payload}: only the valid traceparent is continued"
        );
        if payload != "bad-key" {
            assert_eq!(
                span.parent_span_id,
                SpanId::INVALID,
                "{payload}: a fresh trace"
            );
        }
        for kv in &span.attributes {
            let v = kv.value.as_str();
            assert!(
                !v.contains('\r') && !v.contains("evil") && v.len() < 4096,
                "{payload}: {}",
                kv.key
            );
        }
        seen.push(payload);
    }
    seen.sort();
    assert_eq!(
        seen,
        ["bad-key", "garbage", "no-headers"],
        "every message delivered"
    );
    let stats = consumer.messaging().propagator().stats().snapshot();
    assert_eq!(stats.traceparent_invalid, 1);
    assert_eq!(stats.traceparent_missing, 1);
    assert_eq!(stats.correlation_replaced, 1);
}

#[tokio::test]
async fn delivery_errors_reach_the_caller_with_the_message() {
    let rec = SpanRecorder::new();
    let inner: FutureProducer = config().set("message.timeout.ms", "3000").create().unwrap();
    let producer = TracedProducer::with_messaging(
        inner,
        tracewire_kafka::builder().tracer(rec.tracer()).build(),
    );
    let nowhere = unique("tw-missing-topic");
    let record = FutureRecord::to(&nowhere).payload("lost?").key("k");
    let (error, message) = producer
        .send(record, TIMEOUT)
        .await
        .expect_err("the topic does not exist");
    assert_eq!(
        message.payload(),
        Some(&b"lost?"[..]),
        "the message comes back"
    );
    assert!(
        message.headers().is_some_and(|h| h.count() >= 2),
        "with its headers"
    );
    let span = rec.span(&format!("send {nowhere}"));
    let error_type = attribute_str(&span, a::ERROR_TYPE).unwrap();
    assert_eq!(
        Some(error_type),
        error.rdkafka_error_code().map(|c| format!("{c:?}"))
    );
}

#[tokio::test]
async fn batches_link_every_message_and_empty_polls_make_no_span() {
    let rec = SpanRecorder::new();
    let topic = topic(1).await;
    let consumer = consumer(&rec, &topic);
    let empty = consumer.recv_batch(10, Duration::from_millis(500)).await;
    assert!(empty.is_empty());
    assert!(rec.spans().is_empty(), "an empty poll starts no span");

    let producer = producer(&rec);
    let mut traces = Vec::new();
    for n in 0..3 {
        let cx = request_context(&rec, n);
        producer
            .send(FutureRecord::<str, str>::to(&topic).payload("x"), TIMEOUT)
            .traced_in(cx.clone())
            .await
            .unwrap();
        traces.push(cx.span().span_context().trace_id());
    }
    let mut batch = consumer.recv_batch(3, Duration::from_secs(30)).await;
    while batch.len() < 3 {
        batch = consumer.recv_batch(3, Duration::from_secs(30)).await;
    }
    let results = batch
        .process(2, |m| {
            let offset = m.offset();
            async move {
                Ok::<_, String>((
                    offset,
                    Context::current().correlation_id().unwrap().to_string(),
                ))
            }
        })
        .await;
    let ids: Vec<_> = results.into_iter().map(|r| r.unwrap().1).collect();
    assert_eq!(
        ids,
        ["order-0", "order-1", "order-2"],
        "each handler ran in its message's context, in order"
    );
    consumer
        .inner()
        .commit_consumer_state(CommitMode::Sync)
        .unwrap();
    let batch_span = rec
        .spans()
        .into_iter()
        .find(|s| attribute_str(s, a::BATCH_MESSAGE_COUNT).is_some())
        .unwrap();
    let linked: Vec<_> = batch_span
        .links
        .links
        .iter()
        .map(|l| l.span_context.trace_id())
        .collect();
    assert_eq!(linked, traces, "one link per message, checked one by one");
}

/// Every case of the shared hostile corpus, through the real broker to a wrapped consumer.
#[tokio::test]
async fn the_hostile_corpus_is_delivered_and_processed() {
    use tracewire::testing::hostile::{corpus, Value};
    let rec = SpanRecorder::new();
    let topic = topic(1).await;
    let raw: FutureProducer = config().create().unwrap();
    let cases = corpus();
    for case in &cases {
        if case
            .headers
            .iter()
            .any(|(k, _)| std::str::from_utf8(k).is_err())
        {
            // rdkafka writes keys as &str: a non-UTF-8 key goes through kcat (librdkafka too).
            let args: Vec<Vec<u8>> = case
                .headers
                .iter()
                .map(|(k, v)| {
                    let Value::Bytes(v) = v else { unreachable!() };
                    [k.as_slice(), b"=", v].concat()
                })
                .collect();
            kcat(
                &topic,
                &args.iter().map(Vec::as_slice).collect::<Vec<_>>(),
                case.name,
            );
            continue;
        }
        let mut headers = OwnedHeaders::new();
        for (k, v) in &case.headers {
            let key = std::str::from_utf8(k).unwrap();
            headers = match v {
                Value::Bytes(b) => headers.insert(Header {
                    key,
                    value: Some(b.as_slice()),
                }),
                Value::Integer(i) => headers.insert(Header {
                    key,
                    value: Some(i.to_string().as_bytes()),
                }),
                Value::Null => headers.insert(Header {
                    key,
                    value: None::<&[u8]>,
                }),
            };
        }
        let record = FutureRecord::<str, str>::to(&topic)
            .payload(case.name)
            .headers(headers);
        raw.send(record, TIMEOUT)
            .await
            .unwrap_or_else(|(e, _)| panic!("{}: {e}", case.name));
    }
    let consumer = consumer(&rec, &topic);
    for _ in &cases {
        let m = next(&consumer).await;
        let name = String::from_utf8_lossy(m.message().payload().unwrap()).into_owned();
        let case = cases.iter().find(|c| c.name == name).unwrap();
        let id = m.context().correlation_id().unwrap().to_string();
        m.commit(CommitMode::Async).unwrap();
        let span = rec.spans().into_iter().last().unwrap();
        integration_tests::check_hostile(case, &span, &id);
    }
    assert_eq!(
        rec.spans().len(),
        cases.len(),
        "every case processed, one span each"
    );
}

/// A consumer that crashes before committing: the message comes again, with its original trace.
#[tokio::test]
async fn a_message_redelivered_after_a_crash_keeps_its_trace() {
    let rec = SpanRecorder::new();
    let topic = topic(1).await;
    let cx = request_context(&rec, 9);
    producer(&rec)
        .send(FutureRecord::<str, str>::to(&topic).payload("x"), TIMEOUT)
        .traced_in(cx.clone())
        .await
        .unwrap();
    let mut c = config();
    c.set("group.id", unique("tw-crash"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    let first = TracedConsumer::from_config_with(
        &c,
        tracewire_kafka::builder().tracer(rec.tracer()).build(),
    )
    .unwrap();
    first.inner().subscribe(&[&topic]).unwrap();
    let m = next(&first).await;
    let original = m.context().span().span_context().trace_id();
    drop(m); // the handler crashed: no commit
    drop(first);
    let second = TracedConsumer::from_config_with(
        &c,
        tracewire_kafka::builder().tracer(rec.tracer()).build(),
    )
    .unwrap();
    second.inner().subscribe(&[&topic]).unwrap();
    let again = next(&second).await;
    assert_eq!(again.context().span().span_context().trace_id(), original);
    assert_eq!(original, cx.span().span_context().trace_id());
    again.commit(CommitMode::Sync).unwrap();
    let name = format!("process {topic}");
    let spans: Vec<_> = rec.spans().into_iter().filter(|s| s.name == name).collect();
    assert_eq!(spans.len(), 2);
    assert_eq!(
        attribute_str(&spans[0], a::SETTLED).as_deref(),
        Some("false"),
        "the crashed attempt is marked unsettled"
    );
    assert_eq!(
        spans[0].parent_span_id, spans[1].parent_span_id,
        "both children of the same send"
    );
}

/// Handlers that run concurrently: messages detached from the consumer, handled in spawned
/// tasks, committed by the consumer once handled (offset + 1); a restarted consumer of the same
/// group resumes right after the last committed message, and every span is one trace with its
/// send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_messages_handled_concurrently_commit_the_right_offset() {
    let rec = SpanRecorder::new();
    let topic = topic(1).await;
    let producer = producer(&rec);
    for i in 0..6 {
        let record = FutureRecord::<str, str>::to(&topic).payload("x");
        producer
            .send(record, TIMEOUT)
            .traced_in(request_context(&rec, i))
            .await
            .unwrap();
    }
    let mut c = config();
    c.set("group.id", unique("tw-concurrent"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    let messaging = || tracewire_kafka::builder().tracer(rec.tracer()).build();
    let first = TracedConsumer::from_config_with(&c, messaging()).unwrap();
    first.inner().subscribe(&[&topic]).unwrap();
    let mut handlers = Vec::new();
    for _ in 0..4 {
        let (message, span) = next(&first).await.detach();
        let handled = tokio::spawn(span.in_context(async move {
            tokio::task::yield_now().await; // four handlers in flight at once
            let trace = opentelemetry::Context::current()
                .span()
                .span_context()
                .trace_id();
            (message, trace)
        }));
        handlers.push((handled, span));
    }
    for (handled, span) in handlers {
        let (message, trace) = handled.await.unwrap();
        assert_eq!(trace, span.context().span().span_context().trace_id());
        let committed = first.commit_owned(&message, CommitMode::Sync);
        span.end_after(committed, tracewire::Outcome::Ok, "commit")
            .unwrap();
    }
    drop(first);
    let second = TracedConsumer::from_config_with(&c, messaging()).unwrap();
    second.inner().subscribe(&[&topic]).unwrap();
    let resumed = next(&second).await;
    assert_eq!(
        resumed.message().offset(),
        4,
        "right after the last committed message"
    );
    resumed.commit(CommitMode::Sync).unwrap();
    let name = format!("process {topic}");
    let spans: Vec<_> = rec.spans().into_iter().filter(|s| s.name == name).collect();
    assert_eq!(spans.len(), 5);
    assert!(
        spans.iter().all(|s| attribute_str(s, a::SETTLED).is_none()),
        "every detached span ended by its commit"
    );
}

#[tokio::test]
async fn a_record_without_a_value_is_a_tombstone_on_both_spans() {
    let rec = SpanRecorder::new();
    let topic = topic(1).await;
    let record = FutureRecord::<str, str>::to(&topic).key("order-1");
    producer(&rec)
        .send(record, TIMEOUT)
        .await
        .expect("delivered");
    let consumer = consumer(&rec, &topic);
    next(&consumer).await.finish(tracewire::Outcome::Ok);
    for name in [format!("send {topic}"), format!("process {topic}")] {
        let span = rec.span(&name);
        let tombstone = attribute_str(&span, tracewire_kafka::KAFKA_TOMBSTONE);
        assert_eq!(tombstone.as_deref(), Some("true"), "{name}");
        assert_eq!(attribute_str(&span, a::BODY_SIZE), None, "{name}: no body");
    }
}
