//! Messaging spans: names, kinds, attributes, topology policy, hooks, and ending exactly once.

use opentelemetry::trace::{SpanKind, Status, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use tracewire::carrier::MemoryHeaders;
use tracewire::messaging::{attributes as a, Messaging, OperationSpec, OperationType, Topology};
use tracewire::testing::{attribute_str, ids, SpanRecorder};
use tracewire::{CorrelationContextExt, CorrelationId};
use tracewire::{OpenSpan, Outcome};

fn messaging(rec: &SpanRecorder, topology: Topology) -> Messaging {
    Messaging::builder(tracewire::messaging::System::new("kafka"))
        .tracer(rec.tracer())
        .topology(topology)
        .server("127.0.0.1", 9092)
        .build()
}

fn send(m: &Messaging, topic: &str) -> MemoryHeaders {
    let spec = OperationSpec::new(OperationType::Send, "send", topic).body(b"hello");
    let (span, headers) = m.open_send_with(&Context::new(), spec, |p, cx| {
        let mut headers = MemoryHeaders::new();
        p.inject(cx, &mut headers);
        headers
    });
    span.end(Outcome::Ok);
    headers
}

fn process(m: &Messaging, headers: &MemoryHeaders, topic: &str) -> OpenSpan {
    m.open_message(
        headers,
        OperationSpec::new(OperationType::Process, "process", topic),
    )
}

#[test]
fn producer_span_follows_the_conventions() {
    let rec = SpanRecorder::new();
    let m = messaging(&rec, Topology::Parent);
    let headers = send(&m, "orders");
    let span = rec.span("send orders");
    assert_eq!(span.span_kind, SpanKind::Producer);
    for (key, value) in [
        (a::SYSTEM, "kafka"),
        (a::OPERATION_NAME, "send"),
        (a::OPERATION_TYPE, "send"),
        (a::DESTINATION_NAME, "orders"),
        (a::BODY_SIZE, "5"),
        (a::SERVER_ADDRESS, "127.0.0.1"),
        (a::SERVER_PORT, "9092"),
    ] {
        assert_eq!(attribute_str(&span, key).as_deref(), Some(value), "{key}");
    }
    let conversation = attribute_str(&span, a::CONVERSATION_ID).expect("first hop gets an id");
    assert_eq!(
        headers
            .entries()
            .iter()
            .find(|(n, _)| n == "correlation_id")
            .unwrap()
            .1,
        conversation.as_bytes()
    );
    assert_eq!(
        attribute_str(&span, a::MESSAGE_PAYLOAD),
        None,
        "payloads are not recorded by default"
    );
}

#[test]
fn parent_topology_continues_the_producer_trace_with_a_link_only_on_request() {
    let rec = SpanRecorder::new();
    let m = messaging(&rec, Topology::Parent);
    let headers = send(&m, "orders");
    process(&m, &headers, "orders").end(Outcome::Ok);
    let (producer, consumer) = (rec.span("send orders"), rec.span("process orders"));
    assert_eq!(consumer.span_kind, SpanKind::Consumer);
    assert_eq!(
        consumer.span_context.trace_id(),
        producer.span_context.trace_id()
    );
    assert_eq!(consumer.parent_span_id, producer.span_context.span_id());
    assert!(
        consumer.links.links.is_empty(),
        "no link to the parent itself"
    );
    let linked = Messaging::builder(tracewire::messaging::System::new("kafka"))
        .tracer(rec.tracer())
        .link_parent(true)
        .build();
    rec.reset();
    process(&linked, &headers, "orders").end(Outcome::Ok);
    let consumer = rec.span("process orders");
    assert_eq!(consumer.parent_span_id, producer.span_context.span_id());
    assert_eq!(
        consumer.links.links[0].span_context.span_id(),
        producer.span_context.span_id(),
        "link_parent(true): the parent linked too"
    );
    assert_eq!(
        attribute_str(&consumer, a::CONVERSATION_ID),
        attribute_str(&producer, a::CONVERSATION_ID)
    );
    assert_eq!(
        attribute_str(&consumer, a::SETTLED),
        None,
        "settled explicitly"
    );
}

#[test]
fn link_topology_starts_a_new_trace_that_links_back() {
    let rec = SpanRecorder::new();
    let m = messaging(&rec, Topology::Link);
    let headers = send(&m, "orders");
    drop(process(&m, &headers, "orders"));
    let (producer, consumer) = (rec.span("send orders"), rec.span("process orders"));
    assert_ne!(
        consumer.span_context.trace_id(),
        producer.span_context.trace_id()
    );
    assert_eq!(
        consumer.links.links[0].span_context.trace_id(),
        producer.span_context.trace_id()
    );
    assert_eq!(
        attribute_str(&consumer, a::CONVERSATION_ID),
        attribute_str(&producer, a::CONVERSATION_ID),
        "correlation id kept"
    );
    assert_eq!(
        attribute_str(&consumer, a::SETTLED).as_deref(),
        Some("false"),
        "ended by drop"
    );
}

#[test]
fn auto_topology_prefers_an_ambient_span() {
    let rec = SpanRecorder::new();
    let m = messaging(&rec, Topology::Auto);
    let headers = send(&m, "orders");
    let tracer = rec.provider().tracer("test");
    tracer.in_span("ambient", |_| {
        process(&m, &headers, "orders").end(Outcome::Ok)
    });
    let (producer, consumer, ambient) = (
        rec.span("send orders"),
        rec.span("process orders"),
        rec.span("ambient"),
    );
    assert_eq!(consumer.parent_span_id, ambient.span_context.span_id());
    assert_eq!(
        consumer.links.links[0].span_context.span_id(),
        producer.span_context.span_id()
    );
    // Without an ambient span, Auto behaves as Parent.
    rec.reset();
    process(&m, &headers, "orders").end(Outcome::Ok);
    assert_eq!(
        rec.span("process orders").parent_span_id,
        producer.span_context.span_id()
    );
}

#[test]
fn a_message_without_headers_gets_a_fresh_root_and_correlation_id() {
    let rec = SpanRecorder::new();
    let m = messaging(&rec, Topology::Parent);
    let open = process(&m, &MemoryHeaders::new(), "orders");
    let fresh_id = *open.context().correlation_id().unwrap();
    open.end(Outcome::Ok);
    let span = rec.span("process orders");
    assert_eq!(span.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    assert!(span.links.links.is_empty());
    assert_eq!(
        attribute_str(&span, a::CONVERSATION_ID).as_deref(),
        Some(fresh_id.as_str())
    );
}

#[test]
fn errors_are_recorded_once() {
    let rec = SpanRecorder::new();
    let m = messaging(&rec, Topology::Parent);
    let mut open = process(&m, &MemoryHeaders::new(), "orders");
    open.finish(&Outcome::error("nack", "handler refused the message"));
    open.finish(&Outcome::Ok);
    drop(open);
    let spans = rec.spans();
    assert_eq!(spans.len(), 1, "ended exactly once");
    assert_eq!(
        attribute_str(&spans[0], a::ERROR_TYPE).as_deref(),
        Some("nack")
    );
    assert_eq!(
        spans[0].status,
        Status::error("handler refused the message")
    );
}

#[test]
fn destination_templates_keys_payloads_and_custom_attributes() {
    let rec = SpanRecorder::new();
    let m = Messaging::builder(tracewire::messaging::System::new("nats"))
        .tracer(rec.tracer())
        .destination_template(|s| s.starts_with("user.").then(|| "user.{id}".to_owned()))
        .record_keys(|d| d == "user.42")
        .record_payloads(|d| d == "user.42")
        .attributes(|spec, attrs| attrs.push(KeyValue::new("app.op", spec.name)))
        .build();
    let spec = OperationSpec::new(OperationType::Send, "publish", "user.42")
        .body(b"pay\nload")
        .key(Some(b"k1"));
    m.open_send(&Context::new(), spec).end(Outcome::Ok);
    let spec = OperationSpec::new(OperationType::Send, "publish", "other")
        .body(b"secret")
        .key(Some(b"k2"));
    m.open_send(&Context::new(), spec).end(Outcome::Ok);
    let templated = rec.span("publish user.{id}");
    assert_eq!(
        attribute_str(&templated, a::DESTINATION_NAME).as_deref(),
        Some("user.42")
    );
    assert_eq!(
        attribute_str(&templated, a::DESTINATION_TEMPLATE).as_deref(),
        Some("user.{id}")
    );
    assert_eq!(
        attribute_str(&templated, a::MESSAGE_KEY).as_deref(),
        Some("k1")
    );
    assert_eq!(
        attribute_str(&templated, a::MESSAGE_PAYLOAD).as_deref(),
        Some("pay\u{fffd}load"),
        "control characters replaced"
    );
    assert_eq!(
        attribute_str(&templated, "app.op").as_deref(),
        Some("publish")
    );
    let plain = rec.span("publish other");
    assert_eq!(attribute_str(&plain, a::MESSAGE_KEY), None);
    assert_eq!(attribute_str(&plain, a::MESSAGE_PAYLOAD), None);
}

#[test]
fn batch_span_links_every_message() {
    let rec = SpanRecorder::new();
    let m = messaging(&rec, Topology::Parent);
    let messages: Vec<_> = (0..3).map(|_| send(&m, "orders")).collect();
    let contexts: Vec<Context> = messages
        .iter()
        .map(|h| m.propagator().extract(h).context)
        .collect();
    let batch = m.open_batch(
        OperationSpec::new(OperationType::Process, "process", "orders"),
        &contexts,
    );
    batch.end(Outcome::Ok);
    let span = rec.span("process orders");
    assert_eq!(
        attribute_str(&span, a::BATCH_MESSAGE_COUNT).as_deref(),
        Some("3")
    );
    let linked: Vec<_> = span
        .links
        .links
        .iter()
        .map(|l| l.span_context.span_id())
        .collect();
    let sent: Vec<_> = rec
        .spans()
        .iter()
        .filter(|s| s.name == "send orders")
        .map(|s| ids(s).1)
        .collect();
    assert_eq!(linked, sent, "one link per message, in order");
}

#[test]
fn explicit_correlation_id_is_kept_on_send() {
    let rec = SpanRecorder::new();
    let m = messaging(&rec, Topology::Parent);
    let id = CorrelationId::parse(b"checkout-1").unwrap();
    let span = m.open_send(
        &Context::new().with_correlation_id(id),
        OperationSpec::new(OperationType::Send, "send", "t"),
    );
    span.end(Outcome::Ok);
    assert_eq!(
        attribute_str(&rec.span("send t"), a::CONVERSATION_ID).as_deref(),
        Some("checkout-1")
    );
}

#[test]
fn handler_panic_error_and_cancellation_end_every_span() {
    let rec = SpanRecorder::new();
    let m = messaging(&rec, Topology::Parent);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let spec = || OperationSpec::new(OperationType::Process, "process", "orders");
        let ok = m.open_consume(&Context::new(), spec());
        let failed = m.open_consume(&Context::new(), spec());
        let panicking = m.open_consume(&Context::new(), spec());
        let cancelled = m.open_consume(&Context::new(), spec());
        ok.end(Outcome::Ok);
        failed.end(Outcome::error(
            "HandlerError",
            "the handler returned an error",
        ));
        let panicked = tokio::spawn(async move {
            let _owned = panicking;
            tokio::task::yield_now().await;
            if true {
                panic!("handler panicked");
            }
        });
        assert!(panicked.await.unwrap_err().is_panic());
        let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
        let aborted = tokio::spawn(async move {
            let _owned = cancelled;
            let _ = rx.await;
        });
        tokio::task::yield_now().await;
        aborted.abort();
        assert!(aborted.await.unwrap_err().is_cancelled());
    });
    assert_eq!(rec.started(), 4);
    assert_eq!(
        rec.spans().len(),
        rec.started(),
        "spans started == spans ended"
    );
    let unsettled = rec
        .spans()
        .iter()
        .filter(|s| attribute_str(s, a::SETTLED).as_deref() == Some("false"))
        .count();
    assert_eq!(
        unsettled, 2,
        "the panicked and the cancelled handler's spans are marked unsettled"
    );
}

