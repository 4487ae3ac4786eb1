//! `ResponseFuture`: ends the SERVER span with the response, returns the correlation id.

use crate::attributes::RESPONSE_STATUS_CODE;
use http::{HeaderName, HeaderValue, Response};
use opentelemetry::KeyValue;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use tracewire::header::HTTP_CORRELATION_HEADER;
use tracewire::{CorrelationContextExt, OpenSpan, Outcome, Traced};

pin_project_lite::pin_project! {
    /// The wrapped service's future, run in the request's context; when it resolves the span
    /// ends with the status (`error.type` on 5xx) and the response carries `X-Correlation-Id`.
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Traced<F>,
        span: Option<OpenSpan>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: Traced<F>, span: OpenSpan) -> Self {
        ResponseFuture {
            inner,
            span: Some(span),
        }
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut result = std::task::ready!(this.inner.poll(task));
        if let Some(span) = this.span.take() {
            let outcome = match &mut result {
                Ok(response) => {
                    let status = response.status();
                    span.set_attribute(KeyValue::new(
                        RESPONSE_STATUS_CODE,
                        i64::from(status.as_u16()),
                    ));
                    // The correlation id goes back to the caller, unless the handler set one.
                    let header = HeaderName::from_static(HTTP_CORRELATION_HEADER);
                    let id = span
                        .context()
                        .correlation_id()
                        .map(|id| id.as_str().to_owned());
                    if let (false, Some(id)) = (response.headers().contains_key(&header), id) {
                        if let Ok(value) = HeaderValue::from_str(&id) {
                            response.headers_mut().insert(header, value);
                        }
                    }
                    match status.is_server_error() {
                        true => Outcome::error(status.as_u16().to_string(), status.to_string()),
                        false => Outcome::Ok,
                    }
                }
                Err(_) => Outcome::error("_OTHER", "the service failed"),
            };
            span.end(outcome);
        }
        Poll::Ready(result)
    }
}
