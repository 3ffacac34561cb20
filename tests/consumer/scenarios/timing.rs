//! Time-driven behaviour on virtual SQS time: retry delays grow with the receive count, the heartbeat
//! keeps a long handler's message invisible, and under many long handlers it extends one tick's messages in
//! concurrent requests of 10 and backs off failed entries.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqskit::consumer::{Consumer, Delivery, Handler, HandlerError, Heartbeat, Outcome};
use sqskit::retry::{Jitter, RetryPolicy};
use sqskit::types::QueueAttributeName;
use tokio::sync::watch;

use crate::harness::{Probe, counts, eventually, receive_now, send_bodies, until_empty};
use crate::support::TestContext;

const VISIBILITY: Duration = Duration::from_secs(30);

pub async fn retry_backoff_grows_with_the_receive_count(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_queue("backoff").await;
    send_bodies(&backend, &queue, vec!["1".to_owned()]).await;
    let receive_counts = Arc::new(Mutex::new(Vec::new()));
    let backoff = RetryPolicy::default()
        .initial_backoff(Duration::from_secs(10))
        .max_backoff(Duration::from_secs(1_000))
        .jitter(Jitter::None);

    // One-second long polls: the emulator does not wake a waiting long poll when a visibility change
    // shortens a message's invisibility (real SQS does), so polls must end with each clock advance.
    let consumer =
        Consumer::<u32>::builder(backend.clone(), &queue).retry_backoff(backoff).wait_time(Duration::from_secs(1));
    let running = consumer.build().await.unwrap().start({
        let receive_counts = receive_counts.clone();
        move |delivery: Delivery<u32>| {
            receive_counts.lock().unwrap().push(delivery.receive_count());
            std::future::ready(Err::<(), _>(HandlerError::transient(std::io::Error::other("downstream unavailable"))))
        }
    });
    for (attempt, delay) in [(1, 10), (2, 20), (3, 40)] {
        eventually(&format!("attempt {attempt} to be retried"), || probe.visibility_timeouts().len() == attempt).await;
        assert_eq!(probe.visibility_timeouts()[attempt - 1], Duration::from_secs(delay));
        ctx.advance(Duration::from_secs(delay - 1));
        assert_eq!(counts(&backend, &queue).await, (0, 1), "hidden until its retry delay has passed");
        ctx.advance(Duration::from_secs(1));
    }
    eventually("the fourth attempt", || receive_counts.lock().unwrap().len() == 4).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert_eq!(*receive_counts.lock().unwrap(), [1, 2, 3, 4]);
    assert!(report.stats.retried >= 3);
}

/// A handler that counts its starts and holds every message until `finished` turns true, then acknowledges it.
struct HeldUntilFinished {
    started: Arc<AtomicUsize>,
    finished: watch::Receiver<bool>,
}

#[async_trait::async_trait]
impl Handler<u32> for HeldUntilFinished {
    async fn handle(&self, _: Delivery<u32>) -> Outcome {
        self.started.fetch_add(1, Ordering::SeqCst);
        let _ = self.finished.clone().wait_for(|done| *done).await;
        Outcome::Ack
    }
}

pub async fn heartbeats_keep_a_handler_three_times_the_visibility_timeout_invisible(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_queue("heartbeat").await;
    send_bodies(&backend, &queue, vec!["1".to_owned()]).await;
    let started = Arc::new(AtomicUsize::new(0));
    let (finish, finished) = watch::channel(false);
    // Extend whenever less than 29.9 s are left: about every 100 ms of real time.
    let heartbeat = Heartbeat::default().interval(Duration::from_millis(10)).threshold(Duration::from_millis(29_900));

    let running = Consumer::<u32>::builder(backend.clone(), &queue)
        .visibility_timeout(VISIBILITY)
        .heartbeat(heartbeat)
        .build()
        .await
        .unwrap()
        .start(HeldUntilFinished { started: started.clone(), finished });
    eventually("the handler to start", || started.load(Ordering::SeqCst) == 1).await;
    for step in 1..=9 {
        ctx.advance(Duration::from_secs(10));
        // The second request completing after this point was sent after the advance.
        let done = probe.visibility_requests_done();
        eventually("a heartbeat after the advance", || probe.visibility_requests_done() >= done + 2).await;
        assert!(receive_now(&backend, &queue).await.is_empty(), "redelivered after {} s", step * 10);
    }
    finish.send_replace(true);
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert_eq!(started.load(Ordering::SeqCst), 1, "never redelivered during 90 s (3 x the visibility timeout)");
    assert_eq!(report.completed, 1);
    assert!(report.stats.extended >= 18, "extended {} times", report.stats.extended);
}

