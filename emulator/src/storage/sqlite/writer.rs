//! The writer thread over the message log (docs/message-log.md): takes what may be committed, encodes it as one
//! commit record, appends it to the log with one write and makes it durable with one `fdatasync` (`sync.rs`);
//! then it reports the commit's events durable, hands what SQLite holds of it to the applier, and recycles
//! segments nothing needs any more.
//!
//! Failures are fail-stop, as before: a failed append is retried with backoff (requests waiting for it keep
//! waiting, durable writes are refused meanwhile); after a failed `fdatasync` the writer rewinds the log to the
//! first commit not known to be on disk and appends the same bytes again, and the next `fdatasync` decides.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::apply::{Applicable, ApplyShared};
use super::sync::SyncShared;
use super::{Inner, RETRY_FIRST, RETRY_MAX, Taken, sync};
use crate::engine::{QueueEvent, StorageEvent};
use crate::storage::log::{
    Location, MessageIndex, Position, RECORD_HEADER_LEN, SegmentLog, applies_to_sqlite, decode_event, encode_event,
};

/// An injected append failure, in tests.
#[cfg(test)]
fn injected_append_failure(sync: &SyncShared) -> std::io::Result<()> {
    use std::sync::atomic::Ordering;
    if sync.fail_appends.load(Ordering::SeqCst) { Err(std::io::Error::other("injected write failure")) } else { Ok(()) }
}

#[cfg(not(test))]
fn injected_append_failure(_sync: &SyncShared) -> std::io::Result<()> {
    Ok(())
}

/// Live messages compaction copies forward in one commit at most.
const COMPACTION_BATCH: usize = 4_096;
/// Segments' worth of bytes the log may hold before compaction starts copying the oldest segment's live
/// messages forward, unless twice the live messages need more (then that, plus two segments).
const LOG_BUDGET_SEGMENTS: u64 = 4;

/// How often an idle writer checks whether segments can be recycled.
const RECYCLE_CHECK: std::time::Duration = std::time::Duration::from_millis(500);

/// A commit appended to the log and not yet known to be on disk.
struct UnsyncedCommit {
    /// The in-process number of the event after its last (see [`Taken::end`]).
    end: u64,
    /// Its events, handed to the applier once the commit is on disk.
    events: Vec<StorageEvent>,
    /// Where its record starts, and the log number of its first event: where a rewrite starts again.
    start: Position,
    first_event: u64,
    /// Its encoded events, appended again as they are if an `fdatasync` fails.
    payload: Vec<u8>,
}

/// The writer thread's state.
pub(super) struct Writer<'a> {
    pub(super) log: SegmentLog,
    pub(super) index: MessageIndex,
    pub(super) inner: &'a Inner,
    pub(super) sync: &'a SyncShared,
    pub(super) apply: &'a ApplyShared,
    unsynced: VecDeque<UnsyncedCommit>,
    /// The log number of the last event known on disk (the last commit handed to the applier).
    synced_through: u64,
    /// The in-process number of the event after the last one on disk (see [`Taken::end`]).
    synced: u64,
    /// The last fsync failed: everything not known to be on disk is written again before the next one.
    failed: bool,
    /// How long to wait after the next failed fsync.
    fsync_backoff: Duration,
    /// Per segment, the log number of the last event of the commit that last released one of its records
    /// (removed, purged, or copied forward): the segment holds nothing needed once that commit is on disk.
    released_by: BTreeMap<u64, u64>,
}

/// Encoded events with the offset of each in the payload.
#[derive(Default)]
struct Encoded {
    payload: Vec<u8>,
    offsets: Vec<u32>,
}

impl Encoded {
    fn push(&mut self, events: &[StorageEvent]) {
        for event in events {
            self.offsets.push(u32::try_from(self.payload.len()).unwrap_or(u32::MAX));
            encode_event(event, &mut self.payload);
        }
    }
}

impl<'a> Writer<'a> {
    /// A writer appending to `log` after the events the replay found (`index` holds their live messages).
    pub(super) fn new(
        log: SegmentLog,
        mut index: MessageIndex,
        inner: &'a Inner,
        sync: &'a SyncShared,
        apply: &'a ApplyShared,
    ) -> Self {
        let synced_through = log.next_event().saturating_sub(1);
        // What the replay released is on disk already.
        index.take_released();
        Self {
            log,
            index,
            inner,
            sync,
            apply,
            unsynced: VecDeque::new(),
            synced_through,
            synced: 0,
            failed: false,
            fsync_backoff: Duration::ZERO,
            released_by: BTreeMap::new(),
        }
    }

