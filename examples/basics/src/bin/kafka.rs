//! Produce to Kafka and consume: one trace across the topic.
//!
//! `cargo run -p tracewire-examples --bin kafka` (a Kafka-protocol broker on KAFKA_BROKERS or
//! 127.0.0.1:9092; `scripts/brokers.sh kafka` starts one).

use futures_util::StreamExt;
use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry::{global, Context};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::ClientConfig;
use std::time::Duration;
use tracewire::task::TracedExt;
use tracewire::CorrelationContextExt;
use tracewire_examples::{describe, install_tracer};
use tracewire_kafka::{TracedConsumer, TracedProducer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let provider = install_tracer();
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &brokers);

    // Topics are not auto-created on every broker: create ours (an existing one is fine).
    let admin: AdminClient<DefaultClientContext> = config.create()?;
    let topic = NewTopic::new("tracewire-example", 1, TopicReplication::Fixed(1));
    admin.create_topics(&[topic], &AdminOptions::new()).await?;

    let producer = TracedProducer::from_config(&config)?;
    let cx = Context::new()
        .with_span(global::tracer("example").start("checkout"))
        .with_correlation_id_or_new();
    println!("producer  {}", describe(&cx));
    let record = FutureRecord::to("tracewire-example")
        .key("order-1")
        .payload("{}");
    let delivery = producer
        .send(record, Duration::from_secs(5))
        .traced_in(cx.clone())
        .await
        .map_err(|(e, _)| e)?;
    println!(
        "delivery  partition={} offset={}",
        delivery.partition, delivery.offset
    );
    cx.span().end();

    let consumer = TracedConsumer::from_config(
        config
            .clone()
            .set("group.id", "tracewire-example")
            .set("auto.offset.reset", "earliest"),
    )?;
    consumer.inner().subscribe(&["tracewire-example"])?;
    let mut messages = consumer.stream(); // rdkafka's `consumer.stream()`, traced
    while let Some(message) = messages.next().await {
        let message = message?;
        let mine = message.context().correlation_id() == cx.correlation_id();
        if mine {
            message
                .in_context(async { println!("consumer  {}", describe(&Context::current())) })
                .await;
        }
        message.commit(CommitMode::Sync)?;
        if mine {
            break;
        }
    }
    provider.shutdown()?;
    Ok(())
}
