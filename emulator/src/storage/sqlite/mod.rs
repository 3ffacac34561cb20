//! [`SqliteStorage`]: every event goes into the append-only message log (`storage/log/`, docs/message-log.md),
//! one commit record per batch of whatever was appended meanwhile (group commit), made durable by the writer
//! thread's `fdatasync` (`sync.rs`). SQLite holds everything but messages (queues, metadata, move tasks,
//! deduplication windows), applied by a second thread once the log has it on disk.
//!
//! - `writer.rs`: the writer thread (commits and their fsyncs, rewrites after a failed fsync, compaction,
//!   recycling);
//! - `sync.rs`: the fsync of a commit, and fault injection for tests; `apply.rs`: the applier thread, SQLite's
//!   only writer after start-up;
//! - `schema.rs`: the file's tables, opening and checking it, and how values map into columns;
//! - `write.rs`: events as one SQLite transaction; `load.rs`: reading SQLite back at start-up;
//! - `migrate.rs`: messages of files older than the log, moved into it at start-up;
//! - `scheduling.rs`: both threads run behind the request handlers (`SCHED_BATCH` on Linux).

mod apply;
mod load;
mod migrate;
mod scheduling;
mod schema;
mod sync;
mod write;
mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::StorageError;
use super::log::{LogConfig, MessageIndex, Replayed, SegmentLog, replay};
use crate::engine::{Durable, EventSink, Snapshot, StorageEvent, StorageFailure, StoredMessage};
use apply::ApplyShared;
use load::load;
use schema::{delete_orphans, open_connection, read_applied_through};
use sync::SyncShared;
use write::Database;
use writer::Writer;

const FILE_NAME: &str = "sqskit.db";
/// The message log's directory, beside the SQLite file.
const LOG_DIR: &str = "log";

/// How far storage has got.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// Events (counted from the first ever appended) that are committed and on disk (fsynced).
    committed: u64,
    /// Why the last commit failed, while storage is failing; cleared when a retry commits.
    failure: Option<String>,
    /// Set when the writer has stopped: nothing more will be committed.
    stopped: bool,
}

#[derive(Debug, Default)]
struct Pending {
    /// Events appended and not yet taken by the writer; `events[0]` is event number `taken`.
    events: Vec<StorageEvent>,
    /// Events taken by the writer so far.
    taken: u64,
    /// Events appended so far.
    appended: u64,
    /// Open atomic groups: id → number of the first event that may belong to the group.
    holds: BTreeMap<u64, u64>,
    next_hold: u64,
    closing: bool,
    /// While the writer waits on [`Inner::wake`]: how many takeable events an append must leave for it to be
    /// worth waking (see [`Inner::writer_wait`]); 0 while it does not wait.
    writer_wants: usize,
}

impl Pending {
    /// Takes everything the writer may take now.
    fn take(&mut self) -> Taken {
        let takeable = self.takeable();
        let events: Vec<StorageEvent> = if takeable == self.events.len() {
            std::mem::take(&mut self.events)
        } else {
            self.events.drain(..takeable).collect()
        };
        self.taken += takeable as u64;
        Taken { events, end: self.taken, closing: self.closing && self.events.is_empty() }
    }

    /// Numbers `count` events the writer adds itself (compaction's copies while the engine is idle) as taken,
    /// and returns the number after them; `None` when the engine's events are waiting (they must come after
    /// anything the writer computed from the log before them, so the copies go with them instead).
    fn reserve(&mut self, count: usize) -> Option<u64> {
        if !self.events.is_empty() || self.closing {
            return None;
        }
        self.appended += count as u64;
        self.taken += count as u64;
        Some(self.taken)
    }

    /// How many events the writer may take now: everything up to the first open atomic group.
    fn takeable(&self) -> usize {
        let limit = self.holds.values().min().map_or(self.appended, |&start| start.min(self.appended));
        usize::try_from(limit.saturating_sub(self.taken)).unwrap_or(usize::MAX).min(self.events.len())
    }
}

#[derive(Debug)]
struct Inner {
    pending: Mutex<Pending>,
    /// The writer waits on it with `pending` locked (see [`Inner::writer_wait`]).
    wake: Condvar,
    progress: tokio::sync::watch::Sender<Progress>,
}

