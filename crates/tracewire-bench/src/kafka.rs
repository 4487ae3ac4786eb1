//! Kafka rows: `FutureProducer::send_result` with a chunk's sends in flight (the delivery reports
//! awaited at the end of the chunk), and `StreamConsumer::recv`, one consumer per mode whose
//! messages are all fetched into librdkafka's local queue before the measurement — the local
//! broker (tansu) fetches far slower than a client consumes, so measuring through it would time
//! the broker. Both rows also run the peer.

use crate::harness::{Mode, PerMode, Row};
use crate::in_flight::in_flight;
use crate::peer::kafka as peer;
use crate::setup::{sending_context, Telemetry, PAYLOAD};
use futures_channel::oneshot::Canceled;
use opentelemetry::global::BoxedTracer;
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message, OwnedHeaders};
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tracewire::Outcome;
use tracewire::Propagator;
use tracewire_kafka::{KafkaHeaders, TracedConsumer, TracedProducer};

fn config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers);
    c
}

/// Creates a one-partition topic named `prefix-{pid}-{nanos}` (tansu does not auto-create).
pub async fn topic(brokers: &str, prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("{prefix}-{}-{nanos}", std::process::id());
    let admin: AdminClient<DefaultClientContext> = config(brokers).create().unwrap();
    for result in admin
        .create_topics(
            &[NewTopic::new(&name, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .expect("a Kafka-protocol broker is up (scripts/brokers.sh)")
    {
        result.expect("topic created");
    }
    name
}

fn producer(brokers: &str) -> FutureProducer {
    config(brokers)
        .set("message.timeout.ms", "30000")
        .set("linger.ms", "5")
        .create()
        .expect("a producer")
}

/// The headers tracewire writes for the sending context (what `raw + headers` sends).
fn traced_headers() -> OwnedHeaders {
    tracewire_kafka::inject(&Propagator::new(), &sending_context(), None)
}

/// Producing with sends in flight.
pub struct Produce {
    producer: FutureProducer,
    traced: PerMode<TracedProducer>,
    peer: PerMode<BoxedTracer>,
    headers: OwnedHeaders,
    propagator: Propagator,
    peer_propagator: TraceContextPropagator,
    topic: String,
}

fn written(delivery: Result<OwnedDeliveryResult, Canceled>) {
    delivery.expect("delivered").expect("written");
}

impl Produce {
    /// Creates the producers and a topic.
    pub async fn new(brokers: &str, telemetry: &Telemetry) -> Self {
        let producer = producer(brokers);
        let messaging = telemetry.messaging(tracewire_kafka::builder);
        let traced = PerMode::new(&Mode::INSTRUMENTED, |mode| {
            TracedProducer::with_messaging(producer.clone(), messaging.get(mode).clone())
        });
        Produce {
            traced,
            peer: telemetry.peer_tracers(),
            producer,
            headers: traced_headers(),
            propagator: Propagator::new(),
            peer_propagator: TraceContextPropagator::new(),
            topic: topic(brokers, "tracewire-bench-produce").await,
        }
    }
}

impl Row for Produce {
    /// A chunk's sends all in flight; the chunk ends when every delivery report is in.
    async fn run(&mut self, mode: Mode, n: u32) {
        let topic = self.topic.as_str();
        let (n, all) = (u64::from(n), n as usize);
        let record = || FutureRecord::<(), [u8]>::to(topic).payload(&PAYLOAD);
        match mode {
            Mode::Raw | Mode::RawHeaders | Mode::Propagation => {
                in_flight(n, all, written, async || {
                    let record = match mode {
                        Mode::Raw => record(),
                        Mode::RawHeaders => record().headers(self.headers.clone()),
                        _ => record().headers(tracewire_kafka::inject(
                            &self.propagator,
                            &Context::current(),
                            None,
                        )),
                    };
                    let sent = self.producer.send_result(record).map_err(|(e, _)| e);
                    sent.expect("enqueued")
                })
                .await
            }
            Mode::PeerUnsampled | Mode::PeerBatch => {
                let (tracer, propagator) = (self.peer.get(mode), &self.peer_propagator);
                in_flight(
                    n,
                    all,
                    |()| {},
                    async || peer::send(&self.producer, tracer, propagator, topic, &PAYLOAD),
                )
                .await
            }
            _ => {
                let traced = self.traced.get(mode);
                in_flight(n, all, written, async || {
                    let sent = traced.send_result(record()).map_err(|(e, _)| e);
                    sent.expect("enqueued")
                })
                .await
            }
        }
    }
}

/// Consuming with `recv`, one consumer (own group, partition assigned from the start) per mode.
pub struct Consume {
    consumers: PerMode<Consumption>,
    propagator: Propagator,
    peer_propagator: TraceContextPropagator,
}

enum Consumption {
    Raw(StreamConsumer),
    Traced(TracedConsumer),
    Peer(StreamConsumer, BoxedTracer),
}

impl Consume {
    /// Pre-fills two topics with `per_mode` messages (one without headers, for `raw`; one with
    /// tracewire's) and assigns each mode's consumer to its topic.
    pub async fn new(brokers: &str, telemetry: &Telemetry, per_mode: u64) -> Self {
        let plain = topic(brokers, "tracewire-bench-plain").await;
        let headed = topic(brokers, "tracewire-bench-headed").await;
        let producer = producer(brokers);
        for (topic, headers) in [(&plain, None), (&headed, Some(traced_headers()))] {
            // At most 10,000 in flight: under librdkafka's queue limit.
            in_flight(per_mode, 10_000, written, async || {
                let mut record = FutureRecord::<(), [u8]>::to(topic).payload(&PAYLOAD);
                record.headers = headers.clone();
                let sent = producer.send_result(record).map_err(|(e, _)| e);
                sent.expect("enqueued")
            })
            .await;
        }
        let messaging = telemetry.messaging(tracewire_kafka::builder);
        let mut consumers = Vec::new();
        for &mode in &Mode::ALL {
            let topic = if mode == Mode::Raw { &plain } else { &headed };
            let group = format!("{topic}-{}", mode.label().replace(' ', "-"));
            let mut config = config(brokers);
            config
                .set("group.id", &group)
                .set("enable.auto.commit", "false")
                .set("queued.min.messages", "10000000")
                .set("queued.max.messages.kbytes", "2097151");
            let mut assignment = TopicPartitionList::new();
            assignment
                .add_partition_offset(topic, 0, Offset::Beginning)
                .unwrap();
            let consumer: StreamConsumer = config.create().unwrap();
            consumer.assign(&assignment).unwrap();
            let consumption = match mode {
                _ if mode.runs_wrapper() => {
                    let messaging = messaging.get(mode).clone();
                    let traced = TracedConsumer::with_messaging(consumer, messaging).group(&group);
                    Consumption::Traced(traced)
                }
                Mode::PeerUnsampled | Mode::PeerBatch => {
                    Consumption::Peer(consumer, telemetry.tracer(mode))
                }
                _ => Consumption::Raw(consumer),
            };
            consumers.push((mode, consumption));
        }
        // Every message in every consumer's local queue before the first is timed: librdkafka's
        // threads decode fetches, and the broker serves them, until then — so wait for the
        // machine to go idle (this process alone idles while it waits on a slow broker).
        crate::setup::wait_until_idle().await;
        Consume {
            consumers: PerMode::from_pairs(consumers),
            propagator: Propagator::new(),
            peer_propagator: TraceContextPropagator::new(),
        }
    }
}

impl Row for Consume {
    async fn run(&mut self, mode: Mode, n: u32) {
        let consumption = self.consumers.get(mode);
        for _ in 0..n {
            match consumption {
                Consumption::Raw(consumer) => {
                    let message = consumer.recv().await.expect("a message");
                    match mode {
                        // librdkafka parses headers on first access: a consumer that was sent
                        // headers reads them, so `raw + headers` does too.
                        Mode::RawHeaders => {
                            for header in message.headers().iter().flat_map(|h| h.iter()) {
                                std::hint::black_box(header.value);
                            }
                        }
                        Mode::Propagation => {
                            let headers = KafkaHeaders::of_message(&message);
                            std::hint::black_box(self.propagator.extract(&headers));
                        }
                        _ => {}
                    }
                }
                Consumption::Traced(consumer) => {
                    let message = consumer.recv().await.expect("a message");
                    message.finish(Outcome::Ok);
                }
                Consumption::Peer(consumer, tracer) => {
                    let message = consumer.recv().await.expect("a message");
                    peer::process(&message, tracer, &self.peer_propagator);
                }
            }
        }
    }
}
