//! The state of one queue: its settings and tags, and its messages moving between delayed, visible and in
//! flight. Everything here runs under the queue's lock and takes the current time as an argument; timed
//! transitions happen lazily in [`QueueState::tick`] whenever the queue is touched. Every state change goes
//! through [`QueueState::set_state`], which keeps the counters, the visible set and the FIFO groups in step.
//!
//! - `mod.rs`: the state, enqueue, purge and read access; `delivery.rs`: receive, delete, visibility changes;
//! - `schedule.rs`: state changes and timed transitions; `journal.rs`: memory accounting and the change journal.

mod delivery;
mod journal;
mod schedule;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::engine::attributes::QueueSettings;
use crate::engine::clock::Timestamp;
use crate::engine::events::QueueEvent;
use crate::engine::fifo::FifoState;
use crate::engine::receipt::ReceiptHandle;
use crate::engine::sequence::{SequenceMap, SequenceSet};
use crate::engine::stored::{MessageState, StoredMessage};

/// The longest a message may stay in flight after the receive that issued its handle (SQS: 12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(43_200);
/// The outcome of presenting a receipt handle for deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The message was deleted.
    Deleted,
    /// The handle was valid but the message is already gone; SQS reports success.
    AlreadyGone,
}

/// What a receive took from the queue.
#[derive(Debug, Default)]
pub struct Receipt<'a> {
    /// Messages delivered, with their new handles.
    pub delivered: Vec<(ReceiptHandle, &'a StoredMessage)>,
    /// Messages that exceeded the redrive policy's `maxReceiveCount`, removed for the dead-letter queue.
    pub dead_lettered: Vec<StoredMessage>,
}

/// The mutable state of one queue.
#[derive(Debug)]
pub struct QueueState {
    /// The queue's settable attributes.
    pub settings: QueueSettings,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// `CreatedTimestamp`.
    pub created_at: Timestamp,
    /// `LastModifiedTimestamp`.
    pub last_modified_at: Timestamp,
    /// When the queue was last purged.
    pub last_purge_at: Option<Timestamp>,
    /// FIFO groups, deduplication and attempts (FIFO queues only).
    pub fifo: Option<FifoState>,
    /// Boxed: a block of 64 slots stays 512 bytes, and a message is moved as a pointer on its way in.
    messages: SequenceMap<Box<StoredMessage>>,
    visible: SequenceSet,
    timers: BinaryHeap<Reverse<(Timestamp, u64, u32)>>,
    /// Messages whose retention started before that of a younger message (moved in from a source queue);
    /// everything else expires in sequence order.
    early_expiring: BTreeSet<(Timestamp, u64)>,
    newest_retention_start: Timestamp,
    delayed_count: usize,
    in_flight_count: usize,
    next_sequence: u64,
    /// Changes not yet handed to storage; `None` when nothing is persisted (zero cost in memory mode).
    journal: Option<Vec<QueueEvent>>,
    /// [`StoredMessage::stored_size`] of every message held here.
    stored_bytes: u64,
    /// The engine-wide total of stored bytes this queue adds to, once attached.
    usage: Option<Arc<AtomicU64>>,
}

/// Message counts, as the `ApproximateNumberOf*` attributes report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageCounts {
    /// Visible messages.
    pub visible: usize,
    /// In-flight messages.
    pub in_flight: usize,
    /// Delayed messages.
    pub delayed: usize,
}

impl QueueState {
    /// An empty queue.
    pub fn new(settings: QueueSettings, tags: BTreeMap<String, String>, now: Timestamp) -> Self {
        let fifo = settings.fifo_queue.then(FifoState::default);
        Self {
            settings,
            tags,
            created_at: now,
            last_modified_at: now,
            last_purge_at: None,
            fifo,
            messages: SequenceMap::default(),
            visible: SequenceSet::default(),
            timers: BinaryHeap::new(),
            early_expiring: BTreeSet::new(),
            newest_retention_start: Timestamp::default(),
            delayed_count: 0,
            in_flight_count: 0,
            next_sequence: 1,
            journal: None,
            stored_bytes: 0,
            usage: None,
        }
    }