impl Inner {
    /// Locks `pending` (a panicked thread leaves it consistent, so poisoning is ignored).
    fn lock_pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer waits, at most `timeout` if given, until an append leaves `wants` takeable events (see
    /// [`Inner::wake_writer`]), the storage closing, or a spurious wake-up.
    fn writer_wait<'a>(
        &self,
        mut pending: MutexGuard<'a, Pending>,
        wants: usize,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, Pending> {
        pending.writer_wants = wants.max(1);
        let mut pending = match timeout {
            None => self.wake.wait(pending).unwrap_or_else(PoisonError::into_inner),
            Some(timeout) => self.wake.wait_timeout(pending, timeout).unwrap_or_else(PoisonError::into_inner).0,
        };
        pending.writer_wants = 0;
        pending
    }

    /// Releases `pending` and wakes the writer if it waits for as many takeable events as there are now. The
    /// writer checks what it waits for with `pending` locked before it waits, so a change made under the lock
    /// is never missed.
    fn wake_writer(&self, pending: MutexGuard<'_, Pending>) {
        let wake = pending.writer_wants > 0 && pending.takeable() >= pending.writer_wants;
        drop(pending);
        if wake {
            self.wake.notify_one();
        }
    }
}

/// Durable storage in `DIR/sqskit.db`.
#[derive(Debug)]
pub struct SqliteStorage {
    inner: Arc<Inner>,
    /// Shared with the writer (tests inject append and fsync failures through it).
    #[cfg_attr(not(test), allow(dead_code))]
    sync: Arc<SyncShared>,
    /// Shared with the applier (its failures make the storage degraded).
    apply: Arc<ApplyShared>,
    path: PathBuf,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl SqliteStorage {
    /// Opens (or creates) the data file in `dir`, reads it back, and starts the writer.
    ///
    /// # Errors
    /// [`StorageError`] for a directory that cannot be created, a file that is not ours, or a damaged file.
    pub fn open(dir: &Path) -> Result<(Self, Snapshot), StorageError> {
        Self::open_with(dir, LogConfig::default())
    }

    /// [`SqliteStorage::open`] with the message log's segments configured (tests use small ones).
    fn open_with(dir: &Path, log_config: LogConfig) -> Result<(Self, Snapshot), StorageError> {
        std::fs::create_dir_all(dir).map_err(|source| StorageError::Directory { path: dir.to_owned(), source })?;
        let path = dir.join(FILE_NAME);
        let log_dir = dir.join(LOG_DIR);
        let open_error = |source| StorageError::Open { path: path.clone(), source };
        let connection = open_connection(&path)?;
        // Start-up's own changes (the migration's deletion, the catching up) are durable when they return, like
        // the applier's later ones: the log may be recycled on the strength of them.
        connection.execute_batch("PRAGMA synchronous = FULL;").map_err(open_error)?;
        migrate::messages_into_log(&connection, &log_dir, log_config)
            .map_err(|reason| StorageError::Corrupt { path: path.clone(), reason })?;
        let applied_through = read_applied_through(&connection).map_err(open_error)?;
        let replayed = replay(&log_dir, applied_through)
            .map_err(|error| StorageError::Corrupt { path: log_dir.clone(), reason: error.to_string() })?;
        if applied_through > replayed.last_event {
            return Err(StorageError::Corrupt {
                path: log_dir.clone(),
                reason: format!(
                    "the data file has applied events up to {applied_through} but the message log ends at {}: \
                     segments of the log are missing",
                    replayed.last_event
                ),
            });
        }
        let Replayed { messages, mut index, to_apply, highest_sequences, end, last_event } = replayed;
        // The log's tail is made durable first (opening it for writing syncs it), so that SQLite never records
        // as applied an event that a power cut could still take from the log.
        let log = SegmentLog::open(&log_dir, log_config, end)
            .map_err(|source| StorageError::Directory { path: log_dir.clone(), source })?;
        let mut database = Database::new(connection);
        catch_up(&mut database, &to_apply, &highest_sequences, last_event).map_err(open_error)?;
        match delete_orphans(&database.connection) {
            Ok(0) => {}
            Ok(orphans) => tracing::warn!(orphans, "deleted rows of queues that no longer exist"),
            Err(source) => return Err(open_error(source)),
        }
        let mut snapshot =
            load(&database.connection).map_err(|reason| StorageError::Corrupt { path: path.clone(), reason })?;
        attach_messages(&mut snapshot, messages, &mut index);
        let inner = Arc::new(Inner {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            progress: tokio::sync::watch::Sender::new(Progress::default()),
        });
        let sync = Arc::new(SyncShared::default());
        let apply = Arc::new(ApplyShared::new(last_event));
        let applier_shared = Arc::clone(&apply);
        let applier_path = path.clone();
        let writer_apply = Arc::clone(&apply);
        let applier = std::thread::Builder::new()
            .name("sqskit-apply".to_owned())
            .spawn(move || {
                scheduling::run_behind_request_handlers();
                apply::run(&applier_shared, &applier_path, database);
            })
            .map_err(StorageError::Writer)?;
        let (writer_inner, writer_sync) = (Arc::clone(&inner), Arc::clone(&sync));
        let writer = std::thread::Builder::new()
            .name("sqskit-storage".to_owned())
            .spawn(move || {
                scheduling::run_behind_request_handlers();
                Writer::new(log, index, &writer_inner, &writer_sync, &writer_apply).run();
                // Closed last: SQLite gets everything the log has on disk.
                writer_apply.stop();
                if applier.join().is_err() {
                    tracing::error!("the storage applier panicked");
                }
                writer_inner.progress.send_modify(|progress| progress.stopped = true);
            })
            .map_err(StorageError::Writer)?;
        Ok((Self { inner, sync, apply, path, writer: Mutex::new(Some(writer)) }, snapshot))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes everything appended so far and stops the writer. Later appends are dropped.
    pub fn close(&self) {
        {
            let mut pending = self.inner.lock_pending();
            pending.closing = true;
        }
        self.inner.wake.notify_all();
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(writer) = writer {
            if writer.join().is_err() {
                tracing::error!("the storage writer panicked");
            }
        }
    }
}

impl Drop for SqliteStorage {
    fn drop(&mut self) {
        self.close();
    }
}

impl EventSink for SqliteStorage {
    fn append(&self, events: Vec<StorageEvent>) {
        let mut pending = self.inner.lock_pending();
        if pending.closing {
            return;
        }
        pending.appended += events.len() as u64;
        pending.events.extend(events);
        self.inner.wake_writer(pending);
    }

    fn durable(&self) -> Durable {
        let target = self.inner.lock_pending().appended;
        let mut progress = self.inner.progress.subscribe();
        Box::pin(async move {
            let reached = progress
                .wait_for(|progress| progress.committed >= target || progress.stopped)
                .await
                .map_err(|_| StorageFailure("the storage writer stopped".to_owned()))?;
            if reached.committed >= target {
                Ok(())
            } else {
                Err(StorageFailure(reached.failure.clone().unwrap_or_else(|| "the storage writer stopped".to_owned())))
            }
        })
    }

    fn hold(&self) -> u64 {
        let mut pending = self.inner.lock_pending();
        let id = pending.next_hold;
        pending.next_hold += 1;
        let start = pending.appended;
        pending.holds.insert(id, start);
        id
    }

    fn release(&self, hold: u64) {
        let mut pending = self.inner.lock_pending();
        pending.holds.remove(&hold);
        self.inner.wake_writer(pending);
    }

    fn failure(&self) -> Option<String> {
        self.inner.progress.borrow().failure.clone()
    }

    fn degraded(&self) -> Option<String> {
        self.apply.failing()
    }

    fn backlog(&self) -> Option<u64> {
        Some(self.apply.backlog())
    }
}

/// Brings SQLite up to the log's end at start-up: the events it holds that it had not applied yet (a crash
/// came before the applier), and every queue's `next_sequence` past the highest sequence the log stored.
fn catch_up(
    database: &mut Database,
    to_apply: &[StorageEvent],
    highest_sequences: &BTreeMap<u64, u64>,
    last_event: u64,
) -> rusqlite::Result<()> {
    let mut transaction = database.begin()?;
    transaction.write(&to_apply.iter().collect::<Vec<_>>())?;
    for (&uid, &sequence) in highest_sequences {
        transaction.raise_sequence(uid, sequence);
    }
    transaction.set_applied_through(last_event);
    transaction.commit()
}

/// Gives each restored queue its messages from the log, by sequence; messages of queues that no longer exist
/// (a send that raced `DeleteQueue`) are dropped, from the index too.
fn attach_messages(
    snapshot: &mut Snapshot,
    messages: BTreeMap<(u64, u64), Box<StoredMessage>>,
    index: &mut MessageIndex,
) {
    let positions: std::collections::HashMap<u64, usize> =
        snapshot.queues.iter().enumerate().map(|(position, queue)| (queue.uid, position)).collect();
    // Each queue's vector sized once: one growing by doubling would hold up to twice its entries.
    let mut counts: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for (uid, _) in messages.keys() {
        *counts.entry(*uid).or_insert(0) += 1;
    }
    for queue in &mut snapshot.queues {
        queue.messages.reserve_exact(counts.get(&queue.uid).copied().unwrap_or(0));
    }
    let mut orphans = std::collections::BTreeSet::new();
    // In key order: each queue's messages by sequence.
    for ((uid, sequence), message) in messages {
        match positions.get(&uid).and_then(|&position| snapshot.queues.get_mut(position)) {
            Some(queue) => queue.messages.push((sequence, message)),
            None => {
                orphans.insert(uid);
            }
        }
    }
    for uid in orphans {
        tracing::warn!(queue = uid, "dropped logged messages of a queue that no longer exists");
        index.remove_queue(uid);
    }
}

/// The first wait before retrying a failed commit, and the longest.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Events the writer took from [`Pending`].
struct Taken {
    events: Vec<StorageEvent>,
    /// The number (counted from the first ever appended) of the event after the last one taken.
    end: u64,
    /// The storage is closing and nothing is left to take.
    closing: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{
        Md5Digest, MessageAttributes, MessageBody, MessageExtra, MessageState, QueueEvent, StoredMessage, Timestamp,
    };
    use crate::storage::test_events::created;
    use rusqlite::Connection;
    use std::time::Instant;

    fn stored(uid: u64, sequence: u64, body: String) -> StorageEvent {
        let md5 = Md5Digest::of(body.as_bytes());
        let message = StoredMessage::new(
            MessageBody::new(body),
            md5,
            MessageAttributes::default(),
            MessageExtra::default(),
            Arc::from("000000000000"),
            Timestamp::from_millis(1),
        );
        StorageEvent::Queue { uid, event: QueueEvent::MessageStored { sequence, message } }
    }

    /// Bytes allocated on disk by the data file, its write-ahead log and the message log's segments.
    fn on_disk(dir: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let allocated = |path: &Path| std::fs::metadata(path).map_or(0, |meta| meta.blocks() * 512);
        let segments: u64 = std::fs::read_dir(dir.join(LOG_DIR))
            .map(|entries| entries.flatten().map(|entry| allocated(&entry.path())).sum())
            .unwrap_or(0);
        allocated(&dir.join("sqskit.db")) + allocated(&dir.join("sqskit.db-wal")) + segments
    }

    /// Small segments, so that a test fills several.
    const SMALL_SEGMENTS: LogConfig = LogConfig { segment_size: 1 << 20, spare_segments: 1, prepare_segments: false };

    /// Messages of 4 KB with the `sequences` of queue 1, ten at a time, each ten deleted right after they are
    /// durable (4,000 of them: 16 MB through the test's 1 MiB segments).
    async fn churn(storage: &SqliteStorage, sequences: std::ops::Range<u64>) {
        for first in sequences.step_by(10) {
            storage.append((first..first + 10).map(|sequence| stored(1, sequence, "m".repeat(4_000))).collect());
            storage.durable().await.expect("stored");
            storage.append(
                (first..first + 10)
                    .map(|sequence| StorageEvent::Queue { uid: 1, event: QueueEvent::MessageRemoved { sequence } })
                    .collect(),
            );
            storage.durable().await.expect("deleted");
        }
    }

    /// Under steady load of sends and deletes, the log recycles its segments while the load goes on: it stays a
    /// few segments long instead of growing with everything written. Eight closed-loop clients keep a commit in
    /// flight at every moment, as a busy server does (recycling that waited for a moment with every commit on
    /// disk never recycled under load).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_recycles_its_segments_under_steady_load() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (storage, _) = SqliteStorage::open_with(dir.path(), SMALL_SEGMENTS).expect("open");
        let storage = Arc::new(storage);
        storage.append(vec![created(1)]);
        storage.durable().await.expect("created");
        // A slow disk: requests arrive during every fsync, so a commit is always being written or synced.
        storage.sync.fsync_delay_ms.store(2, std::sync::atomic::Ordering::SeqCst);
        // 8 clients of 1,000 messages of 4 KB: 32 MB through 1 MiB segments.
        let clients: Vec<_> = (0..8_u64)
            .map(|client| {
                let storage = Arc::clone(&storage);
                tokio::spawn(async move { churn(&storage, client * 1_000..(client + 1) * 1_000).await })
            })
            .collect();
        let mut largest = 0;
        while !clients.iter().all(tokio::task::JoinHandle::is_finished) {
            largest = largest.max(on_disk(dir.path()));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for client in clients {
            client.await.expect("client");
        }
        assert!(largest < 6 << 20, "the log reached {largest} bytes while 32 MB went through it");
        storage.close();
        let (_, snapshot) = SqliteStorage::open_with(dir.path(), SMALL_SEGMENTS).expect("reopen");
        assert!(snapshot.queues[0].messages.is_empty());
        assert!(snapshot.queues[0].next_sequence >= 8_000, "sequences are never reused");
    }

    /// A message that stays while many others come and go does not pin the log: compaction copies it forward in
    /// its latest state, and the segments behind it are recycled.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn compaction_copies_a_long_lived_message_forward_and_the_log_stays_short() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (storage, _) = SqliteStorage::open_with(dir.path(), SMALL_SEGMENTS).expect("open");
        let received = MessageState::InFlight {
            until: Timestamp::from_millis(60_000),
            received_at: Timestamp::from_millis(30_000),
        };
        storage.append(vec![created(1), stored(1, 0, "long-lived".to_owned())]);
        storage.append(vec![StorageEvent::Queue {
            uid: 1,
            event: QueueEvent::MessageUpdated {
                sequence: 0,
                receive_count: 3,
                first_received_at: Some(Timestamp::from_millis(10_000)),
                state: received,
            },
        }]);
        storage.durable().await.expect("stored");
        churn(&storage, 1..4_001).await;
        eventually(|| on_disk(dir.path()) < 10 << 20).await;
        storage.close();
        drop(storage);
        let (storage, snapshot) = SqliteStorage::open_with(dir.path(), SMALL_SEGMENTS).expect("reopen");
        storage.close();
        let messages = &snapshot.queues[0].messages;
        assert_eq!(messages.len(), 1);
        let (sequence, message) = &messages[0];
        assert_eq!((*sequence, &*message.body), (0, "long-lived"));
        assert_eq!((message.receive_count, message.first_received_at()), (3, Some(Timestamp::from_millis(10_000))));
        assert_eq!(message.state, received);
    }

    /// A log that its last write left over budget is compacted while idle. One commit deletes every message
    /// but a long-lived one in the oldest segment: before it compaction was not due (the live messages needed
    /// the room), after it nothing more is written, and the log still shrinks. The messages went in as one
    /// commit, larger than a segment, so the log is over budget in bytes with only three segments.
    #[tokio::test]
    async fn an_idle_log_over_its_budget_is_compacted_without_another_write() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (storage, _) = SqliteStorage::open_with(dir.path(), SMALL_SEGMENTS).expect("open");
        storage.append(vec![created(1), stored(1, 0, "long-lived".to_owned())]);
        storage.durable().await.expect("stored");
        const COUNT: u64 = 1_500;
        storage.append((1..=COUNT).map(|sequence| stored(1, sequence, "m".repeat(4_000))).collect());
        storage.durable().await.expect("stored");
        let full = on_disk(dir.path());
        assert!(full > 6_000_000, "the messages take {full} bytes");
        storage.append(
            (1..=COUNT)
                .map(|sequence| StorageEvent::Queue { uid: 1, event: QueueEvent::MessageRemoved { sequence } })
                .collect(),
        );
        storage.durable().await.expect("deleted");
        let deadline = Instant::now() + Duration::from_secs(20);
        while on_disk(dir.path()) * 2 >= full {
            assert!(Instant::now() < deadline, "{} of {full} bytes left 20 s after the deletes", on_disk(dir.path()));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        storage.close();
        let (_, snapshot) = SqliteStorage::open_with(dir.path(), SMALL_SEGMENTS).expect("reopen");
        let messages = &snapshot.queues[0].messages;
        assert_eq!(messages.len(), 1);
        assert_eq!((messages[0].0, &*messages[0].1.body), (0, "long-lived"));
    }

    #[tokio::test]
    async fn the_file_gives_space_back_after_a_large_drain() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (storage, _) = SqliteStorage::open_with(dir.path(), SMALL_SEGMENTS).expect("open");
        storage.append(vec![created(1)]);
        const COUNT: u64 = 2_000;
        for chunk in (0..COUNT).collect::<Vec<_>>().chunks(100) {
            storage.append(
                chunk.iter().map(|&sequence| stored(1, sequence, format!("{sequence}{}", "b".repeat(8_000)))).collect(),
            );
        }
        storage.durable().await.expect("stored");
        storage.close();
        let full = on_disk(dir.path());
        assert!(full > 16_000_000, "the messages take {full} bytes");

        let (storage, snapshot) = SqliteStorage::open_with(dir.path(), SMALL_SEGMENTS).expect("reopen");
        assert_eq!(snapshot.queues[0].messages.len(), COUNT as usize);
        drop(snapshot);
        for chunk in (0..COUNT).collect::<Vec<_>>().chunks(100) {
            storage.append(
                chunk
                    .iter()
                    .map(|&sequence| StorageEvent::Queue { uid: 1, event: QueueEvent::MessageRemoved { sequence } })
                    .collect(),
            );
        }
        storage.durable().await.expect("deleted");
        // Recycling goes on while the storage is idle, without waiting for more writes or the close.
        let deadline = Instant::now() + Duration::from_secs(20);
        while on_disk(dir.path()) * 4 >= full {
            if Instant::now() >= deadline {
                let files: Vec<String> = std::fs::read_dir(dir.path().join(LOG_DIR))
                    .expect("log")
                    .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
                    .collect();
                panic!("{} of {full} bytes left 20 s after the drain; log {files:?}", on_disk(dir.path()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        storage.close();
    }

    /// Free pages are released once they are three times the pages in use (so a vacuum moves at most one page
    /// for every three it releases), and never fewer than the minimum.
    #[test]
    fn free_pages_are_released_once_they_are_three_times_those_in_use() {
        use schema::worth_releasing;
        assert!(!worth_releasing(0, 10_000), "nothing free");
        assert!(!worth_releasing(2_500, 10_000), "a quarter free");
        assert!(!worth_releasing(7_499, 10_000), "just under three quarters");
        assert!(worth_releasing(7_500, 10_000), "three quarters");
        assert!(worth_releasing(10_000, 10_000), "all");
        assert!(!worth_releasing(255, 256), "fewer free pages than the minimum");
        assert!(worth_releasing(256, 256), "the minimum, all free");
    }

    /// Storage in a fresh directory, with queue 1 created and durable.
    async fn storage_with_queue_1() -> (tempfile::TempDir, SqliteStorage) {
        let dir = tempfile::tempdir().expect("temp dir");
        let (storage, _) = SqliteStorage::open(dir.path()).expect("open");
        storage.append(vec![created(1)]);
        storage.durable().await.expect("created");
        (dir, storage)
    }

    /// An I/O error other than a full disk: fsyncs of the log fail (injected). Fail-stop: storage reports the
    /// failure (so durable writes are refused) and the waiting change is not acknowledged; once an fsync after
    /// the rewrite succeeds it is, and it is in the file.
    #[tokio::test]
    async fn a_failed_fsync_holds_the_change_back_reports_failure_and_recovers_with_the_change_on_disk() {
        let (dir, storage) = storage_with_queue_1().await;
        storage.sync.fail_next.store(3, std::sync::atomic::Ordering::SeqCst);
        storage.append(vec![stored(1, 1, "after the failure".to_owned())]);
        let durable = storage.durable();
        tokio::pin!(durable);
        let deadline = Instant::now() + Duration::from_secs(10);
        while storage.failure().is_none() {
            assert!(Instant::now() < deadline, "the failed fsync was never reported");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            storage.failure().is_some_and(|reason| reason.contains("injected I/O error")),
            "{:?}",
            storage.failure()
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(20), durable.as_mut()).await.is_err(),
            "acknowledged although its fsync failed"
        );
        tokio::time::timeout(Duration::from_secs(20), durable).await.expect("recovered").expect("durable");
        assert_eq!(storage.failure(), None, "recovery is reported");
        assert_eq!(storage.sync.fail_next.load(std::sync::atomic::Ordering::SeqCst), 0, "all three fsyncs failed");
        storage.close();
        let (_, snapshot) = SqliteStorage::open(dir.path()).expect("reopen");
        assert_eq!(snapshot.queues[0].messages.len(), 1);
    }

    /// An fsync that fails while requests keep arriving must still be answered by a rewrite of everything not
    /// known to be on disk (after a failed fsync Linux may have dropped the dirty pages), before the commit of
    /// what arrived meanwhile, which must not clear the failure by itself.
    #[tokio::test]
    async fn an_fsync_failing_while_requests_arrive_is_answered_by_a_rewrite() {
        let (dir, storage) = storage_with_queue_1().await;
        storage.sync.fail_next.store(1, std::sync::atomic::Ordering::SeqCst);
        storage.append(vec![stored(1, 1, "its fsync fails".to_owned())]);
        // Appended while that fsync runs (and fails, then backs off): it goes into the commit after the rewrite.
        tokio::time::sleep(Duration::from_millis(5)).await;
        storage.append(vec![stored(1, 2, "gathered meanwhile".to_owned())]);
        tokio::time::timeout(Duration::from_secs(20), storage.durable()).await.expect("recovered").expect("durable");
        assert_eq!(storage.sync.fail_next.load(std::sync::atomic::Ordering::SeqCst), 0, "the fsync failed");
        assert!(storage.sync.rewrites.load(std::sync::atomic::Ordering::SeqCst) >= 1, "no rewrite after the failure");
        storage.close();
        let (_, snapshot) = SqliteStorage::open(dir.path()).expect("reopen");
        assert_eq!(snapshot.queues[0].messages.len(), 2);
    }

    /// A receive sets a message's delivery times in place: rows appended in key order fill their pages, so a
    /// row that grew would split its page, and a receive of every message would add pages to the file.
    #[test]
    fn a_receive_rewrites_its_row_without_growing_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut database = Database::new(schema::open_connection(&dir.path().join(FILE_NAME)).expect("open"));
        database.write_batch(&[created(1)]).expect("created");
        let body = "b".repeat(256);
        let sends: Vec<_> = (1..=2_000).map(|sequence| stored(1, sequence, body.clone())).collect();
        database.write_batch(&sends).expect("sent");
        let pages = |database: &Database| -> i64 {
            database.connection.query_row("PRAGMA page_count", [], |row| row.get(0)).expect("page count")
        };
        let sent = pages(&database);
        let now = Timestamp::from_millis(1_765_000_000_000);
        let receives: Vec<_> = (1..2_000)
            .map(|sequence| StorageEvent::Queue {
                uid: 1,
                event: QueueEvent::MessageUpdated {
                    sequence,
                    receive_count: 1,
                    first_received_at: Some(now),
                    state: MessageState::InFlight {
                        until: Timestamp::from_millis(1_765_000_030_000),
                        received_at: now,
                    },
                },
            })
            .collect();
        database.write_batch(&receives).expect("received");
        assert_eq!(pages(&database), sent, "the receives grew the file");
        drop(database);
        let (storage, snapshot) = SqliteStorage::open(dir.path()).expect("reopen");
        storage.close();
        let messages = &snapshot.queues[0].messages;
        assert_eq!(messages.len(), 2_000);
        assert!(messages[..1_999].iter().all(|(_, message)| message.receive_count == 1
            && message.first_received_at() == Some(now)
            && matches!(message.state, MessageState::InFlight { received_at, .. } if received_at == now)));
        let (_, never) = &messages[1_999];
        assert_eq!((never.receive_count, never.first_received_at()), (0, None));
        assert!(matches!(never.state, MessageState::Visible));
    }

    /// While commits fail, the writer retries with backoff, however many requests append meanwhile (each
    /// append used to cut the wait short, so a failing disk was retried once per request); once the cause is
    /// gone, everything appended is committed.
    #[tokio::test]
    async fn a_failing_commit_is_retried_with_backoff_not_per_append() {
        use std::sync::atomic::Ordering;
        let (dir, storage) = storage_with_queue_1().await;
        // Every append to the log fails while this is set.
        storage.sync.fail_appends.store(true, Ordering::SeqCst);
        let before = storage.sync.commit_attempts.load(Ordering::SeqCst);
        let started = Instant::now();
        for sequence in 1..=50 {
            storage.append(vec![stored(1, sequence, format!("message {sequence}"))]);
            tokio::time::sleep(Duration::from_millis(6)).await;
        }
        let elapsed = started.elapsed();
        let attempts = storage.sync.commit_attempts.load(Ordering::SeqCst) - before;
        assert!(storage.failure().is_some(), "the failing commits were not reported");
        // 50, 100, 200, 400 ms of backoff: at most 5 attempts in the first 750 ms.
        assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
        assert!(attempts <= 5 || elapsed > Duration::from_millis(750), "{attempts} attempts in {elapsed:?}");
        storage.sync.fail_appends.store(false, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(20), storage.durable()).await.expect("recovered").expect("durable");
        assert_eq!(storage.failure(), None, "recovery is reported");
        storage.close();
        let (_, snapshot) = SqliteStorage::open(dir.path()).expect("reopen");
        assert_eq!(snapshot.queues[0].messages.len(), 50);
    }

    /// A file written before incremental vacuum was on (auto_vacuum NONE) is rebuilt once with it at open
    /// (a full VACUUM), keeping its contents.
    #[test]
    fn a_file_without_incremental_vacuum_is_converted_once_and_keeps_its_contents() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (storage, _) = SqliteStorage::open(dir.path()).expect("create");
        storage.append(vec![created(1), stored(1, 1, "kept".to_owned()), stored(1, 2, "also kept".to_owned())]);
        storage.close();
        drop(storage);
        let auto_vacuum = || {
            let connection = Connection::open(dir.path().join(FILE_NAME)).expect("open the file");
            connection.query_row("PRAGMA auto_vacuum", [], |row| row.get::<_, i64>(0)).expect("auto_vacuum")
        };
        {
            let connection = Connection::open(dir.path().join(FILE_NAME)).expect("open the file");
            connection.execute_batch("PRAGMA auto_vacuum = NONE; VACUUM;").expect("turn incremental vacuum off");
        }
        assert_eq!(auto_vacuum(), 0, "the file is like one written before incremental vacuum");

        let (storage, snapshot) = SqliteStorage::open(dir.path()).expect("converted");
        storage.close();
        drop(storage);

        assert_eq!(auto_vacuum(), 2, "incremental after the conversion");
        let bodies: Vec<String> = snapshot.queues[0].messages.iter().map(|(_, m)| m.body.to_string()).collect();
        assert_eq!(bodies, ["kept", "also kept"]);
    }

    /// The tables of a version 3 file (as this build's predecessors wrote them): messages keyed by
    /// `(queue_uid, sequence)`, queues without slots.
    const VERSION_3_TABLES: &str = "
        CREATE TABLE queues (uid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, attributes TEXT NOT NULL,
            tags TEXT NOT NULL, created_at INTEGER NOT NULL, last_modified_at INTEGER NOT NULL,
            last_purge_at INTEGER, next_sequence INTEGER NOT NULL);
        CREATE TABLE messages (queue_uid INTEGER NOT NULL, sequence INTEGER NOT NULL, message_id TEXT NOT NULL,
            body TEXT NOT NULL, attributes BLOB, trace_header TEXT, group_id TEXT, deduplication_id TEXT,
            dead_letter_source_arn TEXT, sender_id TEXT NOT NULL, sent_at INTEGER NOT NULL,
            retention_start INTEGER NOT NULL, first_received_at INTEGER, receive_count INTEGER NOT NULL,
            state INTEGER NOT NULL, until INTEGER NOT NULL, received_at INTEGER NOT NULL,
            PRIMARY KEY (queue_uid, sequence)) WITHOUT ROWID;
        CREATE TABLE deduplications (queue_uid INTEGER NOT NULL, sequence INTEGER NOT NULL,
            scope_group TEXT NOT NULL, deduplication_id TEXT NOT NULL, message_id TEXT NOT NULL,
            expires_at INTEGER NOT NULL, PRIMARY KEY (queue_uid, sequence)) WITHOUT ROWID;
        CREATE INDEX deduplications_by_expiry ON deduplications (expires_at);
        CREATE TABLE move_tasks (handle TEXT PRIMARY KEY, source_arn TEXT NOT NULL, destination_arn TEXT,
            rate INTEGER, started_at INTEGER NOT NULL, to_move INTEGER NOT NULL, moved INTEGER NOT NULL,
            status TEXT NOT NULL, failure_reason TEXT);";

    /// Writes a data file of an older format: the version 3 tables, then `changes`, marked as `version`.
    fn older_file(dir: &Path, version: i32, changes: &str) {
        let connection = Connection::open(dir.join(FILE_NAME)).expect("create the file");
        connection
            .execute_batch(&format!(
                "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA application_id = {}; {VERSION_3_TABLES} {changes}
                 PRAGMA user_version = {version};",
                schema::APPLICATION_ID
            ))
            .expect("an older file");
    }

    /// A row of the version 3 `messages` table.
    fn version_3_message(uid: u64, sequence: u64, body: &str) -> String {
        format!(
            "INSERT INTO messages VALUES ({uid}, {sequence}, '{}', '{body}', NULL, NULL, NULL, NULL, NULL,
                 '000000000000', 1000, 1000, NULL, 0, 0, 0, 0);",
            uuid::Uuid::new_v4()
        )
    }

