//! RabbitMQ rows: publish without confirms, publish with confirms (64 outstanding, each awaited),
//! and consume with a manual ack per message (prefetch 256).

use crate::harness::{Mode, PerMode, Row};
use crate::in_flight::{acknowledged, in_flight};
use crate::peer::amqp as peer;
use crate::setup::{sending_context, Telemetry, PAYLOAD};
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};
use opentelemetry::global::BoxedTracer;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracewire::messaging::Messaging;
use tracewire::Propagator;
use tracewire_amqp::{TracedChannel, TracedConsumer};

const IN_FLIGHT: usize = 64;

async fn channel(connection: &Connection) -> Channel {
    connection.create_channel().await.expect("a channel")
}

/// Declares `name` (auto-deleted; `max_length` drops the oldest so a publish row stays bounded).
pub async fn queue(channel: &Channel, name: &str, max_length: Option<i64>) {
    let mut arguments = FieldTable::default();
    if let Some(max) = max_length {
        arguments.insert(
            ShortString::from("x-max-length"),
            AMQPValue::LongLongInt(max),
        );
    }
    let options = QueueDeclareOptions {
        auto_delete: true,
        ..Default::default()
    };
    channel
        .queue_declare(name.into(), options, arguments)
        .await
        .expect("RabbitMQ is up (scripts/brokers.sh)");
    channel
        .queue_purge(name.into(), QueuePurgeOptions::default())
        .await
        .unwrap();
}

/// The properties tracewire writes for the sending context (what `raw + headers` sends).
fn traced_properties() -> BasicProperties {
    tracewire_amqp::inject(
        &Propagator::new(),
        &sending_context(),
        BasicProperties::default(),
    )
}

/// Publishing to the default exchange, with or without publisher confirms.
pub struct Publish {
    channel: Channel,
    traced: PerMode<TracedChannel>,
    peer: PerMode<BoxedTracer>,
    peer_propagator: TraceContextPropagator,
    properties: BasicProperties,
    propagator: Propagator,
    /// Confirms outstanding at most: 1 without confirms (each publish awaited as it is written).
    window: usize,
    queue: ShortString,
}

impl Publish {
    /// Opens a channel (confirms on when `confirms`) and a bounded queue.
    pub async fn new(connection: &Connection, telemetry: &Telemetry, confirms: bool) -> Self {
        let channel = channel(connection).await;
        if confirms {
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .unwrap();
        }
        let queue_name = format!("tracewire-bench-publish-{confirms}");
        queue(&channel, &queue_name, Some(1_000)).await;
        let messaging = telemetry.messaging(|| Messaging::builder(tracewire_amqp::SYSTEM));
        let traced = PerMode::new(&Mode::INSTRUMENTED, |mode| {
            TracedChannel::with_messaging(channel.clone(), messaging.get(mode).clone())
        });
        Publish {
            channel,
            traced,
            peer: telemetry.peer_tracers(),
            peer_propagator: TraceContextPropagator::new(),
            properties: traced_properties(),
            propagator: Propagator::new(),
            window: if confirms { IN_FLIGHT } else { 1 },
            queue: queue_name.into(),
        }
    }

    /// What the raw channel sends in `mode`: nothing, the headers tracewire writes, or
    /// tracewire's own inject.
    fn properties(&self, mode: Mode) -> BasicProperties {
        match mode {
            Mode::Raw => BasicProperties::default(),
            Mode::Propagation => tracewire_amqp::inject(
                &self.propagator,
                &opentelemetry::Context::current(),
                BasicProperties::default(),
            ),
            _ => self.properties.clone(),
        }
    }
}

