//! `TraceMiddleware`: a CLIENT span per reqwest request, the context and `X-Correlation-Id`
//! injected.

use crate::attributes as attr;
use http::Extensions;
use opentelemetry::trace::{SpanBuilder, SpanKind};
use opentelemetry::{Context, KeyValue};
use reqwest_middleware::{Middleware, Next, Result};
use tracewire::tracer::AnyTracer;
use tracewire::{CorrelationContextExt, OpenSpan, Outcome, Propagator};

/// The reqwest-middleware [`Middleware`] for traced calls: add it to a
/// `reqwest_middleware::ClientBuilder`.
///
/// ```no_run
/// # async fn run() -> reqwest_middleware::Result<()> {
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(tracewire_http::TraceMiddleware::new())
///     .build();
/// client.get("http://127.0.0.1:8080/orders/7").send().await?; // span `GET`, one trace
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct TraceMiddleware {
    tracer: AnyTracer,
    propagator: Propagator,
}

crate::builder::tracer_and_propagator!(TraceMiddleware);

#[async_trait::async_trait]
impl Middleware for TraceMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<reqwest::Response> {
        let parent = Context::current().with_correlation_id_or_new();
        let method = req.method().as_str().to_owned();
        let url = req.url();
        let mut attributes = vec![
            KeyValue::new(attr::REQUEST_METHOD, method.clone()),
            KeyValue::new(attr::URL_FULL, url.to_string()),
        ];
        if let Some(host) = url.host_str() {
            attributes.push(KeyValue::new(attr::SERVER_ADDRESS, host.to_owned()));
        }
        if let Some(port) = url.port_or_known_default() {
            attributes.push(KeyValue::new(attr::SERVER_PORT, i64::from(port)));
        }
        let builder = SpanBuilder::from_name(method)
            .with_kind(SpanKind::Client)
            .with_attributes(attributes);
        let span = OpenSpan::new(self.tracer.start_in(builder, &parent)).nothing_to_settle();
        self.propagator.inject(span.context(), req.headers_mut());
        let result = next.run(req, extensions).await;
        let outcome = match &result {
            Ok(response) => {
                let status = response.status();
                span.set_attribute(KeyValue::new(
                    attr::RESPONSE_STATUS_CODE,
                    i64::from(status.as_u16()),
                ));
                // For a client, 4xx is an error too (the conventions' rule).
                match status.is_client_error() || status.is_server_error() {
                    true => Outcome::error(status.as_u16().to_string(), status.to_string()),
                    false => Outcome::Ok,
                }
            }
            Err(e) => Outcome::error("_OTHER", e.to_string()),
        };
        span.end(outcome);
        result
    }
}
