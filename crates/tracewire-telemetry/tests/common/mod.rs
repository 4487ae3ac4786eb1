//! An in-process HTTP receiver for exporters (OTLP/HTTP JSON, Zipkin v2 JSON): it accepts every
//! POST on loopback, answers 200, and keeps each request's path and body.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What the receiver got: (path, body) per request.
#[derive(Clone, Default)]
pub(crate) struct Received(Arc<Mutex<Vec<Request>>>);

/// One request: its path and body.
type Request = (String, Vec<u8>);

impl Received {
    /// The JSON bodies posted to `path`.
    pub(crate) fn json(&self, path: &str) -> Vec<serde_json::Value> {
        let all = self.0.lock().unwrap();
        (all.iter().filter(|(p, _)| p == path))
            .map(|(_, body)| serde_json::from_slice(body).expect("a JSON body"))
            .collect()
    }
}

/// Starts the receiver; its base URL is `http://127.0.0.1:{port}`.
pub(crate) fn receiver() -> (u16, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Received::default();
    let keep = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let keep = keep.clone();
            std::thread::spawn(move || serve(stream, keep));
        }
    });
    (port, received)
}

/// Serves one keep-alive connection: requests with a Content-Length body.
fn serve(stream: TcpStream, keep: Received) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        keep.0.lock().unwrap().push((path, body));
        let answer =
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        if out.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// A `Config` lookup over fixed variables.
pub(crate) fn vars(pairs: &[(&'static str, String)]) -> impl Fn(&str) -> Option<String> {
    let pairs = pairs.to_vec();
    move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
}

/// A `Write` into shared memory, for log lines.
#[derive(Clone, Default)]
pub(crate) struct Lines(pub(crate) Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Logs `charged` inside a span `charge` through `guard`'s subscriber, then flushes and drops the
/// guard; the span's context.
pub(crate) fn log_charged_in_a_span(
    guard: tracewire_telemetry::TelemetryGuard,
) -> opentelemetry::trace::SpanContext {
    use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
    let subscriber = guard.subscriber_to(Box::new(std::io::sink()));
    let tracer = guard.tracer_provider().tracer("test");
    let span = tracing::subscriber::with_default(subscriber, || {
        tracer.in_span("charge", |cx: opentelemetry::Context| {
            let _attached = cx.clone().attach();
            tracing::info!(order = 7, "charged");
            cx.span().span_context().clone()
        })
    });
    guard.flush();
    drop(guard);
    span
}
