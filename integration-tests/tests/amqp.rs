//! tracewire-amqp against the real RabbitMQ (127.0.0.1:5672 or AMQP_URL).

use futures_util::StreamExt;
use integration_tests::{amqp_url, unique};
use lapin::options::*;
use lapin::types::{AMQPValue, ByteArray, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use tracewire::messaging::attributes as a;
use tracewire::messaging::Messaging;
use tracewire::testing::{attribute_str, SpanRecorder};
use tracewire::{CorrelationContextExt, CorrelationId};
use tracewire_amqp::{TracedChannel, TracedConsumer, TracedDelivery, SYSTEM};

struct Rabbit {
    _conn: Connection,
    traced: TracedChannel,
    raw: Channel,
    rec: SpanRecorder,
}

async fn rabbit() -> Rabbit {
    let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .expect("RabbitMQ is up (scripts/brokers.sh)");
    let rec = SpanRecorder::new();
    let channel = conn.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let messaging = Messaging::builder(SYSTEM)
        .tracer(rec.tracer())
        .server("127.0.0.1", 5672)
        .build();
    let raw = conn.create_channel().await.unwrap();
    Rabbit {
        traced: TracedChannel::with_messaging(channel, messaging),
        raw,
        rec,
        _conn: conn,
    }
}

impl Rabbit {
    /// Publishes through the traced channel in `cx` and waits for the confirm.
    async fn publish_in(
        &self,
        queue: &str,
        cx: &Context,
        properties: BasicProperties,
    ) -> Confirmation {
        self.traced
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                b"x",
                properties,
            )
            .with_context_of(cx)
            .await
            .unwrap()
            .await
            .unwrap()
    }
    async fn queue(&self) -> String {
        let name = unique("tw-amqp");
        let options = QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        };
        self.raw
            .queue_declare(name.as_str().into(), options, FieldTable::default())
            .await
            .unwrap();
        name
    }

    async fn consumer(&self, queue: &str) -> TracedConsumer {
        let c = self
            .traced
            .inner()
            .basic_consume(
                queue.into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        TracedConsumer::with_messaging(c, self.traced.messaging().clone())
    }

    async fn raw_publish(&self, queue: &str, properties: BasicProperties) {
        self.raw
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                b"raw",
                properties,
            )
            .await
            .unwrap();
    }
}

async fn next(consumer: &mut TracedConsumer) -> TracedDelivery {
    consumer
        .next()
        .await
        .expect("a delivery")
        .expect("no consumer error")
}

fn request_context() -> Context {
    Context::new()
        .with_baggage([KeyValue::new("tenant", "acme")])
        .with_correlation_id(CorrelationId::parse(b"checkout-77").unwrap())
}

#[tokio::test]
async fn trace_baggage_and_correlation_id_survive_publish_and_consume() {
    let r = rabbit().await;
    let queue = r.queue().await;
    let mut consumer = r.consumer(&queue).await;
    let tracer = r.rec.provider().tracer("test");
    let root = tracer.start_with_context("checkout", &request_context());
    let cx = request_context().with_span(root);
    let confirm = r
        .traced
        .basic_publish(
            "".into(),
            queue.as_str().into(),
            BasicPublishOptions::default(),
            b"{\"order\":1}",
            BasicProperties::default(),
        )
        .with_context_of(&cx)
        .await
        .unwrap();
    assert_eq!(
        confirm.await.unwrap(),
        Confirmation::Ack(None),
        "the confirm is reported untouched"
    );
    cx.span().end();

    let delivery = next(&mut consumer).await;
    assert_eq!(
        delivery
            .message()
            .properties
            .correlation_id()
            .as_ref()
            .map(|s| s.as_str()),
        Some("checkout-77"),
        "AMQP correlation-id property set"
    );
    let seen = delivery
        .in_context(async {
            let cx = Context::current();
            (
                cx.baggage().get("tenant").map(|v| v.to_string()),
                cx.correlation_id().copied(),
            )
        })
        .await;
    assert_eq!(seen.0.as_deref(), Some("acme"));
    assert_eq!(seen.1.unwrap().as_str(), "checkout-77");
    assert!(delivery.ack(BasicAckOptions::default()).await.unwrap());

    let publish = r.rec.span(&format!("publish amq.default:{queue}"));
    let process = r.rec.span(&format!("process amq.default:{queue}:{queue}"));
    let root = r.rec.span("checkout");
    assert_eq!(publish.parent_span_id, root.span_context.span_id());
    assert_eq!(
        process.span_context.trace_id(),
        root.span_context.trace_id(),
        "one trace"
    );
    assert_eq!(
        process.parent_span_id,
        publish.span_context.span_id(),
        "consumer is a child of the publish"
    );
    assert_eq!(
        attribute_str(&process, a::CONVERSATION_ID).as_deref(),
        Some("checkout-77")
    );
    assert_eq!(
        attribute_str(&process, tracewire_amqp::RABBITMQ_ROUTING_KEY).as_deref(),
        Some(queue.as_str())
    );
    assert_eq!(
        attribute_str(&process, a::SUBSCRIPTION_NAME).as_deref(),
        Some(queue.as_str())
    );
    assert_eq!(
        attribute_str(&process, a::SYSTEM).as_deref(),
        Some("rabbitmq")
    );
    assert!(attribute_str(&process, tracewire_amqp::RABBITMQ_DELIVERY_TAG).is_some());
    assert_eq!(attribute_str(&publish, a::BODY_SIZE).as_deref(), Some("11"));
    assert_eq!(
        attribute_str(&process, a::SETTLED),
        None,
        "ended by the ack"
    );
    assert_eq!(r.rec.started(), r.rec.spans().len());
}

