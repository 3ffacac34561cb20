//! Fault scenarios (issues 11 and 18): a [`Producer`] and a [`Consumer`] move orders through an in-process
//! `sqskit-emulator` that throttles 20% of requests, answers 5% with a 5xx, fails entries of batch requests
//! and loses the answers of requests it applied, and every order is still processed exactly once.
//!
//! # Setup
//! - Backend: [`AwsBackend`] (the real `aws-sdk-sqs` wire path, SDK retries off) over HTTP to an emulator
//!   started in this process on a free port. The faults are injected by the emulator's HTTP layer, so the
//!   conformance suite's embedded row (`EmbeddedBackend`, which calls the engine directly) cannot see them and
//!   has no counterpart here.
//! - Faults, installed with `emulator.faults().add(rule)` on the scenario's queue only, after the queue was
//!   created and the producer built (so that setup itself is not faulted), and matched in this order (the
//!   first that fires decides a request):
//!   1. `throttle` (`RequestThrottled`), probability 0.2, every action;
//!   2. `server_error` (`InternalError`), probability 0.05, every action;
//!   3. `partial_batch_failure`, retryable (`InternalFailure`, not a sender fault), probability 0.2 per batch
//!      request and 0.3 per entry, each entry failing independently of the others (SQS documents results per
//!      entry and nothing that ties a group's entries together): every batch action (`SendMessageBatch`,
//!      `DeleteMessageBatch`, `ChangeMessageVisibilityBatch`), on standard and FIFO queues;
//!      `fifo_producer_keeps_group_order_under_retryable_partial_send_failures` faults `SendMessageBatch`
//!      alone;
//!   4. in the two 10,000-order scenarios, lost answers (`response_lost`: the emulator applies the request,
//!      then answers 500 `InternalError`, or with `reset` drops the connection), one rule per variant on each
//!      of sends (`SendMessage*`), receives (`ReceiveMessage`), deletes (`DeleteMessage*`) and visibility
//!      changes (`ChangeMessageVisibility*`): eight rules, [`LOST_ANSWERS`]. What each one does:
//!      - a lost send answer makes the producer send the batch again, and SQS stores it again: on a standard
//!        queue a second copy of each order in it (SQS's at-least-once delivery: "you might receive a copy
//!        of the message", <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues-at-least-once-delivery.html>),
//!        which the consumer's idempotency key (derived from the order id) must keep from reaching the
//!        handler a second time; on a FIFO queue the resend carries the same `MessageDeduplicationId` (also
//!        derived from the order id) and SQS accepts it without storing it again (the 5-minute deduplication
//!        interval, <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/using-messagededuplicationid-property.html>);
//!      - a lost receive answer leaves its messages invisible, unseen by the consumer, until their visibility
//!        timeout ends; then they are received again (on FIFO, their groups stay locked until then);
//!      - a lost delete answer makes the consumer delete again with a receipt handle whose message is gone;
//!      - a lost visibility-change answer makes the heartbeat extend again. So that the heartbeat has work,
//!        about one order in 100 ([`is_slow`]) keeps its handler busy for [`SLOW_HANDLER`], past the point
//!        where the heartbeat extends it ([`HEARTBEAT_THRESHOLD`], checked every 250 ms).
//!
//!   A fixed fault seed makes the sequence of fault decisions reproducible, though not which request meets
//!   which decision: requests run concurrently.
//! - Time is real (the emulator's default `SystemClock`): the consumer's timers (heartbeat, settle retries,
//!   batching) run on Tokio's clock and must agree with the emulator's visibility deadlines, which a manual
//!   clock would decouple. Visibility timeouts are short (3 s) so that redeliveries happen within the test.
//! - Retries are tuned through the builders: no shared retry budget (at these error rates the default budget
//!   of 500 tokens runs dry after a few hundred requests: each success refunds 1 token, each retry costs 5),
//!   short backoffs. The consumer gives up on a delete after 3 attempts, so that about 2% of deletes do fail
//!   for good and their messages are redelivered: the idempotency store must then acknowledge the duplicate
//!   without running the handler again.
//!
//! # What is checked
//! - Producer: every order ends either sent (with a receipt) or returned as failed, never both, never
//!   neither; with these retry settings none fails.
//! - Consumer: the handler completes exactly once for every sent order (none lost, none handled twice),
//!   never for an order that was not sent, and on FIFO queues in send order within each group.
//! - The queue is empty at the end, and every fault rule fired.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqskit::backend::{AwsBackend, SqsBackend};
use sqskit::consumer::{ConsumerStats, Delivery, HandlerError, Heartbeat, InMemoryIdempotencyStore};
use sqskit::retry::RetryPolicy;
use sqskit::types::{QueueAttributeName, QueueAttributes};
use sqskit::{Consumer, Producer, SendReport};
use sqskit_emulator::faults::{FaultRule, InstalledRule};
use sqskit_emulator::{Emulator, RunningEmulator};

