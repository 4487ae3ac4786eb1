//! NATS rows: core publish, core subscribe, JetStream publish (acks awaited, 64 in flight) and
//! JetStream pull consume (each message acked).

use crate::harness::{Mode, PerMode, Row};
use crate::in_flight::{acknowledged, in_flight};
use crate::peer::nats as peer;
use crate::setup::{sending_context, Telemetry, PAYLOAD};
use async_nats::jetstream::{self, consumer, stream};
use async_nats::{Client, HeaderMap, Subject};
use bytes::Bytes;
use futures_util::StreamExt;
use opentelemetry::global::BoxedTracer;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::cell::Cell;
use std::time::Duration;
use tokio::sync::Notify;
use tracewire::messaging::Messaging;
use tracewire::Outcome;
use tracewire::Propagator;
use tracewire_nats::{TracedClient, TracedJetStream, TracedJsStream};

const IN_FLIGHT: usize = 64;

/// How far the core-NATS feeder may run ahead of the subscriber.
const FEED_WINDOW: u32 = 2048;

/// A subscriber that waits this long for its next message has lost some.
const LOSS_TIMEOUT: Duration = Duration::from_secs(30);

/// The next message, or a clear failure instead of a hang.
async fn within<T>(limit: Duration, next: impl std::future::Future<Output = Option<T>>) -> T {
    tokio::time::timeout(limit, next)
        .await
        .expect("no message for 30 s: core NATS dropped some")
        .expect("the subscription is open")
}

/// What every NATS row holds: the client, the headers tracewire writes (what `raw + headers`
/// sends), and the instrumentation of each instrumented mode.
struct Nats {
    client: Client,
    headers: HeaderMap,
    propagator: Propagator,
    messaging: PerMode<Messaging>,
}

impl Nats {
    async fn connect(url: &str, telemetry: &Telemetry) -> Nats {
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(1 << 20)
            .connect(url)
            .await
            .expect("nats-server is up (scripts/brokers.sh)");
        let propagator = Propagator::new();
        Nats {
            client,
            headers: tracewire_nats::inject(&propagator, &sending_context(), None),
            propagator,
            messaging: telemetry.messaging(|| Messaging::builder(tracewire_nats::SYSTEM)),
        }
    }

    /// The headers a raw mode sends: none, tracewire's (fixed), or injected now.
    fn headers(&self, mode: Mode) -> Option<HeaderMap> {
        match mode {
            Mode::Raw => None,
            Mode::Propagation => Some(tracewire_nats::inject(
                &self.propagator,
                &opentelemetry::Context::current(),
                None,
            )),
            _ => Some(self.headers.clone()),
        }
    }

    /// A traced client per instrumented mode.
    fn traced(&self) -> PerMode<TracedClient> {
        PerMode::new(&Mode::INSTRUMENTED, |mode| {
            TracedClient::with_messaging(self.client.clone(), self.messaging.get(mode).clone())
        })
    }
}

fn payload() -> Bytes {
    Bytes::from_static(&PAYLOAD)
}

/// Core NATS publish, flushed at the end of each chunk.
pub struct CorePublish {
    nats: Nats,
    traced: PerMode<TracedClient>,
    peer: PerMode<BoxedTracer>,
    peer_propagator: TraceContextPropagator,
    subject: Subject,
}

impl CorePublish {
    /// Connects; publishes go to a subject nobody listens on.
    pub async fn new(url: &str, telemetry: &Telemetry) -> Self {
        let nats = Nats::connect(url, telemetry).await;
        CorePublish {
            traced: nats.traced(),
            peer: telemetry.peer_tracers(),
            peer_propagator: TraceContextPropagator::new(),
            nats,
            subject: Subject::from_static("tracewire.bench.publish"),
        }
    }
}