/// Runs a publish future in a given context (as a handler would).
trait WithContextOf: Sized {
    fn with_context_of(self, cx: &Context) -> tracewire::task::Traced<Self>;
}
impl<F: std::future::Future> WithContextOf for F {
    fn with_context_of(self, cx: &Context) -> tracewire::task::Traced<Self> {
        tracewire::task::Traced::new(self, cx.clone())
    }
}

#[tokio::test]
async fn a_caller_set_correlation_property_is_never_overwritten() {
    let r = rabbit().await;
    let queue = r.queue().await;
    let mut consumer = r.consumer(&queue).await;
    let props = BasicProperties::default().with_correlation_id("rpc-123".into());
    r.traced
        .basic_publish(
            "".into(),
            queue.as_str().into(),
            BasicPublishOptions::default(),
            b"x",
            props,
        )
        .with_context_of(&request_context())
        .await
        .unwrap()
        .await
        .unwrap();
    let d = next(&mut consumer).await;
    assert_eq!(
        d.message()
            .properties
            .correlation_id()
            .as_ref()
            .unwrap()
            .as_str(),
        "rpc-123"
    );
    assert_eq!(
        d.context().correlation_id().unwrap().as_str(),
        "checkout-77",
        "the header wins over the property"
    );
    d.ack(BasicAckOptions::default()).await.unwrap();
}

#[tokio::test]
async fn a_plain_lapin_message_without_headers_gets_a_fresh_trace() {
    let r = rabbit().await;
    let queue = r.queue().await;
    let mut consumer = r.consumer(&queue).await;
    r.raw_publish(&queue, BasicProperties::default()).await;
    r.raw_publish(
        &queue,
        BasicProperties::default().with_correlation_id("from-property".into()),
    )
    .await;
    let first = next(&mut consumer).await;
    assert!(
        first.context().correlation_id().is_some(),
        "a fresh correlation id"
    );
    first.ack(BasicAckOptions::default()).await.unwrap();
    let second = next(&mut consumer).await;
    assert_eq!(
        second.context().correlation_id().unwrap().as_str(),
        "from-property",
        "the property is read when no header"
    );
    second.ack(BasicAckOptions::default()).await.unwrap();
    for span in r.rec.spans() {
        assert_eq!(span.parent_span_id, SpanId::INVALID, "a new root");
        assert!(span.links.links.is_empty());
    }
    let stats = r.traced.messaging().propagator().stats().snapshot();
    assert_eq!(stats.traceparent_missing, 2);
    assert_eq!(stats.correlation_missing, 1);
}

