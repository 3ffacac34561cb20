//! The in-flight registry: one entry per message the consumer holds, with its receipt handle, where the
//! consumer believes its visibility ends, and its phase. It is the per-receipt state machine that keeps the
//! heartbeat honest:
//!
//! ```text
//! Queued ──▶ Running ──▶ Settling ──▶ (removed)
//!    └────────────────────────▲
//! ```
//!
//! The heartbeat extends only `Queued` and `Running` entries. Settling first marks the entry, then waits
//! for a heartbeat request already carrying it to finish, then removes it: so no visibility change is ever
//! sent for a message after its outcome has been decided, and none can overwrite a retry delay.
//!
//! A running entry also holds its handler's cancellation token (cancelled for every entry at shutdown) and
//! the furthest its handler's timeout lets the heartbeat extend it. Entries whose extension failed wait out
//! a backoff before the heartbeat tries them again; entries SQS rejected for good are not tried again.
//!
//! A running entry whose extension failed (or was rejected) and was not confirmed since is *in doubt*: SQS
//! makes it visible again at its confirmed deadline (`visible_until`). Its handler call's lifeline then
//! carries `visible_until - margin`, the instant the call must be gone by (the earliest over the call's
//! entries in doubt; withdrawn when none is left), see `timeout::run_bounded`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::idempotency_store::LeaseToken;
use crate::types::{IdempotencyKey, MessageId, ReceiptHandle};

/// Identifies a registry entry (local to one consumer).
pub(crate) type EntryId = u64;

/// Where a held message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Received, waiting to start (behind its FIFO group, or for its task to run).
    Queued,
    /// Its handler is running.
    Running,
    /// Its outcome is decided; it is being acknowledged or put back.
    Settling,
}

/// An idempotency lease held for a message.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    pub(crate) key: IdempotencyKey,
    pub(crate) token: LeaseToken,
}

/// One held message.
#[derive(Debug, Clone)]
pub(crate) struct Tracked {
    pub(crate) receipt: ReceiptHandle,
    pub(crate) message_id: MessageId,
    /// When the receive request that returned it was sent (earlier than SQS's receive: a safe base for the
    /// 12-hour cap).
    pub(crate) received_at: Instant,
    /// When the consumer believes the message becomes visible again (conservative).
    pub(crate) visible_until: Instant,
    pub(crate) phase: Phase,
    /// A heartbeat request carrying this entry is in flight.
    extending: bool,
    pub(crate) lease: Option<Lease>,
    cap_logged: bool,
    /// The running handler's token.
    cancellation: Option<CancellationToken>,
    /// The furthest the heartbeat may extend the message, once its handler runs (its timeout and grace).
    hold_until: Option<Instant>,
    /// Consecutive failed extensions.
    extend_failures: u32,
    /// After a failed extension, not before this.
    extend_after: Option<Instant>,
    /// SQS rejected an extension for good (the receipt handle is no longer valid): never tried again.
    extension_rejected: bool,
    /// The running handler call's lifeline, and how long before the confirmed deadline an entry in doubt
    /// must be gone (see the module documentation).
    lifeline: Option<(Arc<watch::Sender<Option<Instant>>>, Duration)>,
}

impl Tracked {
    /// When the handler of this entry must be gone by: its confirmed deadline less the margin, once an
    /// extension failed or was rejected and none succeeded since.
    fn gone_by(&self) -> Option<Instant> {
        let (_, margin) = self.lifeline.as_ref()?;
        let in_doubt = self.extend_failures > 0 || self.extension_rejected;
        in_doubt.then(|| self.visible_until.checked_sub(*margin).unwrap_or(self.received_at))
    }
}

