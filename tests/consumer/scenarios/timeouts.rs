//! Bounded handlers: a handler past its timeout has its cancellation token fired, and past the grace period
//! is dropped and its message retried (never processed twice at once); a handler that honours the token
//! ends early with its own outcome; shutdown fires every running handler's token. A handler whose message's
//! visibility the heartbeat cannot extend is dropped before the confirmed deadline (issue 18), and runs on
//! when a later extension succeeds. The consumer's timers run in real milliseconds, SQS time on the
//! `ManualClock`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqskit::IdempotencyKey;
use sqskit::backend::SendEntry;
use sqskit::consumer::{
    BatchOutcomes, Consumer, ConsumerBuilder, Delivery, Handler, Heartbeat, InMemoryIdempotencyStore, Outcome,
};
use sqskit::retry::{Jitter, RetryPolicy};
use tokio::time::Instant;

use crate::harness::{Probe, counts, eventually, receive_all, receive_now, send_bodies, send_entries, until_empty};
use crate::support::TestContext;

const TIMEOUT: Duration = Duration::from_millis(300);
const GRACE: Duration = Duration::from_millis(200);
const RETRY_DELAY: Duration = Duration::from_secs(10);
/// The handlers measure from a moment after the consumer's start of the call.
const SLACK: Duration = Duration::from_millis(10);
/// How late a timer or a task may run on a loaded machine, for upper bounds (lower bounds need no such room).
const LATE: Duration = Duration::from_millis(100);

fn retry_policy() -> RetryPolicy {
    RetryPolicy::default().initial_backoff(RETRY_DELAY).max_backoff(Duration::from_secs(1_000)).jitter(Jitter::None)
}

/// The consumer with an idempotency key per order (`order-<n>`) in a fresh in-memory store.
fn keyed(builder: ConsumerBuilder<u32>) -> ConsumerBuilder<u32> {
    builder
        .idempotency(Arc::new(InMemoryIdempotencyStore::new()))
        .idempotency_key(|order, _| Some(IdempotencyKey::from(format!("order-{order}"))))
}

/// The consumer with the scenarios' handler timeout, grace period, retry delay and one-second long polls (so
/// that a poll ends with each clock advance, see `timing.rs`).
fn bounded(builder: ConsumerBuilder<u32>) -> ConsumerBuilder<u32> {
    builder
        .handler_timeout(TIMEOUT)
        .handler_grace(GRACE)
        .retry_backoff(retry_policy())
        .wait_time(Duration::from_secs(1))
}

/// A handler that hangs on a message's first delivery, ignoring its token (so it can only be dropped), and
/// acknowledges every redelivery; `Attempts` records what happened.
struct HangsOnFirstDelivery(Arc<Attempts>);

#[async_trait::async_trait]
impl Handler<u32> for HangsOnFirstDelivery {
    async fn handle(&self, delivery: Delivery<u32>) -> Outcome {
        let mut running = Running::start(&self.0, &delivery);
        if delivery.receive_count() == 1 {
            std::future::pending::<()>().await;
        }
        running.finished = true;
        Outcome::Ack
    }
}

/// What the handlers of one scenario did: handlers running now (and the most at once), how many were
/// dropped, when tokens fired and handler futures were dropped (since their start).
#[derive(Debug, Default)]
struct Attempts {
    running: AtomicUsize,
    max_running: AtomicUsize,
    dropped: AtomicUsize,
    fired_after: Mutex<Vec<Duration>>,
    dropped_after: Mutex<Vec<Duration>>,
    receive_counts: Mutex<Vec<u32>>,
}

/// Counts a handler as running until its future completes or is dropped.
struct Running {
    attempts: Arc<Attempts>,
    started: Instant,
    finished: bool,
}

