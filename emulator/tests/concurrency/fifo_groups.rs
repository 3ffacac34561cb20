//! Many concurrent consumers on one FIFO queue with many message groups (issue 4 acceptance): every message is
//! consumed exactly once, each group's messages are consumed in send order, and a group's messages are never in
//! flight with two receives at once (one receive may hold several consecutive messages of a group, as AWS allows:
//! "as many messages with the same message group ID as possible"). Consumers are tokio tasks with their own SDK
//! clients; the visibility timeout is far above the test time, so nothing is redelivered.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{TestEnv, sdk_client};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry};

/// The shape of a run: groups × messages per group, and how many messages a consumer asks for per receive.
#[derive(Clone, Copy)]
struct Shape {
    groups: usize,
    per_group: usize,
    max_per_receive: i32,
}

impl Shape {
    const fn total(self) -> usize {
        self.groups * self.per_group
    }
}

const CONSUMERS: usize = 8;
/// Real-time budget for draining the queue.
const BUDGET: Duration = Duration::from_secs(20);

/// What the consumers observed, shared between them.
#[derive(Default)]
struct Observations {
    /// Per group, the indexes in the order they were consumed (recorded before the delete).
    consumed: Mutex<HashMap<usize, Vec<usize>>>,
    /// Per group, the receive call holding its in-flight messages and which indexes it holds.
    in_flight: Mutex<HashMap<usize, (u64, Vec<usize>)>>,
    /// Everything that broke an invariant.
    violations: Mutex<Vec<String>>,
    done: AtomicUsize,
    receive_ids: AtomicU64,
}

impl Observations {
    fn violation(&self, what: String) {
        self.violations.lock().unwrap().push(what);
    }
}

fn parse(body: &str) -> (usize, usize) {
    let rest = body.strip_prefix('g').unwrap_or_else(|| panic!("unexpected body {body}"));
    let (g, i) = rest.split_once('-').unwrap();
    (g.parse().unwrap(), i.parse().unwrap())
}

async fn fill(env: &TestEnv, url: &str, shape: Shape) {
    // index-major, so the groups are interleaved in the queue
    let all: Vec<(usize, usize)> = (0..shape.per_group).flat_map(|i| (0..shape.groups).map(move |g| (g, i))).collect();
    for chunk in all.chunks(10) {
        let entries = chunk
            .iter()
            .map(|(g, i)| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("g{g}-{i}"))
                    .message_body(format!("g{g}-{i}"))
                    .message_group_id(format!("group-{g}"))
                    .message_deduplication_id(format!("g{g}-{i}"))
                    .build()
                    .unwrap()
            })
            .collect();
        let out = env.client.send_message_batch().queue_url(url).set_entries(Some(entries)).send().await.unwrap();
        assert!(out.failed().is_empty(), "{:?}", out.failed());
    }
}

async fn consume(endpoint: String, url: String, shape: Shape, obs: Arc<Observations>) {
    let client = sdk_client(&endpoint).await;
    let deadline = Instant::now() + BUDGET;
    while obs.done.load(Ordering::SeqCst) < shape.total() && Instant::now() < deadline {
        let msgs = client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(shape.max_per_receive)
            .visibility_timeout(3600)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        if msgs.is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        let receive_id = obs.receive_ids.fetch_add(1, Ordering::SeqCst);
        let parsed: Vec<(usize, usize)> = msgs.iter().map(|m| parse(m.body().unwrap())).collect();

        // the messages enter flight: no other receive may hold the same group
        {
            let mut in_flight = obs.in_flight.lock().unwrap();
            for (m, &(g, i)) in msgs.iter().zip(&parsed) {
                let group_attr = m.attributes().and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId));
                if group_attr.map(String::as_str) != Some(format!("group-{g}").as_str()) {
                    obs.violation(format!("g{g}-{i} came with MessageGroupId {group_attr:?}"));
                }
                let entry = in_flight.entry(g).or_insert((receive_id, Vec::new()));
                if entry.0 != receive_id && !entry.1.is_empty() {
                    obs.violation(format!(
                        "group {g}: g{g}-{i} received while receive {} still holds {:?}",
                        entry.0, entry.1
                    ));
                }
                if entry.1.last().is_some_and(|last| *last >= i) {
                    obs.violation(format!("group {g}: g{g}-{i} after {:?} in one receive", entry.1));
                }
                entry.0 = receive_id;
                entry.1.push(i);
            }
        }

        // process in order: record, leave flight, then delete
        for (m, &(g, i)) in msgs.iter().zip(&parsed) {
            obs.consumed.lock().unwrap().entry(g).or_default().push(i);
            {
                let mut in_flight = obs.in_flight.lock().unwrap();
                let entry = in_flight.get_mut(&g).unwrap();
                entry.1.retain(|held| *held != i);
            }
            client
                .delete_message()
                .queue_url(&url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap_or_else(|e| panic!("delete g{g}-{i}: {e:?}"));
            obs.done.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn run(shape: Shape) {
    // given one FIFO queue with groups × messages, bodies g{group}-{index}
    let env = TestEnv::start().await;
    let url = env
        .client
        .create_queue()
        .queue_name("concurrency.fifo")
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    fill(&env, &url, shape).await;
    assert_eq!(env.counts(&url).await, (shape.total() as u64, 0, 0));

    // when eight consumers drain it concurrently
    let obs = Arc::new(Observations::default());
    let started = Instant::now();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| tokio::spawn(consume(env.endpoint.clone(), url.clone(), shape, Arc::clone(&obs))))
        .collect();
    for c in consumers {
        c.await.expect("consumer task");
    }
    let elapsed = started.elapsed();

    // then nothing broke an invariant
    let violations = obs.violations.lock().unwrap().clone();
    assert!(
        violations.is_empty(),
        "{} violations, first: {:?}",
        violations.len(),
        &violations[..violations.len().min(5)]
    );
    // every message was consumed exactly once, each group in send order
    let consumed = obs.consumed.lock().unwrap().clone();
    let expected: Vec<usize> = (0..shape.per_group).collect();
    for g in 0..shape.groups {
        assert_eq!(consumed.get(&g), Some(&expected), "group {g} consumed out of order or not exactly once");
    }
    assert_eq!(consumed.values().map(Vec::len).sum::<usize>(), shape.total());
    assert_eq!(obs.done.load(Ordering::SeqCst), shape.total());
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    assert!(elapsed < BUDGET, "draining took {elapsed:?}");
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_consumers_receiving_ten_at_a_time_keep_every_group_in_order_and_exclusive() {
    run(Shape { groups: 50, per_group: 20, max_per_receive: 10 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_consumers_receiving_one_at_a_time_keep_every_group_in_order_and_exclusive() {
    run(Shape { groups: 20, per_group: 10, max_per_receive: 1 }).await;
}
