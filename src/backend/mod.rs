//! The [`SqsBackend`] trait and the plain request and response types it speaks.
//!
//! The trait is batch-first and object-safe: producers and consumers hold an `Arc<dyn SqsBackend>`. Its
//! methods are named after the SQS actions they perform, so each maps to one `aws-sdk-sqs` fluent builder
//! and to one emulator engine call; its types are sqskit's own, never the SDK's or the emulator's.
//!
//! Implementations: [`AwsBackend`] (real SQS, or any endpoint speaking the AWS JSON protocol, such as
//! `sqskit-emulator` over HTTP) and `EmbeddedBackend` (the emulator's engine in-process, feature `embedded`).
//! [`Observed`] wraps either and shows every request to a [`BackendObserver`]: [`CountingBackend`] counts
//! calls with one, and the crate's API metrics are another.

mod aws;
mod counting;
#[cfg(feature = "embedded")]
mod embedded;
pub mod integrity;
mod metered;
mod observed;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

pub use aws::{AwsBackend, AwsBackendBuilder};
pub use counting::{CallCounter, CallCounts, CountingBackend};
#[cfg(feature = "embedded")]
pub use embedded::EmbeddedBackend;
pub(crate) use metered::metered;
pub use observed::{BackendObserver, Call, Observed, Reply};

use crate::error::{Error, Fault, Result};
use crate::idempotency::IDEMPOTENCY_KEY_ATTRIBUTE;
use crate::types::{
    IdempotencyKey, MessageAttributes, MessageId, QueueAttributeName, QueueAttributes, ReceiptHandle,
    SystemAttributeName,
};

/// At most this many entries per batch request, and messages per receive (an SQS limit).
pub const MAX_BATCH_ENTRIES: usize = 10;

/// The default (and, since 2025, the largest) message size and batch payload SQS accepts: 1 MiB.
pub const MAX_MESSAGE_BYTES: usize = 1_048_576;

/// One entry of a `SendMessageBatch` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendEntry {
    /// The entry id, unique within the request (`[A-Za-z0-9_-]{1,80}`).
    pub id: String,
    /// The message body.
    pub body: String,
    /// Per-message delay (standard queues only; SQS counts whole seconds, rounded up here).
    pub delay: Option<Duration>,
    /// Message attributes.
    pub attributes: MessageAttributes,
    /// The `AWSTraceHeader` system attribute.
    pub trace_header: Option<String>,
    /// `MessageGroupId` (required on FIFO queues).
    pub group_id: Option<String>,
    /// `MessageDeduplicationId` (FIFO queues).
    pub deduplication_id: Option<String>,
}

impl SendEntry {
    /// An entry with just an id and a body.
    pub fn new(id: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            body: body.into(),
            delay: None,
            attributes: MessageAttributes::new(),
            trace_header: None,
            group_id: None,
            deduplication_id: None,
        }
    }

    /// Bytes this entry counts toward the message size and batch limits: body plus attributes.
    pub fn size(&self) -> usize {
        self.body.len() + self.attributes.size()
    }
}

/// What SQS answered for one sent message (its digests already verified by the backend).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The id SQS assigned.
    pub message_id: MessageId,
    /// The FIFO sequence number.
    pub sequence_number: Option<String>,
}

/// One failed entry of a batch request, as SQS reported it (or a digest mismatch found by sqskit).
#[derive(Debug, Clone)]
pub struct BatchEntryFailure {
    /// The entry id from the request.
    pub id: String,
    /// What went wrong: an [`Error::Service`] carrying the entry's code, message and `SenderFault`, or an
    /// [`Error::ChecksumMismatch`].
    pub error: Error,
}

impl BatchEntryFailure {
    /// A failure as SQS reports it in a batch response's `Failed` list.
    pub fn from_sqs(id: impl Into<String>, code: &str, message: impl Into<String>, sender_fault: bool) -> Self {
        Self { id: id.into(), error: Error::service(code, message, None, Some(Fault::from_sender_fault(sender_fault))) }
    }
}

/// The outcome of a batch request that SQS accepted: entries succeed or fail one by one.
#[derive(Debug, Clone)]
pub struct BatchOutcome<T> {
    /// Entry id and result of each successful entry.
    pub successful: Vec<(String, T)>,
    /// Each failed entry.
    pub failed: Vec<BatchEntryFailure>,
}

impl<T> Default for BatchOutcome<T> {
    fn default() -> Self {
        Self { successful: Vec::new(), failed: Vec::new() }
    }
}

impl<T> BatchOutcome<T> {
    /// Whether every entry succeeded.
    pub fn is_complete_success(&self) -> bool {
        self.failed.is_empty()
    }
}