impl Running {
    fn start<T>(attempts: &Arc<Attempts>, delivery: &Delivery<T>) -> Self {
        attempts.receive_counts.lock().unwrap().push(delivery.receive_count());
        let now = attempts.running.fetch_add(1, Ordering::SeqCst) + 1;
        attempts.max_running.fetch_max(now, Ordering::SeqCst);
        // Watches the token from outside the handler future, which ignores it.
        let token = delivery.cancellation();
        let watcher = attempts.clone();
        let started = Instant::now();
        tokio::spawn(async move {
            token.cancelled().await;
            watcher.fired_after.lock().unwrap().push(started.elapsed());
        });
        Self { attempts: attempts.clone(), started, finished: false }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.attempts.running.fetch_sub(1, Ordering::SeqCst);
        if !self.finished {
            self.attempts.dropped.fetch_add(1, Ordering::SeqCst);
            self.attempts.dropped_after.lock().unwrap().push(self.started.elapsed());
        }
    }
}

pub async fn a_hanging_handler_is_cancelled_then_dropped_and_its_message_retried(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_queue("hangs").await;
    send_bodies(&backend, &queue, vec!["1".to_owned()]).await;
    let attempts = Arc::new(Attempts::default());

    // One-second long polls, so that a poll ends with each clock advance (see `timing.rs`). The idempotency
    // lease (30 s of real time) must be abandoned with the dropped handler, or the retry would be deferred.
    let running = bounded(keyed(Consumer::<u32>::builder(backend.clone(), &queue)))
        .build()
        .await
        .unwrap()
        .start(HangsOnFirstDelivery(attempts.clone()));
    eventually("the hanging handler to be dropped", || running.stats().dropped == 1).await;
    eventually("its retry to be settled", || probe.visibility_timeouts() == [RETRY_DELAY]).await;

    let fired = attempts.fired_after.lock().unwrap().clone();
    let dropped = attempts.dropped_after.lock().unwrap().clone();
    assert_eq!(fired.len(), 1, "the token fired once");
    assert!(fired[0] >= TIMEOUT - SLACK, "the token fired at the timeout, not before: {fired:?}");
    assert!(dropped[0] >= TIMEOUT + GRACE - SLACK, "dropped after the grace period, not before: {dropped:?}");
    assert_eq!(attempts.running.load(Ordering::SeqCst), 0, "the handler future is gone");
    assert_eq!(counts(&backend, &queue).await, (0, 1), "hidden for its retry delay");
    assert!(receive_now(&backend, &queue).await.is_empty());

    ctx.advance(RETRY_DELAY);
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert_eq!(*attempts.receive_counts.lock().unwrap(), [1, 2], "received again after the retry delay");
    assert_eq!(attempts.max_running.load(Ordering::SeqCst), 1, "never processed twice at once");
    assert_eq!((report.stats.timed_out, report.stats.dropped, report.stats.retried), (1, 1, 1));
    assert_eq!((report.completed, report.abandoned, report.stats.deferred), (1, 0, 0), "the lease was given up");
}

pub async fn a_handler_that_honours_its_token_ends_early_with_its_own_outcome(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_queue("honours").await;
    send_bodies(&backend, &queue, vec!["1".to_owned()]).await;
    let attempts = Arc::new(Attempts::default());
    let own_delay = Duration::from_secs(5);

    let running = Consumer::<u32>::builder(backend.clone(), &queue)
        .handler_timeout(TIMEOUT)
        .handler_grace(Duration::from_secs(60))
        .wait_time(Duration::from_secs(1))
        .build()
        .await
        .unwrap()
        .start({
            let attempts = attempts.clone();
            move |delivery: Delivery<u32>| {
                let running = Running::start(&attempts, &delivery);
                async move {
                    let mut running = running;
                    if delivery.receive_count() == 1 {
                        delivery.cancelled().await;
                        assert!(delivery.is_cancelled());
                        running.finished = true;
                        return Outcome::RetryAfter(own_delay);
                    }
                    running.finished = true;
                    Outcome::Ack
                }
            }
        });
    eventually("the handler's own outcome to be settled", || probe.visibility_timeouts() == [own_delay]).await;
    let stats = running.stats();
    assert_eq!((stats.timed_out, stats.dropped), (1, 0), "timed out, returned within the grace period");
    let fired = attempts.fired_after.lock().unwrap().clone();
    assert!(fired[0] >= TIMEOUT - SLACK && fired[0] < Duration::from_secs(30), "fired at the timeout: {fired:?}");

    ctx.advance(own_delay);
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert_eq!(*attempts.receive_counts.lock().unwrap(), [1, 2]);
    assert_eq!(attempts.dropped.load(Ordering::SeqCst), 0, "never dropped");
    assert_eq!(report.completed, 1);
}