/// The visibility timeout of the queues and the consumers.
const VISIBILITY: Duration = Duration::from_secs(3);
/// How long a scenario may take, from the first send to an empty queue, before it fails.
const PATIENCE: Duration = Duration::from_secs(120);
/// The heartbeat's threshold: a message is extended once its visibility ends within 2 s, i.e. 1 s after
/// its receive.
const HEARTBEAT_THRESHOLD: Duration = Duration::from_secs(2);
/// How long the handler of a slow order runs: past the point where the heartbeat extends its message (1 s
/// after the receive), but well within the visibility timeout, so that the message cannot become visible
/// again while its handler runs even when every extension fails (see [`is_slow`]).
const SLOW_HANDLER: Duration = Duration::from_millis(1_500);
/// The actions (globs) whose answers are lost, each by two rules: a 500, and a dropped connection. With
/// each rule's probability. Visibility changes are few (only the heartbeat makes them here), hence their
/// higher probability.
const LOST_ANSWERS: [(&str, f64); 4] =
    [("SendMessage*", 0.02), ("ReceiveMessage", 0.02), ("DeleteMessage*", 0.02), ("ChangeMessageVisibility*", 0.25)];

/// One order: `seq` is its place within its `group` (FIFO scenarios).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Order {
    id: u32,
    group: u32,
    seq: u32,
    total_cents: u64,
}

/// Whether `order`'s handler runs for [`SLOW_HANDLER`] (about one order in 100, spread over the groups).
///
/// Found while writing this (issue 18): with handlers that ran 2.5 s, close to the 3 s visibility timeout,
/// a throttled or lost heartbeat request (its retry, at most half the remaining visibility later, failing
/// too) let the message become visible again while its handler still ran; the idempotency lease, tied to
/// the visibility deadline and extended only with a confirmed extension, had expired as well, so the
/// redelivered copy acquired the key and the handler completed twice (standard: 3 of 10,000 orders; FIFO:
/// one order handled again after later orders of its group). Nothing cancels a handler whose message's
/// visibility could not be extended. The slow handlers here stay within the visibility timeout so that the
/// scenarios test lost answers, not that gap.
fn is_slow(order: &Order) -> bool {
    order.id % 97 == 13
}

fn orders(count: u32, groups: u32) -> Vec<Order> {
    (0..count)
        .map(|id| Order { id, group: id % groups, seq: id / groups, total_cents: 100 + u64::from(id % 977) })
        .collect()
}

/// An emulator and an `AwsBackend` talking to it.
struct Fixture {
    emulator: RunningEmulator,
    backend: Arc<dyn SqsBackend>,
}

