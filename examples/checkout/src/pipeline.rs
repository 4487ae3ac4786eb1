//! Sets up the brokers' topic, queue and stream, and starts the services.

use crate::services::{self, payment::Charge, Progress};
use crate::settings::Settings;
use crate::telemetry::ServiceTelemetry;
use async_nats::jetstream::{self, consumer, stream};
use lapin::options::{BasicConsumeOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::Consumer;
use rdkafka::ClientConfig;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tracewire_amqp::{TracedChannel, TracedConsumer as AmqpConsumer};
use tracewire_kafka::{TracedConsumer as KafkaConsumer, TracedProducer};
use tracewire_nats::{TracedJetStream, TracedJsStream};

/// The five services' telemetry.
pub struct Services {
    pub gateway: ServiceTelemetry,
    pub inventory: ServiceTelemetry,
    pub payment: ServiceTelemetry,
    pub fulfillment: ServiceTelemetry,
    pub notifications: ServiceTelemetry,
}

impl Services {
    pub fn new(dir: &std::path::Path) -> Result<Arc<Self>, String> {
        Ok(Arc::new(Services {
            gateway: ServiceTelemetry::new("api-gateway", dir)?,
            inventory: ServiceTelemetry::new("inventory", dir)?,
            payment: ServiceTelemetry::new("payment", dir)?,
            fulfillment: ServiceTelemetry::new("fulfillment", dir)?,
            notifications: ServiceTelemetry::new("notifications", dir)?,
        }))
    }
}

fn kafka_config(s: &Settings) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &s.kafka);
    c
}

/// Creates the Kafka topic, the RabbitMQ queue and the JetStream stream (existing ones are kept).
pub async fn prepare(s: &Settings) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> =
        kafka_config(s).create().map_err(|e| e.to_string())?;
    admin
        .create_topics(
            &[NewTopic::new(&s.orders, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .map_err(|e| format!("Kafka: {e}"))?;
    let nats = async_nats::connect(&s.nats)
        .await
        .map_err(|e| format!("NATS: {e}"))?;
    jetstream::new(nats)
        .get_or_create_stream(stream::Config {
            name: s.stream.clone(),
            subjects: vec![s.fulfillment.clone()],
            ..Default::default()
        })
        .await
        .map_err(|e| format!("NATS JetStream: {e}"))?;
    Ok(())
}

/// The api-gateway's Kafka producer.
pub fn producer(s: &Settings, svc: &Services) -> Result<TracedProducer, String> {
    let inner = kafka_config(s)
        .set("message.timeout.ms", "10000")
        .create()
        .map_err(|e| e.to_string())?;
    Ok(TracedProducer::with_messaging(
        inner,
        svc.gateway.messaging("kafka"),
    ))
}

/// Starts inventory, payment and (unless dropped) fulfillment as tasks.
pub async fn start(
    s: &Settings,
    svc: &Arc<Services>,
    charge: Charge,
    run_fulfillment: bool,
    progress: Progress,
) -> Result<Vec<JoinHandle<()>>, String> {
    let mut tasks = Vec::new();
    let report = |name: &'static str, r: Result<(), String>| {
        if let Err(e) = r {
            eprintln!("checkout: {name} stopped: {e}");
        }
    };

    // inventory: Kafka in, RabbitMQ out.
    let amqp = Connection::connect(&s.amqp, ConnectionProperties::default())
        .await
        .map_err(|e| format!("RabbitMQ: {e}"))?;
    let out = amqp.create_channel().await.map_err(|e| e.to_string())?;
    out.confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    out.queue_declare(
        s.payments.as_str().into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut config = kafka_config(s);
    config
        .set("group.id", format!("{}-inventory", s.namespace))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    let consumer = KafkaConsumer::from_config_with(&config, svc.inventory.messaging("kafka"))
        .map_err(|e| e.to_string())?;
    consumer
        .consumer()
        .subscribe(&[&s.orders])
        .map_err(|e| e.to_string())?;
    let channel = TracedChannel::with_messaging(out, svc.inventory.messaging("rabbitmq"));
    let (svc2, queue) = (svc.clone(), s.payments.clone());
    tasks.push(tokio::spawn(async move {
        report(
            "inventory",
            services::inventory::run(&svc2.inventory, consumer, channel, queue).await,
        )
    }));

    // payment: RabbitMQ in, NATS JetStream out.
    let input = amqp.create_channel().await.map_err(|e| e.to_string())?;
    let deliveries = input
        .basic_consume(
            s.payments.as_str().into(),
            "payment".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
    let deliveries = AmqpConsumer::with_messaging(deliveries, svc.payment.messaging("rabbitmq"));
    let nats = async_nats::connect(&s.nats)
        .await
        .map_err(|e| format!("NATS: {e}"))?;
    let js = TracedJetStream::with_messaging(
        jetstream::new(nats.clone()),
        svc.payment.messaging("nats"),
    );
    let (svc2, subject, p) = (svc.clone(), s.fulfillment.clone(), progress.clone());
    tasks.push(tokio::spawn(async move {
        let _amqp = amqp; // keeps the connection open
        report(
            "payment",
            services::payment::run(&svc2.payment, deliveries, js, subject, charge, p).await,
        )
    }));

    // fulfillment: NATS JetStream in.
    if run_fulfillment {
        let stream = jetstream::new(nats)
            .get_stream(&s.stream)
            .await
            .map_err(|e| e.to_string())?;
        let durable = format!("{}-fulfillment", s.namespace);
        let pull = stream
            .get_or_create_consumer(
                &durable,
                consumer::pull::Config {
                    durable_name: Some(durable.clone()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        let messages = TracedJsStream::new(
            pull.messages().await.map_err(|e| e.to_string())?,
            svc.fulfillment.messaging("nats"),
        );
        let svc2 = svc.clone();
        tasks.push(tokio::spawn(async move {
            report(
                "fulfillment",
                services::fulfillment::run(
                    &svc2.fulfillment,
                    &svc2.notifications,
                    messages,
                    progress,
                )
                .await,
            )
        }));
    }
    Ok(tasks)
}
