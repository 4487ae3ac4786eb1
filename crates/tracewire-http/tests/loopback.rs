//! A real axum server behind `TraceLayer` and a real reqwest client with `TraceMiddleware`,
//! over loopback: one trace across the hop, the HTTP conventions on both spans, the
//! correlation id kept (or made on the first hop) and returned.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::Context;
use tracewire::testing::{attribute_str, SpanRecorder};
use tracewire::{CorrelationContextExt, CorrelationId};
use tracewire_http::{TraceLayer, TraceMiddleware};

async fn serve(rec: &SpanRecorder) -> String {
    let app = Router::new()
        .route(
            "/orders/{id}",
            get(|Path(id): Path<u32>| async move {
                // The handler runs in the SERVER span's context.
                let cx = Context::current();
                format!("{id} {}", cx.correlation_id().unwrap())
            }),
        )
        .route(
            "/broken",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .layer(TraceLayer::new().tracer(rec.provider().tracer("server")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn client(rec: &SpanRecorder) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::new().tracer(rec.provider().tracer("client")))
        .build()
}

#[tokio::test]
async fn one_trace_across_the_http_hop_with_the_correlation_id() {
    let rec = SpanRecorder::new();
    let base = serve(&rec).await;
    let root = rec.provider().tracer("test").start("checkout");
    let id = CorrelationId::parse(b"order-7f3a").unwrap();
    let cx = Context::new().with_span(root).with_correlation_id(id);
    let send = client(&rec).get(format!("{base}/orders/7")).send();
    let response = tracewire::task::TracedExt::traced_in(send, cx.clone())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-correlation-id"],
        "order-7f3a",
        "the id goes back to the caller"
    );
    assert_eq!(
        response.text().await.unwrap(),
        "7 order-7f3a",
        "the handler saw it"
    );

    let server = rec.span("GET /orders/{id}");
    let client_span = rec.span("GET");
    assert_eq!(server.span_kind, SpanKind::Server);
    assert_eq!(client_span.span_kind, SpanKind::Client);
    assert_eq!(server.parent_span_id, client_span.span_context.span_id());
    assert_eq!(
        client_span.parent_span_id,
        cx.span().span_context().span_id()
    );
    assert_eq!(
        server.span_context.trace_id(),
        cx.span().span_context().trace_id()
    );
    for (key, value) in [
        ("http.request.method", "GET"),
        ("http.route", "/orders/{id}"),
        ("url.path", "/orders/7"),
        ("http.response.status_code", "200"),
        ("messaging.message.conversation_id", "order-7f3a"),
    ] {
        assert_eq!(attribute_str(&server, key).as_deref(), Some(value), "{key}");
    }
    assert_eq!(
        attribute_str(&client_span, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        attribute_str(&client_span, "url.full").as_deref(),
        Some(format!("{base}/orders/7").as_str())
    );
}

#[tokio::test]
async fn a_first_hop_gets_a_correlation_id_and_a_5xx_is_an_error() {
    let rec = SpanRecorder::new();
    let base = serve(&rec).await;
    // A plain client: no traceparent, no X-Correlation-Id.
    let response = reqwest::get(format!("{base}/broken")).await.unwrap();
    assert_eq!(response.status(), 500);
    let id = response.headers()["x-correlation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a fresh id for the first hop: {id}");
    let server = rec.span("GET /broken");
    assert_eq!(
        server.parent_span_id,
        opentelemetry::trace::SpanId::INVALID,
        "a new trace"
    );
    assert_eq!(attribute_str(&server, "error.type").as_deref(), Some("500"));
    assert_eq!(
        attribute_str(&server, "messaging.message.conversation_id"),
        Some(id)
    );
}