impl Fixture {
    async fn start(seed: u64) -> Self {
        let emulator = Emulator::builder().port(0).fault_seed(seed).start().await.expect("start the emulator");
        let sdk_config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(emulator.endpoint())
            .region("us-east-1")
            .credentials_provider(aws_credential_types::Credentials::new("test", "test", None, None, "static"))
            .load()
            .await;
        let backend = AwsBackend::builder(&sdk_config).operation_timeout(Duration::from_secs(10)).build();
        Self { emulator, backend: Arc::new(backend) }
    }

    async fn create_queue(&self, name: &str, fifo: bool) -> String {
        let mut attributes =
            QueueAttributes::new().with(QueueAttributeName::VisibilityTimeout, VISIBILITY.as_secs().to_string());
        if fifo {
            attributes.insert(QueueAttributeName::FifoQueue, "true");
        }
        self.backend.create_queue(name, &attributes, &BTreeMap::new()).await.expect("create the queue")
    }

    /// Installs the fault rules on `queue` (the three of every scenario, then the [lost answers](LOST_ANSWERS)
    /// if `lose_answers`); returns their ids.
    fn inject_faults(&self, queue: &str, partial_actions: &str, lose_answers: bool) -> Vec<u64> {
        let mut rules = vec![
            json!({"queue": queue, "action": "*", "kind": "throttle", "probability": 0.2}),
            json!({"queue": queue, "action": "*", "kind": "server_error", "probability": 0.05}),
            json!({
                "queue": queue, "action": partial_actions, "kind": "partial_batch_failure",
                "probability": 0.2, "entry_probability": 0.3, "retryable": true,
            }),
        ];
        if lose_answers {
            for (action, probability) in LOST_ANSWERS {
                for reset in [false, true] {
                    rules.push(json!({
                        "queue": queue, "action": action, "kind": "response_lost", "reset": reset,
                        "probability": probability,
                    }));
                }
            }
        }
        rules
            .into_iter()
            .map(|rule| {
                let rule: FaultRule = serde_json::from_value(rule).expect("a valid fault rule");
                self.emulator.faults().add(rule).expect("install the fault rule")
            })
            .collect()
    }

    /// The installed rules with their injection counts.
    fn fault_counts(&self) -> Vec<InstalledRule> {
        self.emulator.faults().list().1
    }

    /// `(visible, in flight, delayed)`, or `None` when the request failed (it may be faulted).
    async fn depth(&self, queue_url: &str) -> Option<(u64, u64, u64)> {
        let attributes = self
            .backend
            .get_queue_attributes(
                queue_url,
                &[
                    QueueAttributeName::ApproximateNumberOfMessages,
                    QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                    QueueAttributeName::ApproximateNumberOfMessagesDelayed,
                ],
            )
            .await
            .ok()?;
        Some((
            attributes.approximate_number_of_messages()?,
            attributes.approximate_number_of_messages_not_visible()?,
            attributes.approximate_number_of_messages_delayed()?,
        ))
    }

    async fn finish(self) {
        self.emulator.shutdown().await.expect("the emulator shuts down cleanly");
    }
}

/// Fast retries with no shared budget (see the module documentation).
fn retry_policy() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(20))
        .max_backoff(Duration::from_millis(500))
        .max_elapsed(Duration::from_secs(60))
        .budget(None)
}

/// What the handler saw.
#[derive(Debug, Default)]
struct Ledger {
    /// Completed handler runs per order id ("charges").
    charges: HashMap<u32, u32>,
    /// Per group, the `seq` of each completed run, in completion order.
    sequences: HashMap<u32, Vec<u32>>,
}

struct Scenario {
    name: &'static str,
    fifo: bool,
    orders: u32,
    groups: u32,
    seed: u64,
    /// The actions (glob) whose batch entries fail.
    partial_actions: &'static str,
    /// Whether answers are lost too ([`LOST_ANSWERS`]; slow orders then take [`SLOW_HANDLER`]).
    lose_answers: bool,
}

struct Outcome {
    fixture: Fixture,
    queue_url: String,
    report: SendReport<Order>,
    ledger: Ledger,
    stats: ConsumerStats,
    faults: Vec<InstalledRule>,
    elapsed: Duration,
}

