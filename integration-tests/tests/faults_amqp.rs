//! A RabbitMQ restart (`rabbitmqctl stop_app` / `start_app`) in the middle of 1,000 confirmed
//! publishes: no confirmed message is lost, and every consumed message carries its producer's
//! trace. Alone in its test binary, so no other test sees the restart.

use futures_util::StreamExt;
use integration_tests::{amqp_url, unique};
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties};
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry::Context;
use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;
use tracewire::messaging::Messaging;
use tracewire::task::TracedExt;
use tracewire::testing::SpanRecorder;
use tracewire_amqp::{TracedChannel, TracedConsumer, SYSTEM};

const MESSAGES: usize = 1_000;
const RESTART_AT: usize = 200;

async fn channel(messaging: &Messaging, queue: &str) -> (Connection, TracedChannel) {
    for _ in 0..120 {
        if let Ok(conn) = Connection::connect(&amqp_url(), ConnectionProperties::default()).await {
            let ch = conn.create_channel().await.unwrap();
            ch.confirm_select(ConfirmSelectOptions::default())
                .await
                .unwrap();
            let durable = QueueDeclareOptions {
                durable: true,
                ..Default::default()
            };
            ch.queue_declare(queue.into(), durable, FieldTable::default())
                .await
                .unwrap();
            return (conn, TracedChannel::with_messaging(ch, messaging.clone()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("RabbitMQ did not come back");
}

fn rabbitmqctl(command: &str) {
    let ok = Command::new("rabbitmqctl")
        .arg(command)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "rabbitmqctl {command}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_loses_no_confirmed_message_and_no_trace() {
    let rec = SpanRecorder::new();
    let messaging = Messaging::builder(SYSTEM).tracer(rec.tracer()).build();
    let queue = unique("tw-restart");
    let (mut conn, mut ch) = channel(&messaging, &queue).await;
    let tracer = rec.provider().tracer("producer");
    let mut trace_of: HashMap<String, String> = HashMap::new();
    let mut reconnects = 0;
    for i in 0..MESSAGES {
        if i == RESTART_AT {
            rabbitmqctl("stop_app");
            rabbitmqctl("start_app");
        }
        let id = format!("m-{i}");
        let cx = Context::new().with_span(tracer.start(format!("order {i}")));
        trace_of.insert(id.clone(), cx.span().span_context().trace_id().to_string());
        // The application republishes until the broker confirms; tracewire never retries.
        loop {
            let props = BasicProperties::default()
                .with_delivery_mode(2)
                .with_message_id(id.as_str().into());
            let published = async {
                ch.basic_publish(
                    "".into(),
                    queue.as_str().into(),
                    BasicPublishOptions::default(),
                    id.as_bytes(),
                    props,
                )
                .await?
                .await
            };
            match published.traced_in(cx.clone()).await {
                Ok(Confirmation::Ack(None)) => break,
                _ => {
                    reconnects += 1;
                    assert!(reconnects < 20, "too many reconnects");
                    (conn, ch) = channel(&messaging, &queue).await;
                }
            }
        }
    }
    let consumer = ch
        .inner()
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut deliveries = TracedConsumer::with_messaging(consumer, messaging);
    let mut seen: HashMap<String, String> = HashMap::new();
    while seen.len() < MESSAGES {
        let d = tokio::time::timeout(Duration::from_secs(10), deliveries.next())
            .await
            .expect("all messages arrive")
            .unwrap()
            .unwrap();
        let id = String::from_utf8_lossy(d.data()).into_owned();
        seen.insert(id, d.context().span().span_context().trace_id().to_string());
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    for (id, trace) in &seen {
        assert_eq!(trace, &trace_of[id], "{id} carries its producer's trace");
    }
    ch.inner()
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    drop(conn);
    println!("restart at {RESTART_AT}: {reconnects} reconnect(s) by the application, 0 of {MESSAGES} lost");
}