#[test]
fn batch_count_includes_messages_without_a_context() {
    let rec = SpanRecorder::new();
    let m = messaging(&rec, Topology::Parent);
    let headers = send(&m, "orders");
    let contexts = [m.propagator().extract(&headers).context, Context::new()];
    let spec = OperationSpec::new(OperationType::Process, "process", "orders");
    m.open_batch(spec, &contexts).end(Outcome::Ok);
    let batch = rec
        .spans()
        .into_iter()
        .find(|s| s.name == "process orders")
        .unwrap();
    assert_eq!(
        attribute_str(&batch, a::BATCH_MESSAGE_COUNT).as_deref(),
        Some("2")
    );
    assert_eq!(
        batch.links.links.len(),
        1,
        "only the message with a context is linked"
    );
}

/// A received message's span that does not record has no context until one is asked for; then
/// it is the span's own (not the producer's), with the message's correlation id and baggage, and
/// a send from it continues the trace — as when the context was made at once.
#[test]
fn an_unrecorded_message_span_makes_its_context_when_asked() {
    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::trace::TraceContextExt;
    let m = tracewire::testing::unsampled_messaging().build();
    let sent = tracewire::testing::sample_context().with_baggage([KeyValue::new("tenant", "acme")]);
    let mut headers = MemoryHeaders::new();
    m.propagator().inject(&sent, &mut headers);
    let producer = sent.span().span_context().clone();

    let open = process(&m, &headers, "orders");
    assert!(!open.is_recording());
    let cx = open.context();
    let sc = cx.span().span_context().clone();
    assert!(sc.is_valid() && !sc.is_remote() && !sc.is_sampled());
    assert_eq!(sc.trace_id(), producer.trace_id());
    assert_ne!(
        sc.span_id(),
        producer.span_id(),
        "the span's own, not its parent's"
    );
    assert_eq!(cx.correlation_id(), sent.correlation_id());
    assert_eq!(cx.baggage().get("tenant").map(|v| v.as_str()), Some("acme"));
    assert!(std::ptr::eq(cx, open.context()), "made once");

    // A send from the handler continues the message's trace, under this span.
    let spec = OperationSpec::new(OperationType::Send, "send", "next");
    let (span, onward) = m.open_send_with(open.context(), spec, |p, cx| {
        let mut headers = MemoryHeaders::new();
        p.inject(cx, &mut headers);
        headers
    });
    span.end(Outcome::Ok);
    let next = m.propagator().extract(&onward).context;
    assert_eq!(next.span().span_context().trace_id(), producer.trace_id());
    assert_eq!(next.correlation_id(), sent.correlation_id());

    // Detached, the context is the same span's.
    let detached = process(&m, &headers, "orders").into_context();
    assert_eq!(detached.correlation_id(), sent.correlation_id());
    assert_eq!(
        detached.span().span_context().trace_id(),
        producer.trace_id()
    );
}