pub async fn shutdown_cancels_running_handlers_tokens(ctx: &TestContext) {
    let backend = ctx.backend.clone();
    let queue = ctx.create_queue("shutdown-token").await;
    send_bodies(&backend, &queue, (0..3).map(|i| i.to_string()).collect()).await;
    let attempts = Arc::new(Attempts::default());

    let running = Consumer::<u32>::builder(backend.clone(), &queue).build().await.unwrap().start({
        let attempts = attempts.clone();
        move |delivery: Delivery<u32>| {
            let running = Running::start(&attempts, &delivery);
            async move {
                let mut running = running;
                delivery.cancelled().await;
                running.finished = true;
                Outcome::Release
            }
        }
    });
    eventually("three handlers to start", || attempts.receive_counts.lock().unwrap().len() == 3).await;
    let started = Instant::now();
    let report = running.shutdown(Duration::from_secs(30)).await;

    assert!(started.elapsed() < Duration::from_secs(10), "handlers wound up at once, not at the drain deadline");
    assert_eq!((report.abandoned, report.stats.released, report.stats.timed_out), (0, 3, 0));
    assert_eq!(attempts.dropped.load(Ordering::SeqCst), 0);
    // Released, not deleted. (Over HTTP, a long poll dropped at shutdown may take them again on the server:
    // `receive_all` advances the clock past such a receive's visibility timeout.)
    assert_eq!(receive_all(ctx, &queue, 3).await.len(), 3);
}

pub async fn a_hanging_batch_handler_is_dropped_and_its_messages_retried(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_queue("batch-hangs").await;
    send_bodies(&backend, &queue, (0..3).map(|i| i.to_string()).collect()).await;
    let attempts = Arc::new(Attempts::default());

    let running = bounded(Consumer::<u32>::builder(backend.clone(), &queue)).build().await.unwrap().start_batch({
        let attempts = attempts.clone();
        move |batch: Vec<Delivery<u32>>| {
            let running: Vec<Running> = batch.iter().map(|d| Running::start(&attempts, d)).collect();
            async move {
                let mut running = running;
                if batch.iter().any(|d| d.receive_count() == 1) {
                    std::future::pending::<()>().await;
                }
                running.iter_mut().for_each(|r| r.finished = true);
                BatchOutcomes::all(Outcome::Ack, batch.len())
            }
        }
    });
    eventually("every message to be retried", || running.stats().retried == 3).await;
    assert_eq!(probe.visibility_timeouts(), [RETRY_DELAY; 3]);
    assert_eq!(attempts.dropped.load(Ordering::SeqCst), 3);
    assert!(attempts.fired_after.lock().unwrap().iter().all(|&at| at >= TIMEOUT - SLACK));

    ctx.advance(RETRY_DELAY);
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert_eq!(attempts.max_running.load(Ordering::SeqCst), 3, "the first calls were gone before the retries");
    assert!(report.stats.dropped >= 1 && report.stats.dropped == report.stats.timed_out);
    assert_eq!(report.completed, 3);
}

