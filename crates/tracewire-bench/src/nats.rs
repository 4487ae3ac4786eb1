//! NATS rows: core publish, core subscribe, JetStream publish (acks awaited, 64 in flight) and
//! JetStream pull consume (each message acked).

use crate::harness::{Mode, Row};
use crate::setup::{propagator, sending_context, Telemetry, PAYLOAD};
use async_nats::jetstream::{self, consumer, stream};
use async_nats::{Client, HeaderMap, Subject};
use bytes::Bytes;
use futures_util::StreamExt;
use std::collections::VecDeque;
use tracewire::messaging::{Messaging, Outcome};
use tracewire::Propagator;
use tracewire_nats::{TracedClient, TracedJetStream, TracedJsStream};

const IN_FLIGHT: usize = 64;

/// What every NATS row holds: the client, the headers tracewire writes, and one instrumentation
/// per instrumented mode.
struct Nats {
    client: Client,
    headers: HeaderMap,
    propagator: Propagator,
    unsampled: Messaging,
    batch: Messaging,
    span_log: Messaging,
}

impl Nats {
    async fn connect(url: &str, telemetry: &Telemetry) -> Nats {
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(1 << 20)
            .connect(url)
            .await
            .expect("nats-server is up (scripts/brokers.sh)");
        let messaging =
            |mode| telemetry.messaging(mode, Messaging::builder(tracewire_nats::SYSTEM));
        Nats {
            client,
            headers: tracewire_nats::inject(&propagator(), &sending_context(), None),
            propagator: propagator(),
            unsampled: messaging(Mode::Unsampled),
            batch: messaging(Mode::Batch),
            span_log: messaging(Mode::SpanLog),
        }
    }

    fn messaging(&self, mode: Mode) -> &Messaging {
        match mode {
            Mode::Batch => &self.batch,
            Mode::SpanLog => &self.span_log,
            _ => &self.unsampled,
        }
    }

    /// The headers `mode` sends: none, tracewire's (fixed), or injected now.
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
}

fn payload() -> Bytes {
    Bytes::from_static(&PAYLOAD)
}

/// Core NATS publish, flushed at the end of each chunk.
pub struct CorePublish {
    nats: Nats,
    traced: [TracedClient; 3],
    subject: Subject,
}

impl CorePublish {
    /// Connects; publishes go to a subject nobody listens on.
    pub async fn new(url: &str, telemetry: &Telemetry) -> Self {
        let nats = Nats::connect(url, telemetry).await;
        let traced = [Mode::Unsampled, Mode::Batch, Mode::SpanLog]
            .map(|m| TracedClient::with_messaging(nats.client.clone(), nats.messaging(m).clone()));
        CorePublish {
            nats,
            traced,
            subject: Subject::from_static("tracewire.bench.publish"),
        }
    }
}

fn traced_index(mode: Mode) -> usize {
    match mode {
        Mode::Unsampled => 0,
        Mode::Batch => 1,
        _ => 2,
    }
}

