//! Graceful shutdown: under load nothing is lost and nothing processed twice; unstarted messages are
//! released at once, handlers past the deadline are abandoned to redelivery.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use sqskit::backend::SendEntry;
use sqskit::consumer::{Consumer, Delivery, Outcome, RunningConsumer};

use crate::harness::{counts, eventually, receive_all, receive_now, send_bodies, send_entries};
use crate::support::TestContext;

const MESSAGES: usize = 10_000;

fn counting(
    handled: &Arc<Vec<AtomicU32>>,
) -> impl Fn(Delivery<u32>) -> std::pin::Pin<Box<dyn Future<Output = Outcome> + Send>> + Send + Sync + 'static {
    let handled = handled.clone();
    move |delivery: Delivery<u32>| {
        handled[*delivery as usize].fetch_add(1, Ordering::SeqCst);
        Box::pin(async {
            tokio::task::yield_now().await;
            Outcome::Ack
        })
    }
}

fn total(handled: &[AtomicU32]) -> u64 {
    handled.iter().map(|n| u64::from(n.load(Ordering::SeqCst))).sum()
}

pub async fn shutdown_under_load_loses_nothing_and_processes_nothing_twice(ctx: &TestContext) {
    let backend = ctx.backend.clone();
    let queue = ctx.create_queue("load").await;
    send_bodies(&backend, &queue, (0..MESSAGES).map(|i| i.to_string()).collect()).await;
    let handled: Arc<Vec<AtomicU32>> = Arc::new((0..MESSAGES).map(|_| AtomicU32::new(0)).collect());
    let start = || async {
        Consumer::<u32>::builder(backend.clone(), &queue)
            .concurrency(64)
            .build()
            .await
            .unwrap()
            .start(counting(&handled))
    };

    let first = start().await;
    eventually("a third of the messages to be handled", || first.stats().started >= (MESSAGES / 3) as u64).await;
    let report = first.shutdown(Duration::from_secs(5)).await;

    let handled_first = total(&handled);
    assert_eq!((report.abandoned, report.unsettled, report.stats.settle_failures), (0, 0, 0));
    assert_eq!(report.completed, handled_first, "everything handled was deleted, nothing else");
    assert!(handled_first < MESSAGES as u64, "shut down while under load");

    // A long poll dropped at shutdown may still take messages on the server (over HTTP): moving time past
    // the visibility timeout returns them.
    ctx.advance(Duration::from_secs(60));
    let second = start().await;
    drain(ctx, &second, &handled).await;
    let second_report = second.shutdown(Duration::from_secs(5)).await;

    assert_eq!(counts(&backend, &queue).await, (0, 0));
    let twice: Vec<usize> = (0..MESSAGES).filter(|&i| handled[i].load(Ordering::SeqCst) != 1).collect();
    assert!(twice.is_empty(), "messages not handled exactly once: {:?}", &twice[..twice.len().min(10)]);
    assert_eq!(report.completed + second_report.completed, MESSAGES as u64);
}

/// Waits until every message was handled, advancing virtual time only while the consumer holds nothing and
/// every acknowledgement is confirmed (so no message can expire while being processed).
async fn drain(ctx: &TestContext, consumer: &RunningConsumer, handled: &[AtomicU32]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last = 0;
    let mut idle_rounds = 0;
    while total(handled) < MESSAGES as u64 {
        assert!(tokio::time::Instant::now() < deadline, "only {} of {MESSAGES} handled", total(handled));
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = total(handled);
        idle_rounds = if now == last { idle_rounds + 1 } else { 0 };
        last = now;
        let settled = consumer.in_flight() == 0 && consumer.stats().completed == consumer.stats().started;
        if idle_rounds >= 100 && settled {
            ctx.advance(Duration::from_secs(60));
            idle_rounds = 0;
        }
    }
}

pub async fn shutdown_releases_unstarted_messages_and_abandons_handlers_past_the_deadline(ctx: &TestContext) {
    let backend = ctx.backend.clone();
    let queue = ctx.create_fifo_queue("held.fifo").await;
    let entries = (0..5)
        .map(|i| {
            let mut entry = SendEntry::new(format!("e{i}"), i.to_string());
            entry.group_id = Some("g".to_owned());
            entry.deduplication_id = Some(format!("d{i}"));
            entry
        })
        .collect();
    send_entries(&backend, &queue, entries).await;
    let started = Arc::new(AtomicUsize::new(0));

    let running = Consumer::<u32>::builder(backend.clone(), &queue).concurrency(10).build().await.unwrap().start({
        let started = started.clone();
        move |_: Delivery<u32>| {
            started.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<Outcome>()
        }
    });
    eventually("the group's head to start and the rest to wait behind it", || {
        started.load(Ordering::SeqCst) == 1 && running.in_flight() == 5
    })
    .await;
    let report = running.shutdown(Duration::from_millis(200)).await;

    assert_eq!((report.abandoned, report.released, report.completed), (1, 4, 0));
    assert_eq!(counts(&backend, &queue).await, (4, 1), "4 released, the abandoned head still in flight");
    assert!(receive_now(&backend, &queue).await.is_empty(), "the group waits for its head");

    ctx.advance(Duration::from_secs(30));
    let mut back = receive_all(ctx, &queue, 5).await;
    back.sort_by(|a, b| a.sequence_number().cmp(&b.sequence_number()));
    let bodies: Vec<&str> = back.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["0", "1", "2", "3", "4"]);
    assert!(back[0].receive_count() >= Some(2), "the abandoned head is redelivered");
}
