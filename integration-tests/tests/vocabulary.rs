//! One vocabulary (docs/api.md): per broker, a send, a receive, a settle and the unwrapping,
//! against the real broker, using only the names of the table — `with_messaging`, `inner`,
//! `inner_mut`, `into_inner`, `messaging`, `context`, `in_context`, `into_parts`, the client's
//! own settle names, consumers as `Stream`s, and each crate's `SYSTEM` / `builder()`.

use futures_util::StreamExt;
use integration_tests::{amqp_url, kafka_brokers, nats_url, unique};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use tracewire::messaging::attributes as a;
use tracewire::task::TracedExt;
use tracewire::testing::{attribute_str, SpanRecorder};
use tracewire::{CorrelationContextExt, Outcome};

/// What every crate's test checks at the end: the send span and both process spans ended, the
/// settled one by its settle call, the unwrapped one by its owner, in one trace with the sender.
fn assert_one_trace(rec: &SpanRecorder, system: &str, send: &str, process: &str) {
    let spans = rec.spans();
    let sent: Vec<_> = spans.iter().filter(|s| s.name == send).collect();
    let processed: Vec<_> = spans.iter().filter(|s| s.name == process).collect();
    assert_eq!(
        (sent.len(), processed.len()),
        (2, 2),
        "{system}: {spans:#?}"
    );
    for (p, s) in processed.iter().zip(&sent) {
        assert_eq!(p.parent_span_id, s.span_context.span_id(), "{system}");
        assert_eq!(attribute_str(p, a::SYSTEM).as_deref(), Some(system));
        assert_eq!(
            attribute_str(p, a::SETTLED),
            None,
            "{system}: ended, not dropped"
        );
    }
}

/// A stream's next item, or a failed test after 30 s (never a hung CI run).
async fn within<T>(next: impl std::future::Future<Output = T>) -> T {
    let limit = std::time::Duration::from_secs(30);
    tokio::time::timeout(limit, next)
        .await
        .expect("the broker delivers within 30 s")
}

fn correlated() -> Context {
    Context::new().with_correlation_id_or_new()
}