/// With another parent (the Link topology), the message's correlation id still wins over the
/// ambient one, whether the span records or not.
#[test]
fn the_message_correlation_id_wins_over_the_ambient_one() {
    let rec = SpanRecorder::new();
    let m = messaging(&rec, Topology::Link);
    let headers = send(&m, "orders");
    let sent = m.propagator().extract(&headers).context;
    let ambient = Context::new().with_correlation_id(CorrelationId::parse(b"ambient").unwrap());
    let _attached = ambient.attach();
    let open = process(&m, &headers, "orders");
    assert_eq!(open.context().correlation_id(), sent.correlation_id());
    open.end(Outcome::Ok);
    let span = rec.span("process orders");
    assert_eq!(
        attribute_str(&span, a::CONVERSATION_ID).as_deref(),
        sent.correlation_id().map(CorrelationId::as_str)
    );
}

/// A sampler that remembers the attribute keys it was shown, and decides as told.
#[derive(Debug, Clone)]
struct Shown {
    keys: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    record: bool,
}

impl opentelemetry_sdk::trace::ShouldSample for Shown {
    fn should_sample(
        &self,
        _: Option<&Context>,
        _: opentelemetry::trace::TraceId,
        _: &str,
        _: &SpanKind,
        attributes: &[KeyValue],
        _: &[opentelemetry::trace::Link],
    ) -> opentelemetry_sdk::trace::SamplingResult {
        use opentelemetry::trace::TraceState;
        use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult};
        let mut keys = self.keys.lock().unwrap();
        keys.extend(attributes.iter().map(|kv| kv.key.to_string()));
        SamplingResult {
            decision: match self.record {
                true => SamplingDecision::RecordAndSample,
                false => SamplingDecision::Drop,
            },
            attributes: Vec::new(),
            trace_state: TraceState::default(),
        }
    }
}

