//! Publish to RabbitMQ and consume: one trace across the queue.
//!
//! `cargo run -p tracewire-examples --bin rabbitmq` (RabbitMQ on AMQP_URL or 127.0.0.1:5672).

use futures_util::StreamExt;
use lapin::{options::*, types::FieldTable, BasicProperties, Connection, ConnectionProperties};
use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry::{global, Context};
use tracewire::task::TracedExt;
use tracewire::CorrelationContextExt;
use tracewire_amqp::{TracedChannel, TracedConsumer};
use tracewire_examples::{describe, install_tracer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let provider = install_tracer();
    let url = std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://127.0.0.1:5672/%2f".into());
    let conn = Connection::connect(&url, ConnectionProperties::default()).await?;
    let channel = TracedChannel::new(conn.create_channel().await?);
    channel
        .inner()
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let queue = "tracewire-example";
    channel
        .inner()
        .queue_declare(
            queue.into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await?;

    // The producer: a request span, and a publish inside it.
    let request = global::tracer("example").start("checkout");
    let cx = Context::new()
        .with_span(request)
        .with_correlation_id_or_new();
    println!("producer  {}", describe(&cx));
    let props = BasicProperties::default();
    let confirm = channel
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions::default(),
            b"order-1",
            props,
        )
        .traced_in(cx.clone())
        .await?;
    println!("confirm   {:?}", confirm.await?);
    cx.span().end();

    // The consumer: the delivery's span continues the producer's trace.
    let consumer = channel
        .inner()
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut deliveries = TracedConsumer::new(consumer);
    if let Some(delivery) = deliveries.next().await {
        let delivery = delivery?;
        delivery
            .in_context(async { println!("consumer  {}", describe(&Context::current())) })
            .await;
        delivery.ack(BasicAckOptions::default()).await?;
    }
    provider.shutdown()?;
    Ok(())
}
