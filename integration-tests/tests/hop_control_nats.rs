//! What crosses a hop (issue 21), on the real nats-server, core NATS and JetStream: header
//! capture, baggage rules, no baggage leaking in a consumer loop, trace boundaries, and the
//! warning about an uninstrumented upstream. Policies and checks: `integration_tests::hop`.

use async_nats::jetstream::{self, consumer, stream};
use async_nats::HeaderMap;
use futures_util::StreamExt;
use integration_tests::hop::{self, TENANT};
use integration_tests::{nats_url, unique};
use std::time::Duration;
use tracewire::task::TracedExt;
use tracewire::testing::{assert_all_ended, wire_baggage, SpanRecorder, Warnings};
use tracewire_nats::{NatsHeaders, TracedClient, TracedJetStream, TracedJsStream, SYSTEM};

const LIMIT: Duration = Duration::from_secs(30);

async fn client(rec: &SpanRecorder) -> TracedClient {
    let client = async_nats::connect(nats_url())
        .await
        .expect("nats-server is up (scripts/brokers.sh)");
    TracedClient::with_messaging(client, hop::messaging(SYSTEM, rec))
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    pairs.iter().for_each(|(k, v)| map.append(*k, *v));
    map
}

async fn within<T>(f: impl std::future::Future<Output = Option<T>>) -> T {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("delivered within 30 s")
        .expect("a message")
}

#[tokio::test]
async fn core_nats_captures_governs_and_never_leaks_baggage() {
    let rec = SpanRecorder::new();
    let nats = client(&rec).await;
    let subject = unique("tw-hop");
    let reply = unique("tw-hop-reply");
    let mut sub = nats.subscribe(subject.clone()).await.unwrap();
    let mut raw_replies = nats.inner().subscribe(reply.clone()).await.unwrap();
    let tenant = headers(&[(TENANT, "acme")]);
    (nats.publish_with_headers(subject.clone(), tenant, "1".into()))
        .traced_in(hop::first())
        .await
        .unwrap();
    nats.publish(subject.clone(), "2".into()).await.unwrap();
    let one = within(sub.next()).await;
    let in_first = one.context().clone().attach(); // a leaky loop
    let two = within(sub.next()).await;
    (nats.publish(reply.clone(), "reply".into()))
        .traced_in(two.context().clone())
        .await
        .unwrap();
    let sent = within(raw_replies.next()).await;
    hop::assert_no_leak(
        one.context(),
        two.context(),
        wire_baggage(&NatsHeaders(sent.headers.as_ref())),
    );
    drop(in_first);
    drop((one, two));
    let (send, process) = (format!("publish {subject}"), format!("process {subject}"));
    hop::assert_first_hop(&rec, &send, &process);
    assert_all_ended(&rec);
}

#[tokio::test]
async fn core_nats_starts_a_linked_trace_past_the_hop_limit() {
    let rec = SpanRecorder::new();
    let nats = client(&rec).await;
    let subject = unique(&format!("tw-{}", hop::HOPS));
    let mut sub = nats.subscribe(subject.clone()).await.unwrap();
    let raw = headers(&hop::five_hops_in());
    nats.inner()
        .publish_with_headers(subject.clone(), raw, "x".into())
        .await
        .unwrap();
    drop(within(sub.next()).await);
    let span = rec.span(&format!("process {subject}"));
    hop::assert_new_linked_trace(&span, "hop_count", hop::FIVE_HOPS_TRACE);
}

#[tokio::test]
async fn core_nats_warns_once_about_an_uninstrumented_upstream() {
    let rec = SpanRecorder::new();
    let nats = client(&rec).await;
    let subject = unique("tw-bare");
    let mut sub = nats.subscribe(subject.clone()).await.unwrap();
    for _ in 0..hop::UNINSTRUMENTED {
        nats.inner()
            .publish(subject.clone(), "bare".into())
            .await
            .unwrap();
    }
    nats.inner().flush().await.unwrap();
    let ((), warned) = Warnings::capture_async(async {
        for _ in 0..hop::UNINSTRUMENTED {
            drop(within(sub.next()).await);
        }
    })
    .await;
    hop::assert_warned_once(&warned);
}

struct Js {
    js: TracedJetStream,
    stream: String,
}