    fn version_3_queue(uid: u64, name: &str, next_sequence: u64) -> String {
        format!("INSERT INTO queues VALUES ({uid}, '{name}', '{{}}', '{{}}', 1, 1, NULL, {next_sequence});")
    }

    fn user_version(dir: &Path) -> i32 {
        let connection = Connection::open(dir.join(FILE_NAME)).expect("open the file");
        connection.query_row("PRAGMA user_version", [], |row| row.get(0)).expect("version")
    }

    #[test]
    fn a_version_1_file_is_migrated_with_its_deduplication_windows() {
        let dir = tempfile::tempdir().expect("temp dir");
        // A version 1 file: deduplication windows keyed by their id.
        older_file(
            dir.path(),
            1,
            &format!(
                "{}
                 DROP TABLE deduplications;
                 CREATE TABLE deduplications (queue_uid INTEGER NOT NULL, scope_group TEXT NOT NULL,
                     deduplication_id TEXT NOT NULL, message_id TEXT NOT NULL, sequence INTEGER NOT NULL,
                     expires_at INTEGER NOT NULL, PRIMARY KEY (queue_uid, scope_group, deduplication_id))
                     WITHOUT ROWID;
                 INSERT INTO deduplications VALUES (1, '', 'dedup-b', 'id-b', 7, 900000000000000);
                 INSERT INTO deduplications VALUES (1, 'g', 'dedup-a', 'id-a', 3, 800000000000000);",
                version_3_queue(1, "q1.fifo", 8)
            ),
        );
        let (storage, snapshot) = SqliteStorage::open(dir.path()).expect("migrated");
        storage.close();
        let records = &snapshot.queues[0].deduplications;
        let found: Vec<(Option<&str>, &str, &str, u64)> = records
            .iter()
            .map(|r| (r.scope_group.as_deref(), r.deduplication_id.as_str(), r.message_id.as_str(), r.sequence))
            .collect();
        assert_eq!(found, vec![(Some("g"), "dedup-a", "id-a", 3), (None, "dedup-b", "id-b", 7)], "by expiry");
        assert_eq!(user_version(dir.path()), schema::FORMAT_VERSION);
    }

