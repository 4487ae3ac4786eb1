//! What crosses a hop (issue 21), on the real Kafka-protocol broker: header capture, baggage
//! rules, no baggage leaking in a consumer loop, trace boundaries (hop count, and queue time from
//! the record's timestamp), and the warning about an uninstrumented upstream. Policies and
//! checks: `integration_tests::hop`.

use integration_tests::hop::{self, TENANT};
use integration_tests::{kafka_brokers, unique};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracewire::task::TracedExt;
use tracewire::testing::{assert_all_ended, wire_baggage, SpanRecorder, Warnings};
use tracewire::Outcome;
use tracewire_kafka::{KafkaHeaders, TracedConsumer, TracedMessage, TracedProducer, SYSTEM};

const TIMEOUT: Duration = Duration::from_secs(10);

fn config() -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", kafka_brokers());
    c
}

fn consumer_config() -> ClientConfig {
    let mut c = config();
    c.set("group.id", unique("tw-group"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    c
}

async fn topic(tag: &str) -> String {
    let name = unique(&format!("tw-{tag}"));
    let admin: AdminClient<DefaultClientContext> = config().create().unwrap();
    let created = admin
        .create_topics(
            &[NewTopic::new(&name, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .expect("a Kafka-protocol broker is up (scripts/brokers.sh)");
    created.into_iter().for_each(|r| drop(r.unwrap()));
    name
}

fn raw_producer() -> FutureProducer {
    config()
        .set("message.timeout.ms", "10000")
        .create()
        .unwrap()
}

fn traced_consumer(rec: &SpanRecorder, topic: &str) -> TracedConsumer {
    let c = TracedConsumer::from_config_with(&consumer_config(), hop::messaging(SYSTEM, rec));
    let c = c.unwrap();
    c.inner().subscribe(&[topic]).unwrap();
    c
}

fn headers(pairs: &[(&str, &str)]) -> OwnedHeaders {
    (pairs.iter()).fold(OwnedHeaders::new(), |h, (key, v)| {
        h.insert(Header {
            key,
            value: Some(*v),
        })
    })
}

async fn next<'c>(consumer: &'c TracedConsumer) -> TracedMessage<'c> {
    let next = tokio::time::timeout(Duration::from_secs(30), consumer.recv()).await;
    next.expect("a message within 30 s").unwrap()
}

#[tokio::test]
async fn kafka_captures_governs_and_never_leaks_baggage() {
    let rec = SpanRecorder::new();
    let topic = topic("hop").await;
    let replies = topic_with_reader(&topic).await;
    let producer = TracedProducer::with_messaging(raw_producer(), hop::messaging(SYSTEM, &rec));
    let tenant = FutureRecord::<str, str>::to(&topic)
        .payload("1")
        .headers(headers(&[(TENANT, "acme")]));
    producer
        .send(tenant, TIMEOUT)
        .traced_in(hop::first())
        .await
        .unwrap();
    producer
        .send(FutureRecord::<str, str>::to(&topic).payload("2"), TIMEOUT)
        .await
        .unwrap();
    let consumer = traced_consumer(&rec, &topic);
    let one = next(&consumer).await;
    let in_first = one.context().clone().attach(); // a leaky loop
    let two = next(&consumer).await;
    let reply = FutureRecord::<str, str>::to(&replies.0).payload("reply");
    producer
        .send(reply, TIMEOUT)
        .traced_in(two.context().clone())
        .await
        .unwrap();
    let sent = tokio::time::timeout(Duration::from_secs(30), replies.1.recv()).await;
    let sent = sent.expect("the reply within 30 s").unwrap();
    hop::assert_no_leak(
        one.context(),
        two.context(),
        wire_baggage(&KafkaHeaders::of_message(&sent)),
    );
    drop(in_first);
    one.finish(Outcome::Ok);
    two.finish(Outcome::Ok);
    hop::assert_first_hop(&rec, &format!("send {topic}"), &format!("process {topic}"));
    assert_all_ended(&rec);
}

/// A second topic for replies, with a plain consumer already reading it.
async fn topic_with_reader(base: &str) -> (String, StreamConsumer) {
    let name = topic(&format!("{base}-reply")).await;
    let reader: StreamConsumer = consumer_config().create().unwrap();
    reader.subscribe(&[&name]).unwrap();
    (name, reader)
}

#[tokio::test]
async fn kafka_starts_linked_traces_past_the_hop_limit_and_after_waiting() {
    let rec = SpanRecorder::new();
    let raw = raw_producer();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for (tag, reason) in [(hop::HOPS, "hop_count"), (hop::WAITS, "queue_time")] {
        let topic = topic(tag).await;
        let record = FutureRecord::<str, str>::to(&topic)
            .payload("x")
            .timestamp(now_ms - 60_000)
            .headers(headers(&hop::five_hops_in()));
        raw.send(record, TIMEOUT).await.unwrap();
        let consumer = traced_consumer(&rec, &topic);
        next(&consumer).await.finish(Outcome::Ok);
        let span = rec.span(&format!("process {topic}"));
        hop::assert_new_linked_trace(&span, reason, hop::FIVE_HOPS_TRACE);
    }
}

#[tokio::test]
async fn kafka_warns_once_about_an_uninstrumented_upstream() {
    let rec = SpanRecorder::new();
    let topic = topic("bare").await;
    let raw = raw_producer();
    let sends = (0..hop::UNINSTRUMENTED).map(|_| {
        raw.send(
            FutureRecord::<str, str>::to(&topic).payload("bare"),
            TIMEOUT,
        )
    });
    for sent in futures_util::future::join_all(sends).await {
        sent.unwrap();
    }
    let consumer = traced_consumer(&rec, &topic);
    let ((), warned) = Warnings::capture_async(async {
        for _ in 0..hop::UNINSTRUMENTED {
            next(&consumer).await.finish(Outcome::Ok);
        }
    })
    .await;
    hop::assert_warned_once(&warned);
}
