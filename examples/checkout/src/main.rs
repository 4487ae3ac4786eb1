//! `checkout`: the tracewire demo — a checkout pipeline HTTP → Kafka → RabbitMQ → NATS →
//! background jobs, one trace end to end.

// A binary: `pub` marks what the modules share with each other.
#![allow(unreachable_pub)]

mod pipeline;
mod run;
mod services;
mod settings;
mod telemetry;

use clap::{Parser, Subcommand, ValueEnum};
use services::payment::Charge;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "checkout",
    about = "The tracewire demo: one trace across HTTP, Kafka, RabbitMQ, NATS and background jobs"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Fail {
    /// Every charge times out: the payment fails after 3 attempts.
    PaymentTimeout,
}

#[derive(Clone, Copy, ValueEnum)]
enum Drop {
    /// The fulfillment service never picks its messages up.
    Fulfillment,
}

#[derive(Subcommand)]
enum Command {
    /// All five services in one process, N checkouts through them, then the analysis.
    Run {
        #[arg(long, default_value_t = 3)]
        orders: usize,
        #[arg(long, value_enum)]
        fail: Option<Fail>,
        #[arg(long, value_enum)]
        drop: Option<Drop>,
        /// Where span logs, log lines and the HTML waterfall go.
        #[arg(long, default_value = "target/checkout-demo")]
        out: std::path::PathBuf,
        /// Prefix for topic, queue, subject and consumer names (isolates concurrent runs).
        #[arg(long, default_value = "")]
        namespace: String,
    },
    /// One service alone (for docker-compose or separate terminals).
    Serve {
        #[arg(value_enum)]
        service: Service,
        #[arg(long, default_value = "target/checkout-demo")]
        out: std::path::PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Service {
    ApiGateway,
    Inventory,
    Payment,
    Fulfillment,
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = Cli::parse().command.unwrap_or(Command::Run {
        orders: 3,
        fail: None,
        drop: None,
        out: "target/checkout-demo".into(),
        namespace: String::new(),
    });
    let result = match command {
        Command::Run {
            orders,
            fail,
            drop,
            out,
            namespace,
        } => {
            let charge = if fail.is_some() {
                Charge::TimesOut
            } else {
                Charge::Works
            };
            run::run(run::RunOptions {
                orders,
                charge,
                drop_fulfillment: drop.is_some(),
                out,
                namespace,
            })
            .await
        }
        Command::Serve { service, out } => serve(service, out).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("checkout: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one service until Ctrl-C.
async fn serve(service: Service, out: std::path::PathBuf) -> Result<(), String> {
    let settings = settings::Settings::from_env("");
    settings.check_reachable()?;
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    pipeline::prepare(&settings).await?;
    let services = pipeline::Services::new(&out)?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let tasks = match service {
        Service::ApiGateway => {
            let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
            let listener = tokio::net::TcpListener::bind(format!("0.0.0.0:{port}"))
                .await
                .map_err(|e| e.to_string())?;
            let app = services::gateway::app(
                &services.gateway,
                pipeline::producer(&settings, &services)?,
                settings.orders.clone(),
            );
            println!("api-gateway: POST http://0.0.0.0:{port}/checkout");
            vec![tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            })]
        }
        Service::Inventory => vec![pipeline::start_inventory(&settings, &services).await?],
        Service::Payment => {
            vec![pipeline::start_payment(&settings, &services, Charge::Works, tx).await?]
        }
        Service::Fulfillment => vec![pipeline::start_fulfillment(&settings, &services, tx).await?],
    };
    println!("checkout: serving; Ctrl-C to stop");
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    tasks.iter().for_each(|t| t.abort());
    Ok(())
}