/// Splits the heartbeat's visibility requests into ticks: a tick extends each held message once, so a
/// request carrying a message already seen starts the next tick.
fn ticks(calls: &[Vec<String>]) -> Vec<Vec<Vec<String>>> {
    let mut ticks: Vec<Vec<Vec<String>>> = vec![Vec::new()];
    let mut seen = HashSet::new();
    for call in calls {
        if call.iter().any(|receipt| seen.contains(receipt)) {
            ticks.push(Vec::new());
            seen.clear();
        }
        seen.extend(call.iter().cloned());
        ticks.last_mut().unwrap().push(call.clone());
    }
    ticks
}

pub async fn heartbeat_sends_a_ticks_batches_concurrently_and_backs_off_failed_entries(ctx: &TestContext) {
    const HANDLERS: usize = 95;
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_queue("heartbeat-load").await;
    // Can two requests of one task overlap on this row (is its backend asynchronous)? Asked before anything
    // else goes through the probe.
    let names = [QueueAttributeName::QueueArn];
    let _ = tokio::join!(backend.get_queue_attributes(&queue, &names), backend.get_queue_attributes(&queue, &names));
    let overlapping_row = probe.max_in_flight() >= 2;
    send_bodies(&backend, &queue, (0..HANDLERS).map(|i| i.to_string()).collect()).await;
    let started = Arc::new(AtomicUsize::new(0));
    let (finish, finished) = watch::channel(false);
    // Every held message is due at every tick (less than 29.999 s of its 30 s left).
    let interval = Duration::from_millis(100);
    let heartbeat = Heartbeat::default().interval(interval).threshold(Duration::from_millis(29_999));

    let running = Consumer::<u32>::builder(backend.clone(), &queue)
        .concurrency(100)
        .visibility_timeout(VISIBILITY)
        .heartbeat(heartbeat)
        .build()
        .await
        .unwrap()
        .start(HeldUntilFinished { started: started.clone(), finished });
    eventually("every handler to start", || started.load(Ordering::SeqCst) == HANDLERS).await;
    let mark = probe.visibility_calls().len();
    eventually("five whole ticks", || ticks(&probe.visibility_calls()[mark..]).len() >= 7).await;

    // The first and last tick seen may be partial.
    let calls = probe.visibility_calls();
    let seen = ticks(&calls[mark..]);
    for tick in &seen[1..seen.len() - 1] {
        let mut sizes: Vec<usize> = tick.iter().map(Vec::len).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [5, 10, 10, 10, 10, 10, 10, 10, 10, 10], "one tick: 95 messages in 10 requests");
    }
    if overlapping_row {
        let overlap = probe.max_visibility_in_flight();
        assert!(overlap >= 2, "a tick's requests are sent concurrently: at most {overlap} in flight at once");
    }

    // Every request fails for 1.5 s (15 ticks): each message is tried a few times (after 0, 0.2, 0.6, 1.4 s),
    // backing off, not at every tick.
    probe.fail_visibility(true);
    let failing_from = probe.visibility_calls().len();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    probe.fail_visibility(false);
    let failed = probe.visibility_calls()[failing_from..].to_vec();
    let mut tries: HashMap<String, usize> = HashMap::new();
    for receipt in failed.iter().flatten() {
        *tries.entry(receipt.clone()).or_default() += 1;
    }
    let most = tries.values().copied().max().unwrap_or(0);
    assert!((1..=6).contains(&most), "a failing message was tried {most} times in 1.5 s (15 ticks)");
    let extended = running.stats().extended;
    eventually("extensions to resume", || running.stats().extended >= extended + HANDLERS as u64).await;

    finish.send_replace(true);
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(started.load(Ordering::SeqCst), HANDLERS, "nothing was redelivered");
    assert_eq!(report.completed, HANDLERS as u64);
}
