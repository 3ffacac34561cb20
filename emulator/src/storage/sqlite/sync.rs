//! The syncer thread: makes what the writer appended durable by `fdatasync` of the message log's segments,
//! while the writer already gathers and writes the next commit (a two-stage pipeline), and only then reports
//! the commit's events durable. Each fsync covers everything written before it started, so one fsync answers
//! every request that arrived during the one before.
//!
//! A failed fsync is not retried on the same data: after a failed fsync Linux may have dropped the dirty pages
//! and a later fsync can succeed without them. Instead the writer is told to write everything not known to be
//! on disk again, at the same places in the log (`writer.rs`), and the fsync after that decides.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::{Inner, RETRY_FIRST, RETRY_MAX};
use crate::storage::log::Unsynced;

/// Where the writer and the syncer are; guarded by [`SyncShared::state`].
#[derive(Debug, Default)]
pub(super) struct SyncState {
    /// Events (counted from the first ever appended) committed to the log, not necessarily on disk.
    pub(super) written: u64,
    /// Events the syncer's current (or last) fsync covers.
    pub(super) taken: u64,
    /// Events on disk.
    pub(super) synced: u64,
    /// An fsync failed: the writer must write everything after `synced` again before the next fsync.
    pub(super) failed: bool,
    /// The writer's appends (or its rewind) are failing: a successful fsync of what was written before does
    /// not mean the storage recovered.
    pub(super) writing_failed: bool,
    /// The writer is done: sync what is written, then stop.
    pub(super) stop: bool,
    /// Set by the syncer when it has stopped: `synced` is final.
    pub(super) stopped: bool,
    /// What the next fsync must cover, handed over by the writer with `written`.
    pub(super) unsynced: Option<Unsynced>,
}

/// The state the writer and the syncer share.
#[derive(Debug, Default)]
pub(super) struct SyncShared {
    pub(super) state: Mutex<SyncState>,
    pub(super) wake: Condvar,
    /// Tests: how many of the next fsyncs fail with an injected I/O error.
    #[cfg(test)]
    pub(super) fail_next: std::sync::atomic::AtomicU32,
    /// Tests: how many times the writer wrote everything not known to be on disk again.
    #[cfg(test)]
    pub(super) rewrites: std::sync::atomic::AtomicU32,
    /// Tests: milliseconds every fsync is held back, as on a slow disk (so that commits pile up behind it).
    #[cfg(test)]
    pub(super) fsync_delay_ms: std::sync::atomic::AtomicU64,
    /// Tests: while set, every append to the log fails with an injected I/O error.
    #[cfg(test)]
    pub(super) fail_appends: std::sync::atomic::AtomicBool,
    /// Tests: milliseconds each injected append failure takes, as on a disk that hangs before it fails.
    #[cfg(test)]
    pub(super) append_delay_ms: std::sync::atomic::AtomicU64,
    /// Tests: how many commits the writer's retrying path attempted.
    #[cfg(test)]
    pub(super) commit_attempts: std::sync::atomic::AtomicU32,
}

/// An injected fsync failure, in tests.
#[cfg(test)]
fn injected(shared: &SyncShared) -> std::io::Result<()> {
    use std::sync::atomic::Ordering;
    std::thread::sleep(Duration::from_millis(shared.fsync_delay_ms.load(Ordering::SeqCst)));
    match shared.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1)) {
        Ok(_) => Err(std::io::Error::other("injected I/O error")),
        Err(_) => Ok(()),
    }
}

#[cfg(not(test))]
fn injected(_shared: &SyncShared) -> std::io::Result<()> {
    Ok(())
}

impl SyncShared {
    /// Locks the state (a panicked thread leaves consistent counters behind, so poisoning is ignored).
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, SyncState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `ready` holds.
    pub(super) fn wait_until(&self, mut ready: impl FnMut(&SyncState) -> bool) -> std::sync::MutexGuard<'_, SyncState> {
        let mut state = self.lock();
        while !ready(&state) {
            state = self.wake.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state
    }
}

/// The syncer thread's loop: fsync the log whenever the writer has written more than the last fsync covered,
/// then publish the new durable mark in `inner.progress`. Returns once the writer stopped and all it wrote is
/// synced (or the last fsync failed).
pub(super) fn run(shared: &SyncShared, inner: &Inner) {
    let progress = &inner.progress;
    let mut backoff = Duration::ZERO;
    loop {
        let (target, unsynced) = {
            let mut state = shared.wait_until(|state| state.stop || (!state.failed && state.written > state.taken));
            if state.failed || state.written <= state.taken {
                // Stopping, with nothing written since the last fsync (or the last one failed).
                state.stopped = true;
                drop(state);
                shared.wake.notify_all();
                return;
            }
            state.taken = state.written;
            let unsynced = state.unsynced.take();
            shared.wake.notify_all();
            (state.taken, unsynced)
        };
        let synced = injected(shared).and_then(|()| unsynced.as_ref().map_or(Ok(()), Unsynced::sync));
        match synced {
            Ok(()) => {
                backoff = Duration::ZERO;
                shared.lock().synced = target;
                shared.wake.notify_all();
                // The writer may be gathering a transaction until this fsync ends: taking the lock it waits
                // under before waking it cannot miss it.
                inner.wake_writer_now(inner.lock_pending());
                progress.send_modify(|progress| progress.committed = progress.committed.max(target));
                if progress.borrow().failure.is_some() {
                    // Under the state's lock, which the writer holds while it reports a failing append: a failure
                    // it reports is never cleared here while its appends still fail.
                    let state = shared.lock();
                    if !state.writing_failed {
                        progress.send_modify(|progress| {
                            if progress.failure.take().is_some() {
                                tracing::warn!(
                                    "storage recovered: the changes held back are on disk; durable writes resume"
                                );
                            }
                        });
                    }
                }
            }
            Err(error) => {
                tracing::error!(
                    %error,
                    "fsync of the message log failed: durable writes are refused (503) until the changes are \
                     written again and synced"
                );
                progress.send_modify(|progress| progress.failure = Some(format!("fsync failed: {error}")));
                // Not in a tight loop with the writer while the disk keeps failing.
                backoff = (backoff * 2).clamp(RETRY_FIRST, RETRY_MAX);
                std::thread::sleep(backoff);
                let mut state = shared.lock();
                state.failed = true;
                state.taken = state.synced;
                drop(state);
                shared.wake.notify_all();
                // The writer may be waiting for events: it checks `failed` under the pending lock, so taking
                // that lock before waking it cannot miss it.
                inner.wake_writer_now(inner.lock_pending());
            }
        }
    }
}