#[tokio::test]
async fn kafka_speaks_the_table() {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::consumer::{CommitMode, Consumer};
    use rdkafka::producer::{FutureRecord, Producer};
    use rdkafka::ClientConfig;
    use tracewire_kafka::{TracedConsumer, TracedProducer};

    let rec = SpanRecorder::new();
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", kafka_brokers());
    let topic = unique("tw-vocab");
    let admin: AdminClient<_> = config.create().unwrap();
    let new = NewTopic::new(&topic, 1, TopicReplication::Fixed(1));
    for r in admin
        .create_topics(&[new], &AdminOptions::new())
        .await
        .unwrap()
    {
        r.unwrap();
    }
    let messaging = tracewire_kafka::builder().tracer(rec.tracer()).build();
    assert_eq!(messaging.system(), tracewire_kafka::SYSTEM);
    let producer = TracedProducer::with_messaging(config.create().unwrap(), messaging.clone());
    for key in ["a", "b"] {
        let record = FutureRecord::to(&topic).key(key).payload("{}");
        let sent = producer.send(record, std::time::Duration::from_secs(10));
        sent.traced_in(correlated()).await.unwrap();
    }
    producer
        .inner()
        .flush(std::time::Duration::from_secs(5))
        .unwrap();

    config
        .set("group.id", unique("tw-vocab"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    let consumer = TracedConsumer::with_messaging(config.create().unwrap(), messaging).group("g");
    consumer.inner().subscribe(&[&topic]).unwrap();
    let mut stream = consumer.stream();
    let first = within(stream.next()).await.unwrap().unwrap();

    assert_eq!(stream.messaging().system(), tracewire_kafka::SYSTEM);
    let id = first.in_context(async { Context::current().correlation_id().copied() });
    assert_eq!(id.await.as_ref(), first.context().correlation_id());
    assert_eq!(rdkafka::Message::key(first.message()), Some(&b"a"[..]));
    first.commit(CommitMode::Sync).unwrap();
    let second = within(stream.next()).await.unwrap().unwrap();
    let (message, span) = second.into_parts();
    assert_eq!(rdkafka::Message::key(&message), Some(&b"b"[..]));
    span.end(Outcome::Ok);
    // librdkafka's consumer waits, when closed, for every message it handed out to be freed.
    drop((message, stream));
    let _consumer: rdkafka::consumer::StreamConsumer = consumer.into_inner();
    let _producer: rdkafka::producer::FutureProducer = producer.into_inner();
    let topic = topic.as_str();
    assert_one_trace(
        &rec,
        "kafka",
        &format!("send {topic}"),
        &format!("process {topic}"),
    );
}

#[tokio::test]
async fn rabbitmq_speaks_the_table() {
    use lapin::options::*;
    use lapin::types::FieldTable;
    use lapin::{BasicProperties, Connection, ConnectionProperties};
    use tracewire_amqp::{TracedChannel, TracedConsumer};

    let rec = SpanRecorder::new();
    let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let messaging = tracewire_amqp::builder().tracer(rec.tracer()).build();
    assert_eq!(messaging.system(), tracewire_amqp::SYSTEM);
    let channel = TracedChannel::with_messaging(conn.create_channel().await.unwrap(), messaging);
    let queue = unique("tw-vocab");
    let options = QueueDeclareOptions {
        auto_delete: true,
        ..Default::default()
    };
    let raw = channel.inner();
    raw.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    raw.queue_declare(queue.as_str().into(), options, FieldTable::default())
        .await
        .unwrap();
    for _ in 0..2 {
        let publish = channel.basic_publish(
            "".into(),
            queue.as_str().into(),
            BasicPublishOptions::default(),
            b"{}",
            BasicProperties::default(),
        );
        let confirm = publish.traced_in(correlated()).await.unwrap();
        assert!(confirm.await.unwrap().is_ack());
    }
    let consume = raw.basic_consume(
        queue.as_str().into(),
        "".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    );
    let mut consumer =
        TracedConsumer::with_messaging(consume.await.unwrap(), channel.messaging().clone());
    assert_eq!(consumer.inner().queue().as_str(), queue);
    let first = within(consumer.next()).await.unwrap().unwrap();
    let id = first.in_context(async { Context::current().correlation_id().copied() });
    assert_eq!(id.await.as_ref(), first.context().correlation_id());
    assert_eq!(first.message().data, b"{}");
    first.ack(BasicAckOptions::default()).await.unwrap();
    let second = within(consumer.next()).await.unwrap().unwrap();
    let (delivery, span) = second.into_parts();
    delivery
        .acker
        .ack(BasicAckOptions::default())
        .await
        .unwrap();
    span.end(Outcome::Ok);
    let _consumer: lapin::Consumer = consumer.into_inner();
    let _channel: lapin::Channel = channel.into_inner();
    let destination = format!("amq.default:{queue}");
    let process = format!("process {destination}:{queue}");
    assert_one_trace(
        &rec,
        "rabbitmq",
        &format!("publish {destination}"),
        &process,
    );
}

#[tokio::test]
async fn nats_speaks_the_table() {
    use async_nats::jetstream::{self, consumer, stream};
    use tracewire_nats::{TracedClient, TracedJetStream, TracedJsStream};

    let rec = SpanRecorder::new();
    let messaging = tracewire_nats::builder().tracer(rec.tracer()).build();
    assert_eq!(messaging.system(), tracewire_nats::SYSTEM);
    let client =
        TracedClient::with_messaging(async_nats::connect(nats_url()).await.unwrap(), messaging);

    // Core NATS: a subscriber is a Stream of traced messages.
    let subject = unique("tw.vocab");
    let mut subscriber = client.subscribe(subject.clone()).await.unwrap();
    client.inner().flush().await.unwrap();
    client
        .publish(subject.clone(), "{}".into())
        .traced_in(correlated())
        .await
        .unwrap();
    let message = within(subscriber.next()).await.unwrap();
    assert_eq!(message.message().subject.as_str(), subject);
    assert!(message.context().span().span_context().is_valid());
    message.finish(Outcome::Ok);
    subscriber.inner_mut().unsubscribe().await.unwrap();

    // JetStream: the same names.
    let js = TracedJetStream::with_messaging(
        jetstream::new(client.inner().clone()),
        client.messaging().clone(),
    );
    let name = unique("TWV").replace(['-', '.'], "_");
    let subject = format!("{name}.orders");
    let stream = js
        .inner()
        .create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![format!("{name}.>")],
            ..Default::default()
        })
        .await
        .unwrap();
    for _ in 0..2 {
        let ack = js
            .publish(subject.clone(), "{}".into())
            .traced_in(correlated());
        ack.await.unwrap().await.unwrap();
    }
    let pull: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config::default())
        .await
        .unwrap();
    let mut messages =
        TracedJsStream::with_messaging(pull.messages().await.unwrap(), js.messaging().clone());
    let first = within(messages.next()).await.unwrap().unwrap();
    let id = first.in_context(async { Context::current().correlation_id().copied() });
    assert_eq!(id.await.as_ref(), first.context().correlation_id());
    first.ack().await.unwrap();
    let second = within(messages.next()).await.unwrap().unwrap();
    let (message, span) = second.into_parts();
    message.ack().await.unwrap();
    span.end(Outcome::Ok);
    drop(messages);
    let js: jetstream::Context = js.into_inner();
    js.delete_stream(&name).await.unwrap();
    let _client: async_nats::Client = client.into_inner();
    assert_one_trace(
        &rec,
        "nats",
        &format!("publish {subject}"),
        &format!("process {subject}"),
    );
}
