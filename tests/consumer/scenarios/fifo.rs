//! FIFO: the messages of a group are handled strictly in order, groups in parallel, and a failure holds
//! back the rest of its group (released for redelivery) without blocking other groups.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use sqskit::backend::SendEntry;
use sqskit::consumer::{Consumer, Delivery, Outcome};

use crate::harness::{eventually, send_entries, until_empty};
use crate::support::TestContext;

const GROUPS: usize = 100;
const PER_GROUP: usize = 10;
const CONCURRENCY: usize = 16;
/// Groups whose message 3 fails on its first delivery.
const FLAKY_EVERY: usize = 7;
const FLAKY_SEQ: usize = 3;

#[derive(Debug, Deserialize)]
struct Step {
    group: usize,
    seq: usize,
}

#[derive(Default)]
struct Observed {
    /// Per group, the sequence numbers in the order their handlers started.
    order: Mutex<HashMap<usize, Vec<usize>>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
    acked: AtomicUsize,
}

pub async fn groups_stay_in_order_under_16_handlers_and_100_groups(ctx: &TestContext) {
    let backend = ctx.backend.clone();
    let queue = ctx.create_fifo_queue("steps.fifo").await;
    // One wave per sequence number, so each group's messages are sent in order.
    for seq in 0..PER_GROUP {
        let entries = (0..GROUPS)
            .map(|group| {
                let mut entry =
                    SendEntry::new(format!("e{}", group % 10), format!(r#"{{"group":{group},"seq":{seq}}}"#));
                entry.group_id = Some(format!("g{group}"));
                entry.deduplication_id = Some(format!("{group}-{seq}"));
                entry
            })
            .collect();
        send_entries(&backend, &queue, entries).await;
    }
    let observed = Arc::new(Observed::default());

    // Short polls: the emulator does not wake a waiting long poll when a delete unblocks a FIFO group (real
    // SQS does), so a long-polling consumer would stall at the tail on frozen virtual time.
    let consumer =
        Consumer::<Step>::builder(backend.clone(), &queue).concurrency(CONCURRENCY).wait_time(Duration::ZERO);
    let running = consumer.build().await.unwrap().start({
        let observed = observed.clone();
        move |step: Delivery<Step>| {
            let observed = observed.clone();
            async move {
                let now = observed.running.fetch_add(1, Ordering::SeqCst) + 1;
                observed.max_running.fetch_max(now, Ordering::SeqCst);
                observed.order.lock().unwrap().entry(step.group).or_default().push(step.seq);
                if (step.group + step.seq) % 4 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                } else {
                    tokio::task::yield_now().await;
                }
                observed.running.fetch_sub(1, Ordering::SeqCst);
                if step.group % FLAKY_EVERY == 0 && step.seq == FLAKY_SEQ && step.receive_count() == 1 {
                    return Outcome::Release;
                }
                observed.acked.fetch_add(1, Ordering::SeqCst);
                Outcome::Ack
            }
        }
    });
    eventually("every message to be acknowledged", || observed.acked.load(Ordering::SeqCst) == GROUPS * PER_GROUP)
        .await;
    until_empty(&backend, &queue).await;
    let report = running.shutdown(Duration::from_secs(5)).await;

    let order = observed.order.lock().unwrap();
    for group in 0..GROUPS {
        let mut expected: Vec<usize> = (0..PER_GROUP).collect();
        if group % FLAKY_EVERY == 0 {
            expected.insert(FLAKY_SEQ, FLAKY_SEQ);
        }
        assert_eq!(order[&group], expected, "group {group} was handled out of order");
    }
    let max_running = observed.max_running.load(Ordering::SeqCst);
    assert!((2..=CONCURRENCY).contains(&max_running), "groups ran in parallel within the limit: {max_running}");
    assert_eq!(report.completed, (GROUPS * PER_GROUP) as u64);
    assert!(report.stats.released >= GROUPS.div_ceil(FLAKY_EVERY) as u64, "failed messages and those behind them");
}