impl Tracked {
    pub(crate) fn new(
        receipt: ReceiptHandle,
        message_id: MessageId,
        received_at: Instant,
        visibility: Duration,
    ) -> Self {
        Self {
            receipt,
            message_id,
            received_at,
            visible_until: received_at + visibility,
            phase: Phase::Queued,
            extending: false,
            lease: None,
            cap_logged: false,
            cancellation: None,
            hold_until: None,
            extend_failures: 0,
            extend_after: None,
            extension_rejected: false,
            lifeline: None,
        }
    }
}

/// A message the heartbeat should extend now.
#[derive(Debug, Clone)]
pub(crate) struct Due {
    pub(crate) id: EntryId,
    pub(crate) receipt: ReceiptHandle,
    pub(crate) message_id: MessageId,
    /// The new visibility timeout, whole seconds.
    pub(crate) timeout: Duration,
    pub(crate) lease: Option<Lease>,
}

/// The heartbeat's extension rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExtensionRule {
    pub(crate) threshold: Duration,
    pub(crate) extension: Duration,
    /// The longest time since the receive a message may be kept invisible.
    pub(crate) max_total: Duration,
}

#[derive(Debug)]
pub(crate) struct Registry {
    next_id: AtomicU64,
    entries: Mutex<HashMap<EntryId, Tracked>>,
    /// Bumped after every heartbeat request; settlers waiting for an extension watch it.
    epoch: watch::Sender<u64>,
}

impl Default for Registry {
    fn default() -> Self {
        Self { next_id: AtomicU64::new(1), entries: Mutex::default(), epoch: watch::Sender::new(0) }
    }
}

impl Registry {
    // The map is always left consistent (single inserts and removes), so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, HashMap<EntryId, Tracked>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, tracked: Tracked) -> EntryId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, tracked);
        id
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Marks the entry running, with its handler's token, the furthest its handler's limits let it be
    /// extended, and its handler call's lifeline with the margin kept before a confirmed deadline (published
    /// at once if an extension already failed while it waited). Returns when the message was received (the
    /// request sent), or `None` if the entry is gone.
    pub(crate) fn set_running(
        &self,
        id: EntryId,
        cancellation: &CancellationToken,
        hold_until: impl FnOnce(Instant) -> Instant,
        lifeline: &Arc<watch::Sender<Option<Instant>>>,
        margin: Duration,
    ) -> Option<Instant> {
        let mut entries = self.lock();
        let entry = entries.get_mut(&id)?;
        entry.phase = Phase::Running;
        entry.cancellation = Some(cancellation.clone());
        entry.hold_until = Some(hold_until(entry.received_at));
        entry.lifeline = Some((lifeline.clone(), margin));
        let received_at = entry.received_at;
        publish(&entries, lifeline);
        Some(received_at)
    }

    /// Whether the entry's handler call must be gone by now (an extension failed and its confirmed deadline
    /// less the margin has passed): its message may be received again, so its handler's outcome must not be
    /// applied as if it still held the message.
    pub(crate) fn is_lost(&self, id: EntryId, now: Instant) -> bool {
        self.lock().get(&id).and_then(Tracked::gone_by).is_some_and(|gone_by| gone_by <= now)
    }

    /// Cancels every running handler's token (shutdown). Handlers that start later see the consumer
    /// stopping when they register (see `process::start_handler`).
    pub(crate) fn cancel_all(&self) {
        for entry in self.lock().values() {
            if let Some(token) = &entry.cancellation {
                token.cancel();
            }
        }
    }

    pub(crate) fn set_lease(&self, id: EntryId, lease: Lease) {
        if let Some(entry) = self.lock().get_mut(&id) {
            entry.lease = Some(lease);
        }
    }

    /// Time left before the message becomes visible, as the consumer sees it.
    pub(crate) fn remaining(&self, id: EntryId, now: Instant) -> Duration {
        self.lock().get(&id).map_or(Duration::ZERO, |entry| entry.visible_until.saturating_duration_since(now))
    }

    /// Removes an entry at once (the message is left as it is in SQS).
    pub(crate) fn remove(&self, id: EntryId) -> Option<Tracked> {
        self.lock().remove(&id)
    }

