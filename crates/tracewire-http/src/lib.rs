//! # tracewire-http
//!
//! The HTTP hop of a traced pipeline, written once instead of by hand in every service.
//!
//! - Servers: [`TraceLayer`], a tower `Layer` (axum, hyper, tonic): extracts `traceparent`,
//!   `tracestate`, `baggage` and `X-Correlation-Id` (keeping the caller's id, generating one on
//!   the first hop — as tower-http's request-id does), starts a SERVER span with the HTTP
//!   semantic conventions, makes its context current for the handler (and its `tracing` spans),
//!   and returns the correlation id in the response.
//! - Clients: [`TraceMiddleware`] for reqwest-middleware (feature `reqwest`): a CLIENT span per
//!   request, the context and `X-Correlation-Id` injected.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use tracewire_http::TraceLayer;
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = Router::new()
//!     .route("/orders/{id}", get(|| async { "ok" }))
//!     .layer(TraceLayer::new()); // span `GET /orders/{id}`, context current in the handler
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attributes;
#[cfg(feature = "reqwest")]
mod builder;
mod client;
mod future;
mod layer;
mod service;

#[cfg(feature = "reqwest")]
pub use client::TraceMiddleware;
pub use future::ResponseFuture;
pub use layer::TraceLayer;
pub use service::TraceService;
