//! W3C Trace Context Level 2, to the letter, through all four carriers (HTTP `HeaderMap`, Kafka
//! `OwnedHeaders`, AMQP `BasicProperties`, NATS `HeaderMap`): a received context is extracted, a
//! child span starts from an SDK tracer, and the child's context is injected — as a service
//! does. Each vector says what the child's `traceparent` flags and `tracestate` must be.

use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use opentelemetry::Context;
use tracewire::carrier::HeaderReader;
use tracewire::testing::SpanRecorder;
use tracewire::Propagator;

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7";

/// One case: the received flags and `tracestate` header values; the flags the child must send
/// and its `tracestate` (`None`: none at all).
struct Vector {
    name: &'static str,
    flags: &'static str,
    tracestate: &'static [&'static str],
    sent_flags: &'static str,
    sent_state: Option<&'static str>,
}

fn vectors() -> Vec<Vector> {
    let key256 = Box::leak(format!("k{}", "a".repeat(255)).into_boxed_str());
    let key257 = Box::leak(format!("k{}", "a".repeat(256)).into_boxed_str());
    let at256 = Box::leak(format!("t{}@vendor", "a".repeat(248)).into_boxed_str());
    let v = |name, flags, tracestate: &'static [&'static str], sent_flags, sent_state| Vector {
        name,
        flags,
        tracestate,
        sent_flags,
        sent_state,
    };
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let one = |s: &'static str| -> &'static [&'static str] { Box::leak(Box::new([s])) };
    vec![
        // 1. Level 2 random flag: kept on children, sampled or not.
        v("random, not sampled", "02", &[], "02", None),
        v("random and sampled", "03", &[], "03", None),
        v("neither", "00", &[], "00", None),
        v("sampled only", "01", &[], "01", None),
        // 2. A duplicated key: the tracestate is inherited, the first occurrence kept.
        v(
            "same member twice",
            "01",
            &["foo=1,foo=1"],
            "01",
            Some("foo=1"),
        ),
        v(
            "one key, two values",
            "01",
            &["foo=1,foo=2"],
            "01",
            Some("foo=1"),
        ),
        v(
            "one key in two headers",
            "01",
            &["foo=1", "foo=2"],
            "01",
            Some("foo=1"),
        ),
        // 3. Keys the grammar allows and OpenTelemetry's TraceState refuses: kept in place.
        v(
            "foo@=",
            "01",
            &["a=1,foo@=1,b=2"],
            "01",
            Some("a=1,foo@=1,b=2"),
        ),
        v(
            "foo@@bar",
            "01",
            &["foo@@bar=1,b=2"],
            "01",
            Some("foo@@bar=1,b=2"),
        ),
        v(
            "foo@bar@baz",
            "01",
            &["a=1,foo@bar@baz=1"],
            "01",
            Some("a=1,foo@bar@baz=1"),
        ),
        v(
            "256 with @",
            "01",
            one(leak(format!("a=1,{at256}=x,b=2"))),
            "01",
            Some(leak(format!("a=1,{at256}=x,b=2"))),
        ),
        v("@ first", "01", &["a=1,@foo=1"], "01", None),
        // 4. Key length.
        v(
            "256 plain",
            "01",
            one(leak(format!("{key256}=1"))),
            "01",
            Some(leak(format!("{key256}=1"))),
        ),
        v(
            "257 plain",
            "01",
            one(leak(format!("a=1,{key257}=1"))),
            "01",
            None,
        ),
    ]
}

/// A carrier as a service meets it: headers in from the wire, headers out to it.
trait Wire: Sized {
    const NAME: &'static str;
    fn received(pairs: &[(&str, &str)]) -> Self;
    fn extract(&self, p: &Propagator) -> Context;
    fn inject(p: &Propagator, cx: &Context) -> Self;
    fn sent(&self, name: &str) -> Vec<String>;
}