/// Produces and consumes the scenario's orders concurrently under faults, until every sent order was handled
/// and the queue is empty; then stops the consumer and snapshots the fault counters.
async fn run(scenario: &Scenario) -> Outcome {
    let fixture = Fixture::start(scenario.seed).await;
    let queue_url = fixture.create_queue(scenario.name, scenario.fifo).await;
    let mut producer = Producer::<Order>::builder(fixture.backend.clone(), &queue_url)
        .idempotency_key_fn(|order| Some(format!("order-{}", order.id).into()))
        .retry(retry_policy())
        .max_in_flight(16);
    if scenario.fifo {
        producer = producer.group_id_fn(|order| Some(format!("group-{}", order.group)));
    }
    let producer = producer.build().await.expect("build the producer");
    let consumer = Consumer::<Order>::builder(fixture.backend.clone(), &queue_url)
        .concurrency(64)
        .visibility_timeout(VISIBILITY)
        .heartbeat(Heartbeat::default().threshold(HEARTBEAT_THRESHOLD).interval(Duration::from_millis(250)))
        .wait_time(Duration::from_secs(2))
        .idempotency(Arc::new(InMemoryIdempotencyStore::new()))
        .idempotency_key(|order: &Order, _| Some(format!("order-{}", order.id).into()))
        .api_retry(retry_policy().max_attempts(Some(3)))
        .build()
        .await
        .expect("build the consumer");
    fixture.inject_faults(scenario.name, scenario.partial_actions, scenario.lose_answers);

    let started = Instant::now();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let handler_ledger = ledger.clone();
    let slow = scenario.lose_answers;
    let running = consumer.start(move |order: Delivery<Order>| {
        let ledger = handler_ledger.clone();
        async move {
            if slow && is_slow(&order) {
                tokio::time::sleep(SLOW_HANDLER).await;
            }
            let mut ledger = ledger.lock().unwrap();
            *ledger.charges.entry(order.id).or_default() += 1;
            ledger.sequences.entry(order.group).or_default().push(order.seq);
            Ok::<(), HandlerError>(())
        }
    });
    let sending = tokio::spawn({
        let producer = producer.clone();
        let all = orders(scenario.orders, scenario.groups);
        async move { producer.send_all(all).await }
    });
    let report = sending.await.expect("the producer task");
    producer.close().await;

    let sent = report.sent.len();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let handled = ledger.lock().unwrap().charges.len();
        if handled >= sent && fixture.depth(&queue_url).await == Some((0, 0, 0)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}: after {PATIENCE:?}, {handled} of {sent} sent orders handled; queue depth {:?}; consumer {:?}",
            scenario.name,
            fixture.depth(&queue_url).await,
            running.stats(),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    let shutdown = running.shutdown(Duration::from_secs(5)).await;
    let faults = fixture.fault_counts();
    fixture.emulator.faults().reset(None);
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    Outcome { fixture, queue_url, report, ledger, stats: shutdown.stats, faults, elapsed }
}

