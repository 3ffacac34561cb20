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

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

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

    pub(crate) fn set_running(&self, id: EntryId) {
        if let Some(entry) = self.lock().get_mut(&id) {
            entry.phase = Phase::Running;
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
            if entry.phase == Phase::Settling || entry.extending {
                continue;
            }
            if entry.visible_until.saturating_duration_since(now) > rule.threshold {
                continue;
            }
            let cap = entry.received_at + rule.max_total;
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
    /// until `sent_at + timeout`; every entry in `due` is no longer being extended.
    pub(crate) fn finish_extension(&self, sent_at: Instant, due: &[Due], extended: &[EntryId]) {
        {
            let mut entries = self.lock();
            for item in due {
                if let Some(entry) = entries.get_mut(&item.id) {
                    entry.extending = false;
                    if extended.contains(&item.id) {
                        entry.visible_until = sent_at + item.timeout;
                    }
                }
            }
        }
        self.epoch.send_modify(|epoch| *epoch = epoch.wrapping_add(1));
    }

    /// Removes and returns every entry.
    pub(crate) fn drain(&self) -> Vec<(EntryId, Tracked)> {
        self.lock().drain().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        registry.finish_extension(at, &due, &[id]);

        let at = start + Duration::from_secs(52);
        let due = registry.due(at, rule());
        assert_eq!(due[0].timeout, Duration::from_secs(8), "capped at 60 s since the receive");
        registry.finish_extension(at, &due, &[id]);

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

        registry.finish_extension(start, &due, &[id]);
        let settled = tokio::time::timeout(Duration::from_secs(5), settling).await;
        assert!(matches!(settled, Ok(Ok(Some(_)))));
        assert_eq!(registry.len(), 0);
    }
}