impl Row for CorePublish {
    fn modes(&self) -> &'static [Mode] {
        Mode::TRACEWIRE
    }

    async fn run(&mut self, mode: Mode, n: u32) {
        let client = &self.nats.client;
        for _ in 0..n {
            let subject = self.subject.clone();
            let result = match (mode, self.nats.headers(mode)) {
                (Mode::Raw, _) => client.publish(subject, payload()).await,
                (Mode::RawHeaders | Mode::Propagation, Some(headers)) => {
                    client
                        .publish_with_headers(subject, headers, payload())
                        .await
                }
                _ => {
                    self.traced[traced_index(mode)]
                        .publish(subject, payload())
                        .await
                }
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
    subscribers: Vec<(Mode, Subject, Subscription)>,
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
        let mut subscribers = Vec::new();
        for (i, &mode) in Mode::TRACEWIRE.iter().enumerate() {
            let subject = Subject::from(format!("tracewire.bench.subscribe.{i}"));
            let subscription = match mode {
                Mode::Raw | Mode::RawHeaders | Mode::Propagation => {
                    Subscription::Raw(nats.client.subscribe(subject.clone()).await.unwrap())
                }
                _ => Subscription::Traced(
                    TracedClient::with_messaging(nats.client.clone(), nats.messaging(mode).clone())
                        .subscribe(subject.clone())
                        .await
                        .unwrap(),
                ),
            };
            subscribers.push((mode, subject, subscription));
        }
        nats.client.flush().await.unwrap();
        CoreSubscribe {
            nats,
            feeder,
            subscribers,
        }
    }
}

impl Row for CoreSubscribe {
    fn modes(&self) -> &'static [Mode] {
        Mode::TRACEWIRE
    }

    async fn run(&mut self, mode: Mode, n: u32) {
        let headers = match mode {
            Mode::Raw => None,
            _ => Some(self.nats.headers.clone()),
        };
        let (_, subject, subscription) = self
            .subscribers
            .iter_mut()
            .find(|(m, _, _)| *m == mode)
            .expect("a subscriber per mode");
        let feed = async {
            for _ in 0..n {
                let subject = subject.clone();
                match &headers {
                    None => self.feeder.publish(subject, payload()).await,
                    Some(h) => {
                        self.feeder
                            .publish_with_headers(subject, h.clone(), payload())
                            .await
                    }
                }
                .expect("feed");
            }
            self.feeder.flush().await.expect("flush");
        };
        let propagator = &self.nats.propagator;
        let consume = async {
            for _ in 0..n {
                match subscription {
                    Subscription::Raw(sub) => {
                        let message = sub.next().await.expect("a message");
                        if mode == Mode::Propagation {
                            let extracted =
                                tracewire_nats::extract(propagator, message.headers.as_ref());
                            std::hint::black_box(extracted);
                        }
                        std::hint::black_box(message);
                    }
                    Subscription::Traced(sub) => {
                        sub.next().await.expect("a message").finish(Outcome::Ok);
                    }
                }
            }
        };
        futures_util::join!(feed, consume);
    }
}

/// JetStream publish: every `PublishAck` awaited, `IN_FLIGHT` publishes outstanding.
pub struct JsPublish {
    nats: Nats,
    js: jetstream::Context,
    traced: [TracedJetStream; 3],
    subject: Subject,
}

/// Creates (or reuses) the bench stream — every `tracewire.js.>` subject, file storage, bounded —
/// and empties it.
async fn bench_stream(js: &jetstream::Context) -> stream::Stream {
    let stream = js
        .get_or_create_stream(stream::Config {
            name: "TRACEWIRE_BENCH".into(),
            subjects: vec!["tracewire.js.>".into()],
            max_messages: 2_000_000,
            max_bytes: 1 << 30,
            ..Default::default()
        })
        .await
        .expect("JetStream is on (nats-server -js)");
    stream.purge().await.expect("purged");
    stream
}

impl JsPublish {
    /// Connects and creates the stream.
    pub async fn new(url: &str, telemetry: &Telemetry) -> Self {
        let nats = Nats::connect(url, telemetry).await;
        let js = jetstream::new(nats.client.clone());
        bench_stream(&js).await;
        let traced = [Mode::Unsampled, Mode::Batch, Mode::SpanLog]
            .map(|m| TracedJetStream::with_messaging(js.clone(), nats.messaging(m).clone()));
        JsPublish {
            nats,
            js,
            traced,
            subject: Subject::from_static("tracewire.js.publish"),
        }
    }
}

