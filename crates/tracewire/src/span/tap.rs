//! A tap on the messaging metrics, with the span each measurement belongs to: for exporters that
//! attach exemplars (trace and span ids on histogram buckets), which opentelemetry_sdk 0.33 never
//! records. One per process, set once; costs one atomic load per measurement when unset.

use opentelemetry::trace::SpanContext;
use opentelemetry::KeyValue;
use std::sync::{Arc, OnceLock};

/// Receives every messaging measurement as it is recorded.
pub trait MetricsTap: Send + Sync + 'static {
    /// A duration (`messaging.client.operation.duration` or `messaging.process.duration`).
    fn duration(
        &self,
        metric: &'static str,
        seconds: f64,
        attributes: &[KeyValue],
        span: &SpanContext,
    );
    /// A count (`messaging.client.sent.messages` or `messaging.client.consumed.messages`).
    fn count(
        &self,
        metric: &'static str,
        messages: u64,
        attributes: &[KeyValue],
        span: &SpanContext,
    );
}

static TAP: OnceLock<Arc<dyn MetricsTap>> = OnceLock::new();

/// Installs the process's tap; `false` if one is installed already (it stays).
pub fn set_metrics_tap(tap: Arc<dyn MetricsTap>) -> bool {
    TAP.set(tap).is_ok()
}

pub(crate) fn tap() -> Option<&'static Arc<dyn MetricsTap>> {
    TAP.get()
}
