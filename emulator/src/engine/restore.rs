//! Start-up recovery: rebuilding an engine from what durable storage kept.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::attributes::QueueSettings;
use super::clock::{Clock, Timestamp};
use super::dedup::{DEDUPLICATION_WINDOW, DeduplicatedSend};
use super::events::{EventSink, StorageEvent};
use super::move_task_info::MoveTaskInfo;
use super::queue::QueueState;
use super::stored::StoredMessage;
use super::{Engine, EngineConfig};
use crate::error::SqsError;

/// An open FIFO deduplication window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeduplicationRecord {
    /// The group the id is scoped to, if any.
    pub scope_group: Option<String>,
    /// The deduplication id.
    pub deduplication_id: String,
    /// The original message id.
    pub message_id: String,
    /// The original sequence.
    pub sequence: u64,
    /// When the window closes.
    pub expires_at: Timestamp,
}

/// One queue as storage kept it.
#[derive(Debug, Clone)]
pub struct QueueSnapshot {
    /// The queue's unique id.
    pub uid: u64,
    /// The name.
    pub name: String,
    /// Settable attributes as name/value strings.
    pub attributes: Vec<(String, String)>,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// `CreatedTimestamp`.
    pub created_at: Timestamp,
    /// `LastModifiedTimestamp`.
    pub last_modified_at: Timestamp,
    /// Last purge.
    pub last_purge_at: Option<Timestamp>,
    /// The next sequence to hand out (at least one above every sequence ever used).
    pub next_sequence: u64,
    /// Messages by sequence, with their last persisted state, boxed as the queue keeps them, so restoring
    /// moves each one in without a copy and the snapshot costs only this vector beyond the restored state.
    pub messages: Vec<(u64, Box<StoredMessage>)>,
    /// Open deduplication windows.
    pub deduplications: Vec<DeduplicationRecord>,
}

/// Everything storage kept.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The queues.
    pub queues: Vec<QueueSnapshot>,
    /// Message move tasks with their handles, oldest first.
    pub move_tasks: Vec<(String, MoveTaskInfo)>,
}

impl Engine {
    /// Rebuilds an engine from a snapshot; further changes go to `sink`.
    ///
    /// # Errors
    /// The first [`SqsError`] met while re-applying a queue's stored attributes (a sign of a damaged store).
    pub fn restore(
        config: EngineConfig,
        clock: Arc<dyn Clock>,
        sink: Option<Arc<dyn EventSink>>,
        snapshot: Snapshot,
    ) -> Result<Self, SqsError> {
        let engine = Self::with_sink(config, clock, sink);
        let now = engine.now();
        let mut queues = super::Namespaces::default();
        let mut migrated = Vec::new();
        let mut max_uid = 0;
        for stored in snapshot.queues {
            let mut settings = QueueSettings::default();
            for (name, value) in &stored.attributes {
                settings.apply(name, value)?;
            }
            let mut state = QueueState::new(settings, stored.tags.into_iter().collect(), stored.created_at);
            state.last_modified_at = stored.last_modified_at;
            state.last_purge_at = stored.last_purge_at;
            for (sequence, message) in stored.messages {
                state.restore_message(sequence, message);
            }
            // The queue holds its messages now; the next queue's vector may reuse this memory.
            state.reserve_sequences_below(stored.next_sequence);
            if let Some(fifo) = state.fifo.as_mut() {
                for record in stored.deduplications.into_iter().filter(|record| record.expires_at > now) {
                    let original = DeduplicatedSend { message_id: record.message_id, sequence: record.sequence };
                    let opened_at = record.expires_at - DEDUPLICATION_WINDOW;
                    fifo.remember_send(record.scope_group.as_deref(), &record.deduplication_id, original, opened_at);
                }
            }
            max_uid = max_uid.max(stored.uid);
            let config = &engine.shared.config;
            let (region, account, name) = match stored_identity(&stored.name) {
                StoredIdentity::Full { region, account, name } => (region, account, name),
                // Written before regions (or accounts) existed: a queue of the default region (and account),
                // whose row is rewritten with its full identity.
                StoredIdentity::WithoutRegion { account, name } => {
                    let account = account.unwrap_or(&config.account_id);
                    migrated.push(StorageEvent::QueueRenamed {
                        uid: stored.uid,
                        name: engine.storage_name(&config.region, account, name),
                    });
                    (config.region.as_str(), account, name)
                }
            };
            let queue = engine.new_queue(stored.uid, region, account, name, state);
            // Messages that expired while the emulator was down go now, and storage hears of it.
            queue.lock().tick(now);
            queues.insert(queue);
        }
        if let (Some(sink), false) = (&engine.shared.sink, migrated.is_empty()) {
            tracing::info!(queues = migrated.len(), region = %engine.shared.config.region, "stored queues without a region are now in the default region");
            sink.append(migrated);
        }
        *engine.shared.queues.write().unwrap_or_else(std::sync::PoisonError::into_inner) = queues;
        engine.shared.next_queue_uid.store(max_uid + 1, Ordering::Relaxed);
        engine.restore_move_tasks(snapshot.move_tasks);
        Ok(engine)
    }
}

/// A queue's identity as storage kept it (see `Engine::storage_name`).
#[derive(Debug, PartialEq, Eq)]
enum StoredIdentity<'a> {
    /// `<region>/<account>/<name>`.
    Full { region: &'a str, account: &'a str, name: &'a str },
    /// `<account>/<name>` or `<name>` (the default account), from a file written before regions.
    WithoutRegion { account: Option<&'a str>, name: &'a str },
}

fn stored_identity(stored: &str) -> StoredIdentity<'_> {
    let mut parts = stored.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(region), Some(account), Some(name)) => StoredIdentity::Full { region, account, name },
        (Some(account), Some(name), None) => StoredIdentity::WithoutRegion { account: Some(account), name },
        _ => StoredIdentity::WithoutRegion { account: None, name: stored },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_with_and_without_a_region() {
        assert_eq!(
            stored_identity("eu-west-1/111122223333/orders"),
            StoredIdentity::Full { region: "eu-west-1", account: "111122223333", name: "orders" }
        );
        assert_eq!(
            stored_identity("111122223333/orders"),
            StoredIdentity::WithoutRegion { account: Some("111122223333"), name: "orders" }
        );
        assert_eq!(
            stored_identity("orders.fifo"),
            StoredIdentity::WithoutRegion { account: None, name: "orders.fifo" }
        );
    }
}
