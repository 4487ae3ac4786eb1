//! Trace boundaries beyond the topology: a message that waited too long, or crossed too many
//! hops, starts a new trace linked to its own context — so a dead-letter replay days later, or
//! a message bounced through a loop, does not keep a trace open for ever.
//!
//! The hop count travels in the `tracestate` member `tracewire=h:<n>`: W3C's place for a
//! vendor's own state, kept by every OpenTelemetry SDK across the spans of a trace and passed on
//! unchanged by other languages' instrumentations.

use super::policy::with_trace_state;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceState};
use opentelemetry::{Context, KeyValue};
use std::time::{Duration, SystemTime};

/// The `tracestate` key under which tracewire counts hops.
pub const HOP_MEMBER: &str = "tracewire";
/// Span attribute: why this span starts a new trace (`hop_count` or `queue_time`).
pub const TRACE_BOUNDARY: &str = "tracewire.trace_boundary";
/// Span attribute: the hops the message had crossed when a boundary was drawn.
pub const HOP_COUNT: &str = "tracewire.hop_count";
/// Span attribute: how long the message had waited when a boundary was drawn.
pub const QUEUE_TIME_MS: &str = "tracewire.queue_time_ms";

/// When a received message starts a new trace.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TraceBoundary {
    pub(crate) after_queue_time: Option<Duration>,
    pub(crate) after_hops: Option<u32>,
    pub(crate) count_hops: bool,
}

impl TraceBoundary {
    /// The attributes of the boundary this message crosses, if it crosses one.
    pub(crate) fn crossed(
        &self,
        msg: &SpanContext,
        sent_at: Option<SystemTime>,
    ) -> Option<[KeyValue; 2]> {
        if !msg.is_valid() {
            return None;
        }
        if let (Some(limit), Some(n)) = (self.after_hops, hops(msg.trace_state())) {
            if n > limit {
                return Some([
                    KeyValue::new(TRACE_BOUNDARY, "hop_count"),
                    KeyValue::new(HOP_COUNT, i64::from(n)),
                ]);
            }
        }
        let waited = sent_at.and_then(|t| SystemTime::now().duration_since(t).ok());
        match (self.after_queue_time, waited) {
            (Some(limit), Some(waited)) if waited > limit => Some([
                KeyValue::new(TRACE_BOUNDARY, "queue_time"),
                KeyValue::new(QUEUE_TIME_MS, waited.as_millis() as i64),
            ]),
            _ => None,
        }
    }
}

/// The hops counted in `state`, when it counts them.
pub(crate) fn hops(state: &TraceState) -> Option<u32> {
    state.get(HOP_MEMBER)?.strip_prefix("h:")?.parse().ok()
}

/// The context a send injects, its hop count one more, when the trace counts hops (or `start`s
/// counting here); `None`: nothing to change.
pub(crate) fn next_hop(cx: &Context, start: bool) -> Option<Context> {
    let span = cx.span();
    let sc = span.span_context();
    let counted = match hops(sc.trace_state()) {
        Some(n) => n,
        None if start && sc.is_valid() => 0,
        None => return None,
    };
    let member = format!("h:{}", counted.saturating_add(1));
    let state = sc.trace_state().insert(HOP_MEMBER, member).ok()?;
    Some(with_trace_state(cx, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_are_counted_in_front_of_other_members() {
        let cx = crate::testing::sample_context();
        assert!(
            next_hop(&cx, false).is_none(),
            "a trace that does not count stays as it is"
        );
        let one = next_hop(&cx, true).unwrap();
        let vendor = with_trace_state(
            &one,
            (one.span()
                .span_context()
                .trace_state()
                .insert("vendor", "x"))
            .unwrap(),
        );
        let two = next_hop(&vendor, false).unwrap();
        let state = two.span().span_context().trace_state().clone();
        assert_eq!(state.header(), "tracewire=h:2,vendor=x");
        assert_eq!(hops(&state), Some(2));
        assert_eq!(
            hops(&TraceState::from_key_value([(HOP_MEMBER, "junk")]).unwrap()),
            None
        );
    }

    #[test]
    fn a_boundary_is_drawn_past_the_hop_or_queue_time_limit() {
        let cx = crate::testing::sample_context();
        let three = (0..3).fold(cx.clone(), |cx, _| next_hop(&cx, true).unwrap());
        let sc = three.span().span_context().clone();
        let hops = TraceBoundary {
            after_hops: Some(2),
            ..Default::default()
        };
        let crossed = hops.crossed(&sc, None).unwrap();
        assert_eq!(crossed[0].value.as_str(), "hop_count");
        assert_eq!(crossed[1].value, opentelemetry::Value::I64(3));
        let three = TraceBoundary {
            after_hops: Some(3),
            ..Default::default()
        };
        assert!(
            three.crossed(&sc, None).is_none(),
            "the third hop is still allowed"
        );
        let waited = TraceBoundary {
            after_queue_time: Some(Duration::from_secs(60)),
            ..Default::default()
        };
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        let crossed = waited.crossed(&sc, Some(hour_ago)).unwrap();
        assert_eq!(crossed[0].value.as_str(), "queue_time");
        assert!(waited.crossed(&sc, Some(SystemTime::now())).is_none());
        assert!(
            waited.crossed(&sc, None).is_none(),
            "no timestamp, no decision"
        );
    }
}
