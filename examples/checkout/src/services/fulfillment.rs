//! fulfillment: consumes NATS JetStream `fulfillment.requested`, ships the order, and hands the
//! customer email to the notifications service as a background job.

use super::{Done, Progress};
use crate::telemetry::ServiceTelemetry;
use futures_util::StreamExt;
use std::time::Duration;
use tracewire::task::Job;
use tracewire_nats::TracedJsStream;
use tracing::instrument::WithSubscriber;

/// Runs until the stream ends.
pub async fn run<S, E>(
    tel: &ServiceTelemetry,
    notifications: &ServiceTelemetry,
    mut messages: TracedJsStream<S>,
    progress: Progress,
) -> Result<(), String>
where
    S: futures_util::Stream<Item = Result<async_nats::jetstream::Message, E>> + Unpin,
    E: std::fmt::Display,
{
    while let Some(message) = messages.next().await {
        let message = message.map_err(|e| e.to_string())?;
        let order = super::order_id(&message.message().payload);
        let ship = async {
            tracing::info!(order_id = %order, "shipping");
            tokio::time::sleep(Duration::from_millis(4)).await;
        };
        message
            .in_context(ship)
            .with_subscriber(tel.dispatch.clone())
            .await;
        // The email goes out in the background, as the notifications service.
        let email = Job::new("send-email")
            .tracer(notifications.tracer())
            .instrument_in(message.context(), async {
                tokio::time::sleep(Duration::from_millis(3)).await;
                tracing::info!("order confirmation emailed");
                Ok::<_, String>(())
            });
        let _ = tracewire::task::spawn(email.with_subscriber(notifications.dispatch.clone())).await;
        let cx = message.context().clone();
        message.ack().await.map_err(|e| e.to_string())?;
        let _ = progress.send(Done::Fulfilled { order, cx });
    }
    Ok(())
}
