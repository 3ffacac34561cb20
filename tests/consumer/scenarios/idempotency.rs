//! Effectively-once processing: copies of one order sent with one idempotency key (through the producer,
//! on a standard queue, where SQS does not deduplicate) are processed once, even by two racing consumers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqskit::consumer::{Consumer, Delivery, InMemoryIdempotencyStore, Outcome, RunningConsumer};
use sqskit::retry::{Jitter, RetryPolicy};
use sqskit::{IdempotencyKey, Producer};
use tokio::sync::watch;

use crate::harness::{counts, eventually};
use crate::support::TestContext;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    id: String,
    copy: u32,
}

const ORDERS: usize = 5;
const COPIES: u32 = 3;

pub async fn one_key_is_processed_once_by_one_consumer(ctx: &TestContext) {
    processed_once(ctx, 1).await;
}

pub async fn one_key_is_processed_once_with_two_consumers_racing(ctx: &TestContext) {
    processed_once(ctx, 2).await;
}

/// Five orders, each sent three times with its idempotency key, consumed by `consumers` consumers sharing
/// one store and eight handler slots in all (five handlers block, so three slots stay free for duplicates).
async fn processed_once(ctx: &TestContext, consumers: usize) {
    let backend = ctx.backend.clone();
    let queue = ctx.create_queue(&format!("orders-{consumers}")).await;
    let producer = Producer::<Order>::builder(backend.clone(), &queue)
        .idempotency_key_fn(|order| Some(IdempotencyKey::from(order.id.as_str())))
        .build()
        .await
        .unwrap();
    let orders = (0..COPIES).flat_map(|copy| (0..ORDERS).map(move |i| Order { id: format!("order-{i}"), copy }));
    assert!(producer.send_all(orders).await.is_complete_success());
    producer.close().await;
    let store = Arc::new(InMemoryIdempotencyStore::new());
    let processed: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    // Handlers block until every duplicate has met its key in progress, so the race is certain.
    let (open_gate, gate) = watch::channel(false);
    let start = || {
        let processed = processed.clone();
        let gate = gate.clone();
        let builder =
            Consumer::<Order>::builder(backend.clone(), &queue).concurrency(8 / consumers).idempotency(store.clone());
        async move {
            builder.build().await.unwrap().start(move |order: Delivery<Order>| {
                *processed.lock().unwrap().entry(order.id.clone()).or_default() += 1;
                let mut gate = gate.clone();
                async move {
                    let _ = gate.wait_for(|open| *open).await;
                    Outcome::Ack
                }
            })
        }
    };

    let mut running: Vec<RunningConsumer> = Vec::new();
    for _ in 0..consumers {
        running.push(start().await);
    }
    let total = |f: fn(&RunningConsumer) -> u64| running.iter().map(f).sum::<u64>();
    eventually("every duplicate to be deferred", || total(|c| c.stats().deferred) == 10).await;
    open_gate.send_replace(true);
    eventually("the five orders to complete", || total(|c| c.stats().completed) == 5).await;
    ctx.advance(Duration::from_secs(31));
    eventually("the duplicates to be acknowledged unprocessed", || total(|c| c.stats().duplicates) == 10).await;
    let mut completed = 0;
    for consumer in running {
        completed += consumer.shutdown(Duration::from_secs(5)).await.completed;
    }

    assert_eq!(counts(&backend, &queue).await, (0, 0));
    let processed = processed.lock().unwrap().clone();
    assert_eq!(processed.len(), ORDERS);
    assert!(processed.values().all(|&n| n == 1), "each order processed exactly once: {processed:?}");
    assert!((0..ORDERS).all(|i| store.is_completed(&IdempotencyKey::from(format!("order-{i}")))));
    assert_eq!(completed, 5);
}

pub async fn a_failed_handler_abandons_its_key_so_the_retry_runs(ctx: &TestContext) {
    let backend = ctx.backend.clone();
    let queue = ctx.create_queue("flaky-orders").await;
    let producer = Producer::<Order>::builder(backend.clone(), &queue)
        .idempotency_key_fn(|order| Some(IdempotencyKey::from(order.id.as_str())))
        .build()
        .await
        .unwrap();
    producer.send(&Order { id: "order-9".to_owned(), copy: 0 }).await.unwrap();
    producer.close().await;
    let store = Arc::new(InMemoryIdempotencyStore::new());
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let backoff = RetryPolicy::default().initial_backoff(Duration::from_secs(5)).jitter(Jitter::None);

    let running = Consumer::<Order>::builder(backend.clone(), &queue)
        .idempotency(store.clone())
        .retry_backoff(backoff)
        .wait_time(Duration::from_secs(1))
        .build()
        .await
        .unwrap()
        .start({
            let attempts = attempts.clone();
            move |order: Delivery<Order>| {
                attempts.lock().unwrap().push(order.receive_count());
                let outcome = if order.receive_count() == 1 { Outcome::Retry } else { Outcome::Ack };
                std::future::ready(outcome)
            }
        });
    eventually("the first attempt to fail", || running.stats().retried == 1).await;
    assert!(!store.is_completed(&IdempotencyKey::from("order-9")));
    ctx.advance(Duration::from_secs(5));
    eventually("the retry to complete", || running.stats().completed == 1).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert_eq!(*attempts.lock().unwrap(), [1, 2], "the retry ran: the failed attempt gave its key up");
    assert_eq!(report.stats.deferred, 0);
    assert!(store.is_completed(&IdempotencyKey::from("order-9")));
}