pub async fn a_timed_out_fifo_message_holds_back_its_group_which_is_redelivered_in_order(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_fifo_queue("hangs.fifo").await;
    let entries = (0..3)
        .map(|i| {
            let mut entry = SendEntry::new(format!("e{i}"), i.to_string());
            entry.group_id = Some("g".to_owned());
            entry.deduplication_id = Some(format!("d{i}"));
            entry
        })
        .collect();
    send_entries(&backend, &queue, entries).await;
    let attempts = Arc::new(Attempts::default());
    let order = Arc::new(Mutex::new(Vec::new()));

    let running = bounded(Consumer::<u32>::builder(backend.clone(), &queue)).build().await.unwrap().start({
        let attempts = attempts.clone();
        let order = order.clone();
        move |delivery: Delivery<u32>| {
            let running = Running::start(&attempts, &delivery);
            order.lock().unwrap().push(*delivery);
            async move {
                let mut running = running;
                if *delivery == 0 && delivery.receive_count() == 1 {
                    std::future::pending::<()>().await;
                }
                running.finished = true;
                Outcome::Ack
            }
        }
    });
    eventually("the head's retry and the group's release", || running.stats().retried + running.stats().released == 3)
        .await;
    // The retry and the releases may go out in one request or (on a busy machine) in several, in any order.
    let mut timeouts = probe.visibility_timeouts();
    timeouts.sort();
    assert_eq!(
        timeouts,
        [Duration::ZERO, Duration::ZERO, RETRY_DELAY],
        "the head retried after its delay, two released"
    );
    assert_eq!(*order.lock().unwrap(), [0], "nothing behind the hung head ran");

    ctx.advance(RETRY_DELAY);
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert_eq!(*order.lock().unwrap(), [0, 0, 1, 2], "the group is redelivered in order");
    assert_eq!(attempts.max_running.load(Ordering::SeqCst), 1);
    assert_eq!((report.stats.dropped, report.completed), (1, 3));
}

/// The visibility timeout of the heartbeat-failure scenarios: 3 s, the heartbeat extending when less than
/// 2.5 s are left (first at about 0.5 s).
const SHORT_VISIBILITY: Duration = Duration::from_secs(3);
/// A handler whose visibility could not be extended is gone this long before its confirmed deadline: the
/// settle margin for a 3 s visibility timeout (a tenth of it).
const SETTLE_MARGIN: Duration = Duration::from_millis(300);

fn failing_heartbeat() -> Heartbeat {
    Heartbeat::default().interval(Duration::from_millis(10)).threshold(Duration::from_millis(2_500))
}

