//! The SNS-shaped order flow: the offline order demo with every order inside an SNS notification (the
//! producer wraps them as SNS delivers them to a subscribed queue without raw message delivery; the consumer
//! opens them), held to the same verification as the plain run in `tests/order_demo.rs`.

use std::time::Duration;

use crate::orders::demo::{DemoConfig, run};
use crate::orders::model::{Poison, order_id, poison_numbers};
use crate::orders::worker::{ORDERS_TOPIC_ARN, Shape};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sns_shaped_demo_processes_every_order_exactly_once() -> anyhow::Result<()> {
    let config = DemoConfig {
        orders: 120,
        duplicates: 15,
        max_receive_count: 3,
        wave: 20,
        wave_every: Duration::from_millis(100),
        crash_at: 0.25,
        outage: Duration::from_millis(500),
        shape: Shape::Sns,
        ..DemoConfig::default()
    };
    let outcome = run(&config).await?;
    println!("{}", outcome.summary);

    assert!(outcome.ok(), "the demo's checks failed:\n{}", outcome.summary);
    assert_eq!(outcome.sent.sent, 135, "every order and every duplicate was sent");
    let verdict = &outcome.verdict;
    assert!(verdict.charged_twice.is_empty() && verdict.shipped_twice.is_empty());
    assert!(verdict.missing.is_empty() && verdict.unfinished.is_empty());
    assert_eq!(verdict.exactly_once + verdict.gave_up.len() as u64, 118);
    let poison: Vec<(String, Option<Poison>)> =
        poison_numbers(120, 2).into_iter().map(|(n, kind)| (order_id(n), Some(kind))).collect();
    let dead: Vec<(String, Option<Poison>)> = verdict
        .dead_letters
        .iter()
        .map(|(d, kind)| (d.order_id.clone(), *kind))
        .filter(|(_, kind)| kind.is_some())
        .collect();
    assert_eq!(dead, poison, "both poison orders, and only those, are in the dead-letter queue");
    assert!(outcome.summary.contains("RESULT: every order was processed exactly once"), "{}", outcome.summary);
    Ok(())
}

#[tokio::test]
async fn sns_shaped_orders_are_notifications_on_the_wire() -> anyhow::Result<()> {
    use std::sync::Arc;

    use sqskit::backend::{EmbeddedBackend, ReceiveRequest, SqsBackend};
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("orders", &Default::default(), &Default::default()).await?;
    let producer = crate::orders::worker::producer_shaped(backend.clone(), &queue, Shape::Sns).await?;
    producer.send(&crate::orders::model::order(1, None)).await?;
    producer.close().await;
    let received = backend.receive_message(&queue, &ReceiveRequest::new().all_attributes()).await?;
    let body: serde_json::Value = serde_json::from_str(&received[0].body)?;
    assert_eq!(body["Type"], "Notification");
    assert_eq!(body["TopicArn"], ORDERS_TOPIC_ARN);
    assert_eq!(body["Subject"], "order");
    let order: crate::orders::model::Order = serde_json::from_str(body["Message"].as_str().unwrap_or_default())?;
    assert_eq!(order.order_id, order_id(1));
    assert!(received[0].attributes.is_empty(), "like SNS, no SQS message attributes");
    Ok(())
}
