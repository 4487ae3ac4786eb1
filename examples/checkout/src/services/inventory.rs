//! inventory: consumes Kafka `orders`, reserves stock, publishes the payment request to RabbitMQ
//! `payments` (publisher confirms on), commits the offset.

use crate::telemetry::ServiceTelemetry;
use lapin::options::BasicPublishOptions;
use lapin::BasicProperties;
use rdkafka::consumer::CommitMode;
use rdkafka::Message;
use std::time::Duration;
use tracewire_amqp::TracedChannel;
use tracewire_kafka::TracedConsumer;
use tracing::instrument::WithSubscriber;

/// Runs until the consumer fails.
pub async fn run(
    tel: &ServiceTelemetry,
    consumer: TracedConsumer,
    channel: TracedChannel,
    queue: String,
) -> Result<(), String> {
    loop {
        let message = consumer.recv().await.map_err(|e| e.to_string())?;
        let body = message.message().payload().unwrap_or_default().to_vec();
        let order = super::order_id(&body);
        let work = async {
            tracing::info!(order_id = %order, "reserving stock");
            tokio::time::sleep(Duration::from_millis(4)).await;
            let confirm = channel
                .basic_publish(
                    "".into(),
                    queue.as_str().into(),
                    BasicPublishOptions::default(),
                    &body,
                    BasicProperties::default(),
                )
                .await?;
            let confirmation = confirm.await?;
            tracing::info!(order_id = %order, ?confirmation, "payment requested");
            Ok::<_, lapin::Error>(())
        };
        if let Err(e) = message
            .in_context(work)
            .with_subscriber(tel.dispatch.clone())
            .await
        {
            tracing::dispatcher::with_default(
                &tel.dispatch,
                || tracing::error!(error = %e, "could not request payment"),
            );
        }
        message
            .commit(CommitMode::Async)
            .map_err(|e| e.to_string())?;
    }
}
