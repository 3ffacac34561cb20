//! Poison messages and permanent failures end in the dead-letter queue: through the redrive policy after
//! `maxReceiveCount` receives, or at once when the consumer dead-letters them itself.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Deserialize;
use sqskit::consumer::{Consumer, DEAD_LETTER_REASON_ATTRIBUTE, Delivery, HandlerError, Outcome};

use crate::harness::{counts, eventually, eventually_async, queue_with_redrive, receive_now, send_bodies, until_empty};
use crate::support::TestContext;

const VISIBILITY: Duration = Duration::from_secs(30);

pub async fn poison_reaches_the_dead_letter_queue_through_redrive(ctx: &TestContext) {
    let backend = ctx.backend.clone();
    let (queue, dlq) = queue_with_redrive(&backend, "poison", 3).await;
    send_bodies(&backend, &queue, vec!["not json".to_owned()]).await;
    let handled = Arc::new(AtomicUsize::new(0));

    let running =
        Consumer::<u32>::builder(backend.clone(), &queue).visibility_timeout(VISIBILITY).build().await.unwrap().start(
            {
                let handled = handled.clone();
                move |_: Delivery<u32>| {
                    handled.fetch_add(1, Ordering::SeqCst);
                    std::future::ready(Outcome::Ack)
                }
            },
        );
    for receive in 1..=3 {
        eventually(&format!("poison receive #{receive}"), || running.stats().poison == receive).await;
        assert_eq!(counts(&backend, &queue).await, (0, 1), "left in flight for the redrive policy");
        ctx.advance(VISIBILITY);
    }
    eventually_async("the poison message to reach the dead-letter queue", || async {
        counts(&backend, &dlq).await == (1, 0)
    })
    .await;

    assert_eq!(counts(&backend, &queue).await, (0, 0));
    assert_eq!(receive_now(&backend, &dlq).await[0].body, "not json");
    send_bodies(&backend, &queue, vec!["5".to_owned()]).await;
    eventually("the consumer to keep working", || handled.load(Ordering::SeqCst) == 1).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.poison, 3);
    assert_eq!(report.completed, 1);
}

#[derive(Debug, Deserialize)]
struct Order {
    id: u32,
    valid: bool,
}

async fn check_order(order: Delivery<Order>) -> Result<(), HandlerError> {
    if order.valid { Ok(()) } else { Err(HandlerError::permanent(format!("order {} is invalid", order.id))) }
}

pub async fn dead_letter_now_moves_permanent_failures_and_poison_at_once(ctx: &TestContext) {
    let backend = ctx.backend.clone();
    let dlq = ctx.create_queue("now-dlq").await;
    let queue = ctx.create_queue("now").await;
    let bodies = [r#"{"id":1,"valid":false}"#, "not json", r#"{"id":2,"valid":true}"#];
    send_bodies(&backend, &queue, bodies.iter().map(|b| (*b).to_owned()).collect()).await;
    let consumer =
        || async { Consumer::<Order>::builder(backend.clone(), &queue).dead_letter_queue(&dlq).build().await.unwrap() };

    let running = consumer().await.start(check_order);
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert_eq!((report.completed, report.stats.dead_lettered, report.stats.poison), (1, 2, 1));
    assert_eq!(counts(&backend, &dlq).await, (2, 0), "moved without waiting for any redelivery");

    // A message damaged in transit (MD5 mismatch) is poison too.
    send_bodies(&backend, &queue, vec![r#"{"id":3,"valid":true}"#.to_owned()]).await;
    ctx.corrupt_next_checksums(1);
    let running = consumer().await.start(check_order);
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert_eq!((report.completed, report.stats.dead_lettered, report.stats.poison), (0, 1, 1));
    let moved: BTreeMap<String, Option<String>> = receive_now(&backend, &dlq)
        .await
        .into_iter()
        .map(|m| {
            let reason = m.attributes.get(DEAD_LETTER_REASON_ATTRIBUTE).and_then(|a| a.as_text()).map(str::to_owned);
            (m.body, reason)
        })
        .collect();
    assert_eq!(moved.len(), 3, "{moved:?}");
    assert_eq!(moved[bodies[0]].as_deref(), Some("order 1 is invalid"));
    assert!(moved["not json"].as_deref().is_some_and(|r| r.contains("decode")), "{moved:?}");
    assert!(moved[r#"{"id":3,"valid":true}"#].as_deref().is_some_and(|r| r.contains("MD5")), "{moved:?}");
}