    /// Copies the files of `from` (the data file, its write-ahead log and the message log's segments) into `to`.
    fn copy_files(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("create dir");
        for entry in std::fs::read_dir(from).expect("read dir") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("type").is_dir() {
                copy_files(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).expect("copy");
            }
        }
    }

    /// A crash after the migration's log commit is on disk and before its SQLite delete leaves every message
    /// both as a row and in the log. The next start moves the rows into the log again, and each message is
    /// there once (a later record of a message replaces the earlier), also after a delete and another start.
    #[tokio::test]
    async fn a_migration_interrupted_before_its_delete_keeps_each_message_once() {
        let old = tempfile::tempdir().expect("temp dir");
        older_file(
            old.path(),
            3,
            &[
                version_3_queue(3, "us-east-1/000000000000/three", 12),
                version_3_message(3, 5, "three-5"),
                version_3_message(3, 11, "three-11"),
            ]
            .concat(),
        );
        let migrated = tempfile::tempdir().expect("temp dir");
        copy_files(old.path(), migrated.path());
        let (storage, _) = SqliteStorage::open(migrated.path()).expect("migrated");
        storage.close();
        drop(storage);
        // The crashed start: the schema's migration is committed first (as `open_connection` does), the log
        // holds the moved messages, and the rows are still there.
        let crashed = tempfile::tempdir().expect("temp dir");
        copy_files(old.path(), crashed.path());
        drop(open_connection(&crashed.path().join(FILE_NAME)).expect("schema migrated"));
        copy_files(&migrated.path().join(LOG_DIR), &crashed.path().join(LOG_DIR));
        let rows = |dir: &Path| -> i64 {
            let connection = Connection::open(dir.join(FILE_NAME)).expect("open the file");
            connection.query_row("SELECT count(*) FROM messages", [], |row| row.get(0)).expect("count")
        };
        assert_eq!(rows(crashed.path()), 2, "the rows are still there");
        let bodies = |snapshot: &Snapshot| -> Vec<(u64, String)> {
            snapshot.queues[0].messages.iter().map(|(sequence, m)| (*sequence, m.body.to_string())).collect()
        };
        let (storage, snapshot) = SqliteStorage::open(crashed.path()).expect("restarted");
        assert_eq!(bodies(&snapshot), [(5, "three-5".to_owned()), (11, "three-11".to_owned())]);
        assert_eq!(rows(crashed.path()), 0, "the rows moved into the log");
        storage.append(vec![StorageEvent::Queue { uid: 3, event: QueueEvent::MessageRemoved { sequence: 5 } }]);
        storage.durable().await.expect("deleted");
        storage.close();
        drop(storage);
        let (storage, snapshot) = SqliteStorage::open(crashed.path()).expect("reopened");
        storage.close();
        assert_eq!(bodies(&snapshot), [(11, "three-11".to_owned())], "the delete covers both records");
    }

