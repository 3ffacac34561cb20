//! A message as a queue keeps it: content, metadata, state and receive bookkeeping, sized to fit the 128-byte
//! allocation class; and the rendering of FIFO sequence numbers.

use std::sync::Arc;

use uuid::Uuid;

use super::clock::Timestamp;
use super::content::{Md5Digest, MessageAttributes, MessageBody};

/// [`StoredMessage`]'s first-receive time before any receive (milliseconds no clock reaches).
const NEVER_RECEIVED: u64 = u64::MAX;
/// Added to a queue-local sequence to render 20-digit, AWS-like FIFO sequence numbers.
const SEQUENCE_NUMBER_BASE: u64 = 10_000_000_000_000_000_000;

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

/// Rarely present message metadata, boxed so plain messages stay small.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageExtra {
    /// The `AWSTraceHeader` system attribute.
    pub trace_header: Option<String>,
    /// `MessageGroupId` (FIFO, or a fair standard queue).
    pub group_id: Option<String>,
    /// `MessageDeduplicationId` (FIFO: explicit or content-based).
    pub deduplication_id: Option<String>,
    /// `DeadLetterQueueSourceArn`, on messages a redrive policy moved here.
    pub dead_letter_source_arn: Option<String>,
}

/// A message's attributes and their MD5.
#[derive(Debug, Clone)]
struct StoredAttributes {
    attributes: MessageAttributes,
    md5: Md5Digest,
}

/// A message as the queue keeps it.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    /// `MessageId`.
    pub id: Uuid,
    /// The body.
    pub body: MessageBody,
    /// MD5 of the body.
    pub md5_of_body: Md5Digest,
    /// Message attributes with their MD5, boxed because most messages have none (keeping the digest in the box
    /// puts a plain message in a smaller allocation class).
    attributes: Option<Box<StoredAttributes>>,
    /// Trace header, group, deduplication id, dead-letter source.
    pub extra: Option<Box<MessageExtra>>,
    /// `SenderId`.
    pub sender_id: Arc<str>,
    /// `SentTimestamp`.
    pub sent_at: Timestamp,
    /// When the retention period starts counting (the send, except after a move into a FIFO dead-letter queue).
    pub retention_start: Timestamp,
    /// `ApproximateFirstReceiveTimestamp` in milliseconds, [`NEVER_RECEIVED`] before the first receive: an
    /// `Option<Timestamp>` would take 16 bytes and push every message into the next allocation class.
    first_received_ms: u64,
    /// `ApproximateReceiveCount`.
    pub receive_count: u32,
    /// The current state.
    pub state: MessageState,
    /// Bumped on every state change, so stale timer entries are recognised.
    pub(super) epoch: u32,
}

impl StoredMessage {
    /// A message about to be enqueued (its state is set by `QueueState::enqueue`).
    pub fn new(
        body: MessageBody,
        md5_of_body: Md5Digest,
        attributes: MessageAttributes,
        extra: MessageExtra,
        sender_id: Arc<str>,
        sent_at: Timestamp,
    ) -> Self {
        let attributes = attributes.md5().map(|md5| Box::new(StoredAttributes { attributes, md5 }));
        Self {
            id: Uuid::new_v4(),
            body,
            md5_of_body,
            attributes,
            extra: (extra != MessageExtra::default()).then(|| Box::new(extra)),
            sender_id,
            sent_at,
            retention_start: sent_at,
            first_received_ms: NEVER_RECEIVED,
            receive_count: 0,
            state: MessageState::Visible,
            epoch: 0,
        }
    }

    /// `ApproximateFirstReceiveTimestamp`, once received.
    pub fn first_received_at(&self) -> Option<Timestamp> {
        (self.first_received_ms != NEVER_RECEIVED).then(|| Timestamp::from_millis(self.first_received_ms))
    }

    /// Sets (or, with `None`, clears) `ApproximateFirstReceiveTimestamp`.
    pub fn set_first_received_at(&mut self, at: Option<Timestamp>) {
        self.first_received_ms = at.map_or(NEVER_RECEIVED, Timestamp::as_millis);
    }

    /// Bytes this message counts against the memory budget: body plus attribute names, types and values.
    pub fn stored_size(&self) -> u64 {
        (self.body.len() + self.attributes().map_or(0, MessageAttributes::size)) as u64
    }

    /// The message attributes, if any.
    pub fn attributes(&self) -> Option<&MessageAttributes> {
        self.attributes.as_deref().map(|stored| &stored.attributes)
    }

    /// MD5 of all message attributes, when there are any.
    pub fn md5_of_attributes(&self) -> Option<Md5Digest> {
        self.attributes.as_deref().map(|stored| stored.md5)
    }

    /// The `MessageId` as SQS renders it (a lower-case hyphenated UUID).
    pub fn message_id(&self) -> String {
        self.id.hyphenated().encode_lower(&mut Uuid::encode_buffer()).to_owned()
    }

    /// The message group, if any.
    pub fn group_id(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|extra| extra.group_id.as_deref())
    }

    /// The FIFO deduplication id, if any.
    pub fn deduplication_id(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|extra| extra.deduplication_id.as_deref())
    }

    /// The extra metadata, created on first use.
    pub fn extra_mut(&mut self) -> &mut MessageExtra {
        self.extra.get_or_insert_with(Box::default)
    }
}

/// Renders a queue-local sequence as SQS's 20-digit `SequenceNumber`.
pub fn sequence_number(sequence: u64) -> String {
    (SEQUENCE_NUMBER_BASE + sequence).to_string()
}
