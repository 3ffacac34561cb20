//! [`SqliteStorage`]: events written by one thread into SQLite (WAL), one transaction per batch of whatever was
//! appended meanwhile (group commit), and made durable by a second thread's fsync of the log, which overlaps the
//! next transaction (`sync.rs`).
//!
//! - `schema.rs`: the file's tables, opening and checking it, and how values map into columns;
//! - `write.rs`: one batch of events as one transaction; `load.rs`: reading everything back at start-up;
//! - `sync.rs`: the syncer thread; `checkpoint.rs`: the checkpointer thread, which copies the log into the
//!   database file beside the writer.

mod checkpoint;
mod load;
mod schema;
mod sync;
mod write;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::StorageError;
use crate::engine::{Durable, EventSink, Snapshot, StorageEvent, StorageFailure};
use checkpoint::{CheckpointShared, checkpoint_passive};
use load::load;
use schema::{delete_orphans, open_connection, release_free_pages};
use sync::SyncShared;
use write::Database;

const FILE_NAME: &str = "sqskit.db";

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
    /// Told by the syncer what is on disk; asks the writer to let the log start over.
    checkpoint: CheckpointShared,
}

impl Inner {
    /// Locks `pending` (a panicked thread leaves it consistent, so poisoning is ignored).
    fn lock_pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writer waits, at most `timeout` if given, until an append leaves `wants` takeable events (see
    /// [`Inner::wake_writer`]), [`Inner::wake_writer_now`], or a spurious wake-up.
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

    /// Releases `pending` and wakes the writer if it waits at all.
    fn wake_writer_now(&self, pending: MutexGuard<'_, Pending>) {
        let wake = pending.writer_wants > 0;
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
    /// Shared with the writer and the syncer (tests inject fsync failures through it).
    #[cfg_attr(not(test), allow(dead_code))]
    sync: Arc<SyncShared>,
    path: PathBuf,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl SqliteStorage {
    /// Opens (or creates) the data file in `dir`, reads it back, and starts the writer.
    ///
    /// # Errors
    /// [`StorageError`] for a directory that cannot be created, a file that is not ours, or a damaged file.
    pub fn open(dir: &Path) -> Result<(Self, Snapshot), StorageError> {
        std::fs::create_dir_all(dir).map_err(|source| StorageError::Directory { path: dir.to_owned(), source })?;
        let path = dir.join(FILE_NAME);
        let connection = open_connection(&path)?;
        match delete_orphans(&connection) {
            Ok(0) => {}
            Ok(orphans) => tracing::warn!(orphans, "deleted rows of queues that no longer exist"),
            Err(source) => return Err(StorageError::Open { path, source }),
        }
        let snapshot = load(&connection).map_err(|reason| StorageError::Corrupt { path: path.clone(), reason })?;
        let inner = Arc::new(Inner {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            progress: tokio::sync::watch::Sender::new(Progress::default()),
            checkpoint: CheckpointShared::default(),
        });
        let sync = Arc::new(SyncShared::default());
        let syncer_inner = Arc::clone(&inner);
        let syncer_sync = Arc::clone(&sync);
        let writer_sync = Arc::clone(&sync);
        let wal = dir.join(format!("{FILE_NAME}-wal"));
        let syncer = std::thread::Builder::new()
            .name("sqskit-fsync".to_owned())
            .spawn(move || sync::run(&syncer_sync, wal, &syncer_inner))
            .map_err(StorageError::Writer)?;
        let checkpointer_inner = Arc::clone(&inner);
        let checkpointer_path = path.clone();
        let checkpointer = std::thread::Builder::new()
            .name("sqskit-checkpoint".to_owned())
            .spawn(move || checkpoint::run(&checkpointer_inner.checkpoint, &checkpointer_path))
            .map_err(StorageError::Writer)?;
        let writer_inner = Arc::clone(&inner);
        let writer_path = path.clone();
        let writer = std::thread::Builder::new()
            .name("sqskit-storage".to_owned())
            .spawn(move || {
                Writer {
                    connection: Some(Database::new(connection)),
                    path: writer_path,
                    inner: &writer_inner,
                    sync: &writer_sync,
                    unsynced: VecDeque::new(),
                    last_vacuum: Instant::now(),
                    releasing: false,
                    vacuum_owed: false,
                }
                .run();
                if syncer.join().is_err() {
                    tracing::error!("the storage syncer panicked");
                }
                // Closed last, the checkpointer's connection copies the whole log into the file and removes it.
                writer_inner.checkpoint.stop();
                if checkpointer.join().is_err() {
                    tracing::error!("the storage checkpointer panicked");
                }
                writer_inner.progress.send_modify(|progress| progress.stopped = true);
            })
            .map_err(StorageError::Writer)?;
        Ok((Self { inner, sync, path, writer: Mutex::new(Some(writer)) }, snapshot))
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
}

/// The first wait before retrying a failed commit, and the longest.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// The writer thread: takes what may be committed, commits it, and on failure keeps the batch and retries it
/// (fail-stop: meanwhile the engine refuses durable writes, see [`EventSink::failure`]); the syncer thread then
/// makes it durable.
struct Writer<'a> {
    /// `None` after a failure closed it; reopened before the next attempt.
    connection: Option<Database>,
    path: PathBuf,
    inner: &'a Inner,
    sync: &'a SyncShared,
    /// Batches committed but not yet known to be on disk, with the event count each ends at: written again if
    /// an fsync fails.
    unsynced: VecDeque<(u64, Vec<StorageEvent>)>,
    last_vacuum: Instant,
    /// A release of free pages is under way (see [`release_free_pages`]).
    releasing: bool,
    /// Something was committed since the last check for free pages (so a drain that ends between two checks is
    /// checked once it has ended, without waiting for another write).
    vacuum_owed: bool,
}

/// How often the writer checks whether the file has free pages to give back.
const VACUUM_INTERVAL: Duration = Duration::from_secs(1);
/// How often the writer releases a step of free pages while a release is under way.
const RELEASE_INTERVAL: Duration = Duration::from_millis(250);
/// Events a transaction gathers at most while the syncer is busy; then it commits and waits its turn.
const GATHER_LIMIT: usize = 16_384;

/// Events that must be waiting before an append wakes a writer that gathers a transaction during an fsync (the
/// syncer wakes it anyway when the fsync ends). Waking it for every request cost a context switch each, on the
/// core the request handlers need: on one pinned core, 64 made durable send-batch and drain 6–7% faster than 1.
const GATHER_WAKE: usize = 64;

/// Events the writer took from [`Pending`].
struct Taken {
    events: Vec<StorageEvent>,
    /// The number (counted from the first ever appended) of the event after the last one taken.
    end: u64,
    /// The storage is closing and nothing is left to take.
    closing: bool,
}

/// Waits, while the syncer still has an earlier transaction to make durable, for more events to take, and
/// takes them, with `true` when the syncer is free by now (this is the last take of the transaction); `None`
/// once the syncer is free (or failed) and nothing is left to take, or the storage is closing with nothing left.
fn next_while_syncing(inner: &Inner, sync: &SyncShared) -> Option<(Taken, bool)> {
    let mut pending = inner.lock_pending();
    loop {
        // (The syncer takes this lock after it moves `synced` or sets `failed`, before it wakes us.)
        let (failed, busy) = {
            let state = sync.lock();
            (state.failed, state.synced < state.written)
        };
        if failed || (pending.closing && pending.events.is_empty()) {
            return None;
        }
        if pending.takeable() > 0 {
            return Some((pending.take(), !busy));
        }
        if !busy {
            return None;
        }
        pending = inner.writer_wait(pending, GATHER_WAKE, None);
    }
}

impl Writer<'_> {
    /// How long after the last check for free pages the next one is due; `None` when none is owed.
    fn vacuum_interval(&self) -> Option<Duration> {
        if self.releasing {
            Some(RELEASE_INTERVAL)
        } else if self.vacuum_owed {
            Some(VACUUM_INTERVAL)
        } else {
            None
        }
    }

    /// Prunes closed deduplication windows of every queue and gives free pages back (see [`release_free_pages`];
    /// all of them when `closing`); a failure only costs disk space, so it is logged.
    fn vacuum(&mut self, closing: bool) {
        self.last_vacuum = Instant::now();
        self.vacuum_owed = false;
        if let Some(database) = &mut self.connection {
            // Closed deduplication windows of queues that opened none since: their pages are free to release.
            match database.prune_every_queue() {
                Ok(0) => {}
                Ok(windows) => tracing::debug!(windows, "pruned closed deduplication windows"),
                Err(error) => tracing::warn!(%error, "could not prune closed deduplication windows"),
            }
            match release_free_pages(&database.connection, &mut self.releasing, closing) {
                Ok(0) => {}
                Ok(pages) => tracing::debug!(pages, "released free pages of the data file"),
                Err(error) => tracing::warn!(%error, "could not release free pages of the data file"),
            }
        }
    }

    /// Checkpoints what the checkpointer has not copied yet, between two transactions, so the next one starts
    /// the log over (see `checkpoint.rs`); a failure only leaves the log longer, so it is logged.
    fn checkpoint_tail(&self) {
        if let Some(database) = &self.connection {
            match checkpoint_passive(&database.connection) {
                Ok(outcome) if outcome.complete() => {}
                Ok(_) => self.inner.checkpoint.restart_again(),
                Err(error) => tracing::warn!(%error, "checkpoint of the write-ahead log failed; retried later"),
            }
        }
    }

    /// Without a checkpointer thread: SQLite's automatic checkpoints in the writer, as SQLite does by default (the
    /// pragma is set on whatever connection the writer has now; it is cheap to set again).
    fn checkpoint_automatically(&self) {
        if let Some(database) = &self.connection {
            if let Err(error) = database.connection.execute_batch("PRAGMA wal_autocheckpoint = 1000;") {
                tracing::warn!(%error, "could not turn automatic checkpoints on");
            }
        }
    }

    fn run(mut self) {
        loop {
            // One transaction ahead of the fsync at most: wait until the syncer has taken what was written last
            // (its fsync covers it), so the next batch gathers what arrives meanwhile instead of writing the
            // log's tail page again for every request.
            {
                let state = self.sync.wait_until(|state| state.failed || state.taken >= state.written);
                let synced = state.synced;
                drop(state);
                while self.unsynced.front().is_some_and(|(end, _)| *end <= synced) {
                    self.unsynced.pop_front();
                }
            }
            let Taken { mut events, mut end, mut closing } = self.take_first();
            let rewrite = self.sync.lock().failed;
            if rewrite {
                // An fsync failed: what it should have covered is written again, after what is on disk, in
                // order, on a fresh connection (events are idempotent).
                self.connection = None;
                #[cfg(test)]
                self.sync.rewrites.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            // The usual case: an open transaction that gathers events while the syncer's fsync runs.
            let gathered = !rewrite && !events.is_empty() && self.gather(&mut events, &mut end, &mut closing);
            let unsynced = std::mem::take(&mut self.unsynced);
            if !gathered {
                let mut parts: Vec<&[StorageEvent]> =
                    if rewrite { unsynced.iter().map(|(_, events)| events.as_slice()).collect() } else { Vec::new() };
                parts.push(&events);
                let written = parts.iter().any(|part| !part.is_empty());
                if written && !self.commit(&parts) {
                    // Closing and still failing: what was not written is lost with the process, and the
                    // requests waiting for it are told so.
                    tracing::error!(
                        events = events.len(),
                        "storage is still failing at shutdown; changes that were never acknowledged are lost"
                    );
                    self.stop_syncer();
                    return;
                }
            }
            self.unsynced = unsynced;
            if !events.is_empty() {
                self.vacuum_owed = true;
                self.unsynced.push_back((end, events));
            }
            {
                let mut state = self.sync.lock();
                state.written = end;
                // Only a rewrite of everything not known to be on disk answers a failed fsync. An fsync that
                // failed while this batch was being written (gathering waits through fsyncs) is still pending:
                // the next round rewrites, this batch included.
                if rewrite {
                    state.failed = false;
                }
            }
            self.sync.wake.notify_all();
            if self.inner.checkpoint.take_restart() {
                self.checkpoint_tail();
            }
            if self.inner.checkpoint.gone() {
                self.checkpoint_automatically();
            }
            if closing || self.vacuum_interval().is_some_and(|interval| self.last_vacuum.elapsed() >= interval) {
                self.vacuum(closing);
            }
            if closing {
                self.stop_syncer();
                return;
            }
        }
    }

    /// Waits until there are events to take (or the storage closes, or an fsync failed), and takes them; returns
    /// with nothing taken when a check for free pages is due (see [`Writer::vacuum_interval`]).
    fn take_first(&self) -> Taken {
        let mut pending = self.inner.lock_pending();
        loop {
            // (The syncer sets `failed` before it takes this lock to wake us: no lost wake-up.)
            if pending.takeable() > 0 || (pending.closing && pending.events.is_empty()) || self.sync.lock().failed {
                return pending.take();
            }
            let Some(interval) = self.vacuum_interval() else {
                pending = self.inner.writer_wait(pending, 1, None);
                continue;
            };
            let due = interval.saturating_sub(self.last_vacuum.elapsed());
            if due.is_zero() {
                return pending.take();
            }
            pending = self.inner.writer_wait(pending, 1, Some(due));
        }
    }

    /// Writes `events` into a new transaction and, while the syncer is still busy with earlier transactions,
    /// adds whatever is appended meanwhile (extending `events`, `end` and `closing`): in steps of at least
    /// [`GATHER_WAKE`] events during the fsync, and what is left once it ends; then commits, so most of the
    /// writing overlaps the fsync before it and the next fsync covers everything that arrived during that one.
    /// `false` when a write or the commit failed: the transaction is rolled back and the caller commits `events`
    /// again, with retries.
    fn gather(&mut self, events: &mut Vec<StorageEvent>, end: &mut u64, closing: &mut bool) -> bool {
        let (inner, sync) = (self.inner, self.sync);
        let Some(database) = self.connection.as_mut() else { return false };
        let result = (|| {
            let mut transaction = database.begin()?;
            transaction.write(&events.iter().collect::<Vec<_>>())?;
            while !*closing && events.len() < GATHER_LIMIT {
                let Some((more, last)) = next_while_syncing(inner, sync) else { break };
                transaction.write(&more.events.iter().collect::<Vec<_>>())?;
                events.extend(more.events);
                *end = more.end;
                *closing = more.closing;
                if last {
                    break;
                }
            }
            transaction.commit()
        })();
        match result {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(%error, "a gathered transaction failed; it is committed again with retries");
                self.connection = None;
                false
            }
        }
    }

    /// Tells the syncer to sync what is written and stop.
    fn stop_syncer(&self) {
        self.sync.lock().stop = true;
        self.sync.wake.notify_all();
    }

    /// Commits the events of `parts`, in order, in one transaction, retrying with backoff until it works;
    /// `false` when it still fails once the storage is closing. (The syncer reports recovery: a commit is not
    /// on disk before its fsync.)
    fn commit(&mut self, parts: &[&[StorageEvent]]) -> bool {
        let mut wait = RETRY_FIRST;
        let events = || parts.iter().flat_map(|part| part.iter());
        loop {
            #[cfg(test)]
            self.sync.commit_attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let result = match self.connection.as_mut() {
                Some(database) => database.write_batch(events()).map_err(|error| error.to_string()),
                None => open_connection(&self.path).map_err(|error| error.to_string()).and_then(|connection| {
                    let database = self.connection.insert(Database::new(connection));
                    database.write_batch(events()).map_err(|error| error.to_string())
                }),
            };
            match result {
                Ok(()) => return true,
                Err(error) => {
                    let first = self.inner.progress.borrow().failure.is_none();
                    if first {
                        tracing::error!(
                            %error,
                            "storage commit failed: durable writes are refused (503) until a retry succeeds"
                        );
                    } else {
                        tracing::debug!(%error, "storage commit retry failed");
                    }
                    self.inner.progress.send_modify(|progress| progress.failure = Some(error));
                    // The transaction was rolled back; a fresh connection for the retry starts from what the
                    // file holds, whatever state the failure left this one in. Every event is idempotent
                    // (inserts replace, updates set, deletes delete), so writing the batch again is safe.
                    self.connection = None;
                    let closing = {
                        let pending = self.inner.lock_pending();
                        // Only closing cuts the wait short; appends do not (they would turn the backoff into
                        // a retry per request).
                        if pending.closing {
                            true
                        } else {
                            self.inner.writer_wait(pending, usize::MAX, Some(wait)).closing
                        }
                    };
                    if closing {
                        return self.last_attempt(parts);
                    }
                    wait = (wait * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// One more attempt at shutdown, on a fresh connection that stays the writer's (the syncer still has to
    /// fsync its log).
    fn last_attempt(&mut self, parts: &[&[StorageEvent]]) -> bool {
        let events = parts.iter().flat_map(|part| part.iter());
        let result = open_connection(&self.path).map_err(|error| error.to_string()).and_then(|connection| {
            let database = self.connection.insert(Database::new(connection));
            database.write_batch(events).map_err(|error| error.to_string())
        });
        result.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{
        Md5Digest, MessageAttributes, MessageBody, MessageExtra, MessageState, QueueEvent, StoredMessage, Timestamp,
    };
    use rusqlite::Connection;

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

    /// Bytes of the data file and its write-ahead log.
    fn on_disk(dir: &Path) -> u64 {
        ["sqskit.db", "sqskit.db-wal"]
            .iter()
            .map(|name| std::fs::metadata(dir.join(name)).map_or(0, |meta| meta.len()))
            .sum()
    }

    /// Under steady load the checkpointer trails the writer and never copies the whole log by itself; the
    /// writer's help (`checkpoint.rs`) lets the log start over, so it stays near its size limit instead of
    /// growing with everything written (without it: the whole 64 MB written here, and hundreds of MB in
    /// `storage_bench`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_starts_over_under_steady_load() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (storage, _) = SqliteStorage::open(dir.path()).expect("open");
        let storage = Arc::new(storage);
        storage.append(vec![created(1)]);
        storage.durable().await.expect("created");
        // 16 closed-loop senders of ten 4 KB messages each: 16,000 messages, about 64 MB of log writes.
        let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let senders: Vec<_> = (0..16)
            .map(|_| {
                let (storage, next) = (Arc::clone(&storage), Arc::clone(&next));
                tokio::spawn(async move {
                    loop {
                        let first = next.fetch_add(10, std::sync::atomic::Ordering::Relaxed);
                        if first >= 16_000 {
                            return;
                        }
                        storage.append(
                            (first..first + 10).map(|sequence| stored(1, sequence, "m".repeat(4_000))).collect(),
                        );
                        storage.durable().await.expect("stored");
                    }
                })
            })
            .collect();
        for sender in senders {
            sender.await.expect("sender");
        }
        let log = std::fs::metadata(dir.path().join("sqskit.db-wal")).map_or(0, |meta| meta.len());
        assert!(log < 40_000_000, "the log holds {log} bytes after 64 MB were written");
    }

    #[tokio::test]
    async fn the_file_gives_space_back_after_a_large_drain() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (storage, _) = SqliteStorage::open(dir.path()).expect("open");
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

        let (storage, snapshot) = SqliteStorage::open(dir.path()).expect("reopen");
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
        // The release goes on in steps while the storage is idle, without waiting for more writes or the close.
        let reader = Connection::open(dir.path().join(FILE_NAME)).expect("reader");
        let pages = || reader.query_row("PRAGMA page_count", [], |row| row.get::<_, i64>(0)).expect("page count");
        let full_pages = i64::try_from(full / 4096).expect("pages");
        let deadline = Instant::now() + Duration::from_secs(20);
        while pages() * 10 >= full_pages {
            assert!(Instant::now() < deadline, "{} of {full_pages} pages left 20 s after the drain", pages());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(reader);
        storage.close();
        let drained = on_disk(dir.path());
        assert!(drained * 10 < full, "after the drain the file keeps {drained} of {full} bytes");
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

    /// An fsync that fails while the writer gathers the next transaction (it gathers while fsyncs run) must
    /// still be answered by a rewrite of everything not known to be on disk: after a failed fsync Linux may
    /// have dropped the dirty pages, and the gathered commit must not clear the failure.
    #[tokio::test]
    async fn an_fsync_failing_while_the_writer_gathers_is_answered_by_a_rewrite() {
        let (dir, storage) = storage_with_queue_1().await;
        storage.sync.fail_next.store(1, std::sync::atomic::Ordering::SeqCst);
        storage.append(vec![stored(1, 1, "its fsync fails".to_owned())]);
        // Appended while that fsync runs (and fails after its backoff): gathered into the next transaction.
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
        // Every commit that stores a message fails while the table is away.
        let other = Connection::open(dir.path().join(FILE_NAME)).expect("second connection");
        other.execute_batch("ALTER TABLE messages RENAME TO messages_away;").expect("move the table away");
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
        other.execute_batch("ALTER TABLE messages_away RENAME TO messages;").expect("bring the table back");
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
        assert_eq!(rows, 4, "the deleted queue's row was left behind");
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
        let rows = || {
            let connection = Connection::open(dir.path().join(FILE_NAME)).expect("open the file");
            connection.query_row("SELECT count(*) FROM messages", [], |row| row.get::<_, i64>(0)).expect("count")
        };
        assert_eq!(rows(), 1, "nothing was written for the deleted queue");
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
        assert_eq!(rows(), 2);
        let (storage, snapshot) = SqliteStorage::open(dir.path()).expect("reopen");
        assert_eq!(snapshot.queues.len(), 1);
        assert_eq!(snapshot.queues[0].messages.len(), 1);
        storage.close();
        assert_eq!(rows(), 1, "the orphan row is gone from the file");
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
            let slot: i64 =
                reader.query_row("SELECT slot FROM queues WHERE uid = ?1", [uid], |row| row.get(0)).expect("slot");
            let mut statement =
                reader.prepare("SELECT key & 1099511627775 FROM deduplications WHERE key >> 40 = ?1").expect("query");
            statement.query_map([slot], |row| row.get::<_, u64>(0)).expect("rows").map(Result::unwrap).collect()
        };
        assert_eq!((windows(1), windows(2)), (vec![1, 2, 3], vec![1, 2, 3]));

        // Queue 1 opens a window when those ending at t + 1 and t + 2 have closed.
        storage.append(vec![window(1, 4, t + 2 + WINDOW)]);
        storage.durable().await.expect("written");
        assert_eq!(windows(1), vec![3, 4], "queue 1 is pruned with the commit");

        let deadline = Instant::now() + Duration::from_secs(10);
        while windows(2) != vec![3] {
            assert!(Instant::now() < deadline, "queue 2 still holds windows {:?}", windows(2));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        storage.close();
    }

    fn created(uid: u64) -> StorageEvent {
        StorageEvent::QueueCreated {
            uid,
            name: format!("q{uid}"),
            attributes: Vec::new(),
            tags: Vec::new(),
            created_at: Timestamp::from_millis(1),
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
