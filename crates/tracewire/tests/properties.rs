//! Property tests: parsing never panics on arbitrary bytes; format∘parse round-trips; inject then
//! extract returns the same context, baggage and correlation id.

use opentelemetry::baggage::{BaggageExt, KeyValueMetadata};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;
use proptest::prelude::*;
use tracewire::carrier::MemoryHeaders;
use tracewire::w3c::{baggage, traceparent::Traceparent, tracestate};
use tracewire::{CorrelationContextExt, CorrelationId, Propagator};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$&'*+.^_`|~-]{1,12}"
}

fn ts_key() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9_*/-]{0,20}"
}

fn ts_value() -> impl Strategy<Value = String> {
    "[!-+\\--<>-~]([ !-+\\--<>-~]{0,30}[!-+\\--<>-~])?"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300),
                           many in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..8)) {
        let _ = Traceparent::parse(&bytes);
        let _ = Traceparent::parse_all(many.iter().map(Vec::as_slice));
        let _ = tracestate::parse(many.iter().map(Vec::as_slice));
        let _ = baggage::parse(many.iter().map(Vec::as_slice));
        let _ = CorrelationId::parse(&bytes);
        let headers = MemoryHeaders::from_pairs(many.iter().enumerate().map(|(i, v)| {
            (["traceparent", "tracestate", "baggage", "correlation_id"][i % 4], v.clone())
        }));
        let out = Propagator::new().extract(&headers);
        prop_assert!(out.context.correlation_id().is_some());
    }

    #[test]
    fn traceparent_round_trips(trace in 1u128.., span in 1u64.., flags in 0u8..4) {
        let tp = Traceparent { trace_id: TraceId::from(trace), parent_id: SpanId::from(span), flags: TraceFlags::new(flags) };
        prop_assert_eq!(Traceparent::parse(&tp.format()), Ok(tp));
    }

    #[test]
    fn tracestate_round_trips(members in proptest::collection::btree_map(ts_key(), ts_value(), 0..32)) {
        let state = TraceState::from_key_value(members.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        let mut out = Vec::new();
        prop_assert_eq!(tracestate::format(&state, &mut out), 0);
        let parsed = tracestate::parse([out.as_slice()]).unwrap();
        prop_assert_eq!(parsed.state, state);
    }

    #[test]
    fn baggage_round_trips(members in proptest::collection::btree_map(token(), any::<String>(), 0..10)) {
        let bag = opentelemetry::baggage::Baggage::from_iter(
            members.iter().map(|(k, v)| KeyValueMetadata::new(k.clone(), v.clone(), "")));
        let mut out = Vec::new();
        prop_assert_eq!(baggage::format(&bag, &mut out).total(), 0);
        let (parsed, dropped) = baggage::parse([out.as_slice()]);
        prop_assert_eq!(dropped.total(), 0);
        for (k, (v, _)) in &bag {
            prop_assert_eq!(parsed.get(k.as_str()), Some(v));
        }
        prop_assert_eq!(parsed.len(), bag.len());
    }

    #[test]
    fn inject_then_extract_is_identity(trace in 1u128.., span in 1u64.., sampled in any::<bool>(),
                                       id in "[!#-&(-+\\--:<-\\[\\]-~]{1,128}",
                                       bag in proptest::collection::btree_map(token(), "[ -~]{0,20}", 0..5)) {
        let sc = SpanContext::new(TraceId::from(trace), SpanId::from(span),
            TraceFlags::default().with_sampled(sampled), false, TraceState::NONE);
        let cx = Context::new()
            .with_remote_span_context(sc.clone())
            .with_baggage(bag.iter().map(|(k, v)| KeyValueMetadata::new(k.clone(), v.clone(), "")))
            .with_correlation_id(CorrelationId::parse(id.as_bytes()).unwrap());
        let p = Propagator::new();
        let mut headers = MemoryHeaders::new();
        p.inject(&cx, &mut headers);
        let out = p.extract(&headers);
        prop_assert!(out.issues.is_clean());
        let got = out.context.span().span_context().clone();
        // A trace begun here (a local span context, nothing received) is sent with the Level 2
        // random flag: its id was drawn at random.
        let flags = TraceFlags::new(sc.trace_flags().to_u8() | 0x02);
        prop_assert_eq!((got.trace_id(), got.span_id(), got.trace_flags()), (sc.trace_id(), sc.span_id(), flags));
        prop_assert_eq!(out.context.correlation_id(), cx.correlation_id());
        for (k, v) in &bag {
            prop_assert_eq!(out.context.baggage().get(k.as_str()).map(|v| v.as_str().to_owned()), Some(v.clone()));
        }
    }
}
