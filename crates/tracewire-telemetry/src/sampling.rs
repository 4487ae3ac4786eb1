//! Span logs that see every span while exporters ship only the sampled share.
//!
//! OpenTelemetry's sampler has three answers: drop, record only, record and sample. Span
//! processors see every recording span; exporters (tracewire's OTLP, Zipkin and console
//! processors, as the SDK's own) ship only sampled ones. [`RecordAll`] turns the head sampler's
//! "drop" into "record only": the span log then holds every span, each line saying
//! `trace_sampled`, while the backend gets exactly what the sampler chose.

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

/// A sampler whose "drop" becomes "record only"; its other answers are the inner sampler's.
#[derive(Debug, Clone)]
pub struct RecordAll<S>(pub S);

impl<S: ShouldSample + Clone + 'static> ShouldSample for RecordAll<S> {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let mut result =
            (self.0).should_sample(parent_context, trace_id, name, span_kind, attributes, links);
        if result.decision == SamplingDecision::Drop {
            result.decision = SamplingDecision::RecordOnly;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::trace::Sampler;

    #[test]
    fn drop_becomes_record_only_and_sampled_stays_sampled() {
        let decide = |s: &dyn ShouldSample| {
            let kind = SpanKind::Internal;
            (s.should_sample(None, TraceId::from(7u128), "x", &kind, &[], &[])).decision
        };
        assert_eq!(
            decide(&RecordAll(Sampler::AlwaysOff)),
            SamplingDecision::RecordOnly
        );
        assert_eq!(
            decide(&RecordAll(Sampler::AlwaysOn)),
            SamplingDecision::RecordAndSample
        );
    }
}