    /// The loop; returns once the storage closed and everything written is synced (or failing at shutdown).
    pub(super) fn run(mut self) {
        loop {
            self.hand_over(self.synced);
            self.recycle();
            let Taken { mut events, mut end, mut closing } = self.take_first();
            let rewrite = self.failed;
            if events.is_empty() && !rewrite && !closing {
                // Idle: compaction that the last commit left due goes ahead on its own, so that the log
                // shrinks without waiting for another write; otherwise back to recycling.
                let Some((copies, copies_end)) = self.idle_copies() else { continue };
                events = copies;
                end = copies_end;
            } else if rewrite && !self.rewrite_unsynced() {
                self.give_up();
                return;
            } else if !rewrite && !events.is_empty() && self.compaction_due() {
                // Copies of the oldest segment's live messages go first, in this commit: the engine's events
                // after them may change the same messages. (Not when closing with nothing to write: copies
                // alone would advance no event number, so nothing would sync them.)
                let mut copies = self.copies_of_oldest();
                copies.append(&mut events);
                events = copies;
            }
            if !events.is_empty() {
                let mut encoded = Encoded::default();
                encoded.push(&events);
                if !rewrite && !closing {
                    // What arrived while this was encoded goes along, instead of waiting out the fsync.
                    let more = self.inner.lock_pending().take();
                    encoded.push(&more.events);
                    events.extend(more.events);
                    (end, closing) = (more.end, more.closing);
                }
                if !self.commit(events, encoded, end) {
                    self.give_up();
                    return;
                }
            }
            if end > self.synced || rewrite {
                self.sync_through(end, closing);
            }
            if closing {
                if self.failed {
                    self.give_up();
                } else {
                    self.hand_over(self.synced);
                }
                return;
            }
        }
    }

    /// Makes everything appended so far durable with one fsync and reports the events up to in-process event
    /// `end` durable. After a failed fsync it reports the failure (durable writes are refused meanwhile), waits
    /// its backoff (cut short when closing), and marks the unsynced commits to be written again.
    fn sync_through(&mut self, end: u64, closing: bool) {
        match sync::fsync(self.sync, &mut self.log) {
            Ok(()) => {
                self.fsync_backoff = Duration::ZERO;
                self.failed = false;
                self.synced = self.synced.max(end);
                let synced = self.synced;
                self.inner.progress.send_modify(|progress| {
                    progress.committed = progress.committed.max(synced);
                    if progress.failure.take().is_some() {
                        tracing::warn!("storage recovered: the changes held back are on disk; durable writes resume");
                    }
                });
            }
            Err(error) => {
                tracing::error!(
                    %error,
                    "fsync of the message log failed: durable writes are refused (503) until the changes are \
                     written again and synced"
                );
                self.inner.progress.send_modify(|progress| progress.failure = Some(format!("fsync failed: {error}")));
                self.failed = true;
                if !closing {
                    // Not in a tight loop while the disk keeps failing.
                    self.fsync_backoff = (self.fsync_backoff * 2).clamp(RETRY_FIRST, RETRY_MAX);
                    self.back_off(self.fsync_backoff);
                }
            }
        }
    }

    /// Hands every commit now on disk (up to in-process event `synced`) to the applier: the events SQLite
    /// holds and the highest sequence stored per queue.
    fn hand_over(&mut self, synced: u64) {
        while self.unsynced.front().is_some_and(|commit| commit.end <= synced) {
            let Some(commit) = self.unsynced.pop_front() else { break };
            let count = commit.events.len() as u64;
            let mut highest_sequences: BTreeMap<u64, u64> = BTreeMap::new();
            let mut events = Vec::new();
            for event in commit.events {
                if let StorageEvent::Queue { uid, event: QueueEvent::MessageStored { sequence, .. } } = &event {
                    let highest = highest_sequences.entry(*uid).or_insert(0);
                    *highest = (*highest).max(*sequence);
                }
                if applies_to_sqlite(&event) {
                    events.push(event);
                }
            }
            let through = commit.first_event + count - 1;
            self.synced_through = self.synced_through.max(through);
            self.apply.push(Applicable { events, highest_sequences: highest_sequences.into_iter().collect(), through });
        }
    }

