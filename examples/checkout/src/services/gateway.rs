//! api-gateway: `POST /checkout` over HTTP. Honours an incoming `traceparent` and
//! `X-Correlation-Id`, answers with the trace id and correlation id, and sends the order to
//! Kafka `orders`.

use crate::telemetry::ServiceTelemetry;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::KeyValue;
use rdkafka::producer::FutureRecord;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracewire::task::TracedExt;
use tracewire::{CorrelationContextExt, Propagator};
use tracewire_kafka::TracedProducer;
use tracing::instrument::WithSubscriber;

struct Gateway {
    producer: TracedProducer,
    tracer: BoxedTracer,
    propagator: Propagator,
    dispatch: tracing::Dispatch,
    topic: String,
    next: AtomicU64,
}

/// The HTTP app.
pub fn app(tel: &ServiceTelemetry, producer: TracedProducer, topic: String) -> Router {
    let state = Arc::new(Gateway {
        producer,
        tracer: tel.tracer(),
        propagator: Propagator::new(),
        dispatch: tel.dispatch.clone(),
        topic,
        next: AtomicU64::new(1),
    });
    Router::new()
        .route("/checkout", post(checkout))
        .with_state(state)
}

async fn checkout(
    State(g): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    // The caller's traceparent and X-Correlation-Id, if any (a browser, an edge proxy…).
    let incoming = g.propagator.extract(&headers).context;
    let order = format!(
        "order-{}-{}",
        std::process::id(),
        g.next.fetch_add(1, Ordering::Relaxed)
    );
    let span = g.tracer.build_with_context(
        SpanBuilder::from_name("POST /checkout")
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("http.request.method", "POST"),
                KeyValue::new("url.path", "/checkout"),
                KeyValue::new("app.order_id", order.clone()),
            ]),
        &incoming,
    );
    let cx = incoming.with_span(span);
    let work = async {
        tracing::info!(order_id = %order, "checkout received");
        let payload = serde_json::json!({ "order_id": order, "items": body.len() }).to_string();
        let record = FutureRecord::to(&g.topic).key(&order).payload(&payload);
        g.producer.send(record, Duration::from_secs(10)).await
    };
    let sent = work
        .traced_in(cx.clone())
        .with_subscriber(g.dispatch.clone())
        .await;
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
    cx.span().set_attribute(KeyValue::new(
        "http.response.status_code",
        i64::from(status.as_u16()),
    ));
    cx.span().end();
    let body = serde_json::json!({ "order_id": order, "status": state, "trace_id": trace_id, "correlation_id": correlation_id });
    (status, body.to_string())
}
