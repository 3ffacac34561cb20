//! Handling, batched acknowledgements, delete retries, and the batch handler.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqskit::consumer::{BatchOutcomes, Consumer, Delivery, Outcome};
use sqskit::retry::RetryPolicy;

use crate::harness::{Probe, counts, eventually, eventually_async, send_bodies, until_empty};
use crate::support::TestContext;

type Seen = Arc<Mutex<HashMap<u32, u32>>>;

fn recording(seen: &Seen) -> impl Fn(Delivery<u32>) -> std::future::Ready<Outcome> + Send + Sync + 'static {
    let seen = seen.clone();
    move |delivery: Delivery<u32>| {
        *seen.lock().unwrap().entry(*delivery).or_default() += 1;
        std::future::ready(Outcome::Ack)
    }
}

pub async fn every_message_is_handled_once_with_batched_acks(ctx: &TestContext) {
    let backend = ctx.backend.clone();
    let queue = ctx.create_queue("basics").await;
    send_bodies(&backend, &queue, (0..200).map(|i| i.to_string()).collect()).await;
    let seen = Seen::default();
    let deletes_before = ctx.calls().delete_message_batch;

    let running = Consumer::<u32>::builder(backend.clone(), &queue)
        .concurrency(40)
        .build()
        .await
        .unwrap()
        .start(recording(&seen));
    eventually("200 messages handled", || seen.lock().unwrap().len() == 200).await;
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert!(seen.lock().unwrap().values().all(|&n| n == 1), "each message handled once");
    assert_eq!(report.completed, 200);
    assert_eq!((report.released, report.abandoned, report.unsettled), (0, 0, 0));
    let deletes = ctx.calls().delete_message_batch - deletes_before;
    assert!(deletes <= 40, "acknowledgements are batched: {deletes} DeleteMessageBatch requests for 200 messages");
}

pub async fn failed_deletes_are_retried(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_queue("delete-retries").await;
    send_bodies(&backend, &queue, (0..10).map(|i| i.to_string()).collect()).await;
    probe.fail_next_deletes(2);
    let seen = Seen::default();

    let running = Consumer::<u32>::builder(backend.clone(), &queue)
        .api_retry(RetryPolicy::default().initial_backoff(Duration::from_millis(5)))
        .build()
        .await
        .unwrap()
        .start(recording(&seen));
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert!(probe.delete_requests() >= 3, "two failed requests, then at least one that worked");
    assert_eq!(report.completed, 10);
    assert_eq!(report.stats.settle_failures, 0);
    assert!(seen.lock().unwrap().values().all(|&n| n == 1));
}

pub async fn batch_handler_settles_each_message_by_its_outcome(ctx: &TestContext) {
    let backend = ctx.backend.clone();
    let dlq = ctx.create_queue("batch-dlq").await;
    let queue = ctx.create_queue("batch").await;
    send_bodies(&backend, &queue, (0..30).map(|i| i.to_string()).collect()).await;
    let largest_batch = Arc::new(AtomicUsize::new(0));

    let running =
        Consumer::<u32>::builder(backend.clone(), &queue).dead_letter_queue(&dlq).build().await.unwrap().start_batch({
            let largest_batch = largest_batch.clone();
            move |batch: Vec<Delivery<u32>>| {
                largest_batch.fetch_max(batch.len(), Ordering::SeqCst);
                let outcomes: BatchOutcomes = batch
                    .iter()
                    .map(|d| {
                        if **d % 10 == 7 { Outcome::DeadLetter("sevens are rejected".to_owned()) } else { Outcome::Ack }
                    })
                    .collect();
                std::future::ready(outcomes)
            }
        });
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert_eq!(report.completed, 27);
    assert_eq!(report.stats.dead_lettered, 3);
    assert_eq!(counts(&backend, &dlq).await, (3, 0), "the three sevens are in the dead-letter queue");
    assert!(largest_batch.load(Ordering::SeqCst) > 1, "messages of one receive are handled together");
}

pub async fn a_slow_message_neither_blocks_others_nor_lets_the_consumer_prefetch(ctx: &TestContext) {
    let backend = ctx.backend.clone();
    let queue = ctx.create_queue("slow").await;
    let (open_gate, gate) = tokio::sync::watch::channel(false);
    let fast_done = Arc::new(AtomicUsize::new(0));
    let slow_started = Arc::new(AtomicUsize::new(0));
    // Bodies >= 1000 are slow: they wait for the gate.
    let running = Consumer::<u32>::builder(backend.clone(), &queue).concurrency(4).build().await.unwrap().start({
        let (fast_done, slow_started) = (fast_done.clone(), slow_started.clone());
        move |delivery: Delivery<u32>| {
            let (fast_done, slow_started, mut gate) = (fast_done.clone(), slow_started.clone(), gate.clone());
            async move {
                if *delivery >= 1000 {
                    slow_started.fetch_add(1, Ordering::SeqCst);
                    let _ = gate.wait_for(|open| *open).await;
                } else {
                    fast_done.fetch_add(1, Ordering::SeqCst);
                }
                Outcome::Ack
            }
        }
    });

    // No head-of-line blocking: one slow message does not hold up the thirty behind it.
    send_bodies(&backend, &queue, vec!["1000".to_owned()]).await;
    eventually("the slow message to start", || slow_started.load(Ordering::SeqCst) == 1).await;
    send_bodies(&backend, &queue, (0..30).map(|i| i.to_string()).collect()).await;
    eventually("the fast messages to pass the slow one", || fast_done.load(Ordering::SeqCst) == 30).await;

    // Back-pressure: with every slot busy, nothing more is received.
    send_bodies(&backend, &queue, (1001..1004).map(|i| i.to_string()).collect()).await;
    eventually("four slow handlers to hold every slot", || slow_started.load(Ordering::SeqCst) == 4).await;
    send_bodies(&backend, &queue, (100..110).map(|i| i.to_string()).collect()).await;
    eventually("the pending acknowledgements to settle", || running.stats().completed == 30).await;
    for _ in 0..20 {
        assert_eq!(counts(&backend, &queue).await, (10, 4), "only as many messages held as there are slots");
        assert_eq!(running.in_flight(), 4);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    open_gate.send_replace(true);
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.completed, 44);
}

pub async fn shutdown_ends_waiting_long_polls_at_once(ctx: &TestContext) {
    let backend = ctx.backend.clone();
    let queue = ctx.create_queue("idle").await;
    let running = Consumer::<u32>::builder(backend.clone(), &queue)
        .concurrency(30)
        .build()
        .await
        .unwrap()
        .start(recording(&Seen::default()));
    eventually_async("three long polls to be waiting", || async { ctx.calls().receive_message >= 3 }).await;

    // On frozen virtual time the 20 s long polls would never end by themselves.
    let started = tokio::time::Instant::now();
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert!(started.elapsed() < Duration::from_secs(2), "shutdown took {:?}", started.elapsed());
    assert_eq!(report.completed, 0);
}
