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
        .build()
        .await?;
    // Ok acknowledges; a transient error retries with backoff; a permanent one dead-letters.
    let handler = |order: Delivery<Order>| async move { process(&order).await };
    let report = consumer.run_until(handler, stop, Duration::from_secs(30)).await?; // Err: the queue became unusable
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

// Start-up of `order_producer` and `order_consumer` (`QueueArgs::open`: connect, then find or create the
// queues) against an emulator over HTTP whose fault injection fails the set-up requests as SQS does under load.

fn queue_args(endpoint: &str, queue: &str, create: bool) -> orders::cli::QueueArgs {
    orders::cli::QueueArgs {
        endpoint: Some(endpoint.to_owned()),
        queue: queue.to_owned(),
        dlq: None,
        create_queues: create,
        max_receive_count: 5,
        sns: false,
        s3_bucket: None,
    }
}

fn install(emulator: &sqskit_emulator::RunningEmulator, rule: serde_json::Value) {
    let rule: sqskit_emulator::faults::FaultRule = serde_json::from_value(rule).expect("a valid fault rule");
    emulator.faults().add(rule).expect("install the fault rule");
}

#[tokio::test]
async fn queue_set_up_survives_throttling_5xx_lost_answers_and_resets() -> anyhow::Result<()> {
    use serde_json::json;

    let emulator = sqskit_emulator::Emulator::builder().port(0).fault_seed(18).start().await?;
    let endpoint = emulator.endpoint();
    for rule in [
        json!({"action": "GetQueueUrl", "kind": "throttle", "max_injections": 2}),
        json!({"action": "CreateQueue", "kind": "throttle", "error": "ThrottlingException", "max_injections": 2}),
        json!({"action": "CreateQueue", "kind": "server_error", "error": "ServiceUnavailable", "max_injections": 1}),
        json!({"action": "CreateQueue", "kind": "response_lost", "max_injections": 1}),
        json!({"action": "GetQueueAttributes", "kind": "throttle", "max_injections": 2}),
        json!({"action": "GetQueueAttributes", "kind": "connection_reset", "max_injections": 1}),
        json!({"action": "SetQueueAttributes", "kind": "server_error", "max_injections": 1}),
        json!({"action": "SetQueueAttributes", "kind": "response_lost", "reset": true, "max_injections": 1}),
    ] {
        install(&emulator, rule);
    }

    // --create-queues, then by name, then by URL: each set-up meets faults and still succeeds.
    let (backend, created) = queue_args(&endpoint, "orders", true).open().await?;
    let (_, by_name) = queue_args(&endpoint, "orders", false).open().await?;
    assert_eq!((&by_name.orders, &by_name.dead_letter), (&created.orders, &created.dead_letter));
    let (_, by_url) = queue_args(&endpoint, &created.orders, false).open().await?;
    assert_eq!(by_url.orders, created.orders);
    let injected: Vec<(String, u64, Option<u64>)> = emulator
        .faults()
        .list()
        .1
        .into_iter()
        .map(|rule| (rule.rule.action, rule.injected, rule.rule.max_injections))
        .collect();
    assert!(injected.iter().all(|(_, injected, max)| Some(*injected) == *max), "every fault was met: {injected:?}");

    // The redrive policy was set despite the lost answers, and the steady-state depth check retries too.
    let attributes =
        backend.get_queue_attributes(&created.orders, &[sqskit::types::QueueAttributeName::RedrivePolicy]).await?;
    assert!(
        attributes.get(&sqskit::types::QueueAttributeName::RedrivePolicy).is_some_and(|p| p.contains("orders-dlq"))
    );
    install(&emulator, json!({"action": "GetQueueAttributes", "kind": "throttle", "max_injections": 3}));
    assert_eq!(orders::queues::depth(&backend, &created.orders).await?, (0, 0, 0));
    // The producer's start-up reads the queue's attributes: throttled too, and retried.
    install(&emulator, json!({"action": "GetQueueAttributes", "kind": "throttle", "max_injections": 2}));
    let producer = orders::worker::producer(backend, &created.orders).await?;
    producer.close().await;
    let last = emulator.faults().list().1.last().map(|rule| rule.injected);
    assert_eq!(last, Some(2), "the producer met both throttled answers");
    emulator.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_missing_queue_stops_start_up_at_once_with_a_clear_message() -> anyhow::Result<()> {
    use serde_json::json;

    let emulator = sqskit_emulator::Emulator::builder().port(0).start().await?;
    let endpoint = emulator.endpoint();
    // Latency rules of 0 ms count every request of their action without changing it.
    install(&emulator, json!({"action": "GetQueueUrl", "kind": "latency", "millis": 0}));
    install(&emulator, json!({"action": "GetQueueAttributes", "kind": "latency", "millis": 0}));
    let requests = |action: &str| {
        emulator.faults().list().1.iter().find(|rule| rule.rule.action == action).map_or(0, |rule| rule.injected)
    };

    let error = queue_args(&endpoint, "nowhere", false).open().await.expect_err("no such queue");
    let message = orders::cli::failure_message("order_producer", &error);
    assert!(
        message.starts_with(
            "order_producer: queue nowhere does not exist (pass --create-queues to create it, or check --queue, \
             --endpoint and the region): "
        ) && message.ends_with("The specified queue does not exist."),
        "{message}"
    );
    assert_eq!(requests("GetQueueUrl"), 1, "a missing queue is not retried");
    assert_eq!(orders::cli::failed("order_producer", &error), std::process::ExitCode::FAILURE);

    // A throttled answer first: retried, and the missing queue is still reported as missing.
    install(&emulator, json!({"action": "GetQueueUrl", "kind": "throttle", "max_injections": 1}));
    let error = queue_args(&endpoint, "nowhere", false).open().await.expect_err("no such queue");
    assert!(format!("{error:#}").starts_with("queue nowhere does not exist"), "{error:#}");
    assert_eq!(requests("GetQueueUrl"), 3);

    // By URL.
    let url = format!("{endpoint}/000000000000/nowhere");
    let error = queue_args(&endpoint, &url, false).open().await.expect_err("no such queue");
    assert!(format!("{error:#}").starts_with(&format!("queue {url} does not exist")), "{error:#}");
    assert_eq!(requests("GetQueueAttributes"), 1);
    emulator.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_stops_with_a_clear_message_when_its_queue_is_missing_or_deleted() -> anyhow::Result<()> {
    use std::sync::Arc;

    use orders::queues::Queues;
    use orders::shop::{Faults, Shop};
    use orders::worker::{self, WorkerSettings};
    use sqskit::consumer::InMemoryIdempotencyStore;

    let emulator = sqskit_emulator::Emulator::builder().port(0).start().await?;
    let endpoint = emulator.endpoint();
    let (backend, queues) = queue_args(&endpoint, "orders", true).open().await?;
    let faults = Faults { failure_rate: 0.0, latency: Duration::ZERO };
    let shop = Arc::new(Shop::new(faults, Arc::new(orders::ledger::Ledger::in_memory())));
    let settings = WorkerSettings {
        concurrency: 64,
        visibility_timeout: Duration::from_secs(30),
        retry_initial: Duration::from_millis(100),
        retry_max: Duration::from_secs(1),
    };
    let store = || Arc::new(InMemoryIdempotencyStore::new());

    // A queue that does not exist: the consumer does not start, and says why.
    let url = format!("{endpoint}/000000000000/nowhere");
    let missing = Queues { orders: url.clone(), dead_letter: None };
    let error = worker::start(backend.clone(), &missing, shop.clone(), store(), settings)
        .await
        .map(drop)
        .expect_err("no such queue");
    let message = orders::cli::failure_message("order_consumer", &error);
    assert!(
        message.starts_with(&format!(
            "order_consumer: could not start the consumer on {url}: cannot start on queue {url}: SQS error \
             AWS.SimpleQueueService.NonExistentQueue: "
        )),
        "{message}"
    );

    // The queue deleted while the consumer runs: it stops by itself (order_consumer then exits with status 1
    // and this line), instead of polling forever.
    let running = worker::start(backend.clone(), &queues, shop.clone(), store(), settings).await?;
    backend.delete_queue(&queues.orders).await?;
    let error = tokio::time::timeout(Duration::from_secs(60), running.failed()).await?;
    let message = orders::cli::failure_message("order_consumer", &anyhow::Error::new(error));
    assert!(
        message.starts_with(&format!(
            "order_consumer: the consumer of {} stopped after 10 consecutive failed receives (the queue cannot be \
             used: check that it exists and that the credentials may receive from it): SQS error \
             AWS.SimpleQueueService.NonExistentQueue: ",
            queues.orders
        )),
        "{message}"
    );
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert!(report.error.is_some_and(|error| error.is_queue_unusable()));
    emulator.shutdown().await?;
    Ok(())
}