/// A `ReceiveMessage` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveRequest {
    /// At most this many messages (1..=10).
    pub max_messages: u8,
    /// Long-poll wait (up to 20 s); `None` uses the queue's `ReceiveMessageWaitTimeSeconds`.
    pub wait_time: Option<Duration>,
    /// Visibility timeout for the received messages; `None` uses the queue's.
    pub visibility_timeout: Option<Duration>,
    /// System attributes to return.
    pub system_attribute_names: Vec<SystemAttributeName>,
    /// Message attributes to return (`All`, exact names, or `prefix.*`).
    pub message_attribute_names: Vec<String>,
    /// `ReceiveRequestAttemptId` (FIFO): a retried receive with the same id returns the same messages.
    pub receive_request_attempt_id: Option<String>,
}

impl Default for ReceiveRequest {
    fn default() -> Self {
        Self {
            max_messages: MAX_BATCH_ENTRIES as u8,
            wait_time: None,
            visibility_timeout: None,
            system_attribute_names: Vec::new(),
            message_attribute_names: Vec::new(),
            receive_request_attempt_id: None,
        }
    }
}

impl ReceiveRequest {
    /// Up to 10 messages, queue defaults for wait and visibility, no attributes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the maximum number of messages (1..=10).
    pub fn max_messages(mut self, max: u8) -> Self {
        self.max_messages = max;
        self
    }

    /// Sets the long-poll wait.
    pub fn wait_time(mut self, wait: Duration) -> Self {
        self.wait_time = Some(wait);
        self
    }

    /// Sets the visibility timeout.
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = Some(timeout);
        self
    }

    /// Asks for every system attribute and every message attribute.
    pub fn all_attributes(mut self) -> Self {
        self.system_attribute_names = vec![SystemAttributeName::All];
        self.message_attribute_names = vec!["All".to_owned()];
        self
    }

    /// Sets the `ReceiveRequestAttemptId`.
    pub fn attempt_id(mut self, attempt_id: impl Into<String>) -> Self {
        self.receive_request_attempt_id = Some(attempt_id.into());
        self
    }
}

/// A received message.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// The message id.
    pub message_id: MessageId,
    /// The handle of this receive.
    pub receipt_handle: ReceiptHandle,
    /// The body.
    pub body: String,
    /// The message attributes that were asked for.
    pub attributes: MessageAttributes,
    /// The system attributes that were asked for.
    pub system_attributes: BTreeMap<SystemAttributeName, String>,
    /// `MD5OfBody` as SQS reported it.
    pub md5_of_body: Option<String>,
    /// `MD5OfMessageAttributes` as SQS reported it.
    pub md5_of_message_attributes: Option<String>,
    /// Set by the backend when a reported digest does not match the body or attributes. Such a message is
    /// damaged and must not be processed: treat it as poison (dead-letter it or leave it for redrive).
    pub checksum_error: Option<Error>,
}

impl ReceivedMessage {
    /// `Err` with the [`Error::ChecksumMismatch`] when the message failed digest verification.
    ///
    /// # Errors
    /// The mismatch found by the backend.
    pub fn check_integrity(&self) -> Result<()> {
        match &self.checksum_error {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    fn system(&self, name: &SystemAttributeName) -> Option<&str> {
        self.system_attributes.get(name).map(String::as_str)
    }

    /// `ApproximateReceiveCount`, when it was asked for.
    pub fn receive_count(&self) -> Option<u32> {
        self.system(&SystemAttributeName::ApproximateReceiveCount).and_then(|v| v.parse().ok())
    }

    /// `SentTimestamp`, when it was asked for.
    pub fn sent_at(&self) -> Option<SystemTime> {
        self.system(&SystemAttributeName::SentTimestamp)
            .and_then(|v| v.parse().ok())
            .map(|millis| UNIX_EPOCH + Duration::from_millis(millis))
    }

    /// `MessageGroupId`, when it was asked for.
    pub fn group_id(&self) -> Option<&str> {
        self.system(&SystemAttributeName::MessageGroupId)
    }

    /// `MessageDeduplicationId`, when it was asked for (FIFO).
    pub fn deduplication_id(&self) -> Option<&str> {
        self.system(&SystemAttributeName::MessageDeduplicationId)
    }

    /// `SequenceNumber`, when it was asked for (FIFO).
    pub fn sequence_number(&self) -> Option<&str> {
        self.system(&SystemAttributeName::SequenceNumber)
    }

    /// The idempotency key a sqskit producer attached, when the attribute was asked for.
    pub fn idempotency_key(&self) -> Option<IdempotencyKey> {
        self.attributes.get(IDEMPOTENCY_KEY_ATTRIBUTE).and_then(|a| a.as_text()).map(IdempotencyKey::from)
    }
}

/// One entry of a `DeleteMessageBatch` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteEntry {
    /// The entry id, unique within the request.
    pub id: String,
    /// The receipt handle of the message to delete.
    pub receipt_handle: ReceiptHandle,
}

/// One entry of a `ChangeMessageVisibilityBatch` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityEntry {
    /// The entry id, unique within the request.
    pub id: String,
    /// The receipt handle of the message.
    pub receipt_handle: ReceiptHandle,
    /// The new visibility timeout, counted from now (whole seconds, rounded up; at most 12 h since the
    /// receive).
    pub visibility_timeout: Duration,
}