#[tokio::test]
async fn garbage_headers_are_delivered_and_acked_with_a_fresh_trace() {
    let r = rabbit().await;
    let queue = r.queue().await;
    let mut consumer = r.consumer(&queue).await;
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let cases: Vec<(&str, Vec<(&str, AMQPValue)>)> = vec![
        (
            "non-utf8",
            vec![(
                "traceparent",
                AMQPValue::ByteArray(ByteArray::from(vec![0xff, 0xfe, 0x00, 0x80])),
            )],
        ),
        ("integer", vec![("traceparent", AMQPValue::LongLongInt(42))]),
        (
            "crlf-tracestate",
            vec![
                ("traceparent", AMQPValue::LongString(LongString::from(tp))),
                (
                    "tracestate",
                    AMQPValue::LongString(LongString::from("a=1\r\nx-evil: 1")),
                ),
            ],
        ),
        // RabbitMQ refuses a content header larger than frame_max (128 KiB by default) and closes the
        // connection, so 100 KiB is the largest hostile baggage that can reach a consumer.
        (
            "huge-baggage",
            vec![(
                "baggage",
                AMQPValue::LongString(LongString::from(format!("k={}", "v".repeat(100 << 10)))),
            )],
        ),
        (
            "table",
            vec![
                ("traceparent", AMQPValue::FieldTable(FieldTable::default())),
                (
                    "correlation_id",
                    AMQPValue::LongString(LongString::from("evil\r\nid")),
                ),
            ],
        ),
    ];
    for (name, headers) in &cases {
        let mut table = FieldTable::default();
        for (k, v) in headers {
            table.insert(ShortString::from(*k), v.clone());
        }
        let props = BasicProperties::default()
            .with_headers(table)
            .with_message_id((*name).into());
        r.raw_publish(&queue, props).await;
    }
    for _ in &cases {
        let d = next(&mut consumer).await;
        let case = d
            .message()
            .properties
            .message_id()
            .clone()
            .unwrap()
            .to_string();
        let cx = d.context().clone();
        let valid_parent = case == "crlf-tracestate";
        assert_eq!(
            cx.span().span_context().trace_state().header(),
            "",
            "{case}: no tracestate survives"
        );
        assert!(
            !cx.correlation_id().unwrap().as_str().contains("evil"),
            "{case}"
        );
        assert!(
            d.ack(BasicAckOptions::default()).await.unwrap(),
            "{case}: acked"
        );
        let span = r.rec.spans().into_iter().last().unwrap();
        assert_eq!(
            span.parent_span_id != SpanId::INVALID,
            valid_parent,
            "{case}: fresh trace unless the traceparent was valid"
        );
        for kv in &span.attributes {
            let v = kv.value.as_str();
            assert!(
                !v.contains('\r') && !v.contains("evil") && v.len() < 4096,
                "{case}: raw hostile value in {}",
                kv.key
            );
        }
    }
    let stats = r.traced.messaging().propagator().stats().snapshot();
    assert_eq!(stats.tracestate_dropped, 1);
    assert_eq!(stats.baggage_members_dropped, 1);
    assert_eq!(stats.correlation_replaced, 1);
}

