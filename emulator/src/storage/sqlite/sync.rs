//! Making the writer's commits durable: `fdatasync` of the message log's segments, on the writer's own thread
//! right after it appends a commit, and only then reporting the commit's events durable. Requests that arrive
//! during an fsync wait in `Pending` and go into the next commit together (group commit), so one fsync answers
//! every request that arrived during the one before.
//!
//! The fsync used to run on a thread of its own, so that the writer could write the next commit meanwhile. On
//! one core shared with the request handlers the hand-overs between the two threads cost more than the overlap
//! gave (BENCHMARKS.md, issue #20, round ten: pinned durable send-batch 4–8% faster, drain within ±7%, unpinned
//! within noise), and with one thread an append and an fsync never run at the same time.
//!
//! A failed fsync is not retried on the same data: after a failed fsync Linux may have dropped the dirty pages
//! and a later fsync can succeed without them. Instead the writer writes everything not known to be on disk
//! again, at the same places in the log (`writer.rs`), and the fsync after that decides.

use crate::storage::log::SegmentLog;

/// Fault injection for the writer's appends and fsyncs (tests only; empty otherwise).
#[derive(Debug, Default)]
pub(super) struct SyncShared {
    /// Tests: how many of the next fsyncs fail with an injected I/O error.
    #[cfg(test)]
    pub(super) fail_next: std::sync::atomic::AtomicU32,
    /// Tests: how many times the writer wrote everything not known to be on disk again.
    #[cfg(test)]
    pub(super) rewrites: std::sync::atomic::AtomicU32,
    /// Tests: milliseconds every fsync is held back, as on a slow disk (so that requests pile up behind it).
    #[cfg(test)]
    pub(super) fsync_delay_ms: std::sync::atomic::AtomicU64,
    /// Tests: while set, every append to the log fails with an injected I/O error.
    #[cfg(test)]
    pub(super) fail_appends: std::sync::atomic::AtomicBool,
    /// Tests: how many commits the writer's retrying path attempted.
    #[cfg(test)]
    pub(super) commit_attempts: std::sync::atomic::AtomicU32,
}

/// The faults tests inject into the next fsync: the delay of a slow disk, and a failure, which goes through the
/// log's own failure path ([`SegmentLog::fail_next_sync`]).
#[cfg(test)]
fn inject(shared: &SyncShared, log: &mut SegmentLog) {
    use std::sync::atomic::Ordering;
    std::thread::sleep(std::time::Duration::from_millis(shared.fsync_delay_ms.load(Ordering::SeqCst)));
    if shared.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1)).is_ok() {
        log.fail_next_sync();
    }
}

#[cfg(not(test))]
fn inject(_shared: &SyncShared, _log: &mut SegmentLog) {}

/// Makes everything appended to `log` so far durable (after the faults tests inject).
///
/// # Errors
/// The failed fsync. Do not sync the same data again: write it again first ([`SegmentLog::rewind`]).
pub(super) fn fsync(shared: &SyncShared, log: &mut SegmentLog) -> std::io::Result<()> {
    inject(shared, log);
    log.sync()
}