impl Row for CorePublish {
    async fn run(&mut self, mode: Mode, n: u32) {
        let client = &self.nats.client;
        for _ in 0..n {
            let subject = self.subject.clone();
            if mode.runs_peer() {
                let (tracer, propagator) = (self.peer.get(mode), &self.peer_propagator);
                peer::publish(client, tracer, propagator, subject, payload()).await;
                continue;
            }
            let result = if !mode.runs_wrapper() {
                match self.nats.headers(mode) {
                    None => client.publish(subject, payload()).await,
                    Some(h) => client.publish_with_headers(subject, h, payload()).await,
                }
            } else {
                self.traced.get(mode).publish(subject, payload()).await
            };
            result.expect("publish");
        }
        client.flush().await.expect("flush");
    }
}

/// Core NATS subscribe: a feeder connection publishes each chunk while the row's subscriber
/// (one per mode) receives it, in the same single-threaded process — so the chunk's time holds
/// the feeder's work too (the same for every mode but `raw`, whose feeder sends no headers).
pub struct CoreSubscribe {
    nats: Nats,
    feeder: Client,
    subscribers: PerMode<(Subject, Subscription)>,
    peer: PerMode<BoxedTracer>,
    peer_propagator: TraceContextPropagator,
}

enum Subscription {
    Raw(async_nats::Subscriber),
    Traced(tracewire_nats::TracedSubscriber),
}

impl CoreSubscribe {
    /// Connects the subscriber and the feeder, one subject per mode.
    pub async fn new(url: &str, telemetry: &Telemetry) -> Self {
        let nats = Nats::connect(url, telemetry).await;
        let feeder = async_nats::connect(url).await.expect("nats-server is up");
        let traced = nats.traced();
        let mut subscribers = Vec::new();
        for (i, &mode) in Mode::ALL.iter().enumerate() {
            let subject = Subject::from(format!("tracewire.bench.subscribe.{i}"));
            let subscription = if !mode.runs_wrapper() {
                Subscription::Raw(nats.client.subscribe(subject.clone()).await.unwrap())
            } else {
                Subscription::Traced(traced.get(mode).subscribe(subject.clone()).await.unwrap())
            };
            subscribers.push((mode, (subject, subscription)));
        }
        nats.client.flush().await.unwrap();
        CoreSubscribe {
            nats,
            feeder,
            subscribers: PerMode::from_pairs(subscribers),
            peer: telemetry.peer_tracers(),
            peer_propagator: TraceContextPropagator::new(),
        }
    }
}

impl Row for CoreSubscribe {
    async fn run(&mut self, mode: Mode, n: u32) {
        // Every mode but `raw` is sent the same headers: tracewire's, as a producer wrote them.
        let headers = (mode != Mode::Raw).then(|| self.nats.headers.clone());
        let (subject, subscription) = self.subscribers.get_mut(mode);
        // Core NATS drops what a slow subscriber cannot take, and a lost message would leave the
        // chunk waiting forever: the feeder keeps at most a window of messages ahead.
        let received = Cell::new(0u32);
        let caught_up = Notify::new();
        let feed = async {
            for sent in 0..n {
                while sent - received.get() >= FEED_WINDOW {
                    caught_up.notified().await;
                }
                let subject = subject.clone();
                match &headers {
                    None => self.feeder.publish(subject, payload()).await,
                    Some(h) => {
                        let h = h.clone();
                        self.feeder
                            .publish_with_headers(subject, h, payload())
                            .await
                    }
                }
                .expect("feed");
            }
            self.feeder.flush().await.expect("flush");
        };
        let propagator = &self.nats.propagator;
        let peer = mode.runs_peer().then(|| self.peer.get(mode));
        let consume = async {
            for i in 1..=n {
                match subscription {
                    Subscription::Raw(sub) => {
                        let message = within(LOSS_TIMEOUT, sub.next()).await;
                        if let Some(tracer) = peer {
                            peer::process(&message, tracer, &self.peer_propagator);
                        } else if mode == Mode::Propagation {
                            let extracted =
                                tracewire_nats::extract(propagator, message.headers.as_ref());
                            std::hint::black_box(extracted);
                        }
                        std::hint::black_box(message);
                    }
                    Subscription::Traced(sub) => {
                        let message = within(LOSS_TIMEOUT, sub.next()).await;
                        message.finish(Outcome::Ok);
                    }
                }
                received.set(i);
                if i % (FEED_WINDOW / 8) == 0 {
                    caught_up.notify_one();
                }
            }
        };
        futures_util::join!(feed, consume);
    }
}

