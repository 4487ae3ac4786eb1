//! A JetStream server restart in the middle of 1,000 confirmed publishes: no confirmed message is
//! lost, and every consumed message carries its producer's trace. The test runs its own
//! nats-server on a free port so it can restart it.

use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry::Context;
use std::collections::HashMap;
use std::process::{Child, Command};
use std::time::Duration;
use tracewire::messaging::Messaging;
use tracewire::task::TracedExt;
use tracewire::testing::SpanRecorder;
use tracewire_nats::{TracedJetStream, TracedJsStream, SYSTEM};

const MESSAGES: usize = 1_000;
const RESTART_AT: usize = 200;

struct Server {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl Server {
    fn start(&mut self) {
        let child = Command::new("nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server is installed (scripts/brokers.sh)");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("nats-server did not start on {}", self.port);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_loses_no_confirmed_message_and_no_trace() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(integration_tests::unique("tw-nats-restart"));
    let mut server = Server {
        port,
        dir,
        child: None,
    };
    server.start();

    let rec = SpanRecorder::new();
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    let messaging = Messaging::builder(SYSTEM).tracer(rec.tracer()).build();
    let js = TracedJetStream::with_messaging(jetstream::new(client), messaging.clone());
    js.inner()
        .create_stream(stream::Config {
            name: "RESTART".into(),
            subjects: vec!["restart.>".into()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .unwrap();

    let tracer = rec.provider().tracer("producer");
    let mut trace_of: HashMap<String, String> = HashMap::new();
    let mut retries = 0;
    for i in 0..MESSAGES {
        if i == RESTART_AT {
            server.stop();
            server.start();
        }
        let id = format!("m-{i}");
        let cx = Context::new().with_span(tracer.start(format!("order {i}")));
        trace_of.insert(id.clone(), cx.span().span_context().trace_id().to_string());
        // The application retries until the stream confirms; Nats-Msg-Id makes a retry of a
        // message that was in fact stored a duplicate the server drops. tracewire never retries.
        loop {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, id.as_str());
            let published = async {
                js.publish_with_headers("restart.orders", headers, id.clone().into())
                    .await?
                    .await
                    .map_err(async_nats::Error::from)
            };
            match tokio::time::timeout(Duration::from_secs(5), published.traced_in(cx.clone()))
                .await
            {
                Ok(Ok(_ack)) => break,
                _ => {
                    retries += 1;
                    assert!(retries < 500, "the server never came back");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    let stream = js.inner().get_stream("RESTART").await.unwrap();
    let pull = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some("check".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = TracedJsStream::with_messaging(pull.messages().await.unwrap(), messaging);
    let mut seen: HashMap<String, String> = HashMap::new();
    while seen.len() < MESSAGES {
        let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("all messages arrive")
            .unwrap()
            .unwrap();
        let id = String::from_utf8_lossy(&m.message().payload).into_owned();
        seen.insert(id, m.context().span().span_context().trace_id().to_string());
        m.ack().await.unwrap();
    }
    assert_eq!(seen.len(), MESSAGES, "0 messages lost");
    for (id, trace) in &seen {
        assert_eq!(trace, &trace_of[id], "{id} carries its producer's trace");
    }
    println!("restart at {RESTART_AT}: {retries} publish retries by the application, 0 lost");
}
