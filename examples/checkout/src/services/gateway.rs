//! api-gateway: `POST /checkout` over HTTP. Honours an incoming `traceparent` and
//! `X-Correlation-Id`, answers with the trace id and correlation id, and sends the order to
//! Kafka `orders`.

use crate::telemetry::ServiceTelemetry;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use rdkafka::producer::FutureRecord;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracewire::CorrelationContextExt;
use tracewire_http::TraceLayer;
use tracewire_kafka::TracedProducer;
use tracing::instrument::WithSubscriber;

struct Gateway {
    producer: TracedProducer,
    dispatch: tracing::Dispatch,
    topic: String,
    next: AtomicU64,
}

/// The HTTP app.
pub fn app(tel: &ServiceTelemetry, producer: TracedProducer, topic: String) -> Router {
    let state = Arc::new(Gateway {
        producer,
        dispatch: tel.dispatch.clone(),
        topic,
        next: AtomicU64::new(1),
    });
    // The SERVER span `POST /checkout`: the caller's traceparent and X-Correlation-Id honoured,
    // the correlation id returned, the context current in the handler.
    Router::new()
        .route("/checkout", post(checkout))
        .with_state(state)
        .layer(TraceLayer::new().tracer(tel.tracer()))
}

async fn checkout(State(g): State<Arc<Gateway>>, body: String) -> (StatusCode, String) {
    let cx = Context::current(); // the SERVER span TraceLayer started
    let order = format!(
        "order-{}-{}",
        std::process::id(),
        g.next.fetch_add(1, Ordering::Relaxed)
    );
    cx.span()
        .set_attribute(KeyValue::new("app.order_id", order.clone()));
    let work = async {
        tracing::info!(order_id = %order, "checkout received");
        let payload = serde_json::json!({ "order_id": order, "items": body.len() }).to_string();
        let record = FutureRecord::to(&g.topic).key(&order).payload(&payload);
        g.producer.send(record, Duration::from_secs(10)).await
    };
    let sent = work.with_subscriber(g.dispatch.clone()).await;
    let trace_id = cx.span().span_context().trace_id().to_string();
    let correlation_id = cx
        .correlation_id()
        .map(|c| c.to_string())
        .unwrap_or_default();
    let (status, state) = match sent {
        Ok(_) => (StatusCode::ACCEPTED, "accepted"),
        Err((e, _)) => {
            cx.span().set_status(Status::error(e.to_string()));
            (StatusCode::SERVICE_UNAVAILABLE, "kafka unavailable")
        }
    };
    let body = serde_json::json!({ "order_id": order, "status": state, "trace_id": trace_id, "correlation_id": correlation_id });
    (status, body.to_string())
}