/// A spec's details reach a span that records — after the sampler, which sees the
/// conventions' attributes only — and are never made for a span that does not record.
#[test]
fn details_are_made_only_for_a_span_that_records_and_no_sampler_sees_them() {
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    for record in [true, false] {
        let shown = Shown {
            keys: Default::default(),
            record,
        };
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_sampler(shown.clone())
            .with_simple_exporter(exporter.clone())
            .build();
        let m = Messaging::builder(tracewire::messaging::System::new("kafka"))
            .tracer(provider.tracer("details"))
            .build();
        let mut made = 0;
        let mut details = |push: &mut dyn FnMut(KeyValue)| {
            made += 1;
            push(KeyValue::new("messaging.message.id", "a1b2"));
        };
        let spec =
            OperationSpec::new(OperationType::Process, "process", "orders").details(&mut details);
        m.open_consume(&tracewire::testing::sample_context(), spec)
            .end(Outcome::Ok);

        assert_eq!(
            made,
            usize::from(record),
            "made for a span that records only"
        );
        let keys = shown.keys.lock().unwrap().clone();
        assert!(keys.iter().any(|k| k == a::DESTINATION_NAME), "{keys:?}");
        assert!(
            !keys.iter().any(|k| k == "messaging.message.id"),
            "{keys:?}"
        );
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), usize::from(record));
        if let Some(span) = spans.first() {
            let id = span
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == "messaging.message.id");
            assert_eq!(id.map(|kv| kv.value.clone()), Some("a1b2".into()));
            assert!(
                attribute_str(span, a::CONVERSATION_ID).is_some(),
                "and the conversation id"
            );
        }
    }
}
