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
    // An embedded mock cluster made its topic itself (librdkafka's mock has no admin API).
    if !s.kafka_embedded {
        let admin: AdminClient<DefaultClientContext> =
            kafka_config(s).create().map_err(|e| e.to_string())?;
        admin
            .create_topics(
                &[NewTopic::new(&s.orders, 1, TopicReplication::Fixed(1))],
                &AdminOptions::new(),
            )
            .await
            .map_err(|e| format!("Kafka: {e}"))?;
    }
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
        svc.gateway.messaging(tracewire_kafka::SYSTEM),
    ))
}

fn report(name: &'static str, r: Result<(), String>) {
    if let Err(e) = r {
        eprintln!("checkout: {name} stopped: {e}");
    }
}

/// Starts inventory, payment and (unless dropped) fulfillment as tasks.
pub async fn start(
    s: &Settings,
    svc: &Arc<Services>,
    charge: Charge,
    run_fulfillment: bool,
    progress: Progress,
) -> Result<Vec<JoinHandle<()>>, String> {
    let mut tasks = vec![
        start_inventory(s, svc).await?,
        start_payment(s, svc, charge, progress.clone()).await?,
    ];
    if run_fulfillment {
        tasks.push(start_fulfillment(s, svc, progress).await?);
    }
    Ok(tasks)
}

async fn amqp(s: &Settings) -> Result<Connection, String> {
    let conn = Connection::connect(&s.amqp, ConnectionProperties::default())
        .await
        .map_err(|e| format!("RabbitMQ: {e}"))?;
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    ch.queue_declare(
        s.payments.as_str().into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// inventory: Kafka in, RabbitMQ out.
pub async fn start_inventory(s: &Settings, svc: &Arc<Services>) -> Result<JoinHandle<()>, String> {
    let amqp = amqp(s).await?;
    let out = amqp.create_channel().await.map_err(|e| e.to_string())?;
    out.confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut config = kafka_config(s);
    config
        .set("group.id", format!("{}-inventory", s.namespace))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    let consumer =
        KafkaConsumer::from_config_with(&config, svc.inventory.messaging(tracewire_kafka::SYSTEM))
            .map_err(|e| e.to_string())?;
    consumer
        .inner()
        .subscribe(&[&s.orders])
        .map_err(|e| e.to_string())?;
    let channel =
        TracedChannel::with_messaging(out, svc.inventory.messaging(tracewire_amqp::SYSTEM));
    let (svc, queue) = (svc.clone(), s.payments.clone());
    Ok(tokio::spawn(async move {
        let _amqp = amqp; // keeps the connection open
        report(
            "inventory",
            services::inventory::run(&svc.inventory, consumer, channel, queue).await,
        )
    }))
}

/// payment: RabbitMQ in, NATS JetStream out.
pub async fn start_payment(
    s: &Settings,
    svc: &Arc<Services>,
    charge: Charge,
    progress: Progress,
) -> Result<JoinHandle<()>, String> {
    let amqp = amqp(s).await?;
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
    let deliveries =
        AmqpConsumer::with_messaging(deliveries, svc.payment.messaging(tracewire_amqp::SYSTEM));
    let nats = async_nats::connect(&s.nats)
        .await
        .map_err(|e| format!("NATS: {e}"))?;
    let js = TracedJetStream::with_messaging(
        jetstream::new(nats),
        svc.payment.messaging(tracewire_nats::SYSTEM),
    );
    let (svc, subject) = (svc.clone(), s.fulfillment.clone());
    Ok(tokio::spawn(async move {
        let _amqp = amqp;
        report(
            "payment",
            services::payment::run(&svc.payment, deliveries, js, subject, charge, progress).await,
        )
    }))
}

/// fulfillment: NATS JetStream in (emails as the notifications service).
pub async fn start_fulfillment(
    s: &Settings,
    svc: &Arc<Services>,
    progress: Progress,
) -> Result<JoinHandle<()>, String> {
    let nats = async_nats::connect(&s.nats)
        .await
        .map_err(|e| format!("NATS: {e}"))?;
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
    let messages = TracedJsStream::with_messaging(
        pull.messages().await.map_err(|e| e.to_string())?,
        svc.fulfillment.messaging(tracewire_nats::SYSTEM),
    );
    let svc = svc.clone();
    Ok(tokio::spawn(async move {
        report(
            "fulfillment",
            services::fulfillment::run(&svc.fulfillment, &svc.notifications, messages, progress)
                .await,
        )
    }))
}
