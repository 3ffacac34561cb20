//! The README's "SNS and EventBridge envelopes" and "Several message types on one queue" snippets: the code
//! between `// README: <name>` and `// README: end` below must appear verbatim (dedented) in README.md
//! (checked by `tests/readme.rs`), and runs here on the embedded backend.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqskit::backend::{EmbeddedBackend, SendEntry, SqsBackend};
use sqskit::codec::{Encode, JsonCodec};
use sqskit::consumer::{HandlerError, RunningConsumer};
use sqskit::envelope::SnsEncoder;

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    id: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct OrderPlaced {
    id: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct OrderCancelled {
    id: u32,
}

async fn ship(_placed: &OrderPlaced) -> Result<(), HandlerError> {
    Ok(())
}

async fn refund(_cancelled: &OrderCancelled) -> Result<(), HandlerError> {
    Ok(())
}

async fn readme_sns_consumer(backend: Arc<dyn SqsBackend>, queue_url: &str) -> sqskit::Result<RunningConsumer> {
    use sqskit::consumer::{Consumer, Delivery, Outcome};
    use sqskit::envelope::Envelope;
    // README: sns consumer
    let consumer = Consumer::<Order>::builder(backend, queue_url)
        .envelope(Envelope::Sns) // or EventBridge, or Auto (detected per message); Raw by default
        .build()
        .await?;
    let running = consumer.start(|order: Delivery<Order>| async move {
        if let Some(sns) = order.sns() {
            println!("order {} from {} (SNS message {})", order.id, sns.topic_arn, sns.message_id);
        }
        Outcome::Ack
    });
    // README: end
    Ok(running)
}

async fn readme_router(
    backend: Arc<dyn SqsBackend>,
    queue_url: &str,
    dlq_url: &str,
    placed: OrderPlaced,
) -> sqskit::Result<RunningConsumer> {
    use sqskit::consumer::{Delivery, Router, UnknownType};
    use sqskit::{Producer, SendOptions};
    // README: router
    let router = Router::new()
        .route("OrderPlaced", |placed: Delivery<OrderPlaced>| async move { ship(&placed).await })
        .route("OrderCancelled", |cancelled: Delivery<OrderCancelled>| async move { refund(&cancelled).await })
        .on_unknown(UnknownType::DeadLetter); // or Release, or Ack (counted)
    let running = Router::consumer(backend.clone(), queue_url).dead_letter_queue(dlq_url).build().await?.start(router);

    // Producers name the type in a message attribute (SNS and EventBridge envelopes can name it themselves).
    let producer = Producer::<OrderPlaced>::builder(backend, queue_url).build().await?;
    producer.send_with(&placed, SendOptions::new().message_type("OrderPlaced")).await?;
    // README: end
    producer.close().await;
    Ok(running)
}

async fn settled(running: &RunningConsumer, count: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while running.stats().completed < count {
        assert!(tokio::time::Instant::now() < deadline, "the snippet's consumer did not settle {count} messages");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_envelope_snippet_runs() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("orders", &Default::default(), &Default::default()).await.unwrap();
    let body =
        SnsEncoder::new(JsonCodec, "arn:aws:sns:us-east-1:123456789012:orders").encode(&Order { id: 1 }).unwrap();
    backend.send_message_batch(&queue, &[SendEntry::new("1", body)]).await.unwrap();
    let running = readme_sns_consumer(backend, &queue).await.unwrap();
    settled(&running, 1).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.poison, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_snippet_runs() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("events", &Default::default(), &Default::default()).await.unwrap();
    let dlq = backend.create_queue("events-dlq", &Default::default(), &Default::default()).await.unwrap();
    let running = readme_router(backend, &queue, &dlq, OrderPlaced { id: 1 }).await.unwrap();
    settled(&running, 1).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.completed, report.stats.dead_lettered), (1, 0));
}