    /// Marks the entry settling, waits until no heartbeat request carries it, and removes it. `None` when the
    /// entry is gone (the consumer already gave the message up).
    pub(crate) async fn begin_settle(&self, id: EntryId) -> Option<Tracked> {
        let mut epoch = {
            let mut entries = self.lock();
            let entry = entries.get_mut(&id)?;
            entry.phase = Phase::Settling;
            if !entry.extending {
                return entries.remove(&id);
            }
            // Subscribing under the lock: the heartbeat clears `extending` under the same lock before it bumps
            // the epoch, so the bump cannot be missed.
            self.epoch.subscribe()
        };
        loop {
            if epoch.changed().await.is_err() {
                return self.remove(id);
            }
            let mut entries = self.lock();
            match entries.get(&id) {
                Some(entry) if entry.extending => {}
                Some(_) => return entries.remove(&id),
                None => return None,
            }
        }
    }

    /// The entries to extend now (marked as being extended), by `rule`.
    pub(crate) fn due(&self, now: Instant, rule: ExtensionRule) -> Vec<Due> {
        let mut due = Vec::new();
        for (id, entry) in self.lock().iter_mut() {
            if entry.phase == Phase::Settling || entry.extending || entry.extension_rejected {
                continue;
            }
            if entry.visible_until.saturating_duration_since(now) > rule.threshold {
                continue;
            }
            if entry.extend_after.is_some_and(|after| now < after) {
                continue;
            }
            let mut cap = entry.received_at + rule.max_total;
            if let Some(hold_until) = entry.hold_until {
                cap = cap.min(hold_until);
            }
            let room = cap.saturating_duration_since(now);
            // Whole seconds, rounded down: the wire rounds up, which could pass the cap.
            let timeout = Duration::from_secs(rule.extension.min(room).as_secs());
            if timeout.is_zero() || now + timeout <= entry.visible_until {
                if !entry.cap_logged {
                    entry.cap_logged = true;
                    tracing::warn!(
                        message_id = %entry.message_id,
                        "message reached its maximum visibility extension; it will become visible again"
                    );
                }
                continue;
            }
            entry.extending = true;
            due.push(Due {
                id: *id,
                receipt: entry.receipt.clone(),
                message_id: entry.message_id.clone(),
                timeout,
                lease: entry.lease.clone(),
            });
        }
        due
    }

    /// Records the results of a heartbeat request sent at `sent_at`: `extended` entries now stay invisible
    /// until `sent_at + timeout`; `rejected` ones are never tried again; the others failed and wait out a
    /// backoff (from `interval`, see [`extension_backoff`]). Every entry in `due` is no longer being extended.
    pub(crate) fn finish_extension(
        &self,
        sent_at: Instant,
        due: &[Due],
        extended: &[EntryId],
        rejected: &[EntryId],
        interval: Duration,
    ) {
        {
            let now = Instant::now();
            let mut entries = self.lock();
            let mut lifelines: Vec<Arc<watch::Sender<Option<Instant>>>> = Vec::new();
            for item in due {
                if let Some(entry) = entries.get_mut(&item.id) {
                    entry.extending = false;
                    if extended.contains(&item.id) {
                        entry.visible_until = sent_at + item.timeout;
                        entry.extend_failures = 0;
                        entry.extend_after = None;
                    } else if rejected.contains(&item.id) {
                        entry.extension_rejected = true;
                    } else {
                        entry.extend_failures = entry.extend_failures.saturating_add(1);
                        let remaining = entry.visible_until.saturating_duration_since(now);
                        entry.extend_after = Some(now + extension_backoff(interval, entry.extend_failures, remaining));
                    }
                    if let Some((lifeline, _)) = &entry.lifeline {
                        if !lifelines.iter().any(|known| Arc::ptr_eq(known, lifeline)) {
                            lifelines.push(lifeline.clone());
                        }
                    }
                }
            }
            for lifeline in &lifelines {
                publish(&entries, lifeline);
            }
        }
        self.epoch.send_modify(|epoch| *epoch = epoch.wrapping_add(1));
    }