    /// Version 3 keyed messages and deduplication windows by `(queue_uid, sequence)`; versions 4 and 5 by one
    /// integer built from the queue's slot. Every message and window comes back with its sequence and contents,
    /// rows of deleted queues are dropped, and the migrated file is written and read like a new one.
    #[tokio::test]
    async fn a_version_3_file_is_migrated_to_integer_keys() {
        let dir = tempfile::tempdir().expect("temp dir");
        older_file(
            dir.path(),
            3,
            &[
                version_3_queue(3, "us-east-1/000000000000/three", 12),
                version_3_queue(7, "us-east-1/000000000000/seven", 3),
                version_3_message(3, 5, "three-5"),
                version_3_message(3, 11, "three-11"),
                version_3_message(7, 2, "seven-2"),
                version_3_message(9, 1, "of a deleted queue"),
                "INSERT INTO deduplications VALUES (3, 11, 'g', 'dedup-11', 'id-11', 900000000000000);
                 INSERT INTO deduplications VALUES (3, 4, '', 'dedup-4', 'id-4', 800000000000000);
                 INSERT INTO deduplications VALUES (9, 1, '', 'of a deleted queue', 'id-9', 800000000000000);"
                    .to_owned(),
            ]
            .concat(),
        );
        let (storage, snapshot) = SqliteStorage::open(dir.path()).expect("migrated");
        let contents = |snapshot: &Snapshot| -> Vec<(u64, Vec<(u64, String)>)> {
            snapshot
                .queues
                .iter()
                .map(|queue| {
                    let messages = queue.messages.iter().map(|(sequence, m)| (*sequence, m.body.to_string())).collect();
                    (queue.uid, messages)
                })
                .collect()
        };
        let three = vec![(5, "three-5".to_owned()), (11, "three-11".to_owned())];
        assert_eq!(contents(&snapshot), vec![(3, three.clone()), (7, vec![(2, "seven-2".to_owned())])]);
        let windows: Vec<(Option<&str>, &str, &str, u64)> = snapshot.queues[0]
            .deduplications
            .iter()
            .map(|r| (r.scope_group.as_deref(), r.deduplication_id.as_str(), r.message_id.as_str(), r.sequence))
            .collect();
        assert_eq!(windows, vec![(None, "dedup-4", "id-4", 4), (Some("g"), "dedup-11", "id-11", 11)], "by expiry");
        assert!(snapshot.queues[1].deduplications.is_empty());
        assert_eq!(user_version(dir.path()), schema::FORMAT_VERSION);

        // Written on after the migration: a deletion in one queue, a new message in the other, a new queue.
        storage.append(vec![
            StorageEvent::Queue { uid: 3, event: QueueEvent::MessageRemoved { sequence: 5 } },
            stored(7, 3, "seven-3".to_owned()),
            created(10),
            stored(10, 1, "ten-1".to_owned()),
        ]);
        storage.durable().await.expect("written");
        storage.close();
        drop(storage);
        let (storage, snapshot) = SqliteStorage::open(dir.path()).expect("reopen");
        storage.close();
        assert_eq!(
            contents(&snapshot),
            vec![
                (3, vec![(11, "three-11".to_owned())]),
                (7, vec![(2, "seven-2".to_owned()), (3, "seven-3".to_owned())]),
                (10, vec![(1, "ten-1".to_owned())]),
            ]
        );
        let connection = Connection::open(dir.path().join(FILE_NAME)).expect("open the file");
        let rows: i64 = connection.query_row("SELECT count(*) FROM messages", [], |row| row.get(0)).expect("count");
        assert_eq!(rows, 0, "the messages moved into the log");
        let windows: i64 =
            connection.query_row("SELECT count(*) FROM deduplications", [], |row| row.get(0)).expect("count");
        assert_eq!(windows, 2, "the deleted queue's window was left behind");
    }

