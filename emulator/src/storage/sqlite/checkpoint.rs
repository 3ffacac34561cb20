//! The checkpointer thread: copies the write-ahead log into the database file on a connection of its own, so
//! the writer never stops for it.
//!
//! With SQLite's automatic checkpoints the writer itself copied the log every 1,000 pages, fsyncing the log and
//! the database file on the way: the writer stood still meanwhile, and so did every request waiting for the
//! next commit (a third of the writer's wall time in `storage_bench`, and the fsync pipeline ran dry). The
//! writer's connection now runs with `wal_autocheckpoint = 0`, and this thread runs `PASSIVE` checkpoints,
//! which never block the writer (SQLite lets one checkpointer work beside one writer in WAL mode).
//!
//! A passive checkpoint copies only frames committed before it started. SQLite starts the log over from its
//! beginning only when a write transaction begins while *every* frame is in the database file, which under
//! steady load never happens while the checkpointer trails the writer. So once a checkpoint leaves the log
//! longer than [`RESTART_FRAMES`], it asks the writer to finish the job ([`CheckpointShared::restart_wanted`]):
//! between two of its transactions the writer checkpoints what is left (little: the frames since this thread's
//! last pass) and its next transaction starts the log over.
//!
//! Durability does not depend on this thread: a change is acknowledged once its frames are fsynced in the log
//! (`sync.rs`), and a crash before a checkpoint leaves them in the log, where SQLite finds them at the next open.
//! A checkpoint fsyncs the log before copying and the database file before it lets the log be reused.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// Events committed since the last checkpoint that start the next one (about 1,000 pages of small messages,
/// SQLite's own default interval).
const CHECKPOINT_EVENTS: u64 = 4_096;
/// A log that has anything not yet copied is checkpointed after this long, even under light load.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// Frames (pages) left in the log after a checkpoint beyond which the writer is asked to let it start over.
const RESTART_FRAMES: i64 = 4_096;

/// What the checkpointer is told; guarded by [`CheckpointShared::state`].
#[derive(Debug, Default)]
struct CheckpointState {
    /// Events on disk in the log so far (the syncer's mark).
    synced: u64,
    /// The syncer's mark when the last checkpoint started.
    checkpointed: u64,
    /// Stop: the writer is closing.
    stop: bool,
}

/// The state the syncer, the writer and the checkpointer share.
#[derive(Debug, Default)]
pub(super) struct CheckpointShared {
    state: Mutex<CheckpointState>,
    wake: Condvar,
    /// Set by the checkpointer when the log has grown past [`RESTART_FRAMES`]; the writer takes it.
    restart_wanted: AtomicBool,
    /// Set when the checkpointer could not start: the writer turns SQLite's automatic checkpoints back on.
    gone: AtomicBool,
}

impl CheckpointShared {
    /// The syncer made the log durable up to event `synced`.
    pub(super) fn synced(&self, synced: u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.synced = state.synced.max(synced);
        // Below the threshold the checkpointer's timed wait notices new events by itself.
        if state.synced - state.checkpointed >= CHECKPOINT_EVENTS {
            drop(state);
            self.wake.notify_one();
        }
    }

    /// Tells the checkpointer to stop (after its current checkpoint).
    pub(super) fn stop(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
        self.wake.notify_one();
    }

    /// Whether the writer should checkpoint the log's tail itself (and so let its next transaction start the
    /// log over); clears the request.
    pub(super) fn take_restart(&self) -> bool {
        self.restart_wanted.swap(false, Ordering::Relaxed)
    }

    /// Whether the checkpointer could not start, so the writer must checkpoint as SQLite does by default.
    pub(super) fn gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }

    /// The writer's checkpoint did not reach the end of the log (this thread was in the middle of one): it
    /// tries again after its next transaction.
    pub(super) fn restart_again(&self) {
        self.restart_wanted.store(true, Ordering::Relaxed);
    }
}

/// What a checkpoint achieved (the row `PRAGMA wal_checkpoint` answers).
#[derive(Debug, Clone, Copy)]
pub(super) struct CheckpointOutcome {
    /// Another checkpoint was running, so this one did nothing.
    busy: bool,
    /// Frames (pages) in the log.
    log_frames: i64,
    /// Frames of the log now in the database file.
    copied_frames: i64,
}

impl CheckpointOutcome {
    /// Every frame of the log is in the database file: the next write transaction starts the log over.
    pub(super) fn complete(self) -> bool {
        !self.busy && self.copied_frames >= self.log_frames
    }
}

/// Runs one passive checkpoint on `connection`.
pub(super) fn checkpoint_passive(connection: &Connection) -> rusqlite::Result<CheckpointOutcome> {
    connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok(CheckpointOutcome { busy: row.get::<_, i64>(0)? != 0, log_frames: row.get(1)?, copied_frames: row.get(2)? })
    })
}

/// The checkpointer thread's loop: a passive checkpoint after every [`CHECKPOINT_EVENTS`] synced events (or
/// [`CHECKPOINT_INTERVAL`] after anything new), until told to stop. Errors cost only log space and are retried
/// at the next pass, so they are logged and nothing else.
pub(super) fn run(shared: &CheckpointShared, path: &Path) {
    let connection = match Connection::open(path)
        .and_then(|connection| connection.execute_batch("PRAGMA synchronous = NORMAL;").map(|()| connection))
    {
        Ok(connection) => connection,
        Err(error) => {
            tracing::warn!(%error, "the checkpointer could not open the data file; the writer checkpoints instead");
            shared.gone.store(true, Ordering::Relaxed);
            return;
        }
    };
    let mut last = Instant::now();
    loop {
        {
            let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if state.stop {
                    return;
                }
                let new = state.synced - state.checkpointed;
                if new >= CHECKPOINT_EVENTS || (new > 0 && last.elapsed() >= CHECKPOINT_INTERVAL) {
                    state.checkpointed = state.synced;
                    break;
                }
                let wait = CHECKPOINT_INTERVAL.saturating_sub(last.elapsed()).max(Duration::from_millis(10));
                state = shared.wake.wait_timeout(state, wait).unwrap_or_else(PoisonError::into_inner).0;
            }
        }
        last = Instant::now();
        match checkpoint_passive(&connection) {
            Ok(outcome) if outcome.log_frames >= RESTART_FRAMES => {
                shared.restart_wanted.store(true, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "checkpoint of the write-ahead log failed; retried later"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpointer_that_cannot_open_the_file_hands_checkpoints_back_to_the_writer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let shared = CheckpointShared::default();
        // A directory is not a database file SQLite can open.
        run(&shared, dir.path());
        assert!(shared.gone(), "the writer is told to checkpoint by itself");
    }
}
