//! The applier thread: applies the events of the message log that SQLite holds (queues, metadata, move tasks,
//! deduplication windows: everything but messages) to the file, in large transactions, each recording the number
//! of the last event it applied (`log_state.applied_through`; see `docs/message-log.md`).
//!
//! Nothing waits for it on a request's path: the log made the events durable already. What it publishes, the
//! durable `applied_through`, only tells the log which segments it may recycle. So it gathers commits for a
//! while before it writes them (a few transactions a second under load, not one per group commit), and a failed
//! transaction is retried with backoff, without dropping or reordering anything.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::schema::{open_connection, release_free_pages};
use super::write::Database;
use super::{RETRY_FIRST, RETRY_MAX};
use crate::engine::StorageEvent;

/// How long the applier gathers more commits after the first one it is woken for.
const GATHER_TIME: Duration = Duration::from_millis(50);
/// Queued events that end the gathering early: the transaction is written at once.
const GATHER_EVENTS: usize = 4_096;
/// How often the applier checks for closed deduplication windows and free pages to give back, after writing.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);
/// How often it releases a step of free pages while a release is under way.
const RELEASE_INTERVAL: Duration = Duration::from_millis(250);

/// One durable commit of the log, as far as SQLite is concerned.
#[derive(Debug, Clone, Default)]
pub(super) struct Applicable {
    /// Its events that SQLite holds (everything but message stores, updates and removals), in log order.
    pub(super) events: Vec<StorageEvent>,
    /// The highest message sequence the commit stored, per queue uid.
    pub(super) highest_sequences: Vec<(u64, u64)>,
    /// The log number of the commit's last event.
    pub(super) through: u64,
}

/// What the applier waits for while it waits (see [`ApplyShared::push`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// It does not wait (it writes), or waits only for [`ApplyShared::stop`].
    #[default]
    No,
    /// It waits for anything to apply.
    ForWork,
    /// It gathers: it waits for [`GATHER_EVENTS`] queued events.
    ForEvents,
}

/// What the writer has handed over and the applier has not taken yet.
#[derive(Debug, Default)]
struct Queued {
    /// Commits in log order.
    applicables: VecDeque<Applicable>,
    /// Their events.
    events: usize,
    /// Set by [`ApplyShared::stop`]: apply what is queued and return.
    stop: bool,
    /// Set when [`run`] has returned: `applied_through` moves no more.
    finished: bool,
    /// What the applier waits for.
    waiting: Waiting,
}

/// Shared between the writer (which hands over durable commits), the applier thread ([`run`]) and whoever needs
/// to know how far SQLite is durable (the log's recycling).
#[derive(Debug)]
pub(super) struct ApplyShared {
    queued: Mutex<Queued>,
    /// The applier waits on it with `queued` locked.
    work: Condvar,
    /// Waiters for `applied_through` ([`ApplyShared::wait_applied`], tests) wait on it with `queued` locked.
    #[cfg(test)]
    applied: Condvar,
    /// The number of the last log event SQLite holds durably; changed with `queued` locked.
    applied_through: AtomicU64,
    /// The number of the last log event handed over ([`ApplyShared::push`]), applied or not.
    handed_through: AtomicU64,
    /// Why the last transaction failed, while the applier retries (cleared when one commits).
    failing: Mutex<Option<String>>,
    /// Transactions attempted (tests).
    #[cfg(test)]
    attempts: std::sync::atomic::AtomicUsize,
    /// Transactions committed (tests).
    #[cfg(test)]
    transactions: std::sync::atomic::AtomicUsize,
}