    /// The sequence the next enqueued message will get.
    pub fn peek_next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Enqueues a message, delayed by `delay`; returns its sequence and whether it is visible at once.
    pub fn enqueue(&mut self, mut message: Box<StoredMessage>, delay: Duration, now: Timestamp) -> (u64, bool) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        if message.retention_start < self.newest_retention_start {
            self.early_expiring.insert((message.retention_start, sequence));
        } else {
            self.newest_retention_start = message.retention_start;
        }
        if let (Some(fifo), Some(group)) = (self.fifo.as_mut(), message.group_id()) {
            fifo.push(group, sequence);
        }
        // The message enters its first state directly: it leaves no earlier one and is not in flight (so no FIFO
        // group bookkeeping beyond the push above), which spares this hot path `set_state`'s lookups.
        message.epoch = message.epoch.wrapping_add(1);
        let visible = delay.is_zero();
        if visible {
            message.state = MessageState::Visible;
            self.visible.insert(sequence);
        } else {
            let until = now + delay;
            message.state = MessageState::Delayed { until };
            self.delayed_count += 1;
            self.timers.push(Reverse((until, sequence, message.epoch)));
        }
        self.add_usage(message.stored_size());
        if self.journal.is_some() {
            let event = QueueEvent::MessageStored { sequence, message: StoredMessage::clone(&message) };
            self.record(event);
        }
        self.messages.insert(sequence, message);
        (sequence, visible)
    }

    /// Deletes every message.
    pub fn purge(&mut self) {
        self.messages.clear();
        self.sub_usage(self.stored_bytes);
        self.visible.clear();
        self.timers.clear();
        self.early_expiring.clear();
        self.delayed_count = 0;
        self.in_flight_count = 0;
        if let Some(fifo) = self.fifo.as_mut() {
            fifo.clear_messages();
        }
        self.record(QueueEvent::Purged);
    }

    /// Current message counts.
    pub fn counts(&self) -> MessageCounts {
        MessageCounts { visible: self.visible.len(), in_flight: self.in_flight_count, delayed: self.delayed_count }
    }

    /// Removes up to `max` visible messages, oldest first (for message move tasks).
    pub fn take_visible(&mut self, max: usize) -> Vec<StoredMessage> {
        let chosen: Vec<u64> = self.visible.iter().take(max).collect();
        chosen.into_iter().filter_map(|sequence| self.remove(sequence)).collect()
    }

    /// When the oldest stored message was enqueued (its retention start), for `ApproximateAgeOfOldestMessage`.
    pub fn oldest_enqueued_at(&self) -> Option<Timestamp> {
        let front = self.messages.first().map(|(_, message)| message.retention_start);
        let early = self.early_expiring.first().map(|(start, _)| *start);
        front.into_iter().chain(early).min()
    }

    /// Every stored message with its sequence, in send order.
    pub fn messages_in_order(&self) -> impl Iterator<Item = (u64, &StoredMessage)> {
        self.messages.iter().map(|(sequence, message)| (sequence, &**message))
    }

    /// The message with this sequence, if stored.
    pub fn message(&self, sequence: u64) -> Option<&StoredMessage> {
        self.messages.get(sequence).map(|message| &**message)
    }

    fn remove(&mut self, sequence: u64) -> Option<StoredMessage> {
        let message = self.messages.remove(sequence)?;
        self.sub_usage(message.stored_size());
        match message.state {
            MessageState::Visible => {
                self.visible.remove(sequence);
            }
            MessageState::Delayed { .. } => self.delayed_count -= 1,
            MessageState::InFlight { .. } => self.in_flight_count -= 1,
        }
        if !self.early_expiring.is_empty() {
            self.early_expiring.remove(&(message.retention_start, sequence));
        }
        if let (Some(fifo), Some(group)) = (self.fifo.as_mut(), message.group_id()) {
            fifo.remove(group, sequence, matches!(message.state, MessageState::InFlight { .. }));
        }
        self.record(QueueEvent::MessageRemoved { sequence });
        Some(*message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::content::{Md5Digest, MessageAttributes, MessageBody};
    use crate::engine::stored::MessageExtra;

    fn message(body: &str, group: Option<&str>, now: Timestamp) -> Box<StoredMessage> {
        Box::new(StoredMessage::new(
            MessageBody::from(body),
            Md5Digest::of(body.as_bytes()),
            MessageAttributes::default(),
            MessageExtra { group_id: group.map(str::to_owned), ..MessageExtra::default() },
            Arc::from("000000000000"),
            now,
        ))
    }

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_millis(secs * 1000)
    }

    #[test]
    fn a_stored_message_fits_the_128_byte_allocation_class() {
        // Every queued message is one boxed StoredMessage; mimalloc's classes around it are 112, 128 and 160
        // bytes. 136 bytes (with an `Option<Timestamp>` for the first receive) cost 160 per message.
        assert!(std::mem::size_of::<StoredMessage>() <= 128, "{} bytes", std::mem::size_of::<StoredMessage>());
    }

    fn standard() -> QueueState {
        QueueState::new(QueueSettings::default(), BTreeMap::new(), at(0))
    }

    fn fifo() -> QueueState {
        let settings = QueueSettings { fifo_queue: true, ..QueueSettings::default() };
        QueueState::new(settings, BTreeMap::new(), at(0))
    }

    fn bodies(receipt: &Receipt<'_>) -> Vec<String> {
        receipt.delivered.iter().map(|(_, message)| message.body.to_string()).collect()
    }

    #[test]
    fn received_message_reappears_after_its_visibility_timeout() {
        let mut queue = standard();
        queue.enqueue(message("a", None, at(0)), Duration::ZERO, at(0));

        assert_eq!(queue.receive(10, Duration::from_secs(30), None, 1, at(0)).delivered.len(), 1);
        queue.tick(at(29));
        assert_eq!(queue.counts(), MessageCounts { visible: 0, in_flight: 1, delayed: 0 });

        queue.tick(at(30));
        assert_eq!(queue.counts(), MessageCounts { visible: 1, in_flight: 0, delayed: 0 });
        let again = queue.receive(10, Duration::from_secs(30), None, 1, at(30));
        assert_eq!(again.delivered[0].1.receive_count, 2);
    }

    #[test]
    fn delayed_message_is_counted_until_its_delay_ends() {
        let mut queue = standard();
        assert!(!queue.enqueue(message("a", None, at(0)), Duration::from_secs(5), at(0)).1);

        assert_eq!(queue.counts().delayed, 1);
        assert!(queue.receive(10, Duration::from_secs(30), None, 1, at(4)).delivered.is_empty());
        queue.tick(at(5));
        assert_eq!(queue.counts(), MessageCounts { visible: 1, in_flight: 0, delayed: 0 });
    }

    #[test]
    fn an_older_handle_deletes_a_redelivered_standard_message() {
        let mut queue = standard();
        queue.enqueue(message("a", None, at(0)), Duration::ZERO, at(0));
        let first = queue.receive(1, Duration::from_secs(1), None, 1, at(0)).delivered[0].0;
        queue.tick(at(1));
        let second = queue.receive(1, Duration::from_secs(30), None, 1, at(1)).delivered[0].0;

        assert_eq!(queue.delete(first, "h").expect("accepted"), DeleteOutcome::Deleted);
        assert_eq!(queue.counts(), MessageCounts::default());
        assert_eq!(queue.delete(second, "h").expect("accepted"), DeleteOutcome::AlreadyGone);
    }

    #[test]
    fn retention_removes_messages_even_in_flight() {
        let settings = QueueSettings { message_retention_period: Duration::from_secs(60), ..QueueSettings::default() };
        let mut queue = QueueState::new(settings, BTreeMap::new(), at(0));
        queue.enqueue(message("a", None, at(0)), Duration::ZERO, at(0));
        queue.receive(1, Duration::from_secs(120), None, 1, at(0));

        queue.tick(at(60));

        assert_eq!(queue.counts(), MessageCounts::default());
    }

    #[test]
    fn moved_in_messages_expire_by_their_original_retention_start() {
        let settings = QueueSettings { message_retention_period: Duration::from_secs(100), ..QueueSettings::default() };
        let mut queue = QueueState::new(settings, BTreeMap::new(), at(0));
        queue.enqueue(message("young", None, at(50)), Duration::ZERO, at(50));
        queue.enqueue(message("old", None, at(10)), Duration::ZERO, at(60));

        queue.tick(at(110));

        let left = queue.receive(10, Duration::from_secs(30), None, 1, at(110));
        assert_eq!(bodies(&left), ["young"]);
    }

    #[test]
    fn visibility_cannot_pass_twelve_hours_from_the_receive() {
        let mut queue = standard();
        queue.enqueue(message("a", None, at(0)), Duration::ZERO, at(0));
        let handle = queue.receive(1, Duration::from_secs(30), None, 1, at(0)).delivered[0].0;

        assert!(queue.change_visibility(handle, "h", Duration::from_secs(43_200 - 10), at(10)).is_ok());
        assert!(queue.change_visibility(handle, "h", Duration::from_secs(43_200 - 9), at(10)).is_err());
    }

    #[test]
    fn message_past_max_receive_count_is_dead_lettered_instead_of_delivered() {
        let mut queue = standard();
        queue.enqueue(message("poison", None, at(0)), Duration::ZERO, at(0));
        for second in 0..2 {
            assert_eq!(queue.receive(1, Duration::ZERO, Some(2), 1, at(second)).delivered.len(), 1);
            queue.tick(at(second));
        }

        let third = queue.receive(1, Duration::ZERO, Some(2), 1, at(2));

        assert!(third.delivered.is_empty());
        assert_eq!(third.dead_lettered.len(), 1);
        assert_eq!(third.dead_lettered[0].receive_count, 2);
        assert_eq!(queue.counts(), MessageCounts::default());
    }

    #[test]
    fn fifo_group_is_blocked_while_a_message_is_in_flight_and_keeps_its_order() {
        let mut queue = fifo();
        for body in ["a1", "a2", "a3"] {
            queue.enqueue(message(body, Some("a"), at(0)), Duration::ZERO, at(0));
        }
        queue.enqueue(message("b1", Some("b"), at(0)), Duration::ZERO, at(0));

        let first = queue.receive(2, Duration::from_secs(30), None, 1, at(0));
        assert_eq!(bodies(&first), ["a1", "a2"]);
        let handle = first.delivered[0].0;
        let second = queue.receive(10, Duration::from_secs(30), None, 1, at(0));
        assert_eq!(bodies(&second), ["b1"]);

        queue.delete(handle, "h").expect("deleted");
        assert!(queue.receive(10, Duration::from_secs(30), None, 1, at(0)).delivered.is_empty());
        queue.tick(at(30));
        let third = queue.receive(10, Duration::from_secs(30), None, 1, at(30));
        assert_eq!(bodies(&third), ["b1", "a2", "a3"]);
    }
}
