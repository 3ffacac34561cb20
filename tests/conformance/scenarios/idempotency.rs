//! Idempotency keys: an attribute on standard queues, a derived deduplication id on FIFO queues.

use std::sync::Arc;

use sqskit::idempotency::{IDEMPOTENCY_KEY_ATTRIBUTE, deduplication_id};
use sqskit::{IdempotencyKey, Producer};

use super::{Order, drain};
use crate::support::TestContext;

pub async fn standard_queue_carries_the_idempotency_key_attribute(ctx: &TestContext) {
    let url = ctx.create_queue("keyed").await;
    let producer = Producer::<Order>::builder(Arc::clone(&ctx.backend), &url)
        .idempotency_key_fn(|order| Some(IdempotencyKey::from(format!("order-{}", order.id))))
        .build()
        .await
        .expect("producer");

    producer.send(&Order::new(1)).await.expect("send");
    producer.send(&Order::new(1)).await.expect("resend");
    producer.close().await;
    let received = drain(ctx, &url).await;

    // A standard queue does not deduplicate: both copies arrive, and carry the key for the consumer.
    assert_eq!(received.len(), 2);
    for message in &received {
        assert_eq!(message.idempotency_key(), Some(IdempotencyKey::from("order-1")));
        assert!(message.attributes.get(IDEMPOTENCY_KEY_ATTRIBUTE).is_some());
        assert_eq!(message.deduplication_id(), None);
    }
}

pub async fn fifo_sends_with_the_same_key_store_one_message(ctx: &TestContext) {
    let url = ctx.create_fifo_queue("orders.fifo").await;
    let producer = Producer::<Order>::builder(Arc::clone(&ctx.backend), &url)
        .idempotency_key_fn(|order| Some(IdempotencyKey::from(format!("order-{}", order.id))))
        .group_id_fn(|order| Some(order.customer.clone()))
        .build()
        .await
        .expect("producer");
    assert!(producer.is_fifo());

    let first = producer.send(&Order::new(42)).await.expect("send");
    let second = producer.send(&Order::new(42)).await.expect("resend after, say, an ambiguous timeout");
    let other = producer.send(&Order::new(43)).await.expect("another order");
    producer.close().await;
    let received = drain(ctx, &url).await;

    assert_eq!(second.message_id, first.message_id, "SQS answers a duplicate with the first message's id");
    assert_ne!(other.message_id, first.message_id);
    assert_eq!(received.len(), 2, "one message per key: {received:?}");
    let order_42 = received.iter().find(|m| m.message_id == first.message_id).expect("order 42 stored");
    let expected_dedup = deduplication_id(&IdempotencyKey::from("order-42"));
    assert_eq!(order_42.deduplication_id(), Some(expected_dedup.as_str()));
    assert_eq!(order_42.idempotency_key(), Some(IdempotencyKey::from("order-42")));
}
