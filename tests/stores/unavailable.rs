//! When the store itself fails: every operation fails as `StoreError::Unavailable` within the store's
//! operation timeout, and a consumer neither runs a handler unrecorded nor acknowledges the message: it puts
//! the message back for at least a second (doubling per receive), and processes it once the store is back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use sqskit::backend::{EmbeddedBackend, SqsBackend};
use sqskit::consumer::{Consumer, Delivery, IdempotencyStore, Outcome, StoreError};
use sqskit::stores::{DynamoDbIdempotencyStore, RedisIdempotencyStore};
use sqskit::types::QueueAttributeName;
use sqskit::{IdempotencyKey, Producer};

use crate::servers::{RedisServer, free_port};

fn soon() -> SystemTime {
    SystemTime::now() + Duration::from_secs(30)
}

async fn eventually(what: &str, limit: Duration, mut condition: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !condition().await {
        assert!(started.elapsed() < limit, "timed out after {limit:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn redis_refusing_connections_is_unavailable_and_a_bad_url_is_invalid() {
    let refused = RedisIdempotencyStore::connect(&format!("redis://127.0.0.1:{}", free_port())).await;
    assert!(matches!(refused, Err(StoreError::Unavailable { .. })), "{refused:?}");
    let invalid = RedisIdempotencyStore::connect("http://not-redis").await;
    assert!(matches!(invalid, Err(StoreError::InvalidConfig { .. })), "{invalid:?}");
}

#[tokio::test]
async fn dynamodb_unreachable_is_unavailable_within_the_operation_timeout() {
    let config = crate::dynamodb::sdk_config(&format!("http://127.0.0.1:{}", free_port()));
    let store = DynamoDbIdempotencyStore::builder(&config, "orders")
        .operation_timeout(Duration::from_secs(1))
        .build()
        .expect("store");
    let started = Instant::now();
    let result = store.try_begin(&IdempotencyKey::from("k"), soon()).await;
    assert!(matches!(result, Err(StoreError::Unavailable { .. })), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "failed after {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_is_unavailable_promptly_then_reconnects_when_back() {
    let Some(mut server) = RedisServer::start() else { return };
    let store = RedisIdempotencyStore::builder(server.url())
        .operation_timeout(Duration::from_secs(1))
        .connect()
        .await
        .expect("connect");
    let key = IdempotencyKey::from(format!("down-{}", uuid::Uuid::new_v4()));
    server.kill();
    let started = Instant::now();
    let result = store.try_begin(&key, soon()).await;
    assert!(matches!(result, Err(StoreError::Unavailable { .. })), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "failed after {:?}", started.elapsed());

    server.restart();
    eventually("the store to reconnect", Duration::from_secs(20), async || store.try_begin(&key, soon()).await.is_ok())
        .await;
}

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    id: String,
}

/// A consumer whose Redis is down: the handler never runs, the message is not deleted and is received again
/// only after a delay (a second, doubling: no busy loop), and once Redis is back it is processed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_with_its_store_down_neither_runs_nor_acks_nor_spins_and_recovers() {
    let Some(mut server) = RedisServer::start() else { return };
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("orders", &Default::default(), &Default::default()).await.expect("queue");
    let producer = Producer::<Order>::builder(backend.clone(), &queue)
        .idempotency_key_fn(|order| Some(IdempotencyKey::from(order.id.as_str())))
        .build()
        .await
        .expect("producer");
    producer.send(&Order { id: "order-1".to_owned() }).await.expect("send");
    producer.close().await;

    let store = RedisIdempotencyStore::builder(server.url())
        .operation_timeout(Duration::from_millis(500))
        .connect()
        .await
        .expect("connect");
    let store: Arc<dyn IdempotencyStore> = Arc::new(store);
    server.kill();
    let runs = Arc::new(AtomicU32::new(0));
    let running = Consumer::<Order>::builder(backend.clone(), &queue)
        .idempotency(store.clone())
        .wait_time(Duration::from_secs(1))
        .build()
        .await
        .expect("consumer")
        .start({
            let runs = runs.clone();
            move |_order: Delivery<Order>| {
                runs.fetch_add(1, Ordering::SeqCst);
                std::future::ready(Outcome::Ack)
            }
        });

    tokio::time::sleep(Duration::from_secs(4)).await;
    let stats = running.stats();
    assert_eq!(runs.load(Ordering::SeqCst), 0, "no handler runs while the store is down");
    assert_eq!(stats.completed, 0);
    assert!(stats.store_failures >= 1, "{stats:?}");
    // 1 s, then 2 s: in 4 seconds at most three receives (a busy loop would make hundreds).
    assert!((1..=3).contains(&stats.received), "received {} times in 4 s: {stats:?}", stats.received);
    let attributes = backend
        .get_queue_attributes(
            &queue,
            &[
                QueueAttributeName::ApproximateNumberOfMessages,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            ],
        )
        .await
        .expect("attributes");
    let total = attributes.approximate_number_of_messages().unwrap_or(0)
        + attributes.approximate_number_of_messages_not_visible().unwrap_or(0);
    assert_eq!(total, 1, "the message is still in the queue");

    server.restart();
    eventually("the order to be processed once Redis is back", Duration::from_secs(30), async || {
        running.stats().completed == 1
    })
    .await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the handler ran exactly once");
    assert_eq!(report.stats.completed, 1);
    assert_eq!(
        store.try_begin(&IdempotencyKey::from("order-1"), soon()).await.ok(),
        Some(sqskit::consumer::Begin::Completed)
    );
}
