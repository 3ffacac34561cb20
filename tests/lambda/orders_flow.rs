//! The order handler as a Lambda function (what `examples/order_lambda.rs` serves), driven the way an SQS
//! event source mapping drives it: batches of 10 received from the emulator, each answered with a partial
//! batch response that is applied to the queue, until the queue is drained. Injected failures, duplicates
//! and poison orders; the order examples' exactly-once verification must pass, raw and SNS-shaped.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sqskit::backend::{EmbeddedBackend, SqsBackend};
use sqskit::consumer::InMemoryIdempotencyStore;
use sqskit::lambda::{batch_response, sqs_event};
use sqskit::types::{QueueAttributeName, QueueAttributes};

use crate::orders::ledger::Ledger;
use crate::orders::model::{Order, duplicate_numbers, order_book};
use crate::orders::queues;
use crate::orders::shop::{Faults, Shop};
use crate::orders::verify::{Expected, verify};
use crate::orders::worker::{self, Shape};
use crate::{apply, queue, receive};

async fn run(shape: Shape) {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let (dlq, dlq_arn) = queue(&backend, "orders-dlq", QueueAttributes::new()).await;
    let redrive = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 4}).to_string();
    let (url, arn) =
        queue(&backend, "orders", QueueAttributes::new().with(QueueAttributeName::RedrivePolicy, redrive)).await;
    let (count, poison) = (60, 2);
    let book = order_book(count, poison);
    let duplicates: Vec<Order> =
        duplicate_numbers(count, poison, 10).into_iter().filter_map(|n| book.get(n as usize - 1).cloned()).collect();
    let producer = worker::producer_shaped(backend.clone(), &url, shape).await.unwrap();
    let sent = worker::send_orders(&producer, book.into_iter().chain(duplicates).collect(), 64, || {}).await;
    producer.close().await;
    assert_eq!(sent.sent, 70);

    let ledger = Arc::new(Ledger::in_memory());
    let shop = Arc::new(Shop::new(Faults { failure_rate: 0.15, latency: Duration::from_millis(1) }, ledger.clone()));
    let function = worker::lambda_function(shop, shape, Arc::new(InMemoryIdempotencyStore::new()));
    let mut invocations = 0;
    loop {
        let received = receive(&backend, &url).await;
        if received.is_empty() {
            break;
        }
        invocations += 1;
        assert!(invocations < 200, "the queue does not drain");
        let results = function.process(sqs_event(&arn, "us-east-1", &received), None).await;
        apply(&backend, &url, &received, &batch_response(&results)).await;
    }
    let dead_letters = queues::dead_letters(&backend, &dlq, Duration::from_secs(30)).await.unwrap();
    let verdict = verify(Expected { orders: count, poison }, &ledger.snapshot(), &dead_letters);
    assert!(verdict.ok(), "{}", verdict.render());
    assert_eq!(verdict.exactly_once + verdict.gave_up.len() as u64, count - poison);
    let poisoned: Vec<_> = verdict.dead_letters.iter().filter(|(_, kind)| kind.is_some()).collect();
    assert_eq!(poisoned.len(), 2, "both poison orders reached the dead-letter queue through the redrive policy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_function_processes_every_order_exactly_once() {
    run(Shape::Raw).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_function_processes_sns_shaped_orders_exactly_once() {
    run(Shape::Sns).await;
}
