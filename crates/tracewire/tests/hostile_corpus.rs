//! The shared hostile corpus through the propagator alone: every expectation holds before any
//! broker is involved (the broker crates' integration tests send the same cases for real).

use opentelemetry::trace::TraceContextExt;
use tracewire::carrier::MemoryHeaders;
use tracewire::testing::hostile::{corpus, Trace, Value, VALID_PARENT_ID};
use tracewire::{CorrelationContextExt, Propagator};

#[test]
fn the_corpus_has_at_least_30_cases_and_every_outcome_holds() {
    let cases = corpus();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut names: Vec<_> = cases.iter().map(|c| c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "names are unique");
    let p = Propagator::new();
    for case in &cases {
        let headers = MemoryHeaders::from_pairs(case.headers.iter().filter_map(|(k, v)| {
            let name = String::from_utf8_lossy(k).into_owned();
            match v {
                Value::Bytes(b) => Some((name, b.clone())),
                Value::Integer(i) => Some((name, i.to_string().into_bytes())),
                Value::Null => None,
            }
        }));
        let out = p.extract(&headers);
        let sc = out.context.span().span_context().clone();
        match case.trace {
            Trace::Kept => assert_eq!(
                u64::from_be_bytes(sc.span_id().to_bytes()),
                VALID_PARENT_ID,
                "{}",
                case.name
            ),
            Trace::Fresh => assert!(!sc.is_valid(), "{}", case.name),
        }
        let id = out.context.correlation_id().unwrap().to_string();
        match case.correlation {
            Some(expected) => assert_eq!(id, expected, "{}", case.name),
            None => assert_eq!(id.len(), 36, "{}: a fresh UUID, not {id:?}", case.name),
        }
        assert!(!id.contains(case.poison), "{}", case.name);
        assert!(
            !sc.trace_state().header().contains(['\r', '\n']),
            "{}",
            case.name
        );
    }
}
