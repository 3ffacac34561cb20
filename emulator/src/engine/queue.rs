//! The state of one queue: its settings and tags, and its messages moving between delayed, visible and in
//! flight. Everything here runs under the queue's lock and takes the current time as an argument; timed
//! transitions happen lazily in [`QueueState::tick`] whenever the queue is touched. Every state change goes
//! through [`QueueState::set_state`], which keeps the counters, the visible set and the FIFO groups in step.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::attributes::QueueSettings;
use super::clock::Timestamp;
use super::events::QueueEvent;
use super::fifo::FifoState;
use super::receipt::ReceiptHandle;
use super::sequence::{SequenceMap, SequenceSet};
use super::stored::{MessageState, StoredMessage};
use crate::error::SqsError;

/// The longest a message may stay in flight after the receive that issued its handle (SQS: 12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(43_200);
/// The outcome of presenting a receipt handle for deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The message was deleted.
    Deleted,
    /// The handle was valid but the message is already gone, or a newer receive superseded the handle; SQS
    /// reports success for standard queues.
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

    /// Counts this queue's stored bytes into the engine-wide `usage` (the memory budget).
    pub fn attach_usage(&mut self, usage: Arc<AtomicU64>) {
        usage.fetch_add(self.stored_bytes, Ordering::Relaxed);
        self.usage = Some(usage);
    }

    /// Bytes of the messages held here.
    pub fn stored_bytes(&self) -> u64 {
        self.stored_bytes
    }

    fn add_usage(&mut self, bytes: u64) {
        self.stored_bytes += bytes;
        if let Some(usage) = &self.usage {
            usage.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    fn sub_usage(&mut self, bytes: u64) {
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

    fn record_update(&mut self, sequence: u64) {
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
    pub fn restore_message(&mut self, sequence: u64, mut message: StoredMessage) {
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
        self.messages.insert(sequence, Box::new(message));
        self.set_state(sequence, state);
    }

    /// Makes sure future sequences start after `next` (start-up recovery).
    pub fn reserve_sequences_below(&mut self, next: u64) {
        self.next_sequence = self.next_sequence.max(next);
    }

    /// Moves a message to `new` state, keeping counters, the visible set, FIFO groups and timers in step.
    fn set_state(&mut self, sequence: u64, new: MessageState) {
        let Some(message) = self.messages.get_mut(sequence) else { return };
        let old = message.state;
        message.state = new;
        message.epoch = message.epoch.wrapping_add(1);
        let epoch = message.epoch;
        // Borrowed from the message while the other fields change: a disjoint borrow of `self.messages`.
        let group = message.extra.as_ref().and_then(|extra| extra.group_id.as_deref());
        match old {
            MessageState::Visible => {
                self.visible.remove(sequence);
            }
            MessageState::Delayed { .. } => self.delayed_count -= 1,
            MessageState::InFlight { .. } => self.in_flight_count -= 1,
        }
        match new {
            MessageState::Visible => {
                self.visible.insert(sequence);
            }
            MessageState::Delayed { until } => {
                self.delayed_count += 1;
                self.timers.push(Reverse((until, sequence, epoch)));
            }
            MessageState::InFlight { until, .. } => {
                self.in_flight_count += 1;
                self.timers.push(Reverse((until, sequence, epoch)));
            }
        }
        let was_in_flight = matches!(old, MessageState::InFlight { .. });
        let is_in_flight = matches!(new, MessageState::InFlight { .. });
        if let (Some(fifo), Some(group)) = (self.fifo.as_mut(), group) {
            if was_in_flight != is_in_flight {
                fifo.adjust_in_flight(group, is_in_flight);
            }
        }
    }

    /// Applies every transition due at `now`: delays and visibility timeouts that ended, retention expiry,
    /// and the end of FIFO deduplication windows.
    pub fn tick(&mut self, now: Timestamp) {
        while let Some(Reverse((due, sequence, epoch))) = self.timers.peek().copied() {
            if due > now {
                break;
            }
            self.timers.pop();
            let current = self.messages.get(sequence).map(|message| (message.epoch, message.state));
            if let Some((current_epoch, state)) = current {
                if current_epoch == epoch && state != MessageState::Visible {
                    self.set_state(sequence, MessageState::Visible);
                }
            }
        }
        self.expire(now);
        if let Some(fifo) = self.fifo.as_mut() {
            fifo.expire(now);
        }
    }

    /// Deletes messages older than the retention period, in flight or not.
    fn expire(&mut self, now: Timestamp) {
        let retention = self.settings.message_retention_period;
        while let Some((sequence, message)) = self.messages.first() {
            if message.retention_start + retention > now {
                break;
            }
            self.remove(sequence);
        }
        while let Some(&(start, sequence)) = self.early_expiring.first() {
            if start + retention > now {
                break;
            }
            self.remove(sequence);
        }
    }

    /// The earliest moment a timed transition is due, if any (for long-poll waiters).
    pub fn next_transition(&self) -> Option<Timestamp> {
        let retention = self.settings.message_retention_period;
        let timer = self.timers.peek().map(|Reverse((due, _, _))| *due);
        let expiry = self.messages.first().map(|(_, message)| message.retention_start + retention);
        let early = self.early_expiring.first().map(|(start, _)| *start + retention);
        [timer, expiry, early].into_iter().flatten().min()
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

    /// Takes up to `max` messages for a receive (standard: oldest visible first; FIFO: by group, see
    /// [`FifoState::candidates`]), marks them in flight for `visibility`, and returns them with their new
    /// handles. Messages that would pass `max_receive_count` are removed for the dead-letter queue instead.
    pub fn receive(
        &mut self,
        max: usize,
        visibility: Duration,
        max_receive_count: Option<u32>,
        queue_uid: u64,
        now: Timestamp,
    ) -> Receipt<'_> {
        let mut delivered = Vec::with_capacity(max);
        let mut dead_lettered = Vec::new();
        // Dead-lettered candidates free their slot, so keep choosing until `max` are delivered or none is left.
        loop {
            let wanted = max - delivered.len();
            let candidates: Vec<u64> = match self.fifo.as_mut() {
                Some(fifo) => {
                    let visible = &self.visible;
                    fifo.candidates(wanted, |sequence| visible.contains(sequence))
                }
                None => self.visible.iter().take(wanted).collect(),
            };
            if candidates.is_empty() {
                break;
            }
            let mut moved_any = false;
            for sequence in candidates {
                let Some(message) = self.messages.get(sequence) else { continue };
                if max_receive_count.is_some_and(|limit| message.receive_count >= limit) {
                    if let Some(message) = self.remove(sequence) {
                        dead_lettered.push(message);
                        moved_any = true;
                    }
                    continue;
                }
                self.set_state(sequence, MessageState::InFlight { until: now + visibility, received_at: now });
                if let Some(message) = self.messages.get_mut(sequence) {
                    message.receive_count = message.receive_count.saturating_add(1);
                    if message.first_received_at().is_none() {
                        message.set_first_received_at(Some(now));
                    }
                    delivered.push(ReceiptHandle { queue_uid, sequence, receive: message.receive_count });
                }
                self.record_update(sequence);
            }
            if !moved_any || delivered.len() >= max {
                break;
            }
        }
        let delivered = delivered
            .into_iter()
            .filter_map(|handle| self.messages.get(handle.sequence).map(|message| (handle, &**message)))
            .collect();
        Receipt { delivered, dead_lettered }
    }

    /// Re-issues the messages of an earlier receive whose handles are all still current, in flight and
    /// unchanged since (same state epoch), restarting their visibility timeout (FIFO `ReceiveRequestAttemptId`).
    /// Returns the handles with their new epochs, or `None` when the attempt no longer applies.
    pub fn repeat_receive(
        &mut self,
        handles: &[(ReceiptHandle, u32)],
        visibility: Duration,
        now: Timestamp,
    ) -> Option<Vec<(ReceiptHandle, u32)>> {
        let unchanged = handles.iter().all(|(handle, epoch)| {
            self.messages.get(handle.sequence).is_some_and(|message| {
                message.receive_count == handle.receive
                    && message.epoch == *epoch
                    && matches!(message.state, MessageState::InFlight { .. })
            })
        });
        if !unchanged || handles.is_empty() {
            return None;
        }
        for (handle, _) in handles {
            self.set_state(handle.sequence, MessageState::InFlight { until: now + visibility, received_at: now });
            self.record_update(handle.sequence);
        }
        Some(self.stamp(handles.iter().map(|(handle, _)| *handle)))
    }

    /// Pairs handles with their message's current state epoch (see [`super::fifo::Attempt`]).
    pub fn stamp(&self, handles: impl IntoIterator<Item = ReceiptHandle>) -> Vec<(ReceiptHandle, u32)> {
        handles
            .into_iter()
            .filter_map(|handle| self.messages.get(handle.sequence).map(|message| (handle, message.epoch)))
            .collect()
    }

    /// Deletes the message a handle points to, if the handle is still the latest one for it.
    ///
    /// # Errors
    /// `ReceiptHandleIsInvalid` for a handle that was never issued for this message.
    pub fn delete(&mut self, handle: ReceiptHandle, raw_handle: &str) -> Result<DeleteOutcome, SqsError> {
        let Some(message) = self.messages.get(handle.sequence) else {
            if handle.sequence >= self.next_sequence || handle.receive == 0 {
                return Err(SqsError::receipt_handle_invalid(raw_handle));
            }
            return Ok(DeleteOutcome::AlreadyGone);
        };
        if handle.receive > message.receive_count || handle.receive == 0 {
            return Err(SqsError::receipt_handle_invalid(raw_handle));
        }
        let superseded = handle.receive < message.receive_count;
        if superseded && self.fifo.is_none() {
            return Ok(DeleteOutcome::AlreadyGone);
        }
        if self.fifo.is_some() && (superseded || !matches!(message.state, MessageState::InFlight { .. })) {
            // FIFO handles die with their visibility timeout (SPEC.md §6 DeleteMessage).
            return Err(SqsError::invalid_parameter_value(
                "ReceiptHandle",
                raw_handle,
                "The receipt handle has expired.",
            ));
        }
        self.remove(handle.sequence);
        Ok(DeleteOutcome::Deleted)
    }

    /// Changes the visibility timeout of an in-flight message to `timeout` from now; returns whether the message
    /// became visible.
    ///
    /// # Errors
    /// `ReceiptHandleIsInvalid` for a handle never issued; `InvalidParameterValue` when the message is gone, not
    /// in flight, the handle is superseded, or the total would pass 12 hours since the receive.
    pub fn change_visibility(
        &mut self,
        handle: ReceiptHandle,
        raw_handle: &str,
        timeout: Duration,
        now: Timestamp,
    ) -> Result<bool, SqsError> {
        let not_available = || {
            SqsError::invalid_parameter_value(
                "ReceiptHandle",
                raw_handle,
                "Message does not exist or is not available for visibility timeout change.",
            )
        };
        if handle.sequence >= self.next_sequence || handle.receive == 0 {
            return Err(SqsError::receipt_handle_invalid(raw_handle));
        }
        let message = self.messages.get(handle.sequence).ok_or_else(not_available)?;
        if handle.receive > message.receive_count {
            return Err(SqsError::receipt_handle_invalid(raw_handle));
        }
        let MessageState::InFlight { received_at, .. } = message.state else {
            return Err(not_available());
        };
        if handle.receive != message.receive_count {
            return Err(not_available());
        }
        let until = now + timeout;
        if until.saturating_since(received_at) > MAX_VISIBILITY {
            return Err(SqsError::invalid_parameter_value(
                "VisibilityTimeout",
                timeout.as_secs(),
                "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]",
            ));
        }
        let became_visible = timeout.is_zero();
        if became_visible {
            self.set_state(handle.sequence, MessageState::Visible);
        } else {
            self.set_state(handle.sequence, MessageState::InFlight { until, received_at });
        }
        self.record_update(handle.sequence);
        Ok(became_visible)
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
    fn stale_handle_does_not_delete_a_redelivered_message() {
        let mut queue = standard();
        queue.enqueue(message("a", None, at(0)), Duration::ZERO, at(0));
        let first = queue.receive(1, Duration::from_secs(1), None, 1, at(0)).delivered[0].0;
        queue.tick(at(1));
        let second = queue.receive(1, Duration::from_secs(30), None, 1, at(1)).delivered[0].0;

        assert_eq!(queue.delete(first, "h").expect("accepted"), DeleteOutcome::AlreadyGone);
        assert_eq!(queue.counts().in_flight, 1);
        assert_eq!(queue.delete(second, "h").expect("accepted"), DeleteOutcome::Deleted);
        assert_eq!(queue.counts(), MessageCounts::default());
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