impl ApplyShared {
    /// Shared state for a file that holds the log's events up to `applied_through` (as
    /// `schema::read_applied_through` reads it).
    pub(super) fn new(applied_through: u64) -> Self {
        Self {
            queued: Mutex::new(Queued::default()),
            work: Condvar::new(),
            #[cfg(test)]
            applied: Condvar::new(),
            applied_through: AtomicU64::new(applied_through),
            handed_through: AtomicU64::new(applied_through),
            failing: Mutex::new(None),
            #[cfg(test)]
            attempts: std::sync::atomic::AtomicUsize::new(0),
            #[cfg(test)]
            transactions: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Locks `queued` (a panicked thread leaves it consistent, so poisoning is ignored).
    fn lock(&self) -> MutexGuard<'_, Queued> {
        self.queued.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands over a commit that is durable in the log; commits must come in log order. Wakes the applier only
    /// when it waits for it (idle, or gathering and now [`GATHER_EVENTS`] are queued): one wake-up per
    /// transaction, not per commit. Ignored once the applier has stopped (the log replays it at the next start).
    pub(super) fn push(&self, applicable: Applicable) {
        let mut queued = self.lock();
        if queued.finished {
            return;
        }
        queued.events += applicable.events.len();
        self.handed_through.fetch_max(applicable.through, Ordering::Relaxed);
        queued.applicables.push_back(applicable);
        let wake = match queued.waiting {
            Waiting::No => false,
            Waiting::ForWork => true,
            Waiting::ForEvents => queued.events >= GATHER_EVENTS,
        };
        drop(queued);
        if wake {
            self.work.notify_one();
        }
    }

    /// Asks the applier to apply what is queued (one last attempt) and return.
    pub(super) fn stop(&self) {
        self.lock().stop = true;
        self.work.notify_all();
    }

    /// The number of the last log event SQLite holds durably (lock-free): the `applied_through` of the last
    /// transaction the applier committed (or the one given to [`ApplyShared::new`]).
    pub(super) fn durable_through(&self) -> u64 {
        self.applied_through.load(Ordering::Acquire)
    }

    /// How many log events are on disk in the log and not yet durable in SQLite (message events count too: the
    /// log numbers every event). Small under load (what the applier gathers for one transaction); it grows while
    /// SQLite cannot be updated, and the log cannot recycle a segment until SQLite holds its events.
    pub(super) fn backlog(&self) -> u64 {
        self.handed_through.load(Ordering::Relaxed).saturating_sub(self.durable_through())
    }

    #[cfg(test)]
    /// Waits at most `timeout` until SQLite holds the log's events up to `through` durably; `false` on timeout,
    /// or once the applier has returned short of it.
    pub(super) fn wait_applied(&self, through: u64, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut queued = self.lock();
        loop {
            if self.durable_through() >= through {
                return true;
            }
            if queued.finished {
                return false;
            }
            queued = match deadline {
                None => self.applied.wait(queued).unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.applied.wait_timeout(queued, left).unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
    }

    /// The applier waits, at most until `deadline`, on [`ApplyShared::work`] for `waiting`.
    fn wait<'a>(
        &self,
        mut queued: MutexGuard<'a, Queued>,
        waiting: Waiting,
        deadline: Option<Instant>,
    ) -> MutexGuard<'a, Queued> {
        queued.waiting = waiting;
        let mut queued = match deadline {
            None => self.work.wait(queued).unwrap_or_else(PoisonError::into_inner),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                self.work.wait_timeout(queued, left).unwrap_or_else(PoisonError::into_inner).0
            }
        };
        queued.waiting = Waiting::No;
        queued
    }

    /// Appends what is queued to `batch`, and returns whether the applier is to stop. With an empty `batch`, it
    /// first waits for work (until `idle_until` at most: then it returns with nothing taken), then gathers for
    /// [`GATHER_TIME`] while fewer than [`GATHER_EVENTS`] are queued; with a batch still to retry it takes what is
    /// there without waiting.
    fn take(&self, batch: &mut Vec<Applicable>, idle_until: Option<Instant>) -> bool {
        let mut queued = self.lock();
        if batch.is_empty() {
            while queued.applicables.is_empty() && !queued.stop {
                if idle_until.is_some_and(|until| Instant::now() >= until) {
                    return false;
                }
                queued = self.wait(queued, Waiting::ForWork, idle_until);
            }
            let deadline = Instant::now() + GATHER_TIME;
            while !queued.stop && queued.events < GATHER_EVENTS && Instant::now() < deadline {
                queued = self.wait(queued, Waiting::ForEvents, Some(deadline));
            }
        }
        batch.extend(queued.applicables.drain(..));
        queued.events = 0;
        queued.stop
    }

    /// Waits `wait` before a retry, cut short only by [`ApplyShared::stop`]; returns whether it was.
    fn back_off(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut queued = self.lock();
        while !queued.stop && Instant::now() < deadline {
            queued = self.wait(queued, Waiting::No, Some(deadline));
        }
        queued.stop
    }

    /// SQLite holds the log's events up to `through` durably: publishes it (and tells the tests' waiters).
    fn publish(&self, through: u64) {
        let queued = self.lock();
        self.applied_through.store(through, Ordering::Release);
        drop(queued);
        #[cfg(test)]
        self.applied.notify_all();
    }

    /// Why SQLite cannot be brought up to the log now, while the applier retries a failed transaction (`None`
    /// while its transactions commit). Nothing acknowledged is at risk meanwhile (the log holds it), but the log
    /// cannot recycle segments whose events SQLite lacks, so it grows until appends fail.
    pub(super) fn failing(&self) -> Option<String> {
        self.failing.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Records the outcome of a transaction for [`ApplyShared::failing`].
    fn set_failing(&self, failing: Option<String>) {
        *self.failing.lock().unwrap_or_else(PoisonError::into_inner) = failing;
    }

    /// The applier has returned.
    fn finish(&self) {
        self.lock().finished = true;
        #[cfg(test)]
        self.applied.notify_all();
    }
}

/// The applier thread: waits for commits handed over through `shared`, writes everything queued in one
/// transaction on `database` (the file at `path`), and publishes the `applied_through` it committed. A failed
/// transaction is logged and retried with backoff ([`RETRY_FIRST`] to [`RETRY_MAX`]) on a fresh connection,
/// with the commits queued meanwhile after it: nothing is dropped or applied out of order. On
/// [`ApplyShared::stop`] it applies what is queued (one last attempt) and returns; what a failing last attempt
/// leaves unapplied the log still holds, and start-up applies it.
pub(super) fn run(shared: &ApplyShared, path: &Path, database: Database) {
    let _report_panic = ReportPanic(shared);
    let mut database = match make_durable(&database) {
        Ok(()) => Some(database),
        Err(error) => {
            tracing::warn!(%error, "could not set up the applier's connection; it is opened again");
            None
        }
    };
    let mut batch: Vec<Applicable> = Vec::new();
    let mut wait = RETRY_FIRST;
    let mut failures = 0_u32;
    let mut upkeep = Upkeep { last: Instant::now(), owed: false, releasing: false };
    loop {
        if upkeep.due().is_some_and(|due| Instant::now() >= due) {
            if let Some(database) = &mut database {
                upkeep.run(database, false);
            }
        }
        let idle_until = if batch.is_empty() { upkeep.due() } else { None };
        let stopping = shared.take(&mut batch, idle_until);
        let Some(through) = batch.last().map(|applicable| applicable.through) else {
            if stopping {
                break;
            }
            continue;
        };
        #[cfg(test)]
        shared.attempts.fetch_add(1, Ordering::SeqCst);
        match apply(&mut database, path, &batch) {
            Ok(()) => {
                #[cfg(test)]
                shared.transactions.fetch_add(1, Ordering::SeqCst);
                if failures > 0 {
                    shared.set_failing(None);
                    tracing::info!(failures, through, "the message log is applied to SQLite again");
                }
                shared.publish(through);
                batch.clear();
                wait = RETRY_FIRST;
                failures = 0;
                upkeep.owed = true;
            }
            Err(error) => {
                // The transaction was rolled back; the retry starts from what the file holds, on a fresh
                // connection, whatever state the failure left this one in.
                database = None;
                failures += 1;
                let events: usize = batch.iter().map(|applicable| applicable.events.len()).sum();
                if stopping {
                    tracing::warn!(
                        %error,
                        events,
                        through,
                        "applying the message log to SQLite failed at shutdown; the next start applies it"
                    );
                    break;
                }
                shared.set_failing(Some(format!("the data file cannot be updated: {error}")));
                if failures == 1 {
                    tracing::warn!(
                        %error,
                        events,
                        through,
                        "applying the message log to SQLite failed; retrying. The log keeps every change meanwhile \
                         (nothing acknowledged is lost) but cannot recycle its segments until this succeeds"
                    );
                } else {
                    tracing::debug!(%error, failures, "applying the message log to SQLite failed again");
                }
                // Stopping cuts the wait short: the next round is the last attempt.
                shared.back_off(wait);
                wait = (wait * 2).min(RETRY_MAX);
            }
        }
    }
    if let Some(database) = &mut database {
        upkeep.run(database, true);
    }
    shared.finish();
}

/// Reports the storage degraded if the applier thread unwinds from a panic: SQLite is no longer brought up to
/// the log, so the log stops recycling (start-up applies what it holds).
struct ReportPanic<'a>(&'a ApplyShared);

impl Drop for ReportPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.set_failing(Some(
                "the applier thread stopped after a panic: the data file is no longer updated; restart the emulator"
                    .to_owned(),
            ));
        }
    }
}

