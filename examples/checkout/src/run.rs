//! `checkout run`: the whole pipeline in one process, N checkouts through it, then what
//! `tracewire analyze` and `tracewire lost` say about them.

use crate::pipeline::{self, Services};
use crate::services::{payment::Charge, Done};
use crate::settings::Settings;
use opentelemetry::Context;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracewire::task::Batch;

/// Options of a run.
pub struct RunOptions {
    pub orders: usize,
    pub charge: Charge,
    pub drop_fulfillment: bool,
    pub out: PathBuf,
    pub namespace: String,
}

pub async fn run(o: RunOptions) -> Result<(), String> {
    let mut settings = Settings::from_env(&o.namespace);
    // A first run in minutes: with no Kafka to be found and none named, an in-process one.
    let _embedded = embedded_kafka(&mut settings)?;
    settings.check_reachable()?;
    std::fs::create_dir_all(&o.out)
        .map_err(|e| format!("cannot create {}: {e}", o.out.display()))?;
    pipeline::prepare(&settings).await?;
    let services = Services::new(&o.out)?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let tasks = pipeline::start(&settings, &services, o.charge, !o.drop_fulfillment, tx).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = crate::services::gateway::app(
        &services.gateway,
        pipeline::producer(&settings, &services)?,
        settings.orders.clone(),
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    println!("checkout: {} orders through http://{addr}/checkout → Kafka {} → RabbitMQ {} → NATS {} → background jobs", o.orders, settings.orders, settings.payments, settings.fulfillment);
    let client = reqwest::Client::new();
    let mut first: Option<serde_json::Value> = None;
    for n in 0..o.orders {
        let mut request = client
            .post(format!("http://{addr}/checkout"))
            .body(format!("{{\"cart\":{n}}}"));
        if n == 0 {
            // The first checkout arrives with a context of its own, as from a browser or an edge proxy.
            let (traceparent, correlation) = tracewire_cli::context_cmd::new_context();
            request = request
                .header("traceparent", traceparent)
                .header("x-correlation-id", correlation);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("api-gateway: {e}"))?;
        let body: serde_json::Value =
            serde_json::from_str(&response.text().await.map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        println!(
            "  {} {} trace_id={} correlation_id={}",
            body["order_id"].as_str().unwrap_or("?"),
            body["status"].as_str().unwrap_or("?"),
            body["trace_id"].as_str().unwrap_or("?"),
            body["correlation_id"].as_str().unwrap_or("?")
        );
        first.get_or_insert(body);
    }

    // Wait for every order to end somewhere.
    let mut fulfilled: Vec<(Context, String)> = Vec::new();
    let mut ended = 0;
    while ended < o.orders {
        match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
            Ok(Some(Done::Fulfilled { order, cx })) => {
                println!("  {order}: shipped");
                fulfilled.push((cx, order));
                ended += 1;
            }
            Ok(Some(Done::PaymentFailed { order })) => {
                println!("  {order}: payment failed");
                ended += 1;
            }
            Ok(Some(Done::HandedToFulfillment { order })) if o.drop_fulfillment => {
                println!("  {order}: handed to fulfillment, which is down");
                ended += 1;
            }
            Ok(Some(Done::HandedToFulfillment { .. })) => {}
            _ => {
                return Err(format!(
                    "only {ended} of {} orders finished within 60 s",
                    o.orders
                ))
            }
        }
    }
    if !fulfilled.is_empty() {
        // The notification digest: one batch span linking every fulfilled order's trace.
        let notifications = &services.notifications;
        let digest = Batch::new("notification-digest")
            .tracer(notifications.tracer())
            .run(fulfilled, |order| async move {
                tracing::info!(order_id = %order, "added to the digest");
                Ok::<_, String>(())
            });
        tracing::instrument::WithSubscriber::with_subscriber(
            digest,
            notifications.dispatch.clone(),
        )
        .await;
    }
    server.abort();
    tasks.iter().for_each(|t| t.abort());
    for svc in [
        &services.gateway,
        &services.inventory,
        &services.payment,
        &services.fulfillment,
        &services.notifications,
    ] {
        svc.guard.flush(); // every span log written before the analysis reads them
    }
    report(&o.out, first.as_ref())
}

/// What the CLI finds in the span logs.
fn report(out: &Path, first: Option<&serde_json::Value>) -> Result<(), String> {
    let logs = [
        "api-gateway",
        "inventory",
        "payment",
        "fulfillment",
        "notifications",
    ]
    .map(|s| Some(out.join(format!("{s}.spans.jsonl"))));
    let trace_id = first
        .and_then(|b| b["trace_id"].as_str())
        .unwrap_or_default()
        .to_owned();
    let (c, _) = tracewire_cli::collect(&logs, Some(&trace_id))?;
    println!(
        "\n== tracewire analyze\n{}",
        tracewire_cli::render::summary_text(&tracewire_cli::analysis::summary(&c, 0)).trim_end()
    );
    if let Some(r) = tracewire_cli::analysis::trace_report(&c, &trace_id, 0) {
        println!(
            "\n== tracewire analyze --trace-id {trace_id}\n{}",
            tracewire_cli::render::report_text(&r).trim_end()
        );
        let html = out.join("checkout.html");
        std::fs::write(&html, tracewire_cli::timeline::html(&r)).map_err(|e| e.to_string())?;
        println!("\nHTML waterfall: {}", html.display());
    }
    if !c.lost(0).is_empty() {
        println!(
            "\n== tracewire lost\n{}",
            tracewire_cli::render::lost_text(&c, 0).trim_end()
        );
    }
    println!(
        "\nspan logs and log lines: {}/*.jsonl (tracewire analyze {}/*.spans.jsonl)",
        out.display(),
        out.display()
    );
    Ok(())
}

/// librdkafka's in-process mock cluster, when `KAFKA_BROKERS` is unset and nothing answers on
/// the default port (or `CHECKOUT_KAFKA=mock` asks for it): says so in one line. RabbitMQ and NATS
/// are needed as before; the real-broker path stays the documented one.
fn embedded_kafka(
    settings: &mut Settings,
) -> Result<
    Option<rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>>,
    String,
> {
    let forced = std::env::var("CHECKOUT_KAFKA").is_ok_and(|v| v == "mock");
    if !forced && (settings.kafka_given || settings.kafka_reachable()) {
        return Ok(None);
    }
    let cluster = rdkafka::mocking::MockCluster::new(1).map_err(|e| e.to_string())?;
    (cluster.create_topic(&settings.orders, 1, 1)).map_err(|e| format!("Kafka (mock): {e}"))?;
    settings.kafka = cluster.bootstrap_servers();
    settings.kafka_embedded = true;
    let why = match forced {
        true => "CHECKOUT_KAFKA=mock",
        false => "KAFKA_BROKERS unset and nothing on 127.0.0.1:9092",
    };
    println!(
        "checkout: Kafka is librdkafka's in-process mock cluster at {} ({why}; a real one: scripts/brokers.sh kafka)",
        settings.kafka
    );
    Ok(Some(cluster))
}