/// The checks every scenario shares.
async fn check(scenario: &Scenario, outcome: Outcome) {
    let Outcome { fixture, queue_url, report, ledger, stats, faults, elapsed } = outcome;
    let name = scenario.name;
    eprintln!(
        "{name}: {} sent, {} failed, {} handled in {elapsed:?}; consumer {stats:?}; faults {:?}",
        report.sent.len(),
        report.failed.len(),
        ledger.charges.len(),
        faults
            .iter()
            .map(|rule| (rule.rule.fault.as_str(), rule.rule.action.as_str(), rule.injected))
            .collect::<Vec<_>>(),
    );

    // Producer: every order is accounted for exactly once, sent or returned.
    let sent: BTreeSet<u32> = report.sent.iter().map(|(order, _)| order.id).collect();
    let failed: BTreeSet<u32> = report.failed.iter().map(|(order, _)| order.id).collect();
    assert_eq!(sent.len(), report.sent.len(), "{name}: an order was reported sent twice");
    assert_eq!(failed.len(), report.failed.len(), "{name}: an order was reported failed twice");
    assert!(sent.is_disjoint(&failed), "{name}: orders both sent and failed: {:?}", sent.intersection(&failed));
    let all: BTreeSet<u32> = (0..scenario.orders).collect();
    let accounted: BTreeSet<u32> = sent.union(&failed).copied().collect();
    assert_eq!(accounted, all, "{name}: orders neither sent nor returned as failed");
    assert!(
        report.failed.is_empty(),
        "{name}: {} orders finally failed despite the retry settings, e.g. {:?}",
        report.failed.len(),
        report.failed.iter().take(3).map(|(order, error)| (order.id, error.to_string())).collect::<Vec<_>>(),
    );
    assert!(
        report.sent.iter().any(|(_, receipt)| receipt.attempts > 1),
        "{name}: no send needed a retry: were the faults installed?"
    );

    // Consumer: every sent order handled exactly once, nothing else handled.
    let handled: BTreeSet<u32> = ledger.charges.keys().copied().collect();
    let lost: Vec<u32> = sent.difference(&handled).copied().collect();
    assert!(
        lost.is_empty(),
        "{name}: {} sent orders never handled, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    let unexpected: Vec<u32> = handled.difference(&sent).copied().collect();
    assert!(unexpected.is_empty(), "{name}: handled orders that were never sent: {unexpected:?}");
    let twice: BTreeMap<u32, u32> = ledger.charges.iter().filter(|(_, n)| **n > 1).map(|(id, n)| (*id, *n)).collect();
    assert!(twice.is_empty(), "{name}: {} orders handled more than once: {twice:?}", twice.len());
    // A run is started once per order, plus once more for each run dropped at the end of its grace period
    // (its message is retried): with every fourth visibility answer lost, a message that waited behind its
    // FIFO group can lose the visibility it needs for a slow handler (issue 18's bounded handlers).
    assert_eq!(stats.started, sent.len() as u64 + stats.dropped, "{name}: handler runs: {stats:?}");
    assert_eq!(stats.panicked, 0, "{name}: {stats:?}");

    // The faults really happened, and the consumer met them.
    for rule in &faults {
        assert!(rule.injected > 0, "{name}: fault rule {} never fired: {:?}", rule.id, rule.rule);
    }
    assert!(stats.receive_errors > 0, "{name}: no receive failed: {stats:?}");

    // Nothing is left behind (faults are off now).
    assert_eq!(fixture.depth(&queue_url).await, Some((0, 0, 0)), "{name}: the queue is not empty");
    fixture.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_queue_10000_orders_under_throttling_5xx_lost_answers_and_partial_batch_failures_exactly_once() {
    let scenario = Scenario {
        name: "orders-faults",
        fifo: false,
        orders: 10_000,
        groups: 1,
        seed: 11,
        partial_actions: "*Batch",
        lose_answers: true,
    };
    let outcome = run(&scenario).await;
    // About 2% of deletes give up after 3 attempts, and lost send answers store orders twice: these messages
    // come back and the idempotency store must catch them.
    assert!(
        outcome.stats.duplicates > 0,
        "no redelivered duplicate reached the idempotency store: {:?}",
        outcome.stats
    );
    check(&scenario, outcome).await;
}

/// FIFO under the same throttling, 5xx and lost answers, with partial batch failures on every batch action:
/// the producer's sends, the consumer's deletes and visibility changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_queue_10000_orders_in_100_groups_keep_their_order_under_faults() {
    fifo_orders_keep_their_order("orders-faults.fifo", 10_000, 100, "*Batch", true).await;
}

/// Issue 18's repro, now kept: SQS fails entries of a `SendMessageBatch` with retryable errors while storing
/// other entries of the same request. Before the producer held each group to one unconfirmed message, it
/// put several messages of a group in one request, SQS stored a later one while failing an earlier one, and
/// the retry stored the earlier one after it: in a 2,000-order run over 50 groups about half the groups were
/// stored (and delivered) out of send order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_producer_keeps_group_order_under_retryable_partial_send_failures() {
    fifo_orders_keep_their_order("orders-send-faults.fifo", 2_000, 50, "SendMessageBatch", false).await;
}

