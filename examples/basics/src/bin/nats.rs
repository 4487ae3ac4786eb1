//! Core NATS publish/subscribe and a JetStream publish → pull consume: one trace each way.
//!
//! `cargo run -p tracewire-examples --bin nats` (nats-server -js on NATS_URL or 127.0.0.1:4222).

use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use opentelemetry::trace::{TraceContextExt, Tracer};
use opentelemetry::{global, Context};
use tracewire::task::TracedExt;
use tracewire::CorrelationContextExt;
use tracewire_examples::{describe, install_tracer};
use tracewire_nats::{TracedClient, TracedJetStream, TracedJsStream};

#[tokio::main]
async fn main() -> Result<(), async_nats::Error> {
    let provider = install_tracer();
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "127.0.0.1:4222".into());
    let nats = TracedClient::new(async_nats::connect(url).await?);

    let cx = Context::new()
        .with_span(global::tracer("example").start("checkout"))
        .with_correlation_id_or_new();
    println!("producer   {}", describe(&cx));

    // Core NATS.
    let mut sub = nats.subscribe("example.orders").await?;
    nats.publish("example.orders", "order-1".into())
        .traced_in(cx.clone())
        .await?;
    if let Some(message) = sub.next().await {
        println!("core       {}", describe(message.context()));
    }

    // JetStream: the publish span ends on the PublishAck.
    let js = TracedJetStream::new(jetstream::new(nats.inner().clone()));
    let stream = js
        .inner()
        .get_or_create_stream(stream::Config {
            name: "EXAMPLE".into(),
            subjects: vec!["example.js.>".into()],
            ..Default::default()
        })
        .await?;
    let ack = js
        .publish("example.js.orders", "order-1".into())
        .traced_in(cx.clone())
        .await?
        .await?;
    println!("ack        stream={} sequence={}", ack.stream, ack.sequence);
    let pull = stream
        .get_or_create_consumer(
            "example",
            consumer::pull::Config {
                durable_name: Some("example".into()),
                ..Default::default()
            },
        )
        .await?;
    let mut messages = TracedJsStream::new(pull.messages().await?);
    if let Some(message) = messages.next().await {
        let message = message?;
        println!("jetstream  {}", describe(message.context()));
        message.ack().await?;
    }
    cx.span().end();
    js.inner().delete_stream("EXAMPLE").await?;
    provider.shutdown()?;
    Ok(())
}
