//! Crashes: a panicking handler and a dropped consumer never acknowledge or release; SQS redelivers after
//! the visibility timeout (30 s of virtual time).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqskit::consumer::{Consumer, Delivery, Outcome};

use crate::harness::{counts, eventually, receive_all, receive_now, send_bodies, until_empty};
use crate::support::TestContext;

const VISIBILITY: Duration = Duration::from_secs(30);

pub async fn a_panicking_handler_leaves_the_message_for_redelivery(ctx: &TestContext) {
    let backend = ctx.backend.clone();
    let queue = ctx.create_queue("panics").await;
    send_bodies(&backend, &queue, vec!["1".to_owned()]).await;
    let receive_counts = Arc::new(Mutex::new(Vec::new()));

    let running =
        Consumer::<u32>::builder(backend.clone(), &queue).visibility_timeout(VISIBILITY).build().await.unwrap().start(
            {
                let receive_counts = receive_counts.clone();
                move |delivery: Delivery<u32>| {
                    receive_counts.lock().unwrap().push(delivery.receive_count());
                    async move {
                        tokio::task::yield_now().await;
                        assert!(delivery.receive_count() > 1, "handler crashed on its first attempt");
                        Outcome::Ack
                    }
                }
            },
        );
    eventually("the handler to panic", || running.stats().panicked == 1).await;

    assert_eq!(counts(&backend, &queue).await, (0, 1), "still in flight: neither deleted nor released");
    assert!(receive_now(&backend, &queue).await.is_empty());

    ctx.advance(VISIBILITY);
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert_eq!(*receive_counts.lock().unwrap(), [1, 2], "redelivered once, after the visibility timeout");
    assert_eq!(report.completed, 1);
    assert_eq!(report.stats.panicked, 1);
}

/// Counts how many handler futures were dropped (cancelled).
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

pub async fn a_dropped_consumer_leaves_its_messages_for_redelivery(ctx: &TestContext) {
    let backend = ctx.backend.clone();
    let queue = ctx.create_queue("dropped").await;
    send_bodies(&backend, &queue, (0..3).map(|i| i.to_string()).collect()).await;
    let started = Arc::new(AtomicUsize::new(0));
    let cancelled = Arc::new(AtomicUsize::new(0));

    let running =
        Consumer::<u32>::builder(backend.clone(), &queue).visibility_timeout(VISIBILITY).build().await.unwrap().start(
            {
                let started = started.clone();
                let cancelled = cancelled.clone();
                move |_: Delivery<u32>| {
                    started.fetch_add(1, Ordering::SeqCst);
                    let guard = DropCounter(cancelled.clone());
                    async move {
                        let _guard = guard;
                        std::future::pending::<Outcome>().await
                    }
                }
            },
        );
    eventually("three handlers to start", || started.load(Ordering::SeqCst) == 3).await;
    drop(running);
    eventually("the running handlers to be cancelled", || cancelled.load(Ordering::SeqCst) == 3).await;

    assert_eq!(counts(&backend, &queue).await, (0, 3), "in flight: neither deleted nor released");
    ctx.advance(VISIBILITY - Duration::from_secs(1));
    assert_eq!(counts(&backend, &queue).await, (0, 3), "still hidden just before the timeout");

    ctx.advance(Duration::from_secs(1));
    let redelivered = receive_all(ctx, &queue, 3).await;
    assert!(redelivered.iter().all(|m| m.receive_count() >= Some(2)), "received again after the timeout");
}
