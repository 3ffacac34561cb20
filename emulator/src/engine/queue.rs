//! The state of one queue: its settings and tags, and its messages moving between delayed, visible and in
//! flight. Everything here runs under the queue's lock and takes the current time as an argument; timed
//! transitions happen lazily in [`QueueState::tick`] whenever the queue is touched.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::attributes::QueueSettings;
use super::clock::Timestamp;
use super::message::{Md5Digest, MessageAttributes};
use super::receipt::ReceiptHandle;
use crate::error::SqsError;

/// The longest a message may stay in flight after the receive that issued its handle (SQS: 12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(43_200);

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    /// Not yet visible: waiting for its delay to end.
    Delayed {
        /// When the message becomes visible.
        until: Timestamp,
    },
    /// Visible: the next receive may return it.
    Visible,
    /// Received and hidden until its visibility timeout ends.
    InFlight {
        /// When the message becomes visible again.
        until: Timestamp,
        /// When the receive that issued the current handle happened (the 12-hour limit counts from here).
        received_at: Timestamp,
    },
}

/// A message as the queue keeps it.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    /// `MessageId`.
    pub id: Uuid,
    /// The body, shared with receive results without copying.
    pub body: Arc<str>,
    /// MD5 of the body.
    pub md5_of_body: Md5Digest,
    /// Message attributes, boxed because most messages have none.
    pub attributes: Option<Box<MessageAttributes>>,
    /// MD5 of all message attributes.
    pub md5_of_attributes: Option<Md5Digest>,
    /// The `AWSTraceHeader` system attribute, if sent.
    pub trace_header: Option<Box<str>>,
    /// `MessageGroupId`, if sent.
    pub group_id: Option<Box<str>>,
    /// `SenderId`.
    pub sender_id: Arc<str>,
    /// `SentTimestamp`.
    pub sent_at: Timestamp,
    /// `ApproximateFirstReceiveTimestamp`, once received.
    pub first_received_at: Option<Timestamp>,
    /// `ApproximateReceiveCount`.
    pub receive_count: u32,
    /// The current state.
    pub state: MessageState,
    /// Bumped on every state change, so stale timer entries are recognised.
    epoch: u32,
}

impl StoredMessage {
    /// A message about to be enqueued (its state is set by [`QueueState::enqueue`]).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        body: Arc<str>,
        md5_of_body: Md5Digest,
        attributes: MessageAttributes,
        trace_header: Option<String>,
        group_id: Option<String>,
        sender_id: Arc<str>,
        sent_at: Timestamp,
    ) -> Self {
        let md5_of_attributes = attributes.md5();
        Self {
            id: Uuid::new_v4(),
            body,
            md5_of_body,
            attributes: (!attributes.is_empty()).then(|| Box::new(attributes)),
            md5_of_attributes,
            trace_header: trace_header.map(String::into_boxed_str),
            group_id: group_id.map(String::into_boxed_str),
            sender_id,
            sent_at,
            first_received_at: None,
            receive_count: 0,
            state: MessageState::Visible,
            epoch: 0,
        }
    }
}

