//! The five services of the checkout pipeline.

pub mod fulfillment;
pub mod gateway;
pub mod inventory;
pub mod payment;

use opentelemetry::Context;

/// What the pipeline reports back to the orchestrator, per order.
#[derive(Debug)]
pub enum Done {
    /// Shipped; the context is the fulfillment span's, for the notification digest.
    Fulfilled { order: String, cx: Context },
    /// The payment failed.
    PaymentFailed { order: String },
    /// Handed to fulfillment (which, in `--drop fulfillment` runs, never picks it up).
    HandedToFulfillment { order: String },
}

/// Reports progress.
pub type Progress = tokio::sync::mpsc::UnboundedSender<Done>;

/// `order_id` from a message body (`{"order_id": "..."}`).
pub fn order_id(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("order_id")
                .and_then(|o| o.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".into())
}
