//! The offline order demo (`cargo run --example order_demo`), run here on a smaller order book: producer and
//! consumer at once on the embedded SQS, injected failures, a consumer crash and restart, duplicates and
//! poison orders. The demo's own verification must pass (what decides its exit status), and its summary
//! must say so. The unit tests of the shared `examples/orders/` module run here too.

#[allow(dead_code)]
#[path = "../examples/orders/mod.rs"]
mod orders;

use std::time::Duration;

use orders::demo::{DemoConfig, run};
use orders::model::{Poison, order_id, poison_numbers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_demo_processes_every_order_exactly_once() -> anyhow::Result<()> {
    let config = DemoConfig {
        orders: 120,
        duplicates: 15,
        max_receive_count: 3,
        wave: 20,
        wave_every: Duration::from_millis(100),
        crash_at: 0.25,
        outage: Duration::from_millis(500),
        ..DemoConfig::default()
    };
    let outcome = run(&config).await?;
    println!("{}", outcome.summary);

    assert!(outcome.ok(), "the demo's checks failed:\n{}", outcome.summary);
    assert!(outcome.drained);
    assert_eq!(outcome.sent.sent, 135, "every order and every duplicate was sent");
    let verdict = &outcome.verdict;
    assert!(verdict.charged_twice.is_empty() && verdict.shipped_twice.is_empty());
    assert!(verdict.missing.is_empty() && verdict.unfinished.is_empty());
    assert_eq!(verdict.exactly_once + verdict.gave_up.len() as u64, 118);

    let poison: Vec<(String, Poison)> =
        poison_numbers(120, 2).into_iter().map(|(n, kind)| (order_id(n), kind)).collect();
    let dead: Vec<(String, Option<Poison>)> = verdict
        .dead_letters
        .iter()
        .map(|(d, kind)| (d.order_id.clone(), *kind))
        .filter(|(_, kind)| kind.is_some())
        .collect();
    let expected: Vec<(String, Option<Poison>)> = poison.into_iter().map(|(id, kind)| (id, Some(kind))).collect();
    assert_eq!(dead, expected, "both poison orders, and only those, are in the dead-letter queue");
    let recalled = &verdict.dead_letters.iter().find(|(_, kind)| *kind == Some(Poison::Recalled)).expect("recalled").0;
    assert!(recalled.reason.is_some(), "the consumer dead-lettered the recalled order itself, with its reason");
    let unreachable =
        &verdict.dead_letters.iter().find(|(_, kind)| *kind == Some(Poison::Unreachable)).expect("unreachable").0;
    assert!(unreachable.reason.is_none(), "the redrive policy moved the order that kept failing");

    assert!(outcome.summary.contains("RESULT: every order was processed exactly once"), "{}", outcome.summary);
    Ok(())
}

// The README's "Using the crate" snippets: the code between `// README: <name>` and `// README: end` below
// must appear verbatim (dedented) in README.md (checked by tests/readme.rs), and runs here on the embedded
// backend.

/// One step of the README's consumer snippet.
async fn process(order: &orders::model::Order) -> Result<(), sqskit::consumer::HandlerError> {
    if order.items.is_empty() {
        return Err(sqskit::consumer::HandlerError::permanent("an order without items"));
    }
    Ok(())
}

async fn readme_producer(
    backend: std::sync::Arc<dyn sqskit::SqsBackend>,
    queue_url: &str,
    order: &orders::model::Order,
) -> anyhow::Result<()> {
    use orders::model::Order;
    use sqskit::{IdempotencyKey, Producer};
    // README: producer
    let producer = Producer::<Order>::builder(backend, queue_url)
        .idempotency_key_fn(|order| Some(IdempotencyKey::from(order.order_id.as_str())))
        .build()
        .await?;
    producer.send(order).await?; // concurrent sends are merged into SendMessageBatch requests
    producer.close().await; // flushes what is still buffered
    // README: end
    Ok(())
}

async fn readme_consumer(
    backend: std::sync::Arc<dyn sqskit::SqsBackend>,
    queue_url: &str,
    dlq_url: &str,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<sqskit::ShutdownReport> {
    use std::sync::Arc;
    use std::time::Duration;

    use orders::model::Order;
    use sqskit::IdempotencyKey;
    use sqskit::consumer::{Consumer, Delivery, InMemoryIdempotencyStore};
    // README: consumer
    let consumer = Consumer::<Order>::builder(backend, queue_url)
        .concurrency(64)
        .idempotency(Arc::new(InMemoryIdempotencyStore::new()))
        .idempotency_key(|order, _meta| Some(IdempotencyKey::from(order.order_id.as_str())))
        .dead_letter_queue(dlq_url)
        .build()?;
    // Ok acknowledges; a transient error retries with backoff; a permanent one dead-letters.
    let handler = |order: Delivery<Order>| async move { process(&order).await };
    let report = consumer.run_until(handler, stop, Duration::from_secs(30)).await;
    println!("completed {}, abandoned {}", report.completed, report.abandoned);
    // README: end
    Ok(report)
}

#[tokio::test]
async fn the_readme_snippets_run() -> anyhow::Result<()> {
    use std::sync::Arc;

    let backend: Arc<dyn sqskit::SqsBackend> = Arc::new(sqskit::EmbeddedBackend::new());
    let (queue, dlq) = orders::queues::create_with_dead_letter_queue(&backend, "orders", "orders-dlq", 5).await?;
    let order = orders::model::order(1, None);
    readme_producer(backend.clone(), &queue, &order).await?;
    let ledger_backend = backend.clone();
    let stop_queue = queue.clone();
    let stop = async move {
        while orders::queues::depth(&ledger_backend, &stop_queue).await.ok() != Some((0, 0, 0)) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    let report = readme_consumer(backend, &queue, &dlq, stop).await?;
    assert_eq!(report.completed, 1);
    Ok(())
}
