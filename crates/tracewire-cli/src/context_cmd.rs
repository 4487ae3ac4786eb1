//! `context new|parse`: make a traceparent and correlation id, or say which rule a value breaks.

use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use rand::Rng;
use tracewire::w3c::traceparent::{Traceparent, FLAG_RANDOM, FLAG_SAMPLED};
use tracewire::w3c::tracestate;
use tracewire::CorrelationId;

/// A fresh context: random trace and span ids (the random-trace-id flag set), sampled.
pub fn new_context() -> (String, String) {
    let mut rng = rand::rng();
    let tp = Traceparent {
        trace_id: TraceId::from(rng.random_range(1..=u128::MAX)),
        parent_id: SpanId::from(rng.random_range(1..=u64::MAX)),
        flags: TraceFlags::new(FLAG_SAMPLED | FLAG_RANDOM),
    };
    let text = String::from_utf8_lossy(&tp.format()).into_owned();
    (text, CorrelationId::generate().to_string())
}

/// Explains a traceparent (and optional tracestate): every field, or the rule broken.
pub fn explain(traceparent: &str, tracestate_value: Option<&str>) -> (bool, String) {
    let mut out = String::new();
    let ok = match Traceparent::parse(traceparent.as_bytes()) {
        Ok(tp) => {
            out.push_str(&format!(
                "traceparent: valid\n  trace-id:  {}\n  parent-id: {}\n  sampled:   {}\n  random:    {}\n",
                tp.trace_id,
                tp.parent_id,
                tp.flags.is_sampled(),
                tp.flags.to_u8() & FLAG_RANDOM != 0
            ));
            true
        }
        Err(e) => {
            out.push_str(&format!("traceparent: invalid — {e}\n"));
            false
        }
    };
    let ts_ok = match tracestate_value {
        None => true,
        Some(v) => match tracestate::parse([v.as_bytes()]) {
            Ok(p) => {
                out.push_str(&format!(
                    "tracestate: valid ({} members)\n",
                    p.state
                        .header()
                        .split(',')
                        .filter(|m| !m.is_empty())
                        .count()
                ));
                if p.duplicates > 0 {
                    out.push_str(&format!(
                        "  {} repeated key(s) dropped, the first occurrence kept\n",
                        p.duplicates
                    ));
                }
                if p.unrepresentable > 0 {
                    out.push_str(&format!(
                        "  {} member(s) OpenTelemetry cannot hold would be dropped\n",
                        p.unrepresentable
                    ));
                }
                true
            }
            Err(e) => {
                out.push_str(&format!("tracestate: invalid — {e}\n"));
                false
            }
        },
    };
    (ok && ts_ok, out)
}
