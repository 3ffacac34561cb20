//! What one queue reports and accounts for: its stored bytes against the engine's memory budget, and the
//! journal of changes that durable storage receives when the queue's lock is released.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::QueueState;
use crate::engine::clock::Timestamp;
use crate::engine::events::QueueEvent;
use crate::engine::stored::{MessageState, StoredMessage};

impl QueueState {
    /// Counts this queue's stored bytes into the engine-wide `usage` (the memory budget).
    pub fn attach_usage(&mut self, usage: Arc<AtomicU64>) {
        usage.fetch_add(self.stored_bytes, Ordering::Relaxed);
        self.usage = Some(usage);
    }

    /// Bytes of the messages held here.
    pub fn stored_bytes(&self) -> u64 {
        self.stored_bytes
    }

    /// Counts `bytes` more against this queue and the engine-wide budget.
    pub(super) fn add_usage(&mut self, bytes: u64) {
        self.stored_bytes += bytes;
        if let Some(usage) = &self.usage {
            usage.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Counts `bytes` less against this queue and the engine-wide budget.
    pub(super) fn sub_usage(&mut self, bytes: u64) {
        let bytes = bytes.min(self.stored_bytes);
        self.stored_bytes -= bytes;
        if let Some(usage) = &self.usage {
            usage.fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    /// Stops counting this queue's messages in the engine-wide usage (the queue was deleted).
    pub fn purge_usage(&mut self) {
        self.sub_usage(self.stored_bytes);
        self.usage = None;
    }

    /// Starts recording changes for storage.
    pub fn enable_journal(&mut self) {
        self.journal.get_or_insert_with(Vec::new);
    }

    /// Stops recording changes and drops those not yet handed over (the queue was deleted: storage has been
    /// told to delete all of it, and nothing may be written for it afterwards).
    pub fn disable_journal(&mut self) {
        self.journal = None;
    }

    /// Records a change for storage, when storage is on.
    pub fn record(&mut self, event: QueueEvent) {
        if let Some(journal) = self.journal.as_mut() {
            journal.push(event);
        }
    }

    /// Whether changes are being recorded.
    pub fn is_journaled(&self) -> bool {
        self.journal.is_some()
    }

    /// The changes recorded since the last call.
    pub fn take_events(&mut self) -> Vec<QueueEvent> {
        self.journal.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Records the current attributes, tags and timestamps.
    pub fn record_metadata(&mut self) {
        if self.journal.is_none() {
            return;
        }
        let event = QueueEvent::MetadataChanged {
            attributes: self.settings.to_pairs(),
            tags: self.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            last_modified_at: self.last_modified_at,
            last_purge_at: self.last_purge_at,
        };
        self.record(event);
    }

    /// Journals the current state of the message at `sequence` (when journaling is on).
    pub(super) fn record_update(&mut self, sequence: u64) {
        if self.journal.is_none() {
            return;
        }
        if let Some(message) = self.messages.get(sequence) {
            let event = QueueEvent::MessageUpdated {
                sequence,
                receive_count: message.receive_count,
                first_received_at: message.first_received_at(),
                state: message.state,
            };
            self.record(event);
        }
    }

    /// Puts a stored message back under its original sequence (start-up recovery). An in-flight or delayed
    /// message whose deadline has passed becomes visible at the next tick.
    pub fn restore_message(&mut self, sequence: u64, mut message: Box<StoredMessage>) {
        let state = message.state;
        self.next_sequence = self.next_sequence.max(sequence + 1);
        if message.retention_start < self.newest_retention_start {
            self.early_expiring.insert((message.retention_start, sequence));
        } else {
            self.newest_retention_start = message.retention_start;
        }
        if let (Some(fifo), Some(group)) = (self.fifo.as_mut(), message.group_id()) {
            fifo.push(group, sequence);
        }
        message.state = MessageState::Delayed { until: Timestamp::default() };
        self.delayed_count += 1;
        self.add_usage(message.stored_size());
        self.messages.insert(sequence, message);
        self.set_state(sequence, state);
    }

    /// Makes sure future sequences start after `next` (start-up recovery).
    pub fn reserve_sequences_below(&mut self, next: u64) {
        self.next_sequence = self.next_sequence.max(next);
    }
}