async fn jetstream(rec: &SpanRecorder, tag: &str) -> Js {
    let nats = client(rec).await;
    let js = TracedJetStream::with_messaging(
        jetstream::new(nats.inner().clone()),
        nats.messaging().clone(),
    );
    let stream = unique(&format!("TW_{tag}")).replace('-', "_");
    (js.inner().create_stream(stream::Config {
        name: stream.clone(),
        subjects: vec![format!("{stream}.>")],
        ..Default::default()
    }))
    .await
    .unwrap();
    Js { js, stream }
}

impl Js {
    async fn messages(&self) -> TracedJsStream<consumer::pull::Stream> {
        let stream = self.js.inner().get_stream(&self.stream).await.unwrap();
        let pull = (stream.create_consumer(consumer::pull::Config {
            durable_name: Some("workers".into()),
            ..Default::default()
        }))
        .await
        .unwrap();
        TracedJsStream::with_messaging(pull.messages().await.unwrap(), self.js.messaging().clone())
    }

    async fn cleanup(self) {
        self.js.inner().delete_stream(&self.stream).await.unwrap();
    }
}

#[tokio::test]
async fn jetstream_captures_governs_and_never_leaks_baggage() {
    let rec = SpanRecorder::new();
    let js = jetstream(&rec, "HOP").await;
    let subject = format!("{}.orders", js.stream);
    let reply = format!("{}.replies", js.stream);
    let tenant = headers(&[(TENANT, "acme")]);
    let ack = (js
        .js
        .publish_with_headers(subject.clone(), tenant, "1".into()))
    .traced_in(hop::first())
    .await
    .unwrap();
    ack.await.unwrap();
    js.js
        .publish(subject.clone(), "2".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let mut messages = js.messages().await;
    let one = within(messages.next()).await.unwrap();
    let in_first = one.context().clone().attach();
    let two = within(messages.next()).await.unwrap();
    let raw = js.js.inner().clone();
    let ack = (js.js.publish(reply.clone(), "reply".into()))
        .traced_in(two.context().clone())
        .await
        .unwrap();
    ack.await.unwrap();
    let sent = raw
        .get_stream(&js.stream)
        .await
        .unwrap()
        .get_last_raw_message_by_subject(&reply)
        .await
        .unwrap();
    hop::assert_no_leak(
        one.context(),
        two.context(),
        wire_baggage(&NatsHeaders(Some(&sent.headers))),
    );
    drop(in_first);
    one.ack().await.unwrap();
    two.ack().await.unwrap();
    let (send, process) = (format!("publish {subject}"), format!("process {subject}"));
    hop::assert_first_hop(&rec, &send, &process);
    js.cleanup().await;
}

#[tokio::test]
async fn jetstream_starts_linked_traces_past_the_hop_limit_and_after_waiting() {
    let rec = SpanRecorder::new();
    for (tag, reason) in [(hop::HOPS, "hop_count"), (hop::WAITS, "queue_time")] {
        let js = jetstream(&rec, tag).await;
        let subject = format!("{}.orders", js.stream);
        let raw = headers(&hop::five_hops_in());
        let ack = js
            .js
            .inner()
            .publish_with_headers(subject.clone(), raw, "x".into());
        ack.await.unwrap().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await; // longer than the 1 ms limit
        let mut messages = js.messages().await;
        within(messages.next()).await.unwrap().ack().await.unwrap();
        let span = rec.span(&format!("process {subject}"));
        hop::assert_new_linked_trace(&span, reason, hop::FIVE_HOPS_TRACE);
        js.cleanup().await;
    }
}

#[tokio::test]
async fn jetstream_warns_once_about_an_uninstrumented_upstream() {
    let rec = SpanRecorder::new();
    let js = jetstream(&rec, "BARE").await;
    let subject = format!("{}.orders", js.stream);
    for _ in 0..hop::UNINSTRUMENTED {
        js.js
            .inner()
            .publish(subject.clone(), "bare".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let mut messages = js.messages().await;
    let ((), warned) = Warnings::capture_async(async {
        for _ in 0..hop::UNINSTRUMENTED {
            within(messages.next()).await.unwrap().ack().await.unwrap();
        }
    })
    .await;
    hop::assert_warned_once(&warned);
    js.cleanup().await;
}
