//! How to test your own traced service with `tracewire::testing`, against a real broker (NATS
//! at 127.0.0.1:4222 or NATS_URL): a worker that takes orders and hands each to shipping. The
//! test asserts what a team cares about — the trace continues across the hop, the correlation id
//! survives it, every span ends, and no order's baggage reaches the next order's handler — with
//! the kit's assertions, whatever tracewire does inside.

use futures_util::StreamExt;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::{Context, KeyValue};
use std::time::Duration;
use tracewire::messaging::Messaging;
use tracewire::task::TracedExt;
use tracewire::testing::{
    assert_all_ended, assert_continues, assert_correlation_survived, assert_no_baggage_leak,
    baggage_of, SpanRecorder,
};
use tracewire_nats::{TracedClient, TracedSubscriber, SYSTEM};

/// The service under test: for each order, publish a shipment in the order's context.
async fn ship_orders(nats: &TracedClient, orders: &mut TracedSubscriber, n: usize) -> Vec<Context> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let limit = Duration::from_secs(30);
        let order = tokio::time::timeout(limit, orders.next())
            .await
            .expect("an order")
            .unwrap();
        let cx = order.context().clone();
        let subject = format!("{}.shipments", order.message().subject);
        nats.publish(subject, "ship".into())
            .traced_in(cx.clone())
            .await
            .unwrap();
        seen.push(cx);
    }
    seen
}

#[tokio::test]
async fn each_order_is_one_trace_to_its_shipment_and_keeps_its_own_baggage() {
    let rec = SpanRecorder::new();
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let client = async_nats::connect(url)
        .await
        .expect("nats-server is up (scripts/brokers.sh)");
    let nats = TracedClient::with_messaging(
        client,
        Messaging::builder(SYSTEM).tracer(rec.tracer()).build(),
    );
    let subject = format!("kit.orders.{}", std::process::id());
    let mut orders = nats.subscribe(subject.clone()).await.unwrap();

    // Two orders: the first carries a tenant in baggage, the second nothing.
    let tenant = Context::new().with_baggage([KeyValue::new("tenant", "acme")]);
    nats.publish(subject.clone(), "order 1".into())
        .traced_in(tenant)
        .await
        .unwrap();
    nats.publish(subject.clone(), "order 2".into())
        .await
        .unwrap();
    let handled = ship_orders(&nats, &mut orders, 2).await;

    assert_no_baggage_leak([
        (baggage_of(&handled[0]), vec![("tenant", "acme")]),
        (baggage_of(&handled[1]), vec![]),
    ]);
    let spans = rec.spans();
    let named = |name: String| spans.iter().filter(move |s| s.name == name);
    for (order, process) in
        named(format!("publish {subject}")).zip(named(format!("process {subject}")))
    {
        assert_continues(process, order);
        assert_correlation_survived(order, process);
    }
    let shipments: Vec<_> = named(format!("publish {subject}.shipments")).collect();
    assert_eq!(shipments.len(), 2);
    for (process, shipment) in named(format!("process {subject}")).zip(&shipments) {
        assert_continues(shipment, process);
    }
    assert_all_ended(&rec);
}
