//! The typed producer on a FIFO queue (issue 18): SQS answers `SendMessageBatch` entry by entry and does not
//! document that a failed entry fails the later entries of its group, so the producer sends at most one
//! message per group per request and holds a group while its message is unconfirmed (see
//! `src/producer/order.rs`). Fault injection lives in `tests/fault_scenarios.rs` (HTTP rows only); here the
//! same rule is checked on every row without faults: request shape, stored order and delivered order.

use std::collections::BTreeMap;
use std::sync::Arc;

use sqskit::Producer;

use super::{Order, drain};
use crate::support::TestContext;

pub async fn a_fifo_producer_stores_each_group_in_send_order_one_message_per_group_per_request(ctx: &TestContext) {
    let url = ctx.create_fifo_queue("producer-order.fifo").await;
    let producer = Producer::<Order>::builder(Arc::clone(&ctx.backend), &url)
        .group_id_fn(|order| Some(order.customer.clone()))
        .build()
        .await
        .expect("producer");
    let before = ctx.calls();

    // Three groups (customer-0, -1, -2) of ten orders each, interleaved.
    let report = producer.send_all((0..30).map(Order::new)).await;
    producer.close().await;

    assert!(report.is_complete_success(), "{:?}", report.failed);
    let calls = ctx.calls();
    assert_eq!(calls.send_entries - before.send_entries, 30, "no entry was re-sent");
    // Ten messages per group, one per request: at least ten requests (three would do without the rule).
    assert!(
        calls.send_message_batch - before.send_message_batch >= 10,
        "{} requests carried 30 messages of 3 groups",
        calls.send_message_batch - before.send_message_batch
    );
    // Stored in send order: within each group, sequence numbers grow with the order id.
    let mut stored: BTreeMap<String, Vec<(u128, u32)>> = BTreeMap::new();
    for (order, receipt) in &report.sent {
        let number = receipt.sequence_number.as_deref().expect("a sequence number").parse().expect("digits");
        stored.entry(order.customer.clone()).or_default().push((number, order.id));
    }
    for (group, mut numbers) in stored {
        numbers.sort_unstable();
        let ids: Vec<u32> = numbers.iter().map(|(_, id)| *id).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{group} stored out of send order: {ids:?}");
    }
    // Delivered in send order.
    let mut delivered: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for message in drain(ctx, &url).await {
        let order: Order = serde_json::from_str(&message.body).expect("an order");
        delivered.entry(order.customer).or_default().push(order.id);
    }
    assert_eq!(delivered.len(), 3);
    for (group, ids) in delivered {
        let expected: Vec<u32> = (0..30).filter(|id| format!("customer-{}", id % 3) == group).collect();
        assert_eq!(ids, expected, "{group} delivered out of send order");
    }
}