#[tokio::test]
async fn a_nacked_and_requeued_message_keeps_its_original_trace() {
    let r = rabbit().await;
    let queue = r.queue().await;
    let mut consumer = r.consumer(&queue).await;
    r.publish_in(&queue, &request_context(), BasicProperties::default())
        .await;
    let first = next(&mut consumer).await;
    let original = first.context().span().span_context().trace_id();
    first
        .nack(BasicNackOptions {
            requeue: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let again = next(&mut consumer).await;
    assert!(again.message().redelivered);
    assert_eq!(again.context().span().span_context().trace_id(), original);
    again.ack(BasicAckOptions::default()).await.unwrap();
    let name = format!("process amq.default:{queue}:{queue}");
    let spans: Vec<_> = r
        .rec
        .spans()
        .into_iter()
        .filter(|s| s.name == name)
        .collect();
    assert_eq!(spans.len(), 2);
    assert_eq!(
        spans[0].parent_span_id, spans[1].parent_span_id,
        "both children of the same publish"
    );
    assert_eq!(
        attribute_str(&spans[0], a::ERROR_TYPE).as_deref(),
        Some("nack")
    );
    assert_eq!(
        attribute_str(&spans[1], a::REDELIVERED).as_deref(),
        Some("true")
    );
}

#[tokio::test]
async fn an_rpc_round_trip_is_one_trace() {
    let r = rabbit().await;
    let requests = r.queue().await;
    let replies = r.queue().await;
    let mut request_consumer = r.consumer(&requests).await;
    let mut reply_consumer = r.consumer(&replies).await;
    let tracer = r.rec.provider().tracer("test");
    let root = Context::new().with_span(tracer.start("client-call"));
    let props = BasicProperties::default()
        .with_reply_to(replies.as_str().into())
        .with_correlation_id("rpc-1".into());
    r.traced
        .basic_publish(
            "".into(),
            requests.as_str().into(),
            BasicPublishOptions::default(),
            b"ping",
            props,
        )
        .with_context_of(&root)
        .await
        .unwrap()
        .await
        .unwrap();

    let request = next(&mut request_consumer).await;
    let props = request.message().properties.clone();
    request
        .in_context(async {
            r.traced
                .reply(
                    &props,
                    BasicPublishOptions::default(),
                    b"pong",
                    BasicProperties::default(),
                )
                .await
                .unwrap()
                .await
                .unwrap();
        })
        .await;
    request.ack(BasicAckOptions::default()).await.unwrap();

    let reply = next(&mut reply_consumer).await;
    assert_eq!(reply.data(), b"pong");
    assert_eq!(
        reply
            .message()
            .properties
            .correlation_id()
            .as_ref()
            .unwrap()
            .as_str(),
        "rpc-1"
    );
    reply.ack(BasicAckOptions::default()).await.unwrap();
    root.span().end();

    let spans = r.rec.spans();
    let trace = r.rec.span("client-call").span_context.trace_id();
    assert_eq!(
        spans.len(),
        5,
        "call, publish request, process request, publish reply, process reply"
    );
    assert!(
        spans.iter().all(|s| s.span_context.trace_id() == trace),
        "one trace"
    );
}

#[tokio::test]
async fn basic_get_gives_a_receive_span() {
    let r = rabbit().await;
    let queue = r.queue().await;
    r.publish_in(&queue, &request_context(), BasicProperties::default())
        .await;
    let mut got = None;
    for _ in 0..50 {
        got = r
            .traced
            .basic_get(queue.as_str().into(), BasicGetOptions::default())
            .await
            .unwrap();
        if got.is_some() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let d = got.expect("the message is there");
    d.ack(BasicAckOptions::default()).await.unwrap();
    let span = r.rec.span(&format!("receive amq.default:{queue}:{queue}"));
    assert_eq!(span.span_kind, opentelemetry::trace::SpanKind::Client);
    assert_eq!(
        attribute_str(&span, a::OPERATION_TYPE).as_deref(),
        Some("receive")
    );
    assert_eq!(
        span.parent_span_id,
        r.rec
            .span(&format!("publish amq.default:{queue}"))
            .span_context
            .span_id()
    );
    assert_eq!(
        r.traced
            .basic_get(queue.as_str().into(), BasicGetOptions::default())
            .await
            .unwrap()
            .map(|_| ()),
        None
    );
}

#[tokio::test]
async fn an_unroutable_mandatory_publish_is_reported_and_marks_the_span() {
    let r = rabbit().await;
    let nowhere = unique("tw-nowhere");
    let confirm = r
        .traced
        .basic_publish(
            "".into(),
            nowhere.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            b"x",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(
        matches!(confirm, Confirmation::Ack(Some(_))),
        "lapin's answer, untouched: {confirm:?}"
    );
    let span = r.rec.span(&format!("publish amq.default:{nowhere}"));
    assert_eq!(
        attribute_str(&span, a::ERROR_TYPE).as_deref(),
        Some("returned")
    );
}

/// Every case of the shared hostile corpus that AMQP can carry, through the real RabbitMQ.
#[tokio::test]
async fn the_hostile_corpus_is_delivered_and_acked() {
    use tracewire::testing::hostile::{corpus, Value};
    let r = rabbit().await;
    let queue = r.queue().await;
    let mut consumer = r.consumer(&queue).await;
    let (mut sent, mut skipped) = (Vec::new(), Vec::new());
    for case in corpus() {
        // AMQP field names are short strings: a non-UTF-8 name cannot be written at all.
        if case
            .headers
            .iter()
            .any(|(k, _)| std::str::from_utf8(k).is_err())
        {
            skipped.push(case.name);
            continue;
        }
        let mut table = FieldTable::default();
        for (i, (k, v)) in case.headers.iter().enumerate() {
            // Field tables hold one value per name: repeats get another letter case, which the
            // carrier reads as the same header.
            let name: String = std::str::from_utf8(k)
                .unwrap()
                .chars()
                .enumerate()
                .map(|(j, c)| {
                    if j < 16 && (i >> j) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            let value = match v {
                Value::Bytes(b) => AMQPValue::LongString(LongString::from(b.clone())),
                Value::Integer(n) => AMQPValue::LongLongInt(*n),
                Value::Null => AMQPValue::Void,
            };
            table.insert(ShortString::from(name), value);
        }
        let props = BasicProperties::default()
            .with_headers(table)
            .with_message_id(case.name.into());
        r.raw_publish(&queue, props).await;
        sent.push(case);
    }
    assert_eq!(skipped, ["non-utf8-header-name"]);
    for _ in &sent {
        let d = next(&mut consumer).await;
        let name = d
            .message()
            .properties
            .message_id()
            .clone()
            .unwrap()
            .to_string();
        let case = sent.iter().find(|c| c.name == name).unwrap();
        let id = d.context().correlation_id().unwrap().to_string();
        assert!(
            d.ack(BasicAckOptions::default()).await.unwrap(),
            "{name} acked"
        );
        let span = r.rec.spans().into_iter().last().unwrap();
        integration_tests::check_hostile(case, &span, &id);
    }
    assert_eq!(r.rec.spans().len(), sent.len(), "every case processed");
}