    /// Recycles the oldest segments that hold no live message, once the commit that released their last one is
    /// on disk (a removal, or the copies compaction made) and SQLite holds their other events on disk. Commits
    /// still unsynced after that do not hold it back: under steady load one always is.
    fn recycle(&mut self) {
        // (Between a failed fsync and the rewrite the log recycles nothing: `SegmentLog::recycle_oldest`.)
        let applied = self.apply.durable_through();
        loop {
            let (oldest, next_first) = {
                let mut segments = self.log.segments();
                let (Some((oldest, _)), Some((_, next_first))) = (segments.next(), segments.next()) else { return };
                (oldest, next_first)
            };
            // The oldest segment's last event is the one before the next segment's first.
            let released = self.released_by.get(&oldest).is_none_or(|&through| through <= self.synced_through);
            if self.index.live_in(oldest) > 0 || !released || next_first.saturating_sub(1) > applied {
                return;
            }
            match self.log.recycle_oldest() {
                Ok(true) => {
                    self.released_by.remove(&oldest);
                }
                Ok(false) => return,
                Err(error) => {
                    tracing::warn!(%error, segment = oldest, "could not recycle a log segment; retried later");
                    return;
                }
            }
        }
    }

    /// Whether the log holds more bytes than its budget while its oldest segment still holds live messages
    /// (which keep it, and every later one, from being recycled). Bytes, not segments: a commit larger than a
    /// segment gets a segment of its own, as large as it needs.
    fn compaction_due(&self) -> bool {
        let segment_size = self.log.segment_size();
        let budget = (LOG_BUDGET_SEGMENTS * segment_size).max(self.index.live_bytes() * 2 + 2 * segment_size);
        let oldest_live = self.log.segments().next().is_some_and(|(oldest, _)| self.index.live_in(oldest) > 0);
        oldest_live && self.log.written_bytes() > budget
    }

    /// While the engine appends nothing: compaction's copies when compaction is due, numbered as events of
    /// their own (nobody waits for them), with the number after them.
    fn idle_copies(&mut self) -> Option<(Vec<StorageEvent>, u64)> {
        // Events waiting (an atomic group being appended) would make `reserve` refuse: no reading for nothing.
        if !self.compaction_due() || !self.inner.lock_pending().events.is_empty() {
            return None;
        }
        let copies = self.copies_of_oldest();
        if copies.is_empty() {
            return None;
        }
        let end = self.inner.lock_pending().reserve(copies.len())?;
        Some((copies, end))
    }

    /// Copies of up to [`COMPACTION_BATCH`] live messages of the oldest segment, read back from the log, in
    /// their latest state. A record that cannot be read back stops compaction for this commit (logged): the
    /// segment then stays.
    fn copies_of_oldest(&mut self) -> Vec<StorageEvent> {
        let Some((oldest, _)) = self.log.segments().next() else { return Vec::new() };
        let mut copies = Vec::new();
        for live in self.index.live_messages_in(oldest, COMPACTION_BATCH) {
            let read = self
                .log
                .read_at(live.stored.segment, live.stored.offset, live.stored.len as usize)
                .map_err(|error| error.to_string())
                .and_then(|bytes| decode_event(&mut bytes.as_slice()).map_err(|error| error.to_string()));
            match read {
                Ok(StorageEvent::Queue { uid, event: QueueEvent::MessageStored { sequence, mut message } }) => {
                    if let Some(latest) = live.latest {
                        latest.apply_to(&mut message);
                    }
                    copies.push(StorageEvent::Queue { uid, event: QueueEvent::MessageStored { sequence, message } });
                }
                Ok(_) => {
                    tracing::error!(
                        segment = oldest,
                        offset = live.stored.offset,
                        "the index points at no stored message"
                    );
                    break;
                }
                Err(error) => {
                    tracing::error!(%error, segment = oldest, "could not read a live message back for compaction");
                    break;
                }
            }
        }
        copies
    }

    /// Waits until there are events to take (or the storage closes, or an fsync failed), and takes them. While
    /// the log has segments older than the current one it returns with nothing taken after [`RECYCLE_CHECK`], so
    /// that an idle log still recycles what the applier has made unnecessary since, and compacts.
    fn take_first(&self) -> Taken {
        let idle = (self.log.segments().nth(1).is_some()).then_some(RECYCLE_CHECK);
        let mut pending = self.inner.lock_pending();
        loop {
            if pending.takeable() > 0 || (pending.closing && pending.events.is_empty()) || self.failed {
                return pending.take();
            }
            pending = self.inner.writer_wait(pending, 1, idle);
            if idle.is_some() && pending.takeable() == 0 && !pending.closing {
                return pending.take();
            }
        }
    }