/// The applier's upkeep of the file: closed deduplication windows of every queue are deleted (each commit
/// prunes only the queues that opened new ones), and free pages are given back in steps (see
/// [`release_free_pages`]; all at once when closing). A failure only costs disk space, so it is logged.
struct Upkeep {
    last: Instant,
    /// Something was written since the last check.
    owed: bool,
    /// A release of free pages is under way.
    releasing: bool,
}

impl Upkeep {
    /// When the next check is due; `None` when none is owed.
    fn due(&self) -> Option<Instant> {
        if self.releasing {
            Some(self.last + RELEASE_INTERVAL)
        } else if self.owed {
            Some(self.last + UPKEEP_INTERVAL)
        } else {
            None
        }
    }

    fn run(&mut self, database: &mut Database, closing: bool) {
        self.last = Instant::now();
        self.owed = false;
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

/// Sets up an applier's connection: `synchronous = FULL`, so that a committed transaction is on disk when the
/// commit returns (nothing else fsyncs SQLite's log for it), and automatic checkpoints, so that its
/// write-ahead log does not grow without end (nothing waits for the applier, so it can checkpoint itself).
fn make_durable(database: &Database) -> rusqlite::Result<()> {
    database.connection.execute_batch("PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 1000;")
}

/// Writes `batch` in one transaction on `database`, opening a fresh connection to `path` first when there is
/// none; the error as text.
fn apply(database: &mut Option<Database>, path: &Path, batch: &[Applicable]) -> Result<(), String> {
    let database = match database {
        Some(database) => database,
        None => {
            let connection = open_connection(path).map_err(|error| error.to_string())?;
            let opened = Database::new(connection);
            make_durable(&opened).map_err(|error| error.to_string())?;
            database.insert(opened)
        }
    };
    write(database, batch).map_err(|error| error.to_string())
}

/// Writes the events of `batch` in order, raises the sequences its commits stored, and records its last
/// commit's `through`, in one transaction.
fn write(database: &mut Database, batch: &[Applicable]) -> rusqlite::Result<()> {
    let mut transaction = database.begin()?;
    for applicable in batch {
        transaction.write(&applicable.events.iter().collect::<Vec<_>>())?;
        for &(uid, sequence) in &applicable.highest_sequences {
            transaction.raise_sequence(uid, sequence);
        }
    }
    if let Some(last) = batch.last() {
        transaction.set_applied_through(last.through);
    }
    transaction.commit()
}

#[cfg(test)]
mod tests {
    use crate::storage::test_events::created;
    use std::path::PathBuf;
    use std::sync::atomic::Ordering;

    use rusqlite::Connection;

    use super::super::load::load;
    use super::super::schema::read_applied_through;
    use super::*;
    use crate::engine::{MoveTaskInfo, MoveTaskStatus, QueueEvent, Snapshot, Timestamp};

    const WAIT: Duration = Duration::from_secs(20);

    /// A new data file in `dir`, and the applier's database on it.
    fn new_file(dir: &Path) -> (PathBuf, Database) {
        let path = dir.join("sqskit.db");
        let connection = open_connection(&path).expect("create the file");
        (path.clone(), Database::new(connection))
    }

    /// Runs an applier on a new file in a fresh directory while `body` runs, then stops it (unless `body` did)
    /// and waits for it; returns the directory and what `body` returned.
    fn with_applier<R>(body: impl FnOnce(&ApplyShared, &Path) -> R) -> (tempfile::TempDir, R) {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, database) = new_file(dir.path());
        let shared = ApplyShared::new(0);
        let result = std::thread::scope(|scope| {
            let applier = scope.spawn(|| run(&shared, &path, database));
            let result = body(&shared, &path);
            shared.stop();
            applier.join().expect("the applier panicked");
            result
        });
        (dir, result)
    }

    /// What the file holds: its snapshot and `applied_through`.
    fn contents(dir: &Path) -> (Snapshot, u64) {
        let connection = Connection::open(dir.join("sqskit.db")).expect("open the file");
        (load(&connection).expect("load"), read_applied_through(&connection).expect("applied_through"))
    }

    fn metadata(uid: u64, version: u64) -> StorageEvent {
        StorageEvent::Queue {
            uid,
            event: QueueEvent::MetadataChanged {
                attributes: vec![("VisibilityTimeout".to_owned(), version.to_string())],
                tags: vec![("version".to_owned(), version.to_string())],
                last_modified_at: Timestamp::from_millis(version),
                last_purge_at: None,
            },
        }
    }

    fn window(uid: u64, sequence: u64) -> StorageEvent {
        StorageEvent::Queue {
            uid,
            event: QueueEvent::DeduplicationRecorded {
                scope_group: Some("g".to_owned()),
                deduplication_id: format!("dedup-{sequence}"),
                message_id: format!("id-{sequence}"),
                sequence,
                expires_at: Timestamp::from_millis(900_000_000_000_000),
            },
        }
    }

    fn move_task(handle: &str, moved: u64) -> StorageEvent {
        StorageEvent::MoveTaskChanged {
            handle: handle.to_owned(),
            info: MoveTaskInfo {
                task_handle: Some(handle.to_owned()),
                status: MoveTaskStatus::Running,
                source_arn: "arn:aws:sqs:us-east-1:000000000000:q1".to_owned(),
                destination_arn: None,
                max_number_of_messages_per_second: Some(10),
                approximate_number_of_messages_moved: moved,
                approximate_number_of_messages_to_move: 100,
                failure_reason: None,
                started_timestamp: Timestamp::from_millis(5),
            },
        }
    }

    fn applicable(events: Vec<StorageEvent>, highest_sequences: Vec<(u64, u64)>, through: u64) -> Applicable {
        Applicable { events, highest_sequences, through }
    }

    /// The version a queue's metadata (as [`metadata`] writes it) is at.
    fn version(snapshot: &Snapshot, uid: u64) -> Option<String> {
        let queue = snapshot.queues.iter().find(|queue| queue.uid == uid)?;
        queue.tags.iter().find(|(name, _)| name == "version").map(|(_, value)| value.clone())
    }

    #[test]
    fn applied_events_end_up_in_sqlite_with_applied_through() {
        let (dir, ()) = with_applier(|shared, _| {
            shared.push(applicable(vec![created(1), created(2)], Vec::new(), 2));
            shared.push(applicable(vec![metadata(1, 7), window(1, 3)], vec![(1, 3)], 6));
            shared.push(applicable(vec![move_task("task-1", 40)], vec![(2, 9)], 9));
            assert!(shared.wait_applied(9, WAIT), "applied_through {}", shared.durable_through());
            assert_eq!(shared.durable_through(), 9);
        });
        let (snapshot, applied_through) = contents(dir.path());
        assert_eq!(applied_through, 9);
        let uids: Vec<u64> = snapshot.queues.iter().map(|queue| queue.uid).collect();
        assert_eq!(uids, [1, 2]);
        let one = &snapshot.queues[0];
        assert_eq!(one.attributes, [("VisibilityTimeout".to_owned(), "7".to_owned())]);
        assert_eq!(one.last_modified_at, Timestamp::from_millis(7));
        assert_eq!(one.next_sequence, 4);
        let windows: Vec<(u64, &str)> =
            one.deduplications.iter().map(|window| (window.sequence, window.deduplication_id.as_str())).collect();
        assert_eq!(windows, [(3, "dedup-3")]);
        assert_eq!(snapshot.queues[1].next_sequence, 10);
        let tasks: Vec<(&str, u64)> = snapshot
            .move_tasks
            .iter()
            .map(|(handle, info)| (handle.as_str(), info.approximate_number_of_messages_moved))
            .collect();
        assert_eq!(tasks, [("task-1", 40)]);
    }

    /// A stored sequence raises `next_sequence` past it, never lowers it, survives a queue created in the same
    /// transaction (as a stored message does), and does nothing for a queue the file does not hold.
    #[test]
    fn raise_sequence_raises_next_sequence() {
        let (dir, ()) = with_applier(|shared, _| {
            shared.push(applicable(vec![created(1)], vec![(1, 41), (5, 8)], 3));
            assert!(shared.wait_applied(3, WAIT));
            shared.push(applicable(Vec::new(), vec![(1, 12)], 4));
            shared.push(applicable(Vec::new(), vec![(1, 20)], 5));
            assert!(shared.wait_applied(5, WAIT));
        });
        let (snapshot, applied_through) = contents(dir.path());
        assert_eq!(applied_through, 5);
        assert_eq!(snapshot.queues.len(), 1, "nothing written for queue 5");
        assert_eq!(snapshot.queues[0].next_sequence, 42);
    }

    #[test]
    fn many_small_applicables_are_applied_in_few_transactions() {
        let (dir, transactions) = with_applier(|shared, _| {
            shared.push(applicable(vec![created(1)], Vec::new(), 1));
            for through in 2..=1_000 {
                shared.push(applicable(vec![metadata(1, through)], vec![(1, through)], through));
            }
            assert!(shared.wait_applied(1_000, WAIT));
            shared.transactions.load(Ordering::SeqCst)
        });
        assert!(transactions <= 3, "{transactions} transactions for 1,000 commits");
        let (snapshot, applied_through) = contents(dir.path());
        assert_eq!(applied_through, 1_000);
        assert_eq!(version(&snapshot, 1).as_deref(), Some("1000"));
        assert_eq!(snapshot.queues[0].next_sequence, 1_001);
    }

    /// Queued events beyond [`GATHER_EVENTS`] end the gathering: a backlog is written at once, not after
    /// [`GATHER_TIME`] (whose waits would add up under load).
    #[test]
    fn a_backlog_is_written_without_waiting_to_gather() {
        let (_dir, elapsed) = with_applier(|shared, _| {
            shared.push(applicable(vec![created(1)], Vec::new(), 1));
            assert!(shared.wait_applied(1, WAIT));
            let started = Instant::now();
            let events = (0..GATHER_EVENTS as u64).map(|version| metadata(1, version)).collect();
            shared.push(applicable(events, Vec::new(), 2));
            assert!(shared.wait_applied(2, WAIT));
            started.elapsed()
        });
        assert!(elapsed < GATHER_TIME * 10, "{elapsed:?}");
    }

    /// While transactions fail (the `log_state` table is away, so each fails at its commit after writing
    /// everything), the applier retries with backoff and publishes nothing; once they succeed again, everything
    /// is applied, in log order.
    #[test]
    fn a_failing_transaction_is_retried_and_nothing_is_lost_or_reordered() {
        let (dir, attempts) = with_applier(|shared, path| {
            shared.push(applicable(vec![created(1)], Vec::new(), 1));
            assert!(shared.wait_applied(1, WAIT));
            let other = Connection::open(path).expect("second connection");
            other.execute_batch("ALTER TABLE log_state RENAME TO log_state_away;").expect("move the table away");
            let before = shared.attempts.load(Ordering::SeqCst);
            // Order matters: queue 2 created then deleted, queue 3 created, the metadata at its last version.
            shared.push(applicable(vec![metadata(1, 2), created(2)], vec![(1, 5)], 3));
            shared.push(applicable(vec![StorageEvent::QueueDeleted { uid: 2 }, metadata(1, 3)], Vec::new(), 5));
            let deadline = Instant::now() + WAIT;
            while shared.attempts.load(Ordering::SeqCst) < before + 3 {
                assert!(Instant::now() < deadline, "no retries");
                std::thread::sleep(Duration::from_millis(5));
            }
            for through in 6..=40 {
                shared.push(applicable(vec![metadata(1, through)], Vec::new(), through));
            }
            shared.push(applicable(vec![created(3), window(3, 1)], vec![(3, 1)], 42));
            std::thread::sleep(Duration::from_millis(100));
            assert_eq!(shared.durable_through(), 1, "published while failing");
            let failing = shared.failing().expect("the failure is reported while retrying");
            assert!(failing.contains("log_state"), "{failing}");
            other.execute_batch("ALTER TABLE log_state_away RENAME TO log_state;").expect("bring the table back");
            assert!(shared.wait_applied(42, WAIT), "applied_through {}", shared.durable_through());
            assert_eq!(shared.failing(), None, "the report clears once a transaction commits");
            shared.attempts.load(Ordering::SeqCst) - before
        });
        // 50, 100, 200, 400 ms of backoff: a handful of attempts, not one per commit or a busy loop.
        assert!((4..=12).contains(&attempts), "{attempts} attempts");
        let (snapshot, applied_through) = contents(dir.path());
        assert_eq!(applied_through, 42);
        let uids: Vec<u64> = snapshot.queues.iter().map(|queue| queue.uid).collect();
        assert_eq!(uids, [1, 3]);
        assert_eq!(version(&snapshot, 1).as_deref(), Some("40"));
        assert_eq!(snapshot.queues[0].next_sequence, 6);
        assert_eq!(snapshot.queues[1].deduplications.len(), 1);
    }

    /// Stop applies what is queued (without gathering first) before the applier returns; afterwards, waiting for
    /// more returns at once and later commits are ignored.
    #[test]
    fn stop_applies_what_is_queued() {
        let (dir, ()) = with_applier(|shared, _| {
            shared.push(applicable(vec![created(1)], Vec::new(), 1));
            for through in 2..=20 {
                shared.push(applicable(vec![metadata(1, through)], Vec::new(), through));
            }
            shared.stop();
            assert!(shared.wait_applied(20, WAIT));
            let started = Instant::now();
            assert!(!shared.wait_applied(21, WAIT), "nothing more is applied after a stop");
            assert!(started.elapsed() < WAIT / 2);
            shared.push(applicable(vec![created(2)], Vec::new(), 21));
        });
        let (snapshot, applied_through) = contents(dir.path());
        assert_eq!(applied_through, 20);
        assert_eq!(snapshot.queues.len(), 1);
        assert_eq!(version(&snapshot, 1).as_deref(), Some("20"));
    }

    /// A stop during the backoff of a failing batch cuts the wait short and makes one last attempt with
    /// everything queued; when that fails too, the applier returns without publishing (the log keeps it).
    #[test]
    fn stop_while_failing_makes_one_last_attempt() {
        for recovered in [true, false] {
            let (dir, (elapsed, attempts)) = with_applier(|shared, path| {
                shared.push(applicable(vec![created(1)], Vec::new(), 1));
                assert!(shared.wait_applied(1, WAIT));
                let other = Connection::open(path).expect("second connection");
                other.execute_batch("ALTER TABLE log_state RENAME TO log_state_away;").expect("move the table away");
                let before = shared.attempts.load(Ordering::SeqCst);
                shared.push(applicable(vec![metadata(1, 2)], Vec::new(), 2));
                // Past the first four retries: the next wait is 800 ms.
                let deadline = Instant::now() + WAIT;
                while shared.attempts.load(Ordering::SeqCst) < before + 5 {
                    assert!(Instant::now() < deadline, "no retries");
                    std::thread::sleep(Duration::from_millis(5));
                }
                shared.push(applicable(vec![metadata(1, 3)], Vec::new(), 3));
                if recovered {
                    other.execute_batch("ALTER TABLE log_state_away RENAME TO log_state;").expect("table back");
                }
                let started = Instant::now();
                shared.stop();
                assert_eq!(shared.wait_applied(3, WAIT), recovered);
                (started.elapsed(), shared.attempts.load(Ordering::SeqCst) - before)
            });
            assert!(elapsed < Duration::from_millis(500), "the backoff was not cut short: {elapsed:?}");
            assert_eq!(attempts, 6, "one last attempt (recovered: {recovered})");
            if recovered {
                let (snapshot, applied_through) = contents(dir.path());
                assert_eq!((applied_through, version(&snapshot, 1).as_deref()), (3, Some("3")));
            }
        }
    }
}