/// The outcome of presenting a receipt handle for deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The message was deleted.
    Deleted,
    /// The handle was valid but the message is already gone, or a newer receive superseded the handle; SQS
    /// reports success for standard queues.
    AlreadyGone,
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
    messages: BTreeMap<u64, StoredMessage>,
    visible: BTreeSet<u64>,
    timers: BinaryHeap<Reverse<(Timestamp, u64, u32)>>,
    delayed_count: usize,
    in_flight_count: usize,
    next_sequence: u64,
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
        Self {
            settings,
            tags,
            created_at: now,
            last_modified_at: now,
            last_purge_at: None,
            messages: BTreeMap::new(),
            visible: BTreeSet::new(),
            timers: BinaryHeap::new(),
            delayed_count: 0,
            in_flight_count: 0,
            next_sequence: 1,
        }
    }

    /// Applies every transition due at `now`: delays and visibility timeouts that ended, and retention expiry.
    pub fn tick(&mut self, now: Timestamp) {
        while let Some(Reverse((due, sequence, epoch))) = self.timers.peek().copied() {
            if due > now {
                break;
            }
            self.timers.pop();
            let Some(message) = self.messages.get_mut(&sequence) else { continue };
            if message.epoch != epoch {
                continue;
            }
            match message.state {
                MessageState::Delayed { .. } => self.delayed_count -= 1,
                MessageState::InFlight { .. } => self.in_flight_count -= 1,
                MessageState::Visible => continue,
            }
            message.state = MessageState::Visible;
            message.epoch = message.epoch.wrapping_add(1);
            self.visible.insert(sequence);
        }
        self.expire(now);
    }

    /// Deletes messages older than the retention period, in flight or not. Sequence order is send order, so
    /// only the oldest entries need looking at.
    fn expire(&mut self, now: Timestamp) {
        let retention = self.settings.message_retention_period;
        while let Some((&sequence, message)) = self.messages.first_key_value() {
            if message.sent_at + retention > now {
                break;
            }
            self.remove(sequence);
        }
    }

    /// The earliest moment a timed transition is due, if any (for long-poll waiters).
    pub fn next_transition(&self) -> Option<Timestamp> {
        let timer = self.timers.peek().map(|Reverse((due, _, _))| *due);
        let expiry = self
            .messages
            .first_key_value()
            .map(|(_, message)| message.sent_at + self.settings.message_retention_period);
        match (timer, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Enqueues a message, delayed by `delay`; returns whether it is visible at once.
    pub fn enqueue(&mut self, mut message: StoredMessage, delay: Duration, now: Timestamp) -> bool {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let visible = delay.is_zero();
        if visible {
            message.state = MessageState::Visible;
            self.visible.insert(sequence);
        } else {
            let until = now + delay;
            message.state = MessageState::Delayed { until };
            self.timers.push(Reverse((until, sequence, message.epoch)));
            self.delayed_count += 1;
        }
        self.messages.insert(sequence, message);
        visible
    }

    /// Takes up to `max` visible messages (oldest first), marks them in flight for `visibility`, and returns
    /// them with their new receipt handles.
    pub fn receive(
        &mut self,
        max: usize,
        visibility: Duration,
        queue_uid: u64,
        now: Timestamp,
    ) -> Vec<(ReceiptHandle, &StoredMessage)> {
        let chosen: Vec<u64> = self.visible.iter().take(max).copied().collect();
        let until = now + visibility;
        for sequence in &chosen {
            self.visible.remove(sequence);
            if let Some(message) = self.messages.get_mut(sequence) {
                message.receive_count = message.receive_count.saturating_add(1);
                message.first_received_at.get_or_insert(now);
                message.state = MessageState::InFlight { until, received_at: now };
                message.epoch = message.epoch.wrapping_add(1);
                self.timers.push(Reverse((until, *sequence, message.epoch)));
                self.in_flight_count += 1;
            }
        }
        chosen
            .into_iter()
            .filter_map(|sequence| {
                let message = self.messages.get(&sequence)?;
                let handle = ReceiptHandle { queue_uid, sequence, receive: message.receive_count };
                Some((handle, message))
            })
            .collect()
    }

    /// Deletes the message a handle points to, if the handle is still the latest one for it.
    ///
    /// # Errors
    /// `ReceiptHandleIsInvalid` for a handle that was never issued for this message.
    pub fn delete(&mut self, handle: ReceiptHandle, raw_handle: &str) -> Result<DeleteOutcome, SqsError> {
        let Some(message) = self.messages.get(&handle.sequence) else {
            if handle.sequence >= self.next_sequence {
                return Err(SqsError::receipt_handle_invalid(raw_handle));
            }
            return Ok(DeleteOutcome::AlreadyGone);
        };
        if handle.receive > message.receive_count || handle.receive == 0 {
            return Err(SqsError::receipt_handle_invalid(raw_handle));
        }
        if handle.receive < message.receive_count {
            return Ok(DeleteOutcome::AlreadyGone);
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
        let message = self.messages.get_mut(&handle.sequence).ok_or_else(not_available)?;
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
        message.epoch = message.epoch.wrapping_add(1);
        if timeout.is_zero() {
            message.state = MessageState::Visible;
            self.in_flight_count -= 1;
            self.visible.insert(handle.sequence);
            Ok(true)
        } else {
            message.state = MessageState::InFlight { until, received_at };
            self.timers.push(Reverse((until, handle.sequence, message.epoch)));
            Ok(false)
        }
    }

    /// Deletes every message.
    pub fn purge(&mut self) {
        self.messages.clear();
        self.visible.clear();
        self.timers.clear();
        self.delayed_count = 0;
        self.in_flight_count = 0;
    }

    /// Current message counts.
    pub fn counts(&self) -> MessageCounts {
        MessageCounts { visible: self.visible.len(), in_flight: self.in_flight_count, delayed: self.delayed_count }
    }

    fn remove(&mut self, sequence: u64) -> Option<StoredMessage> {
        let message = self.messages.remove(&sequence)?;
        match message.state {
            MessageState::Visible => {
                self.visible.remove(&sequence);
            }
            MessageState::Delayed { .. } => self.delayed_count -= 1,
            MessageState::InFlight { .. } => self.in_flight_count -= 1,
        }
        Some(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str, now: Timestamp) -> StoredMessage {
        StoredMessage::new(
            Arc::from(body),
            Md5Digest::of(body.as_bytes()),
            MessageAttributes::default(),
            None,
            None,
            Arc::from("000000000000"),
            now,
        )
    }

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_millis(secs * 1000)
    }

    #[test]
    fn received_message_reappears_after_its_visibility_timeout() {
        let mut queue = QueueState::new(QueueSettings::default(), BTreeMap::new(), at(0));
        queue.enqueue(message("a", at(0)), Duration::ZERO, at(0));

        assert_eq!(queue.receive(10, Duration::from_secs(30), 1, at(0)).len(), 1);
        queue.tick(at(29));
        assert_eq!(queue.counts(), MessageCounts { visible: 0, in_flight: 1, delayed: 0 });

        queue.tick(at(30));
        assert_eq!(queue.counts(), MessageCounts { visible: 1, in_flight: 0, delayed: 0 });
        let again = queue.receive(10, Duration::from_secs(30), 1, at(30));
        assert_eq!(again[0].1.receive_count, 2);
    }

    #[test]
    fn delayed_message_is_counted_until_its_delay_ends() {
        let mut queue = QueueState::new(QueueSettings::default(), BTreeMap::new(), at(0));
        assert!(!queue.enqueue(message("a", at(0)), Duration::from_secs(5), at(0)));

        assert_eq!(queue.counts().delayed, 1);
        assert!(queue.receive(10, Duration::from_secs(30), 1, at(4)).is_empty());
        queue.tick(at(5));
        assert_eq!(queue.counts(), MessageCounts { visible: 1, in_flight: 0, delayed: 0 });
    }

    #[test]
    fn stale_handle_does_not_delete_a_redelivered_message() {
        let mut queue = QueueState::new(QueueSettings::default(), BTreeMap::new(), at(0));
        queue.enqueue(message("a", at(0)), Duration::ZERO, at(0));
        let first = queue.receive(1, Duration::from_secs(1), 1, at(0))[0].0;
        queue.tick(at(1));
        let second = queue.receive(1, Duration::from_secs(30), 1, at(1))[0].0;

        assert_eq!(queue.delete(first, "h").expect("accepted"), DeleteOutcome::AlreadyGone);
        assert_eq!(queue.counts().in_flight, 1);
        assert_eq!(queue.delete(second, "h").expect("accepted"), DeleteOutcome::Deleted);
        assert_eq!(queue.counts(), MessageCounts::default());
    }

    #[test]
    fn retention_removes_messages_even_in_flight() {
        let mut settings = QueueSettings::default();
        settings.message_retention_period = Duration::from_secs(60);
        let mut queue = QueueState::new(settings, BTreeMap::new(), at(0));
        queue.enqueue(message("a", at(0)), Duration::ZERO, at(0));
        queue.receive(1, Duration::from_secs(120), 1, at(0));

        queue.tick(at(60));

        assert_eq!(queue.counts(), MessageCounts::default());
    }

    #[test]
    fn visibility_cannot_pass_twelve_hours_from_the_receive() {
        let mut queue = QueueState::new(QueueSettings::default(), BTreeMap::new(), at(0));
        queue.enqueue(message("a", at(0)), Duration::ZERO, at(0));
        let handle = queue.receive(1, Duration::from_secs(30), 1, at(0))[0].0;

        assert!(queue.change_visibility(handle, "h", Duration::from_secs(43_200 - 10), at(10)).is_ok());
        assert!(queue.change_visibility(handle, "h", Duration::from_secs(43_200 - 9), at(10)).is_err());
    }
}