impl Row for JsPublish {
    fn modes(&self) -> &'static [Mode] {
        Mode::TRACEWIRE
    }

    async fn run(&mut self, mode: Mode, n: u32) {
        let mut plain = VecDeque::new();
        let mut traced = VecDeque::new();
        for _ in 0..n {
            let subject = self.subject.clone();
            match (mode, self.nats.headers(mode)) {
                (Mode::Raw, _) => plain.push_back(self.js.publish(subject, payload()).await),
                (Mode::RawHeaders | Mode::Propagation, Some(headers)) => plain.push_back(
                    self.js
                        .publish_with_headers(subject, headers, payload())
                        .await,
                ),
                _ => traced.push_back(
                    self.traced[traced_index(mode)]
                        .publish(subject, payload())
                        .await,
                ),
            }
            if plain.len() == IN_FLIGHT {
                plain.pop_front().unwrap().unwrap().await.expect("acked");
            }
            if traced.len() == IN_FLIGHT {
                traced.pop_front().unwrap().unwrap().await.expect("acked");
            }
        }
        for ack in plain {
            ack.unwrap().await.expect("acked");
        }
        for ack in traced {
            ack.unwrap().await.expect("acked");
        }
    }
}

/// JetStream pull consume (`messages()`), each message acked; one consumer per mode over its own
/// subject, pre-filled.
pub struct JsConsume {
    propagator: Propagator,
    streams: Vec<(Mode, JsMessages)>,
}

type PullMessages = consumer::pull::Stream;

enum JsMessages {
    Raw(PullMessages),
    Traced(TracedJsStream<PullMessages>),
}

impl JsConsume {
    /// Connects, pre-fills `per_mode` messages on each mode's subject and opens the consumers.
    pub async fn new(url: &str, telemetry: &Telemetry, per_mode: u64) -> Self {
        let nats = Nats::connect(url, telemetry).await;
        let js = jetstream::new(nats.client.clone());
        let stream = bench_stream(&js).await;
        let mut streams = Vec::new();
        for (i, &mode) in Mode::TRACEWIRE.iter().enumerate() {
            let subject = Subject::from(format!("tracewire.js.consume.{i}"));
            let mut acks = VecDeque::new();
            for _ in 0..per_mode {
                let ack = match mode {
                    Mode::Raw => js.publish(subject.clone(), payload()).await,
                    _ => {
                        js.publish_with_headers(subject.clone(), nats.headers.clone(), payload())
                            .await
                    }
                };
                acks.push_back(ack.unwrap());
                if acks.len() == 1024 {
                    acks.pop_front().unwrap().await.unwrap();
                }
            }
            for ack in acks {
                ack.await.unwrap();
            }
            let consumer: consumer::PullConsumer = stream
                .create_consumer(consumer::pull::Config {
                    filter_subject: subject.to_string(),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ..Default::default()
                })
                .await
                .unwrap();
            let messages = consumer.messages().await.unwrap();
            let messages = match mode {
                Mode::Raw | Mode::RawHeaders | Mode::Propagation => JsMessages::Raw(messages),
                _ => {
                    JsMessages::Traced(TracedJsStream::new(messages, nats.messaging(mode).clone()))
                }
            };
            streams.push((mode, messages));
        }
        JsConsume {
            propagator: nats.propagator,
            streams,
        }
    }
}

impl Row for JsConsume {
    fn modes(&self) -> &'static [Mode] {
        Mode::TRACEWIRE
    }

    async fn run(&mut self, mode: Mode, n: u32) {
        let (_, messages) = self
            .streams
            .iter_mut()
            .find(|(m, _)| *m == mode)
            .expect("a consumer per mode");
        for _ in 0..n {
            match messages {
                JsMessages::Raw(stream) => {
                    let message = stream.next().await.expect("a message").expect("ok");
                    if mode == Mode::Propagation {
                        let extracted =
                            tracewire_nats::extract(&self.propagator, message.headers.as_ref());
                        std::hint::black_box(extracted);
                    }
                    message.ack().await.expect("ack");
                }
                JsMessages::Traced(stream) => {
                    let message = stream.next().await.expect("a message").expect("ok");
                    message.ack().await.expect("ack");
                }
            }
        }
    }
}