/// Sends `orders` orders over `groups` groups of FIFO queue `name`, with partial batch failures on
/// `partial_actions` (and lost answers if `lose_answers`), and checks that every group is stored and handled
/// in send order.
async fn fifo_orders_keep_their_order(
    name: &'static str,
    orders: u32,
    groups: u32,
    partial_actions: &'static str,
    lose_answers: bool,
) {
    let scenario = Scenario { name, fifo: true, orders, groups, seed: 12, partial_actions, lose_answers };
    let outcome = run(&scenario).await;
    assert_stored_in_send_order(&scenario, &outcome);
    assert_handled_in_send_order(&scenario, &outcome);
    check(&scenario, outcome).await;
}

/// Producer side: the order in which SQS stored each group (its sequence numbers) is the send order.
fn assert_stored_in_send_order(scenario: &Scenario, outcome: &Outcome) {
    let mut stored: HashMap<u32, Vec<(u128, u32)>> = HashMap::new();
    for (order, receipt) in &outcome.report.sent {
        let number = receipt.sequence_number.as_deref().expect("a FIFO sequence number").parse().expect("a number");
        stored.entry(order.group).or_default().push((number, order.seq));
    }
    let mut out_of_order: Vec<(u32, Vec<u32>)> = stored
        .into_iter()
        .map(|(group, mut numbers)| {
            numbers.sort_unstable();
            (group, numbers.into_iter().map(|(_, seq)| seq).collect::<Vec<u32>>())
        })
        .filter(|(_, seqs)| seqs.windows(2).any(|pair| pair[0] > pair[1]))
        .collect();
    out_of_order.sort_unstable();
    assert!(
        out_of_order.is_empty(),
        "{}: SQS stored {} of {} groups out of send order, e.g. (group, seqs in stored order) {:?}",
        scenario.name,
        out_of_order.len(),
        scenario.groups,
        out_of_order.first()
    );
}

/// Consumer side: each group's orders were handled in send order, each once.
fn assert_handled_in_send_order(scenario: &Scenario, outcome: &Outcome) {
    let expected: Vec<u32> = (0..scenario.orders / scenario.groups).collect();
    let mut out_of_order: Vec<(u32, Vec<u32>)> = outcome
        .ledger
        .sequences
        .iter()
        .filter(|(_, seqs)| **seqs != expected)
        .map(|(group, seqs)| (*group, seqs.clone()))
        .collect();
    out_of_order.sort_unstable();
    assert!(
        out_of_order.is_empty(),
        "{}: {} of {} groups handled out of order, e.g. (group, seqs in handling order) {:?}",
        scenario.name,
        out_of_order.len(),
        scenario.groups,
        out_of_order.first()
    );
}

