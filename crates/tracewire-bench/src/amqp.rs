//! RabbitMQ rows: publish without confirms, publish with confirms (64 outstanding, each awaited),
//! and consume with a manual ack per message (prefetch 256).

use crate::harness::{Mode, Row};
use crate::setup::{propagator, sending_context, Telemetry, PAYLOAD};
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};
use std::collections::VecDeque;
use tracewire::messaging::Messaging;
use tracewire::Propagator;
use tracewire_amqp::{TracedChannel, TracedConsumer};

const IN_FLIGHT: usize = 64;

async fn channel(connection: &Connection) -> Channel {
    connection.create_channel().await.expect("a channel")
}

/// Declares `name` (auto-deleted; `max_length` drops the oldest so a publish row stays bounded).
async fn queue(channel: &Channel, name: &str, max_length: Option<i64>) {
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

fn messaging(telemetry: &Telemetry, mode: Mode) -> Messaging {
    telemetry.messaging(mode, Messaging::builder(tracewire_amqp::SYSTEM))
}

/// The properties tracewire writes for the sending context (what `raw + headers` sends).
fn traced_properties() -> BasicProperties {
    tracewire_amqp::inject(
        &propagator(),
        &sending_context(),
        BasicProperties::default(),
    )
}

/// Publishing to the default exchange, with or without publisher confirms.
pub struct Publish {
    channel: Channel,
    traced: Vec<(Mode, TracedChannel)>,
    properties: BasicProperties,
    propagator: Propagator,
    confirms: bool,
    queue: String,
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
        let traced = [Mode::Unsampled, Mode::Batch, Mode::SpanLog]
            .map(|m| {
                (
                    m,
                    TracedChannel::with_messaging(channel.clone(), messaging(telemetry, m)),
                )
            })
            .into();
        Publish {
            channel,
            traced,
            properties: traced_properties(),
            propagator: propagator(),
            confirms,
            queue: queue_name,
        }
    }
}

impl Row for Publish {
    fn modes(&self) -> &'static [Mode] {
        Mode::TRACEWIRE
    }

    async fn run(&mut self, mode: Mode, n: u32) {
        let mut plain = VecDeque::new();
        let mut traced = VecDeque::new();
        let options = BasicPublishOptions::default();
        for _ in 0..n {
            let (exchange, key) = (
                ShortString::from(""),
                ShortString::from(self.queue.as_str()),
            );
            let properties = match mode {
                Mode::Raw => BasicProperties::default(),
                Mode::Propagation => tracewire_amqp::inject(
                    &self.propagator,
                    &opentelemetry::Context::current(),
                    BasicProperties::default(),
                ),
                _ => self.properties.clone(),
            };
            match mode {
                Mode::Raw | Mode::RawHeaders | Mode::Propagation => {
                    let confirm = self
                        .channel
                        .basic_publish(exchange, key, options, &PAYLOAD, properties)
                        .await
                        .expect("publish");
                    plain.push_back(confirm);
                }
                _ => {
                    let (_, channel) = self.traced.iter().find(|(m, _)| *m == mode).unwrap();
                    let confirm = channel
                        .basic_publish(exchange, key, options, &PAYLOAD, BasicProperties::default())
                        .await
                        .expect("publish");
                    traced.push_back(confirm);
                }
            }
            if plain.len() == IN_FLIGHT || !self.confirms {
                if let Some(confirm) = plain.pop_front() {
                    confirm.await.expect("confirmed");
                }
            }
            if traced.len() == IN_FLIGHT || !self.confirms {
                if let Some(confirm) = traced.pop_front() {
                    confirm.await.expect("confirmed");
                }
            }
        }
        for confirm in plain {
            confirm.await.expect("confirmed");
        }
        for confirm in traced {
            confirm.await.expect("confirmed");
        }
    }
}

/// Consuming with a manual ack per message; one queue, channel and consumer per mode, pre-filled.
pub struct Consume {
    consumers: Vec<(Mode, Consumption)>,
    propagator: Propagator,
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
        let mut consumers = Vec::new();
        for &mode in Mode::TRACEWIRE {
            let name = format!("tracewire-bench-consume-{}", mode.label().replace(' ', "-"));
            queue(&filler, &name, None).await;
            let properties = match mode {
                Mode::Raw => BasicProperties::default(),
                _ => traced_properties(),
            };
            let mut confirms = VecDeque::new();
            for _ in 0..per_mode {
                let confirm = filler
                    .basic_publish(
                        "".into(),
                        name.as_str().into(),
                        BasicPublishOptions::default(),
                        &PAYLOAD,
                        properties.clone(),
                    )
                    .await
                    .unwrap();
                confirms.push_back(confirm);
                if confirms.len() == 1024 {
                    confirms.pop_front().unwrap().await.unwrap();
                }
            }
            for confirm in confirms {
                confirm.await.unwrap();
            }
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
            let consumption = match mode {
                Mode::Raw | Mode::RawHeaders | Mode::Propagation => Consumption::Raw(consumer),
                _ => Consumption::Traced(TracedConsumer::with_messaging(
                    consumer,
                    messaging(telemetry, mode),
                )),
            };
            consumers.push((mode, consumption));
        }
        Consume {
            consumers,
            propagator: propagator(),
        }
    }
}

impl Row for Consume {
    fn modes(&self) -> &'static [Mode] {
        Mode::TRACEWIRE
    }

    async fn run(&mut self, mode: Mode, n: u32) {
        let (_, consumption) = self
            .consumers
            .iter_mut()
            .find(|(m, _)| *m == mode)
            .expect("a consumer per mode");
        for _ in 0..n {
            match consumption {
                Consumption::Raw(consumer) => {
                    let delivery = consumer.next().await.expect("a delivery").expect("ok");
                    if mode == Mode::Propagation {
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