    /// Removes and returns every entry.
    pub(crate) fn drain(&self) -> Vec<(EntryId, Tracked)> {
        self.lock().drain().collect()
    }
}

/// Sets `lifeline` to the earliest instant one of its call's entries must be gone by (`None` if none is in
/// doubt), waking the call's `run_bounded` only on a change.
fn publish(entries: &HashMap<EntryId, Tracked>, lifeline: &Arc<watch::Sender<Option<Instant>>>) {
    let gone_by = entries
        .values()
        .filter(|entry| entry.lifeline.as_ref().is_some_and(|(other, _)| Arc::ptr_eq(other, lifeline)))
        .filter_map(Tracked::gone_by)
        .min();
    lifeline.send_if_modified(|current| {
        let changed = *current != gone_by;
        *current = gone_by;
        changed
    });
}

/// How long a message waits before the heartbeat tries again after `failures` failed extensions in a row:
/// the interval doubled per failure (2, 4, 8... intervals), but at most half the time its visibility has
/// left (so it is still tried, more and more often, before it expires) and never less than one interval.
pub(crate) fn extension_backoff(interval: Duration, failures: u32, remaining: Duration) -> Duration {
    let doubled = interval.saturating_mul(2u32.saturating_pow(failures.min(16)));
    doubled.min(remaining / 2).max(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn rule() -> ExtensionRule {
        ExtensionRule {
            threshold: Duration::from_secs(5),
            extension: Duration::from_secs(30),
            max_total: Duration::from_secs(60),
        }
    }

    fn tracked(now: Instant) -> Tracked {
        Tracked::new(ReceiptHandle::from("r"), MessageId::from("m"), now, Duration::from_secs(30))
    }

    #[tokio::test]
    async fn only_messages_near_expiry_are_due_and_never_past_the_cap() {
        let start = Instant::now();
        let registry = Registry::default();
        let id = registry.insert(tracked(start));

        assert!(registry.due(start + Duration::from_secs(10), rule()).is_empty(), "20 s left");

        let at = start + Duration::from_secs(26);
        let due = registry.due(at, rule());
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].timeout, Duration::from_secs(30));
        assert!(registry.due(at, rule()).is_empty(), "already being extended");
        registry.finish_extension(at, &due, &[id], &[], SECOND);

        let at = start + Duration::from_secs(52);
        let due = registry.due(at, rule());
        assert_eq!(due[0].timeout, Duration::from_secs(8), "capped at 60 s since the receive");
        registry.finish_extension(at, &due, &[id], &[], SECOND);

        assert!(registry.due(start + Duration::from_secs(58), rule()).is_empty(), "at the cap");
    }

    #[tokio::test]
    async fn settling_waits_for_an_extension_in_flight_and_stops_further_ones() {
        let start = Instant::now();
        let registry = std::sync::Arc::new(Registry::default());
        let id = registry.insert(tracked(start));
        let due = registry.due(start + Duration::from_secs(26), rule());
        assert_eq!(due.len(), 1);

        let settling = tokio::spawn({
            let registry = registry.clone();
            async move { registry.begin_settle(id).await }
        });
        tokio::task::yield_now().await;
        assert!(!settling.is_finished(), "waits for the heartbeat request");
        assert!(registry.due(start + Duration::from_secs(29), rule()).is_empty());

        registry.finish_extension(start, &due, &[id], &[], SECOND);
        let settled = tokio::time::timeout(Duration::from_secs(5), settling).await;
        assert!(matches!(settled, Ok(Ok(Some(_)))));
        assert_eq!(registry.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_running_handler_is_never_extended_past_its_hold() {
        let start = Instant::now();
        let registry = Registry::default();
        let id = registry.insert(tracked(start));
        let token = CancellationToken::new();
        let lifeline = Arc::new(watch::Sender::new(None));
        let received =
            registry.set_running(id, &token, |received| received + Duration::from_secs(40), &lifeline, SECOND);
        assert_eq!(received, Some(start));

        let at = start + Duration::from_secs(26);
        let due = registry.due(at, rule());
        assert_eq!(due[0].timeout, Duration::from_secs(14), "up to the handler's hold, not the 30 s extension");
        registry.finish_extension(at, &due, &[id], &[], SECOND);
        assert!(registry.due(start + Duration::from_secs(39), rule()).is_empty(), "at the hold");

        registry.cancel_all();
        assert!(token.is_cancelled(), "shutdown cancels running handlers");
    }

    #[tokio::test(start_paused = true)]
    async fn failed_extensions_back_off_and_rejected_ones_stop() {
        let start = Instant::now();
        let registry = Registry::default();
        let failing = registry.insert(tracked(start));
        let rejected = registry.insert(tracked(start));
        let due = registry.due(start + Duration::from_secs(26), rule());
        assert_eq!(due.len(), 2);
        tokio::time::advance(Duration::from_secs(26)).await;
        registry.finish_extension(Instant::now(), &due, &[], &[rejected], SECOND);

        let ids = |at: Duration| -> Vec<EntryId> {
            let due = registry.due(start + at, rule());
            let ids = due.iter().map(|d| d.id).collect();
            registry.finish_extension(start + at, &due, &[], &[], SECOND);
            ids
        };
        assert!(ids(Duration::from_secs(27)).is_empty(), "backing off: not retried at the next tick");
        assert_eq!(ids(Duration::from_secs(28)), [failing], "retried after two intervals; the rejected never");
    }

    #[test]
    fn extension_backoff_doubles_but_leaves_time_before_expiry() {
        let remaining = Duration::from_secs(10);
        let delays: Vec<u64> = (1..=4).map(|f| extension_backoff(SECOND, f, remaining).as_secs()).collect();
        assert_eq!(delays, [2, 4, 5, 5], "doubling, at most half the time left");
        assert_eq!(extension_backoff(SECOND, 3, Duration::ZERO), SECOND, "never below one interval");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_extension_of_a_running_entry_sets_its_lifeline_until_one_succeeds() {
        let start = Instant::now();
        let registry = Registry::default();
        let (one, two, queued) =
            (registry.insert(tracked(start)), registry.insert(tracked(start)), registry.insert(tracked(start)));
        let token = CancellationToken::new();
        let lifeline = Arc::new(watch::Sender::new(None));
        let hold = |received| received + Duration::from_secs(60);
        let margin = 2 * SECOND;
        registry.set_running(one, &token, hold, &lifeline, margin);
        registry.set_running(two, &token, hold, &lifeline, margin);

        let at = start + Duration::from_secs(26);
        let due = registry.due(at, rule());
        registry.finish_extension(at, &due, &[two, queued], &[], SECOND);
        assert_eq!(*lifeline.borrow(), Some(start + Duration::from_secs(28)), "one's confirmed 30 s less 2 s");
        assert!(!registry.is_lost(one, start + Duration::from_secs(27)));
        assert!(registry.is_lost(one, start + Duration::from_secs(28)));
        assert!(!registry.is_lost(two, start + Duration::from_secs(28)), "two was extended");
        assert!(!registry.is_lost(queued, start + Duration::from_secs(28)), "not running");

        let due = registry.due(start + Duration::from_secs(28), rule());
        assert_eq!(due.iter().map(|d| d.id).collect::<Vec<_>>(), [one], "retried after its backoff");
        registry.finish_extension(start + Duration::from_secs(28), &due, &[one], &[], SECOND);
        assert_eq!(*lifeline.borrow(), None, "withdrawn once the extension succeeded");
        assert!(!registry.is_lost(one, start + Duration::from_secs(40)));
    }
}