/// Issue 18, found by the 10,000-order scenarios (see [`is_slow`]): a handler that outlives its message's
/// visibility because the heartbeat could not extend it must not complete a second time when an
/// idempotency key is set.
///
/// Setup: a standard queue with a 3 s visibility timeout, the default heartbeat (threshold 2 s: two thirds of it), and every
/// `ChangeMessageVisibility*` request throttled. One order, whose first handler run takes 4 s. SQS makes the
/// message visible again at 3 s; its idempotency lease (tied to the visibility deadline, extended only when
/// SQS confirms an extension) ends then too, so the redelivered copy acquires the key and the handler runs,
/// and completes, again. Today the handler completes twice (the first run is never cancelled: its timeout
/// is derived from the heartbeat's `max_total`, as if every extension succeeded). Expected: a message whose
/// visibility could not be extended has its handler cancelled (and dropped after the grace period) before
/// the visibility ends, or its lease kept, so that one completion is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_outliving_a_failed_heartbeat_does_not_complete_twice() {
    let fixture = Fixture::start(18).await;
    let queue_url = fixture.create_queue("heartbeat-fails", false).await;
    let producer = Producer::<Order>::builder(fixture.backend.clone(), &queue_url).build().await.expect("producer");
    let consumer = Consumer::<Order>::builder(fixture.backend.clone(), &queue_url)
        .visibility_timeout(VISIBILITY)
        .wait_time(Duration::from_secs(1))
        .idempotency(Arc::new(InMemoryIdempotencyStore::new()))
        .idempotency_key(|order: &Order, _| Some(format!("order-{}", order.id).into()))
        .build()
        .await
        .expect("build the consumer");
    let rule = json!({"queue": "heartbeat-fails", "action": "ChangeMessageVisibility*", "kind": "throttle"});
    fixture.emulator.faults().add(serde_json::from_value(rule).expect("a valid rule")).expect("install the rule");
    producer.send(&orders(1, 1)[0]).await.expect("send the order");
    producer.close().await;

    let completions = Arc::new(Mutex::new(Vec::new()));
    let running = consumer.start({
        let completions = completions.clone();
        move |order: Delivery<Order>| {
            let completions = completions.clone();
            async move {
                if order.receive_count() == 1 {
                    tokio::time::sleep(Duration::from_secs(4)).await;
                }
                completions.lock().unwrap().push(order.receive_count());
                Ok::<(), HandlerError>(())
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while fixture.depth(&queue_url).await != Some((0, 0, 0)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Time for a second, late completion to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    let completions = completions.lock().unwrap().clone();
    assert_eq!(
        completions.len(),
        1,
        "one order, handler completions at receive counts {completions:?}; {:?}",
        report.stats
    );
    fixture.finish().await;
}

/// Issue 18: one failed visibility extension must not cancel a handler. The default heartbeat starts
/// extending a message the handler grace period plus 7 s before its visibility ends (two thirds of the
/// visibility timeout, if that is less), so a throttled `ChangeMessageVisibilityBatch` is tried again
/// (2 intervals later) before the handler's signal would fire (the grace period and a margin before the
/// confirmed deadline).
///
/// Setup: a 12 s visibility timeout and a 1 s grace period (margin 1.2 s): the heartbeat (ticking every
/// second) extends within 7.2 s of the deadline, the first extension is throttled, the retry follows 2 s
/// later (at least 4.2 s before the deadline), while the signal would fire 2.2 s before it. With the previous
/// default (a third of the visibility timeout: 4 s) the retry came after the signal. At 6 s of visibility the
/// threshold is capped at two thirds (4 s) and a tick's phase can leave too little room: seen in CI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failed_extension_is_tried_again_before_the_handler_is_cancelled() {
    let (fixture, queue_url, consumer) = one_order_under_a_visibility_fault(
        19,
        "heartbeat-retried",
        Duration::from_secs(12),
        json!({"action": "ChangeMessageVisibility*", "kind": "throttle", "max_injections": 1}),
    )
    .await;

    let runs = Arc::new(Mutex::new(Vec::new()));
    let running = consumer.start({
        let runs = runs.clone();
        move |order: Delivery<Order>| {
            let runs = runs.clone();
            async move {
                // Past the instant the signal would fire without the retried extension; cut short if it fires.
                let cancelled = tokio::select! {
                    () = order.cancelled() => true,
                    () = tokio::time::sleep(Duration::from_secs(11)) => false,
                };
                runs.lock().unwrap().push((order.receive_count(), cancelled));
                Ok::<(), HandlerError>(())
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(25);
    while runs.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let report = running.shutdown(Duration::from_secs(5)).await;
    let injected: u64 = fixture.emulator.faults().list().1.iter().map(|rule| rule.injected).sum();
    assert_eq!(injected, 1, "the first extension was throttled");
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs, [(1, false)], "one run, never cancelled; {:?}", report.stats);
    assert_eq!(fixture.depth(&queue_url).await, Some((0, 0, 0)), "the order was acknowledged");
    fixture.finish().await;
}

/// Issue 18: an extension that gets no answer is in doubt, not pending forever. The heartbeat waits half
/// its threshold for an answer; a hanging `ChangeMessageVisibilityBatch` then counts as failed, so the
/// handler's lifeline applies (it is signalled, and dropped, before the confirmed visibility ends) and the
/// next tick is not held up. Without the bound the tick waited for the answer (the SDK's 30 s operation
/// timeout), no extension was known to have failed, and the message became visible again while its first
/// handler still ran: two runs at once.
///
/// Setup: a 10 s visibility timeout, a 1 s grace period (the default threshold is then 6.7 s, the answer
/// timeout 3.3 s), the first extension delayed 20 s by the emulator, a handler that runs 12 s unless
/// signalled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_extension_is_in_doubt_and_the_message_never_runs_twice_at_once() {
    let (fixture, queue_url, consumer) = one_order_under_a_visibility_fault(
        20,
        "heartbeat-hangs",
        Duration::from_secs(10),
        json!({"action": "ChangeMessageVisibility*", "kind": "latency", "millis": 20_000, "max_injections": 1}),
    )
    .await;

    // (receive count, start, end) of each run.
    let runs = Arc::new(Mutex::new(Vec::new()));
    let running = consumer.start({
        let runs = runs.clone();
        move |order: Delivery<Order>| {
            let runs = runs.clone();
            async move {
                let start = Instant::now();
                tokio::select! {
                    () = order.cancelled() => {}
                    () = tokio::time::sleep(Duration::from_secs(12)) => {}
                };
                runs.lock().unwrap().push((order.receive_count(), start, Instant::now()));
                Ok::<(), HandlerError>(())
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(40);
    while fixture.depth(&queue_url).await != Some((0, 0, 0)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let report = running.shutdown(Duration::from_secs(5)).await;
    let mut runs = runs.lock().unwrap().clone();
    runs.sort_by_key(|run| run.1);
    assert!(!runs.is_empty(), "the handler ran; {:?}", report.stats);
    for pair in runs.windows(2) {
        assert!(pair[1].1 >= pair[0].2, "two runs at once: {runs:?}; {:?}", report.stats);
    }
    assert_eq!(fixture.depth(&queue_url).await, Some((0, 0, 0)), "the order was acknowledged; {runs:?}");
    fixture.finish().await;
}

/// The heartbeat fault tests' set-up: queue `queue` with one order in it, a consumer with this visibility
/// timeout, a 1 s grace period and 1 s long polls, and the fault `rule` installed for the queue.
async fn one_order_under_a_visibility_fault(
    seed: u64,
    queue: &str,
    visibility: Duration,
    mut rule: serde_json::Value,
) -> (Fixture, String, Consumer<Order>) {
    let fixture = Fixture::start(seed).await;
    let queue_url = fixture.create_queue(queue, false).await;
    let producer = Producer::<Order>::builder(fixture.backend.clone(), &queue_url).build().await.expect("producer");
    let consumer = Consumer::<Order>::builder(fixture.backend.clone(), &queue_url)
        .visibility_timeout(visibility)
        .handler_grace(Duration::from_secs(1))
        .wait_time(Duration::from_secs(1))
        .build()
        .await
        .expect("build the consumer");
    rule["queue"] = json!(queue);
    fixture.emulator.faults().add(serde_json::from_value(rule).expect("a valid rule")).expect("install the rule");
    producer.send(&orders(1, 1)[0]).await.expect("send the order");
    producer.close().await;
    (fixture, queue_url, consumer)
}
