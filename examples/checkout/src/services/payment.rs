//! payment: consumes RabbitMQ `payments`, charges the card (retrying timeouts), writes the
//! receipt in a background job, asks for fulfillment on NATS JetStream, acks.

use super::{Done, Progress};
use crate::telemetry::ServiceTelemetry;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use opentelemetry::trace::{Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use std::time::Duration;
use tracewire::task::{Job, TracedExt};
use tracewire_amqp::TracedConsumer;
use tracewire_nats::TracedJetStream;
use tracing::instrument::WithSubscriber;

/// How the charge behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// The bank answers.
    Works,
    /// Every attempt times out (`--fail payment-timeout`).
    TimesOut,
}

/// Runs until the consumer ends.
pub async fn run(
    tel: &ServiceTelemetry,
    mut deliveries: TracedConsumer,
    js: TracedJetStream,
    subject: String,
    charge: Charge,
    progress: Progress,
) -> Result<(), String> {
    let tracer = tel.tracer();
    while let Some(delivery) = deliveries.next().await {
        let delivery = delivery.map_err(|e| e.to_string())?;
        let order = super::order_id(delivery.data());
        let body = bytes::Bytes::copy_from_slice(delivery.data());
        let charged = delivery
            .in_context(charge_card(&tracer, &order, charge))
            .with_subscriber(tel.dispatch.clone())
            .await;
        if !charged {
            delivery
                .nack(BasicNackOptions {
                    requeue: false,
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?;
            let _ = progress.send(Done::PaymentFailed { order });
            continue;
        }
        let receipt = Job::new("write-receipt")
            .tracer(tel.tracer())
            .instrument_in(delivery.context(), async {
                tokio::time::sleep(Duration::from_millis(3)).await;
                tracing::info!("receipt written");
                Ok::<_, String>(())
            });
        let publish = async {
            let ack = js.publish(subject.clone(), body).await?.await?;
            tracing::info!(stream = %ack.stream, sequence = ack.sequence, "fulfillment requested");
            Ok::<_, async_nats::Error>(())
        };
        let (receipt, published) = tokio::join!(
            tracewire::task::spawn(receipt.with_subscriber(tel.dispatch.clone())),
            publish
                .traced_in(delivery.context().clone())
                .with_subscriber(tel.dispatch.clone())
        );
        if let Err(e) = receipt {
            tracing::dispatcher::with_default(
                &tel.dispatch,
                || tracing::error!(error = %e, "receipt job failed"),
            );
        }
        published.map_err(|e| e.to_string())?;
        delivery
            .ack(BasicAckOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let _ = progress.send(Done::HandedToFulfillment { order });
    }
    Ok(())
}

/// Charges with up to three attempts, each its own span; `false` when they all time out.
async fn charge_card(
    tracer: &opentelemetry::global::BoxedTracer,
    order: &str,
    charge: Charge,
) -> bool {
    for attempt in 1..=3 {
        let span = tracer.start_with_context("charge card", &Context::current());
        let cx = Context::current().with_span(span);
        cx.span()
            .set_attribute(KeyValue::new("app.payment.attempt", attempt));
        let ok = async {
            tokio::time::sleep(Duration::from_millis(if charge == Charge::TimesOut {
                8
            } else {
                5
            }))
            .await;
            charge == Charge::Works
        }
        .traced_in(cx.clone())
        .await;
        if ok {
            tracing::info!(order_id = %order, attempt, "card charged");
            cx.span().end();
            return true;
        }
        tracing::warn!(order_id = %order, attempt, "the bank did not answer in time");
        cx.span()
            .set_attribute(KeyValue::new("error.type", "timeout"));
        cx.span()
            .set_status(Status::error("bank gateway timed out"));
        cx.span().end();
    }
    tracing::error!(order_id = %order, "payment failed after 3 attempts");
    false
}