fn strings<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<String> {
    values
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

struct Http(http::HeaderMap);
impl Wire for Http {
    const NAME: &'static str = "HTTP";
    fn received(pairs: &[(&str, &str)]) -> Self {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        Http(h)
    }
    fn extract(&self, p: &Propagator) -> Context {
        p.extract(&self.0).context
    }
    fn inject(p: &Propagator, cx: &Context) -> Self {
        let mut h = http::HeaderMap::new();
        p.inject(cx, &mut h);
        Http(h)
    }
    fn sent(&self, name: &str) -> Vec<String> {
        strings(<http::HeaderMap as HeaderReader>::values(&self.0, name))
    }
}

struct Kafka(rdkafka::message::OwnedHeaders);
impl Wire for Kafka {
    const NAME: &'static str = "Kafka";
    fn received(pairs: &[(&str, &str)]) -> Self {
        use rdkafka::message::{Header, OwnedHeaders};
        let h = (pairs.iter()).fold(OwnedHeaders::new(), |h, (key, v)| {
            h.insert(Header {
                key,
                value: Some(*v),
            })
        });
        Kafka(h)
    }
    fn extract(&self, p: &Propagator) -> Context {
        p.extract(&tracewire_kafka::KafkaHeaders::of_owned(Some(&self.0)))
            .context
    }
    fn inject(p: &Propagator, cx: &Context) -> Self {
        Kafka(tracewire_kafka::inject(p, cx, None))
    }
    fn sent(&self, name: &str) -> Vec<String> {
        strings(tracewire_kafka::KafkaHeaders::of_owned(Some(&self.0)).values(name))
    }
}

struct Amqp(lapin::BasicProperties);
impl Wire for Amqp {
    const NAME: &'static str = "AMQP";
    fn received(pairs: &[(&str, &str)]) -> Self {
        use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString};
        // AMQP tables cannot repeat a key: a repeated header is a field array.
        let mut table = FieldTable::default();
        let mut names: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
        names.dedup();
        for name in names {
            let values: Vec<AMQPValue> = (pairs.iter().filter(|(k, _)| *k == name))
                .map(|(_, v)| AMQPValue::LongString(LongString::from(*v)))
                .collect();
            let value = match values.len() {
                1 => values.into_iter().next().unwrap(),
                _ => AMQPValue::FieldArray(FieldArray::from(values)),
            };
            table.insert(name.into(), value);
        }
        Amqp(lapin::BasicProperties::default().with_headers(table))
    }
    fn extract(&self, p: &Propagator) -> Context {
        tracewire_amqp::extract(p, &self.0).context
    }
    fn inject(p: &Propagator, cx: &Context) -> Self {
        Amqp(tracewire_amqp::inject(
            p,
            cx,
            lapin::BasicProperties::default(),
        ))
    }
    fn sent(&self, name: &str) -> Vec<String> {
        strings(tracewire_amqp::AmqpHeaders::new(&self.0).values(name))
    }
}

struct Nats(async_nats::HeaderMap);
impl Wire for Nats {
    const NAME: &'static str = "NATS";
    fn received(pairs: &[(&str, &str)]) -> Self {
        let mut h = async_nats::HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.parse::<async_nats::HeaderName>().unwrap(), v.to_string());
        }
        Nats(h)
    }
    fn extract(&self, p: &Propagator) -> Context {
        tracewire_nats::extract(p, Some(&self.0)).context
    }
    fn inject(p: &Propagator, cx: &Context) -> Self {
        Nats(tracewire_nats::inject(p, cx, None))
    }
    fn sent(&self, name: &str) -> Vec<String> {
        strings(tracewire_nats::NatsHeaders(Some(&self.0)).values(name))
    }
}

fn run<W: Wire>() {
    let rec = SpanRecorder::new();
    let tracer = rec.provider().tracer("service");
    let p = Propagator::new();
    for v in vectors() {
        let traceparent = format!("{PARENT}-{}", v.flags);
        let mut pairs = vec![("traceparent", traceparent.as_str())];
        pairs.extend(v.tracestate.iter().map(|s| ("tracestate", *s)));
        let received = W::received(&pairs).extract(&p);
        let child = tracer.start_with_context("handle", &received);
        let cx = received.with_span(child);
        let sent = W::inject(&p, &cx);
        let tp = sent.sent("traceparent");
        let what = format!("{}: {}", W::NAME, v.name);
        assert_eq!(tp.len(), 1, "{what}");
        assert!(
            tp[0].starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{what}: {tp:?}"
        );
        assert_eq!(&tp[0][53..], v.sent_flags, "{what}: flags of {}", tp[0]);
        let state = sent.sent("tracestate");
        assert_eq!(state.first().map(String::as_str), v.sent_state, "{what}");
        assert!(state.len() <= 1, "{what}: one tracestate value");
        cx.span().end();
    }
}

#[test]
fn vectors_hold_over_http() {
    run::<Http>();
}

#[test]
fn vectors_hold_over_kafka() {
    run::<Kafka>();
}

#[test]
fn vectors_hold_over_amqp() {
    run::<Amqp>();
}

#[test]
fn vectors_hold_over_nats() {
    run::<Nats>();
}

#[test]
fn a_trace_begun_here_is_sent_with_the_random_flag() {
    let rec = SpanRecorder::new();
    let root = rec.provider().tracer("service").start("request");
    let cx = Context::new().with_span(root);
    let sent = Nats::inject(&Propagator::new(), &cx);
    assert!(
        sent.sent("traceparent")[0].ends_with("-03"),
        "sampled, and its id drawn at random"
    );
}