/// The bench stream's bounds: past them the server discards the oldest messages.
const STREAM_MESSAGES: i64 = 2_000_000;
const STREAM_BYTES: i64 = 1 << 30;

/// Creates (or reuses) the bench stream — every `tracewire.js.>` subject, file storage, bounded —
/// and empties it.
async fn bench_stream(js: &jetstream::Context) -> stream::Stream {
    let stream = js
        .get_or_create_stream(stream::Config {
            name: "TRACEWIRE_BENCH".into(),
            subjects: vec!["tracewire.js.>".into()],
            max_messages: STREAM_MESSAGES,
            max_bytes: STREAM_BYTES,
            ..Default::default()
        })
        .await
        .expect("JetStream is on (nats-server -js)");
    stream.purge().await.expect("purged");
    stream
}

/// JetStream publish: every `PublishAck` awaited, `IN_FLIGHT` publishes outstanding.
pub struct JsPublish {
    nats: Nats,
    js: jetstream::Context,
    traced: PerMode<TracedJetStream>,
    peer: PerMode<BoxedTracer>,
    peer_propagator: TraceContextPropagator,
    subject: Subject,
}

impl JsPublish {
    /// Connects and creates the stream.
    pub async fn new(url: &str, telemetry: &Telemetry) -> Self {
        let nats = Nats::connect(url, telemetry).await;
        let js = jetstream::new(nats.client.clone());
        bench_stream(&js).await;
        let traced = PerMode::new(&Mode::INSTRUMENTED, |mode| {
            TracedJetStream::with_messaging(js.clone(), nats.messaging.get(mode).clone())
        });
        JsPublish {
            nats,
            js,
            traced,
            peer: telemetry.peer_tracers(),
            peer_propagator: TraceContextPropagator::new(),
            subject: Subject::from_static("tracewire.js.publish"),
        }
    }
}

impl Row for JsPublish {
    async fn run(&mut self, mode: Mode, n: u32) {
        let n = u64::from(n);
        if mode.runs_peer() {
            let (tracer, propagator) = (self.peer.get(mode), &self.peer_propagator);
            in_flight(
                n,
                IN_FLIGHT,
                |()| {},
                async || {
                    let subject = self.subject.clone();
                    peer::publish_js(&self.js, tracer, propagator, subject, payload()).await
                },
            )
            .await
        } else if !mode.runs_wrapper() {
            in_flight(n, IN_FLIGHT, acknowledged, async || {
                let subject = self.subject.clone();
                let ack = match self.nats.headers(mode) {
                    None => self.js.publish(subject, payload()).await,
                    Some(h) => self.js.publish_with_headers(subject, h, payload()).await,
                };
                ack.expect("published")
            })
            .await
        } else {
            let js = self.traced.get(mode);
            in_flight(n, IN_FLIGHT, acknowledged, async || {
                let ack = js.publish(self.subject.clone(), payload()).await;
                ack.expect("published")
            })
            .await
        }
    }
}

/// JetStream pull consume (`messages()`), each message acked; one consumer per mode over its own
/// subject, pre-filled.
pub struct JsConsume {
    propagator: Propagator,
    streams: PerMode<JsMessages>,
    peer: PerMode<BoxedTracer>,
    peer_propagator: TraceContextPropagator,
}

type PullMessages = consumer::pull::Stream;

enum JsMessages {
    Raw(PullMessages),
    Traced(TracedJsStream<PullMessages>),
}