/// Issue 18: SQS makes a message whose visibility could not be extended visible again at its confirmed
/// deadline (here the receive's 3 s), and its idempotency lease ends then too; a handler still running
/// could complete while a redelivered copy runs. So it is cancelled a grace period before `deadline - margin`
/// (2.7 s) and dropped at it; its message is neither deleted nor changed (left for SQS to redeliver at its
/// deadline) and its lease is given up, so the redelivered copy runs at once rather than being deferred.
pub async fn a_handler_whose_visibility_cannot_be_extended_is_dropped_before_its_confirmed_deadline(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_queue("heartbeat-fails").await;
    send_bodies(&backend, &queue, vec!["1".to_owned()]).await;
    let attempts = Arc::new(Attempts::default());
    probe.fail_visibility(true);

    let running = keyed(Consumer::<u32>::builder(backend.clone(), &queue))
        .visibility_timeout(SHORT_VISIBILITY)
        .heartbeat(failing_heartbeat())
        .handler_grace(GRACE)
        .retry_backoff(retry_policy())
        .wait_time(Duration::from_secs(1))
        .build()
        .await
        .unwrap()
        .start(HangsOnFirstDelivery(attempts.clone()));
    eventually("the handler to be dropped", || running.stats().dropped == 1).await;
    let calls_at_drop = probe.visibility_calls().len();
    assert!(calls_at_drop >= 1, "the heartbeat tried to extend it");

    let fired = attempts.fired_after.lock().unwrap().clone();
    let dropped = attempts.dropped_after.lock().unwrap().clone();
    let gone_by = SHORT_VISIBILITY - SETTLE_MARGIN;
    // Measured from the handler's start, a little after the receive request the deadline counts from. The
    // upper bound allows timers running late on a busy machine (what the margin is for) and still fails a
    // handler kept to the deadline itself (3 s).
    assert!(dropped[0] <= gone_by + LATE, "dropped {dropped:?}, by the confirmed deadline less the margin");
    assert!(dropped[0] >= gone_by - Duration::from_millis(300), "not at the first failure: {dropped:?}");
    assert_eq!(fired.len(), 1, "the token fired");
    // The token's watcher and the drop each run when scheduled, so either may be late.
    let given = dropped[0].saturating_sub(fired[0]);
    assert!(
        given + LATE >= GRACE && given <= GRACE + LATE,
        "the token fired a grace period before the drop: fired {fired:?}, dropped {dropped:?}"
    );
    let stats = running.stats();
    assert_eq!((stats.timed_out, stats.retried, stats.completed), (1, 0, 0), "not settled as a retry: {stats:?}");

    // Nothing more is sent for it (no heartbeat, no retry delay): SQS redelivers it at its deadline.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(probe.visibility_calls().len(), calls_at_drop, "no visibility change after the drop");
    assert_eq!(counts(&backend, &queue).await, (0, 1), "still in flight until its deadline, not deleted");

    probe.fail_visibility(false);
    ctx.advance(SHORT_VISIBILITY);
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert_eq!(*attempts.receive_counts.lock().unwrap(), [1, 2], "redelivered at its deadline");
    assert_eq!(attempts.max_running.load(Ordering::SeqCst), 1, "never processed twice at once");
    assert_eq!((report.completed, report.stats.deferred), (1, 0), "completed once; the lease was given up");
}

/// A failed extension that a later one makes good leaves the handler alone: it is neither cancelled nor
/// dropped, and acknowledges its message.
pub async fn a_handler_whose_extension_fails_then_succeeds_runs_on(ctx: &TestContext) {
    let (backend, probe) = Probe::wrap(ctx.backend.clone());
    let queue = ctx.create_queue("heartbeat-recovers").await;
    send_bodies(&backend, &queue, vec!["1".to_owned()]).await;
    let attempts = Arc::new(Attempts::default());
    let (finish, finished) = tokio::sync::watch::channel(false);
    probe.fail_visibility(true);

    let running = Consumer::<u32>::builder(backend.clone(), &queue)
        .visibility_timeout(SHORT_VISIBILITY)
        .heartbeat(failing_heartbeat())
        .handler_grace(GRACE)
        .wait_time(Duration::from_secs(1))
        .build()
        .await
        .unwrap()
        .start({
            let attempts = attempts.clone();
            move |delivery: Delivery<u32>| {
                let running = Running::start(&attempts, &delivery);
                let mut finished = finished.clone();
                async move {
                    let mut running = running;
                    let _ = finished.wait_for(|done| *done).await;
                    running.finished = true;
                    Outcome::Ack
                }
            }
        });
    eventually("a failed extension", || !probe.visibility_calls().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    probe.fail_visibility(false);
    eventually("an extension to succeed", || running.stats().extended >= 1).await;
    // Past the instant the failure alone would have dropped it at (2.7 s after the receive).
    tokio::time::sleep(SHORT_VISIBILITY - SETTLE_MARGIN).await;
    finish.send_replace(true);
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert!(attempts.fired_after.lock().unwrap().is_empty(), "the token never fired");
    assert_eq!(attempts.dropped.load(Ordering::SeqCst), 0, "never dropped");
    assert_eq!((report.completed, report.stats.timed_out, report.stats.dropped), (1, 0, 0));
    assert_eq!(*attempts.receive_counts.lock().unwrap(), [1]);
}
