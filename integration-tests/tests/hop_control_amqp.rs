//! What crosses a hop (issue 21), on the real RabbitMQ: header capture, baggage rules, no
//! baggage leaking in a consumer loop, trace boundaries (hop count, and queue time from the
//! `timestamp` property), and the warning about an uninstrumented upstream. Policies and
//! checks: `integration_tests::hop`.

use futures_util::StreamExt;
use integration_tests::hop::{self, TENANT};
use integration_tests::{amqp_url, unique};
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use opentelemetry::Context;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracewire::task::TracedExt;
use tracewire::testing::{assert_all_ended, wire_baggage, SpanRecorder, Warnings};
use tracewire_amqp::{AmqpHeaders, TracedChannel, TracedConsumer, TracedDelivery, SYSTEM};

struct Rabbit {
    _conn: Connection,
    traced: TracedChannel,
    raw: Channel,
}

async fn rabbit(rec: &SpanRecorder) -> Rabbit {
    let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .expect("RabbitMQ is up (scripts/brokers.sh)");
    let channel = conn.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let raw = conn.create_channel().await.unwrap();
    Rabbit {
        traced: TracedChannel::with_messaging(channel, hop::messaging(SYSTEM, rec)),
        raw,
        _conn: conn,
    }
}

fn table(pairs: &[(&str, &str)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert(
            ShortString::from(*k),
            AMQPValue::LongString(LongString::from(*v)),
        );
    }
    t
}

impl Rabbit {
    async fn queue(&self, tag: &str) -> String {
        let name = unique(&format!("tw-{tag}"));
        let options = QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        };
        (self
            .raw
            .queue_declare(name.as_str().into(), options, FieldTable::default()))
        .await
        .unwrap();
        name
    }

    async fn publish(&self, queue: &str, properties: BasicProperties, cx: Context) {
        let options = BasicPublishOptions::default();
        (self
            .traced
            .basic_publish("".into(), queue.into(), options, b"x", properties))
        .traced_in(cx)
        .await
        .unwrap()
        .await
        .unwrap();
    }

    async fn raw_publish(&self, queue: &str, properties: BasicProperties) {
        let options = BasicPublishOptions::default();
        (self
            .raw
            .basic_publish("".into(), queue.into(), options, b"raw", properties))
        .await
        .unwrap()
        .await
        .unwrap();
    }

    async fn consumer(&self, queue: &str, no_ack: bool) -> TracedConsumer {
        let options = BasicConsumeOptions {
            no_ack,
            ..Default::default()
        };
        let c = (self.traced.inner())
            .basic_consume(queue.into(), "".into(), options, FieldTable::default())
            .await
            .unwrap();
        TracedConsumer::with_messaging(c, self.traced.messaging().clone())
    }
}

async fn next(consumer: &mut TracedConsumer) -> TracedDelivery {
    let limit = Duration::from_secs(30);
    let next = tokio::time::timeout(limit, consumer.next()).await;
    next.expect("delivered within 30 s")
        .expect("a delivery")
        .expect("no consumer error")
}

#[tokio::test]
async fn rabbitmq_captures_governs_and_never_leaks_baggage() {
    let rec = SpanRecorder::new();
    let r = rabbit(&rec).await;
    let queue = r.queue("hop").await;
    let replies = r.queue("hop-reply").await;
    let tenant = BasicProperties::default().with_headers(table(&[(TENANT, "acme")]));
    r.publish(&queue, tenant, hop::first()).await;
    r.publish(&queue, BasicProperties::default(), Context::new())
        .await;
    let mut consumer = r.consumer(&queue, false).await;
    let one = next(&mut consumer).await;
    let in_first = one.context().clone().attach(); // a leaky loop
    let two = next(&mut consumer).await;
    r.publish(&replies, BasicProperties::default(), two.context().clone())
        .await;
    let sent = (r
        .raw
        .basic_get(replies.as_str().into(), BasicGetOptions { no_ack: true }))
    .await
    .unwrap()
    .expect("the reply");
    let sent = wire_baggage(&AmqpHeaders::new(&sent.delivery.properties));
    hop::assert_no_leak(one.context(), two.context(), sent);
    drop(in_first);
    one.ack(BasicAckOptions::default()).await.unwrap();
    two.ack(BasicAckOptions::default()).await.unwrap();
    hop::assert_first_hop(
        &rec,
        &format!("publish amq.default:{queue}"),
        &format!("process amq.default:{queue}:{queue}"),
    );
    assert_all_ended(&rec);
}

#[tokio::test]
async fn rabbitmq_starts_linked_traces_past_the_hop_limit_and_after_waiting() {
    let rec = SpanRecorder::new();
    let r = rabbit(&rec).await;
    let minute_ago = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 60;
    for (tag, reason) in [(hop::HOPS, "hop_count"), (hop::WAITS, "queue_time")] {
        let queue = r.queue(tag).await;
        let properties = BasicProperties::default()
            .with_headers(table(&hop::five_hops_in()))
            .with_timestamp(minute_ago);
        r.raw_publish(&queue, properties).await;
        let mut consumer = r.consumer(&queue, false).await;
        next(&mut consumer)
            .await
            .ack(BasicAckOptions::default())
            .await
            .unwrap();
        let span = rec.span(&format!("process amq.default:{queue}:{queue}"));
        hop::assert_new_linked_trace(&span, reason, hop::FIVE_HOPS_TRACE);
    }
}

#[tokio::test]
async fn rabbitmq_warns_once_about_an_uninstrumented_upstream() {
    let rec = SpanRecorder::new();
    let r = rabbit(&rec).await;
    let queue = r.queue("bare").await;
    for _ in 0..hop::UNINSTRUMENTED {
        r.raw_publish(&queue, BasicProperties::default()).await;
    }
    let mut consumer = r.consumer(&queue, true).await;
    let ((), warned) = Warnings::capture_async(async {
        for _ in 0..hop::UNINSTRUMENTED {
            next(&mut consumer)
                .await
                .into_parts()
                .1
                .end(tracewire::Outcome::Ok);
        }
    })
    .await;
    hop::assert_warned_once(&warned);
}