impl Row for Publish {
    async fn run(&mut self, mode: Mode, n: u32) {
        let (options, exchange) = (BasicPublishOptions::default(), ShortString::from(""));
        let (n, queue) = (u64::from(n), &self.queue);
        if mode.runs_peer() {
            let (tracer, propagator) = (self.peer.get(mode), &self.peer_propagator);
            in_flight(n, self.window, acknowledged, async || {
                peer::publish(&self.channel, tracer, propagator, queue.clone(), &PAYLOAD).await
            })
            .await
        } else if mode.runs_wrapper() {
            let channel = self.traced.get(mode);
            in_flight(n, self.window, acknowledged, async || {
                let properties = BasicProperties::default();
                let publish = channel.basic_publish(
                    exchange.clone(),
                    queue.clone(),
                    options,
                    &PAYLOAD,
                    properties,
                );
                publish.await.expect("published")
            })
            .await
        } else {
            in_flight(n, self.window, acknowledged, async || {
                let properties = self.properties(mode);
                let publish = self.channel.basic_publish(
                    exchange.clone(),
                    queue.clone(),
                    options,
                    &PAYLOAD,
                    properties,
                );
                publish.await.expect("published")
            })
            .await
        }
    }
}

/// Consuming with a manual ack per message; one queue, channel and consumer per mode, pre-filled.
pub struct Consume {
    consumers: PerMode<Consumption>,
    propagator: Propagator,
    peer: PerMode<BoxedTracer>,
    peer_propagator: TraceContextPropagator,
}

enum Consumption {
    Raw(Consumer),
    Traced(TracedConsumer),
}

impl Consume {
    /// Pre-fills `per_mode` messages per mode (with tracewire's headers but for `raw`) and starts
    /// the consumers.
    pub async fn new(connection: &Connection, telemetry: &Telemetry, per_mode: u64) -> Self {
        let filler = channel(connection).await;
        filler
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        let messaging = telemetry.messaging(|| Messaging::builder(tracewire_amqp::SYSTEM));
        let mut consumers = Vec::new();
        for &mode in &Mode::ALL {
            let name = format!("tracewire-bench-consume-{}", mode.label().replace(' ', "-"));
            queue(&filler, &name, None).await;
            let properties = match mode {
                Mode::Raw => BasicProperties::default(),
                _ => traced_properties(),
            };
            in_flight(per_mode, 1024, acknowledged, async || {
                let options = BasicPublishOptions::default();
                let publish = filler.basic_publish(
                    "".into(),
                    name.as_str().into(),
                    options,
                    &PAYLOAD,
                    properties.clone(),
                );
                publish.await.expect("published")
            })
            .await;
            let channel = channel(connection).await;
            channel
                .basic_qos(256, BasicQosOptions::default())
                .await
                .unwrap();
            let consumer = channel
                .basic_consume(
                    name.as_str().into(),
                    "tracewire-bench".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
            let consumption = if mode.runs_wrapper() {
                let messaging = messaging.get(mode).clone();
                Consumption::Traced(TracedConsumer::with_messaging(consumer, messaging))
            } else {
                Consumption::Raw(consumer)
            };
            consumers.push((mode, consumption));
        }
        Consume {
            consumers: PerMode::from_pairs(consumers),
            propagator: Propagator::new(),
            peer: telemetry.peer_tracers(),
            peer_propagator: TraceContextPropagator::new(),
        }
    }
}

impl Row for Consume {
    async fn run(&mut self, mode: Mode, n: u32) {
        let consumption = self.consumers.get_mut(mode);
        let peer = mode.runs_peer().then(|| self.peer.get(mode));
        for _ in 0..n {
            match consumption {
                Consumption::Raw(consumer) => {
                    let delivery = consumer.next().await.expect("a delivery").expect("ok");
                    if let Some(tracer) = peer {
                        peer::process(&delivery, tracer, &self.peer_propagator);
                    } else if mode == Mode::Propagation {
                        let headers = tracewire_amqp::AmqpHeaders::new(&delivery.properties);
                        std::hint::black_box(self.propagator.extract(&headers));
                    }
                    delivery.ack(BasicAckOptions::default()).await.expect("ack");
                }
                Consumption::Traced(consumer) => {
                    let delivery = consumer.next().await.expect("a delivery").expect("ok");
                    delivery.ack(BasicAckOptions::default()).await.expect("ack");
                }
            }
        }
    }
}

/// Connects to RabbitMQ.
pub async fn connect(url: &str) -> Connection {
    Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("RabbitMQ is up (scripts/brokers.sh)")
}
