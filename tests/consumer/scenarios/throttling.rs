//! Issue #18, throttling-aware flow control: throttled receives park pollers (AIMD on the active pollers,
//! `sqskit::flow`), they come back once throttling stops, and receives ask for 10 messages.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqskit::backend::{BackendObserver, Call, Observed, SqsBackend};
use sqskit::consumer::{Consumer, Delivery, Outcome};
use sqskit::retry::{RetryBudget, RetryPolicy};
use sqskit::{Error, Fault, Result};

use crate::harness::{eventually, send_bodies, until_empty};
use crate::support::TestContext;

/// Throttles every `ReceiveMessage` while switched on (as SQS does over the queue's request rate), fails
/// them with `ServiceUnavailable` while `unavailable` is on, and records the `MaxNumberOfMessages` of every
/// receive that went through.
#[derive(Debug, Default)]
struct Throttle {
    on: AtomicBool,
    unavailable: AtomicBool,
    asked: Mutex<Vec<u8>>,
}

impl BackendObserver for Throttle {
    fn before(&self, call: &Call<'_>) -> Result<()> {
        if let Call::ReceiveMessage(request) = call {
            if self.on.load(Ordering::SeqCst) {
                return Err(Error::service("RequestThrottled", "Rate exceeded", None, Some(Fault::Sender)));
            }
            if self.unavailable.load(Ordering::SeqCst) {
                return Err(Error::service("ServiceUnavailable", "try again", None, Some(Fault::Receiver)));
            }
            self.asked.lock().unwrap().push(request.max_messages);
        }
        Ok(())
    }
}

fn throttled(inner: Arc<dyn SqsBackend>) -> (Arc<dyn SqsBackend>, Arc<Throttle>) {
    let throttle = Arc::new(Throttle::default());
    (Arc::new(Observed::wrap(inner, throttle.clone())), throttle)
}

type Seen = Arc<Mutex<HashMap<u32, u32>>>;

fn recording(seen: &Seen) -> impl Fn(Delivery<u32>) -> std::future::Ready<Outcome> + Send + Sync + 'static {
    let seen = seen.clone();
    move |delivery: Delivery<u32>| {
        *seen.lock().unwrap().entry(*delivery).or_default() += 1;
        std::future::ready(Outcome::Ack)
    }
}

pub async fn throttled_receives_park_pollers_and_they_come_back(ctx: &TestContext) {
    let (backend, throttle) = throttled(ctx.backend.clone());
    let queue = ctx.create_queue("throttled-receives").await;
    let seen = Seen::default();
    throttle.on.store(true, Ordering::SeqCst);
    let budget = RetryBudget::new(10_000);

    let running = Consumer::<u32>::builder(backend.clone(), &queue)
        .concurrency(80)
        .pollers(8)
        .wait_time(Duration::ZERO)
        .api_retry(RetryPolicy::default().initial_backoff(Duration::from_millis(5)).budget(Some(budget.clone())))
        .build()
        .await
        .unwrap()
        .start(recording(&seen));

    // 8 -> 4 -> 2 -> 1: one halving per throttled round trip, never below one poller.
    eventually("throttling to park all pollers but one", || running.stats().active_pollers == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = running.stats();
    assert_eq!(stats.active_pollers, 1, "the floor is one poller");
    assert!(stats.receive_throttled >= 3, "{stats:?}");
    // The two counters move one after the other while the last poller keeps being throttled, so a single
    // snapshot may fall between them; once they agree, no receive failed for another reason.
    eventually("only throttling was injected: every failed receive counted as throttled", || {
        let stats = running.stats();
        stats.receive_throttled == stats.receive_errors
    })
    .await;
    // Throttled receives cost no retry budget (flow control slows them down); other failed receives draw
    // from the consumer's budget (5 tokens per retry), like its deletes.
    assert_eq!(budget.available(), 10_000, "throttling spends no budget");
    throttle.on.store(false, Ordering::SeqCst);
    throttle.unavailable.store(true, Ordering::SeqCst);
    eventually("a failed receive retried", || budget.available() < 10_000).await;
    // Read while every receive still fails: a successful one refunds a token at once.
    let low = budget.available();
    assert_eq!(low % 5, 0, "a retried receive costs 5 tokens");
    throttle.unavailable.store(false, Ordering::SeqCst);

    // Throttling stops: every message is handled once, and successful receives bring the pollers back.
    send_bodies(&backend, &queue, (0..200).map(|i| i.to_string()).collect()).await;
    eventually("200 messages handled", || seen.lock().unwrap().len() == 200).await;
    eventually("all 8 pollers active again", || running.stats().active_pollers == 8).await;
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    assert!(seen.lock().unwrap().values().all(|&n| n == 1), "each message handled once");
    assert_eq!(report.completed, 200);
    assert!(budget.available() > low, "successful receives and deletes refill the budget");
}

pub async fn receives_ask_for_ten_messages_whenever_slots_allow(ctx: &TestContext) {
    let (backend, throttle) = throttled(ctx.backend.clone());
    let queue = ctx.create_queue("receive-ten").await;
    send_bodies(&backend, &queue, (0..100).map(|i| i.to_string()).collect()).await;
    let seen = Seen::default();

    // The default consumer: concurrency 32, 4 pollers (it used to ask for 32 / 4 = 8 per receive).
    let running = Consumer::<u32>::builder(backend.clone(), &queue).build().await.unwrap().start(recording(&seen));
    eventually("100 messages handled", || seen.lock().unwrap().len() == 100).await;
    until_empty(&backend, &queue).await;
    running.shutdown(Duration::from_secs(5)).await;

    let asked = throttle.asked.lock().unwrap().clone();
    assert!(asked.iter().all(|&n| (1..=10).contains(&n)), "{asked:?}");
    assert!(asked.iter().filter(|&&n| n == 10).count() >= 3, "32 free slots make three full receives: {asked:?}");

    // A consumer with fewer slots than 10 asks for all of them.
    let (backend, throttle) = throttled(ctx.backend.clone());
    let running =
        Consumer::<u32>::builder(backend, &queue).concurrency(3).build().await.unwrap().start(recording(&seen));
    eventually("a receive", || !throttle.asked.lock().unwrap().is_empty()).await;
    running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(throttle.asked.lock().unwrap()[0], 3);
}