    /// Appends one commit of `events` (ending at in-process event `end`), retrying with backoff while the log
    /// cannot be written (fail-stop); `false` if it still fails when the storage closes.
    fn commit(&mut self, events: Vec<StorageEvent>, encoded: Encoded, end: u64) -> bool {
        let count = events.len() as u64;
        let first_event = self.log.next_event();
        let Ok(count32) = u32::try_from(count) else {
            tracing::error!(count, "a commit of more events than a record counts; not written");
            return false;
        };
        let Some(start) = self.append_with_retries(first_event, count32, &encoded.payload) else { return false };
        let payload_start = start.offset + RECORD_HEADER_LEN;
        for (index, event) in events.iter().enumerate() {
            let offset = encoded.offsets.get(index).copied().unwrap_or(0);
            let next = encoded
                .offsets
                .get(index + 1)
                .copied()
                .unwrap_or_else(|| u32::try_from(encoded.payload.len()).unwrap_or(u32::MAX));
            let at = Location { segment: start.segment, offset: payload_start + u64::from(offset), len: next - offset };
            self.index.follow(event, at);
        }
        let through = first_event + count - 1;
        for segment in self.index.take_released() {
            self.released_by.insert(segment, through);
        }
        self.unsynced.push_back(UnsyncedCommit { end, events, start, first_event, payload: encoded.payload });
        true
    }

    /// Appends a record where the log ends now, retrying with backoff while it fails (see
    /// [`Writer::with_retries`]). Each retry first puts the log back where the record starts (a failed write may
    /// have left part of it), so the record is written at the same place with the same numbers or not at all.
    fn append_with_retries(&mut self, first_event: u64, count: u32, payload: &[u8]) -> Option<Position> {
        let (start, sync) = (self.log.position(), self.sync);
        self.with_retries("cannot write the log", |log| {
            if log.position() != start || log.next_event() != first_event {
                log.rewind(start, first_event)?;
            }
            #[cfg(test)]
            sync.commit_attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            injected_append_failure(sync)?;
            log.append(first_event, count, payload)
        })
    }

    /// Runs `attempt` on the log until it succeeds, with backoff (50 ms to 2 s, which appends do not cut short);
    /// meanwhile the engine refuses durable writes. `None` if it still fails when the storage closes (after
    /// one last attempt).
    fn with_retries<T>(
        &mut self,
        what: &str,
        mut attempt: impl FnMut(&mut SegmentLog) -> std::io::Result<T>,
    ) -> Option<T> {
        let mut wait = RETRY_FIRST;
        loop {
            match attempt(&mut self.log) {
                Ok(done) => return Some(done),
                Err(error) => {
                    self.report_failure(format!("{what}: {error}"));
                    if self.back_off(wait) {
                        return attempt(&mut self.log).ok();
                    }
                    wait = (wait * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// Waits `wait` before a retry, cut short only by the storage closing (appends do not: they would turn the
    /// backoff into a retry per request); returns whether it is closing.
    fn back_off(&self, wait: Duration) -> bool {
        let pending = self.inner.lock_pending();
        pending.closing || self.inner.writer_wait(pending, usize::MAX, Some(wait)).closing
    }

    /// After a failed fsync: rewinds the log to the first commit not known to be on disk (retried until it
    /// works) and appends every unsynced commit again, byte for byte (so the index's locations stay true).
    /// `false` if it still fails when the storage closes.
    fn rewrite_unsynced(&mut self) -> bool {
        #[cfg(test)]
        self.sync.rewrites.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // With nothing unsynced, the rewind goes to the end of the log: it still clears the log's failed sync.
        let (start, first_event) = self
            .unsynced
            .front()
            .map_or_else(|| (self.log.position(), self.log.next_event()), |first| (first.start, first.first_event));
        if self.with_retries("cannot rewind the log", |log| log.rewind(start, first_event)).is_none() {
            return false;
        }
        // Taken out while they are appended again (the appends borrow the writer), and put back whatever happens.
        let commits = std::mem::take(&mut self.unsynced);
        let rewritten = commits.iter().all(|commit| {
            let count = u32::try_from(commit.events.len()).unwrap_or(u32::MAX);
            self.append_with_retries(commit.first_event, count, &commit.payload).is_some()
        });
        self.unsynced = commits;
        rewritten
    }

    /// A write failed: the engine refuses durable writes until a retry succeeds (see [`Inner::progress`]).
    fn report_failure(&self, error: String) {
        if self.inner.progress.borrow().failure.is_none() {
            tracing::error!(%error, "storage write failed: durable writes are refused (503) until a retry succeeds");
        } else {
            tracing::debug!(%error, "storage write retry failed");
        }
        self.inner.progress.send_modify(|progress| progress.failure = Some(error));
    }

    /// Closing while writes still fail: what was not written is lost with the process, and the requests
    /// waiting for it are told so.
    fn give_up(&self) {
        tracing::error!("storage is still failing at shutdown; changes that were never acknowledged are lost");
    }
}
