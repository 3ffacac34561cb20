//! The durable storage alone, without HTTP or the engine: how much CPU the writer and syncer threads spend per
//! message, and how many messages per second they make durable.
//!
//! `concurrency` tasks each append one request's worth of events (ten messages) and wait until they are durable,
//! in a closed loop, as the emulator's request handlers do under `sqskit-loadgen --scenario send-batch`; the
//! `drain` phase then receives (an update per message, not waited for, as in the engine) and deletes everything
//! stored, ten at a time, waiting for each delete to be durable.
//!
//! ```text
//! cargo run --release -p sqskit-emulator --example storage_bench -- [SECONDS] [CONCURRENCY] [BODY_BYTES] [fifo]
//! ```
//!
//! With `fifo`, every message also opens a deduplication window, as a FIFO send does.
//!
//! Prints, per phase, messages per second and the CPU time per message of each storage thread (Linux: read from
//! `/proc/self/task`). Run it pinned (`taskset -c 0`) for figures comparable with the emulator benchmarks.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqskit_emulator::Timestamp;
use sqskit_emulator::engine::{
    EventSink, Md5Digest, MessageAttributes, MessageBody, MessageExtra, MessageState, QueueEvent, StorageEvent,
    StoredMessage,
};
use sqskit_emulator::storage::SqliteStorage;

const QUEUE: u64 = 1;
const PER_REQUEST: u64 = 10;

fn stored(sequence: u64, body: &str) -> StorageEvent {
    let message = StoredMessage::new(
        MessageBody::new(body.to_owned()),
        Md5Digest::of(body.as_bytes()),
        MessageAttributes::default(),
        MessageExtra::default(),
        Arc::from("000000000000"),
        Timestamp::from_millis(1_700_000_000_000 + sequence),
    );
    StorageEvent::Queue { uid: QUEUE, event: QueueEvent::MessageStored { sequence, message } }
}

/// The deduplication window a FIFO send of message `sequence` opens (5 minutes, content-based: a digest as id).
fn deduplicated(sequence: u64) -> StorageEvent {
    StorageEvent::Queue {
        uid: QUEUE,
        event: QueueEvent::DeduplicationRecorded {
            scope_group: None,
            deduplication_id: format!(
                "{:064x}",
                u128::from(sequence).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
            ),
            message_id: format!("{sequence:08x}-0000-4000-8000-000000000000"),
            sequence,
            expires_at: Timestamp::from_millis(1_700_000_300_000 + sequence),
        },
    }
}

fn received(sequence: u64) -> StorageEvent {
    let at = Timestamp::from_millis(1_700_000_000_000 + sequence);
    StorageEvent::Queue {
        uid: QUEUE,
        event: QueueEvent::MessageUpdated {
            sequence,
            receive_count: 1,
            first_received_at: Some(at),
            state: MessageState::InFlight { until: at, received_at: at },
        },
    }
}

fn removed(sequence: u64) -> StorageEvent {
    StorageEvent::Queue { uid: QUEUE, event: QueueEvent::MessageRemoved { sequence } }
}

/// CPU time (user + system) of each thread of this process, by thread name.
fn thread_cpu() -> BTreeMap<String, Duration> {
    let mut times = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return times };
    // Clock ticks per second: 100 on every Linux we run on.
    let tick = Duration::from_millis(10);
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<u32>().ok()).unwrap_or(0);
        *times.entry(name).or_insert(Duration::ZERO) += tick * (ticks(11) + ticks(12));
    }
    times
}

fn report(phase: &str, messages: u64, elapsed: Duration, before: &BTreeMap<String, Duration>, dir: &Path) {
    let after = thread_cpu();
    let size = |name: &str| std::fs::metadata(dir.join(name)).map_or(0, |meta| meta.len()) / 1024;
    let rate = messages as f64 / elapsed.as_secs_f64();
    let mut line = format!("{phase:>10}: {messages:>8} messages, {rate:>9.0} msg/s; CPU µs per message:");
    for (name, total) in &after {
        let spent = total.saturating_sub(before.get(name).copied().unwrap_or_default());
        if spent > Duration::ZERO {
            line.push_str(&format!(" {name} {:.2}", spent.as_secs_f64() * 1e6 / messages as f64));
        }
    }
    line.push_str(&format!("; files: data {} KiB, log {} KiB", size("sqskit.db"), size("sqskit.db-wal")));
    println!("{line}");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|arg| arg.parse().ok()).unwrap_or(5);
    let concurrency: u64 = args.next().and_then(|arg| arg.parse().ok()).unwrap_or(16);
    let body_bytes: usize = args.next().and_then(|arg| arg.parse().ok()).unwrap_or(256);
    let fifo = args.next().is_some_and(|arg| arg == "fifo");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (storage, _) = SqliteStorage::open(dir.path()).expect("open the storage");
    let storage = Arc::new(storage);
    storage.append(vec![StorageEvent::QueueCreated {
        uid: QUEUE,
        name: "us-east-1/000000000000/bench".to_owned(),
        attributes: Vec::new(),
        tags: Vec::new(),
        created_at: Timestamp::from_millis(1),
    }]);
    storage.durable().await.expect("durable");
    let body: Arc<str> = "x".repeat(body_bytes).into();

    let next_sequence = Arc::new(AtomicU64::new(1));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let before = thread_cpu();
    let started = Instant::now();
    let senders: Vec<_> = (0..concurrency)
        .map(|_| {
            let (storage, body, next_sequence) = (Arc::clone(&storage), Arc::clone(&body), Arc::clone(&next_sequence));
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let first = next_sequence.fetch_add(PER_REQUEST, Ordering::Relaxed);
                    let mut events = Vec::new();
                    for sequence in first..first + PER_REQUEST {
                        events.push(stored(sequence, &body));
                        if fifo {
                            events.push(deduplicated(sequence));
                        }
                    }
                    storage.append(events);
                    storage.durable().await.expect("durable");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("sender");
    }
    let sent = next_sequence.load(Ordering::Relaxed) - 1;
    report("send", sent, started.elapsed(), &before, dir.path());

    let next_to_drain = Arc::new(AtomicU64::new(1));
    let before = thread_cpu();
    let started = Instant::now();
    let drainers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (storage, next_to_drain) = (Arc::clone(&storage), Arc::clone(&next_to_drain));
            tokio::spawn(async move {
                loop {
                    let first = next_to_drain.fetch_add(PER_REQUEST, Ordering::Relaxed);
                    if first > sent {
                        break;
                    }
                    let sequences = first..(first + PER_REQUEST).min(sent + 1);
                    // The engine does not wait for a receive's update to be durable (ARCHITECTURE.md).
                    storage.append(sequences.clone().map(received).collect());
                    tokio::task::yield_now().await;
                    storage.append(sequences.map(removed).collect());
                    storage.durable().await.expect("durable");
                }
            })
        })
        .collect();
    for drainer in drainers {
        drainer.await.expect("drainer");
    }
    report("drain", sent, started.elapsed(), &before, dir.path());
    storage.close();
}
