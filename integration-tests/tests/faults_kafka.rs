//! A Kafka broker going down and coming back in the middle of 1,000 sends (librdkafka's
//! in-process mock cluster, which can take a broker down and up): every message whose delivery
//! was confirmed is consumed, each with its producer's trace.

use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry::Context;
use rdkafka::consumer::Consumer;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message};
use std::collections::HashMap;
use std::time::Duration;
use tracewire::testing::SpanRecorder;
use tracewire_kafka::{TracedConsumer, TracedProducer};

const MESSAGES: usize = 1_000;
const DOWN_AT: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_loses_no_confirmed_message_and_no_trace() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("orders", 1, 1).unwrap();
    let servers = cluster.bootstrap_servers();
    let rec = SpanRecorder::new();
    let messaging = || tracewire_kafka::builder().tracer(rec.tracer()).build();
    let inner: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &servers)
        .set("message.timeout.ms", "30000")
        .create()
        .unwrap();
    let producer = TracedProducer::with_messaging(inner, messaging());
    let tracer = rec.provider().tracer("producer");
    let mut trace_of: HashMap<String, String> = HashMap::new();
    let mut in_flight = Vec::new();
    for i in 0..MESSAGES {
        if i == DOWN_AT {
            cluster.broker_down(1).unwrap();
        }
        if i == DOWN_AT + 100 {
            cluster.broker_up(1).unwrap();
        }
        let id = format!("m-{i}");
        let cx = Context::new().with_span(tracer.start(format!("order {i}")));
        trace_of.insert(id.clone(), cx.span().span_context().trace_id().to_string());
        let record = FutureRecord::<str, str>::to("orders").key(&id).payload(&id);
        let delivery = {
            let _attached = cx.clone().attach();
            producer.send_result(record).map_err(|(e, _)| e).unwrap()
        };
        in_flight.push(delivery);
    }
    let mut confirmed = 0;
    for d in in_flight {
        if let Ok(Ok(_)) = d.await {
            confirmed += 1;
        }
    }
    assert_eq!(
        confirmed, MESSAGES,
        "librdkafka delivered everything once the broker was back"
    );

    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &servers)
        .set("group.id", "check")
        .set("auto.offset.reset", "earliest");
    let consumer = TracedConsumer::from_config_with(&config, messaging()).unwrap();
    consumer.inner().subscribe(&["orders"]).unwrap();
    let mut seen: HashMap<String, String> = HashMap::new();
    while seen.len() < MESSAGES {
        let m = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("all messages arrive")
            .unwrap();
        let id = String::from_utf8_lossy(m.message().payload().unwrap()).into_owned();
        seen.insert(id, m.context().span().span_context().trace_id().to_string());
        m.finish(tracewire::Outcome::Ok);
    }
    for (id, trace) in &seen {
        assert_eq!(trace, &trace_of[id], "{id} carries its producer's trace");
    }
}