/// The SQS operations sqskit needs, batch-first, in sqskit's own types.
///
/// Every method performs exactly one request (no retries: retries belong to the caller, so both backends
/// behave the same). Batch methods return `Err` only when the whole request failed; entries that failed on
/// their own are in [`BatchOutcome::failed`]. Backends verify message digests on sends and receives.
#[async_trait]
pub trait SqsBackend: Send + Sync + fmt::Debug + 'static {
    /// `CreateQueue`: creates a queue (or finds it, when it exists with the same attributes) and returns
    /// its URL.
    ///
    /// # Errors
    /// `QueueNameExists` when it exists with other attributes; `QueueDeletedRecently`; invalid names or
    /// attributes.
    async fn create_queue(
        &self,
        name: &str,
        attributes: &QueueAttributes,
        tags: &BTreeMap<String, String>,
    ) -> Result<String>;

    /// `GetQueueUrl`: the URL of the queue called `name`.
    ///
    /// # Errors
    /// `QueueDoesNotExist`.
    async fn get_queue_url(&self, name: &str) -> Result<String>;

    /// `ListQueues`: the URLs of every queue whose name starts with `prefix` (all pages).
    ///
    /// # Errors
    /// Transport and service errors.
    async fn list_queues(&self, prefix: Option<&str>) -> Result<Vec<String>>;

    /// `DeleteQueue`.
    ///
    /// # Errors
    /// `QueueDoesNotExist`.
    async fn delete_queue(&self, queue_url: &str) -> Result<()>;

    /// `PurgeQueue`: deletes every message (at most once per 60 s).
    ///
    /// # Errors
    /// `QueueDoesNotExist`, `PurgeQueueInProgress`.
    async fn purge_queue(&self, queue_url: &str) -> Result<()>;

    /// `GetQueueAttributes`.
    ///
    /// # Errors
    /// `QueueDoesNotExist`, `InvalidAttributeName`.
    async fn get_queue_attributes(&self, queue_url: &str, names: &[QueueAttributeName]) -> Result<QueueAttributes>;

    /// `SetQueueAttributes`.
    ///
    /// # Errors
    /// `QueueDoesNotExist`, `InvalidAttributeName`, `InvalidAttributeValue`.
    async fn set_queue_attributes(&self, queue_url: &str, attributes: &QueueAttributes) -> Result<()>;

    /// `SendMessageBatch`: up to 10 entries, at most 1 MiB in total. Successful entries' digests are verified;
    /// a mismatch turns the entry into a failure with [`Error::ChecksumMismatch`].
    ///
    /// # Errors
    /// Whole-request failures: `QueueDoesNotExist`, `BatchRequestTooLong`, `TooManyEntriesInBatchRequest`,
    /// throttling, transport errors, timeouts.
    async fn send_message_batch(&self, queue_url: &str, entries: &[SendEntry]) -> Result<BatchOutcome<SentMessage>>;

    /// `ReceiveMessage`. Each message's digests are verified; see [`ReceivedMessage::checksum_error`].
    ///
    /// # Errors
    /// `QueueDoesNotExist`, invalid parameters, throttling, transport errors, timeouts.
    async fn receive_message(&self, queue_url: &str, request: &ReceiveRequest) -> Result<Vec<ReceivedMessage>>;

    /// `DeleteMessageBatch`.
    ///
    /// # Errors
    /// Whole-request failures, as for [`SqsBackend::send_message_batch`].
    async fn delete_message_batch(&self, queue_url: &str, entries: &[DeleteEntry]) -> Result<BatchOutcome<()>>;

    /// `ChangeMessageVisibilityBatch`.
    ///
    /// # Errors
    /// Whole-request failures, as for [`SqsBackend::send_message_batch`].
    async fn change_message_visibility_batch(
        &self,
        queue_url: &str,
        entries: &[VisibilityEntry],
    ) -> Result<BatchOutcome<()>>;
}