impl JsConsume {
    /// Connects, pre-fills `per_mode` messages on each mode's subject and opens the consumers.
    pub async fn new(url: &str, telemetry: &Telemetry, per_mode: u64) -> Self {
        // A pre-fill past the stream's bounds loses its oldest messages, and the first mode's
        // consumer then waits for them for ever (heartbeats keep coming): say so instead.
        let prefill = per_mode * Mode::ALL.len() as u64;
        let bytes = prefill * 512; // a 256-byte payload, its headers, the store's overhead (~430 B)
        assert!(
            prefill <= STREAM_MESSAGES as u64 && bytes <= STREAM_BYTES as u64,
            "the pre-fill ({prefill} messages) does not fit the bench stream \
             ({STREAM_MESSAGES} messages, {STREAM_BYTES} bytes): fewer --rounds or a smaller --scale"
        );
        let nats = Nats::connect(url, telemetry).await;
        let js = jetstream::new(nats.client.clone());
        let stream = bench_stream(&js).await;
        let mut streams = Vec::new();
        for (i, &mode) in Mode::ALL.iter().enumerate() {
            let subject = Subject::from(format!("tracewire.js.consume.{i}"));
            let headers = (mode != Mode::Raw).then(|| nats.headers.clone());
            in_flight(per_mode, 1024, acknowledged, async || {
                let ack = match headers.clone() {
                    None => js.publish(subject.clone(), payload()).await,
                    Some(h) => js.publish_with_headers(subject.clone(), h, payload()).await,
                };
                ack.expect("published")
            })
            .await;
            // Durable: an ephemeral consumer idle through the other modes' prefill and chunks
            // for longer than its inactivity threshold is deleted by the server, and its
            // stream then waits for ever. A run starts from a consumer of its own.
            let name = format!("tracewire-bench-{i}");
            let _ = stream.delete_consumer(&name).await;
            let consumer: consumer::PullConsumer = stream
                .create_consumer(consumer::pull::Config {
                    durable_name: Some(name),
                    filter_subject: subject.to_string(),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ..Default::default()
                })
                .await
                .unwrap();
            let messages = consumer.messages().await.unwrap();
            let messages = if !mode.runs_wrapper() {
                JsMessages::Raw(messages)
            } else {
                JsMessages::Traced(TracedJsStream::with_messaging(
                    messages,
                    nats.messaging.get(mode).clone(),
                ))
            };
            streams.push((mode, messages));
        }
        JsConsume {
            propagator: nats.propagator,
            streams: PerMode::from_pairs(streams),
            peer: telemetry.peer_tracers(),
            peer_propagator: TraceContextPropagator::new(),
        }
    }
}

/// The next message of a pull consumer. A missed idle heartbeat is the client's notice, not a
/// lost message (a mode's consumer sits idle through the other modes' chunks; a long run of the
/// row once stopped on one): polled again, a few times — a consumer that is gone would else
/// hang the run without a word. Any other error stops the run.
async fn next_message<T>(
    stream: &mut (impl futures_util::Stream<Item = Result<T, consumer::pull::MessagesError>> + Unpin),
) -> T {
    for _ in 0..8 {
        match stream.next().await.expect("a message") {
            Ok(message) => return message,
            Err(e) if e.kind() == consumer::pull::MessagesErrorKind::MissingHeartbeat => {}
            Err(e) => panic!("a message: {e}"),
        }
    }
    panic!("no message and no heartbeat 8 times in a row: the bench's consumer is gone")
}

impl Row for JsConsume {
    async fn run(&mut self, mode: Mode, n: u32) {
        let messages = self.streams.get_mut(mode);
        let peer = mode.runs_peer().then(|| self.peer.get(mode));
        for _ in 0..n {
            match messages {
                JsMessages::Raw(stream) => {
                    let message = next_message(stream).await;
                    if let Some(tracer) = peer {
                        peer::process(&message, tracer, &self.peer_propagator);
                    } else if mode == Mode::Propagation {
                        let extracted =
                            tracewire_nats::extract(&self.propagator, message.headers.as_ref());
                        std::hint::black_box(extracted);
                    }
                    message.ack().await.expect("ack");
                }
                JsMessages::Traced(stream) => {
                    let message = next_message(stream).await;
                    message.ack().await.expect("ack");
                }
            }
        }
    }
}