    /// Slots are reused once their queue is gone, so they stay below the number of queues that exist; a
    /// re-created queue (the same uid written again, as a retried commit does) keeps its slot and messages.
    #[tokio::test]
    async fn queue_slots_are_reused_and_kept_by_a_rewrite() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (storage, _) = SqliteStorage::open(dir.path()).expect("open");
        storage.append(vec![created(1), created(2), created(3), stored(3, 1, "in three".to_owned())]);
        storage.append(vec![StorageEvent::QueueDeleted { uid: 2 }, created(4), created(3)]);
        storage.durable().await.expect("written");
        storage.close();
        drop(storage);
        let connection = Connection::open(dir.path().join(FILE_NAME)).expect("open the file");
        let mut statement = connection.prepare("SELECT uid, slot FROM queues ORDER BY uid").expect("select");
        let slots: Vec<(i64, i64)> =
            statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).expect("slots").map(Result::unwrap).collect();
        assert_eq!(slots, vec![(1, 1), (3, 3), (4, 2)]);
        let (storage, snapshot) = SqliteStorage::open(dir.path()).expect("reopen");
        storage.close();
        let three = snapshot.queues.iter().find(|queue| queue.uid == 3).expect("queue 3");
        assert_eq!(three.messages.len(), 1);
    }

    #[test]
    fn a_sequence_beyond_what_a_key_holds_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut database = Database::new(schema::open_connection(&dir.path().join(FILE_NAME)).expect("open"));
        database.write_batch(&[created(1)]).expect("created");
        let error =
            database.write_batch(&[stored(1, schema::SEQUENCE_LIMIT, "one too many".to_owned())]).expect_err("refused");
        assert!(error.to_string().contains("create a new queue"), "{error}");
        database.write_batch(&[stored(1, schema::SEQUENCE_LIMIT - 1, "the last".to_owned())]).expect("the last fits");
        // A deduplication window is keyed by its message's sequence too.
        let error = database.write_batch(&[window(1, schema::SEQUENCE_LIMIT, 1)]).expect_err("window refused");
        assert!(error.to_string().contains("create a new queue"), "{error}");
        database.write_batch(&[window(1, schema::SEQUENCE_LIMIT - 1, 1)]).expect("the last window fits");
    }

    #[tokio::test]
    async fn rows_of_a_queue_that_no_longer_exists_are_neither_written_nor_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (storage, _) = SqliteStorage::open(dir.path()).expect("open");
        // A send that raced DeleteQueue: its store comes after the queue's deletion, and writes nothing.
        storage.append(vec![
            created(1),
            stored(1, 1, "kept".to_owned()),
            created(2),
            StorageEvent::QueueDeleted { uid: 2 },
        ]);
        storage.append(vec![stored(2, 1, "orphan".to_owned())]);
        storage.durable().await.expect("stored");
        storage.close();
        drop(storage);
        let (storage, snapshot) = SqliteStorage::open(dir.path()).expect("reopen");
        storage.close();
        assert_eq!(snapshot.queues.len(), 1);
        assert_eq!(snapshot.queues[0].messages.len(), 1, "the deleted queue's message is not restored");
        let rows = || {
            let connection = Connection::open(dir.path().join(FILE_NAME)).expect("open the file");
            connection.query_row("SELECT count(*) FROM messages", [], |row| row.get::<_, i64>(0)).expect("count")
        };
        assert_eq!(rows(), 0, "messages live in the log");
        {
            // What earlier builds could leave: a row whose queue is gone (slot 5 belongs to no queue).
            let connection = Connection::open(dir.path().join(FILE_NAME)).expect("open the file");
            connection
                .execute(
                    "INSERT INTO messages (key, message_id, body, sender_id, sent_at, retention_start, \
                     receive_count, state, until, received_at) VALUES ((5 << 40) | 1, ?1, 'orphan', \
                     '000000000000', 1, 1, 0, 0, 0, 0)",
                    [uuid::Uuid::new_v4().to_string()],
                )
                .expect("an orphan row");
        }
        assert_eq!(rows(), 1);
        let (storage, snapshot) = SqliteStorage::open(dir.path()).expect("reopen");
        assert_eq!(snapshot.queues.len(), 1);
        assert_eq!(snapshot.queues[0].messages.len(), 1);
        storage.close();
        assert_eq!(rows(), 0, "the orphan row is gone from the file");
    }

    fn window(uid: u64, sequence: u64, expires_at: u64) -> StorageEvent {
        StorageEvent::Queue {
            uid,
            event: QueueEvent::DeduplicationRecorded {
                scope_group: None,
                deduplication_id: format!("dedup-{sequence}"),
                message_id: format!("id-{sequence}"),
                sequence,
                expires_at: Timestamp::from_millis(expires_at),
            },
        }
    }

    /// Windows that closed before the newest one opened are deleted: at once for a queue that opens a new one,
    /// and at the next periodic check for the others.
    #[tokio::test]
    async fn closed_deduplication_windows_are_pruned_in_every_queue() {
        const WINDOW: u64 = 300_000;
        let dir = tempfile::tempdir().expect("temp dir");
        let (storage, _) = SqliteStorage::open(dir.path()).expect("open");
        let t = 1_000_000_000;
        let mut events = vec![created(1), created(2)];
        events.extend((1..=3).map(|sequence| window(1, sequence, t + sequence)));
        events.extend((1..=3).map(|sequence| window(2, sequence, t + sequence)));
        storage.append(events);
        storage.durable().await.expect("written");
        let reader = Connection::open(dir.path().join(FILE_NAME)).expect("reader");
        let windows = |uid: u64| -> Vec<u64> {
            let Ok(slot) =
                reader.query_row("SELECT slot FROM queues WHERE uid = ?1", [uid], |row| row.get::<_, i64>(0))
            else {
                return Vec::new();
            };
            let mut statement =
                reader.prepare("SELECT key & 1099511627775 FROM deduplications WHERE key >> 40 = ?1").expect("query");
            statement.query_map([slot], |row| row.get::<_, u64>(0)).expect("rows").map(Result::unwrap).collect()
        };
        // The applier writes them into SQLite after the log has them on disk.
        eventually(|| (windows(1), windows(2)) == (vec![1, 2, 3], vec![1, 2, 3])).await;

        // Queue 1 opens a window when those ending at t + 1 and t + 2 have closed.
        storage.append(vec![window(1, 4, t + 2 + WINDOW)]);
        storage.durable().await.expect("written");
        eventually(|| windows(1) == vec![3, 4]).await;

        let deadline = Instant::now() + Duration::from_secs(10);
        while windows(2) != vec![3] {
            assert!(Instant::now() < deadline, "queue 2 still holds windows {:?}", windows(2));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        storage.close();
    }

    /// Waits up to 10 s for `condition`, which the applier makes true in its own time.
    async fn eventually(mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "not within 10 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[test]
    fn the_writer_takes_nothing_past_the_start_of_an_open_group() {
        let mut pending =
            Pending { appended: 3, events: vec![created(1), created(2), created(3)], ..Pending::default() };
        assert_eq!(pending.takeable(), 3);
        pending.holds.insert(0, 1);
        assert_eq!(pending.takeable(), 1);
        pending.holds.insert(1, 0);
        assert_eq!(pending.takeable(), 0);
        pending.holds.clear();
        pending.taken = 2;
        pending.events.drain(..2);
        assert_eq!(pending.takeable(), 1);
    }

    #[tokio::test]
    async fn events_of_an_open_group_become_durable_only_once_it_is_released() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (storage, _) = SqliteStorage::open(dir.path()).expect("open");
        storage.append(vec![created(1)]);
        storage.durable().await.expect("before the group");
        let hold = storage.hold();
        storage.append(vec![created(2)]);
        let durable = storage.durable();
        tokio::pin!(durable);
        assert!(
            tokio::time::timeout(Duration::from_millis(200), durable.as_mut()).await.is_err(),
            "committed while the group was open"
        );
        storage.release(hold);
        tokio::time::timeout(Duration::from_secs(5), durable).await.expect("committed after release").expect("ok");
        storage.close();
        let (_, snapshot) = SqliteStorage::open(dir.path()).expect("reopen");
        assert_eq!(snapshot.queues.len(), 2);
    }
}
