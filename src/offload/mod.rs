//! Large payloads: messages larger than SQS allows, stored in S3 and sent as pointers that AWS's extended
//! clients read and write (Java `amazon-sqs-java-extended-client-lib`, Python `amazon-sqs-extended-client`).
//!
//! Give a producer and a consumer the same [`LargePayloads`] (with `S3PayloadStore`, feature `s3`, or any
//! [`PayloadStore`]): the producer stores a message whose size exceeds the threshold in the bucket and sends a
//! pointer instead; the consumer recognises pointers, fetches the payload before decoding, and deletes the
//! object once SQS confirmed the message's deletion.
//!
//! # The format, as the extended clients write it
//! - **Body**: `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"B","s3Key":"K"}]`
//!   (see [`PayloadPointer`]; the legacy class `com.amazon.sqs.javamessaging.MessageS3Pointer` is read too).
//! - **Marker attribute**: `ExtendedPayloadSize` (legacy: `SQSLargePayloadSize`), data type `Number`, the payload's
//!   size in UTF-8 bytes. A message is a pointer when it carries either attribute (the clients test exactly
//!   this on receive). It is one of SQS's 10 message attributes, so an offloaded message may carry at most 9 of
//!   its own (`MAX_ALLOWED_ATTRIBUTES = 10 - 1`), and none of the reserved names.
//!   Sources: `SQSExtendedClientConstants.java`, `AmazonSQSExtendedClientUtil.java`
//!   (<https://github.com/awslabs/amazon-sqs-java-extended-client-lib/tree/master/src/main/java/com/amazon/sqs/javamessaging>),
//!   `client.py` (<https://github.com/awslabs/amazon-sqs-python-extended-client-lib/blob/main/src/sqs_extended_client/client.py>).
//! - **Size**: the clients call a message large when body bytes + attribute bytes (each name, data type and value,
//!   binary values by length) exceed the threshold: the same count SQS applies
//!   (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html>),
//!   and [`SendEntry::size`](crate::backend::SendEntry::size).
//! - **Threshold**: the Java client's default is 1,048,576 bytes (`DEFAULT_MESSAGE_SIZE_THRESHOLD`, raised from
//!   262,144 when SQS's maximum became 1 MiB in 2025); the Python client 1.0.x still uses 262,144. sqskit's
//!   default is the queue's `MaximumMessageSize` (1 MiB unless lowered), so everything SQS would take goes
//!   inline; [`LargePayloads::threshold`] and [`LargePayloads::always_through_s3`] change it.
//! - **Object key**: a random UUID (`UUID.randomUUID()` in the common library's `S3BackedPayloadStore`,
//!   `uuid4()` in Python), optionally after a prefix of at most 988 characters of `[a-zA-Z0-9./_-]`
//!   (`MAX_S3_KEY_PREFIX_LENGTH`, `INVALID_S3_PREFIX_KEY_CHARACTERS_PATTERN`). The object holds the body's UTF-8
//!   bytes.
//! - **Receipt handles**: the extended clients give their callers the SQS handle prefixed with the bucket and
//!   key between markers (see [`ExtendedReceiptHandle`]), so that a later delete can remove the object. sqskit's
//!   consumer keeps the pointer with the message instead and passes SQS plain handles; a handle in the
//!   extended clients' form (one an extended client handed out) is understood by
//!   [`LargePayloads::delete_message`].
//!
//! # Guarantees
//! - **One upload per message.** The producer uploads when the message is prepared, before it enters the
//!   batch buffer; retries of the `SendMessageBatch` entry resend the same pointer. Batches are sized by what
//!   is sent (the pointer), so ten offloaded messages share one request.
//! - **No orphan on a failed send**: when the send finally fails for a reason that proves SQS did not store the
//!   message (a service error answer, throttling, shutdown, an invalid message), the object is deleted. After a
//!   timeout or a broken connection SQS may have stored the message, so the object is kept: deleting it could
//!   turn a stored message into poison. An orphan can also remain when the delete itself fails (logged) or the
//!   process dies between upload and send; an S3 lifecycle rule expiring objects after the queue's retention
//!   period removes them.
//! - **Never acknowledged without its payload.** A missing object ([`PayloadErrorKind::NotFound`](crate::PayloadErrorKind::NotFound)) or a
//!   malformed pointer makes the message poison, with the reason (dead-lettered, deleted or left for redrive, as
//!   the consumer's [`PoisonAction`](crate::consumer::PoisonAction) says); when S3 is unavailable or refuses
//!   the read, the message is put back (visible again after 1 s, doubling per receive, at most 5 minutes) and
//!   counted in `ConsumerStats::payload_failures`; it is never acknowledged.
//! - **Deleted after the acknowledgement**: once SQS confirmed the delete of an acknowledged (or duplicate, or
//!   poison-deleted) message, its object is deleted, unless [`LargePayloads::keep_payloads`]. A dead-lettered
//!   message keeps its object: the copy in the dead-letter queue still points to it.
//! - On a standard queue, a send retried after a timeout may store two messages with one pointer; the first
//!   acknowledgement deletes the object and the copy then finds it missing (poison). Consumers with an
//!   idempotency store see the copy as a duplicate only when the key does not depend on the payload.
//!   [`LargePayloads::keep_payloads`] with a lifecycle rule avoids this at the cost of storage.
//! - On a FIFO queue with content-based deduplication, an offloaded message's body is its pointer, whose key is
//!   random: two sends of one payload are not deduplicated by content. Give such messages an idempotency key (the
//!   producer derives the `MessageDeduplicationId` from it) or an explicit deduplication id.
//! - The Lambda integration (`sqskit::lambda`) does not fetch payloads: records arrive with their pointers.

mod pointer;
mod receive;
#[cfg(feature = "s3")]
mod s3;
mod send;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

pub use pointer::{
    ExtendedReceiptHandle, LEGACY_POINTER_CLASS, POINTER_CLASS, PayloadPointer, S3_BUCKET_NAME_MARKER, S3_KEY_MARKER,
};
pub(crate) use receive::{Resolved, pointer_of};
#[cfg(feature = "s3")]
pub use s3::S3PayloadStore;
pub(crate) use send::clean_up_on_failure;

use crate::backend::{DeleteEntry, SqsBackend};
use crate::error::{Error, Result};
use crate::types::ReceiptHandle;

/// The attribute that marks an offloaded message, with the payload's size in bytes (`Number`).
pub const RESERVED_ATTRIBUTE_NAME: &str = "ExtendedPayloadSize";

/// The marker attribute's name before version 2 of the Java client; still read, written on request
/// ([`LargePayloads::legacy_attribute`]).
pub const LEGACY_RESERVED_ATTRIBUTE_NAME: &str = "SQSLargePayloadSize";

/// At most this many attributes of its own on an offloaded message (one of SQS's 10 is the marker).
pub const MAX_ALLOWED_ATTRIBUTES: usize = 10 - 1;

/// The longest key prefix: S3's 1,024-byte key limit less the 36 characters of a UUID.
pub const MAX_KEY_PREFIX_LENGTH: usize = 1024 - 36;

/// Where payloads are kept: an S3 bucket, or anything that stores objects by bucket and key.
///
/// `S3PayloadStore` (feature `s3`) is the implementation over `aws-sdk-s3`. Errors are
/// [`Error::Payload`] with the kind that tells the consumer what to do: `NotFound` (poison), `Unavailable`
/// (retry later), `Rejected`, `Malformed`.
#[async_trait]
pub trait PayloadStore: Send + Sync + fmt::Debug + 'static {
    /// Stores `payload` (UTF-8 text) as `key` in `bucket`, replacing any object of that key.
    ///
    /// # Errors
    /// [`Error::Payload`].
    async fn put(&self, bucket: &str, key: &str, payload: String) -> Result<()>;

    /// Reads the object `key` in `bucket` as UTF-8 text.
    ///
    /// # Errors
    /// [`Error::Payload`]: `NotFound` when the object does not exist, `Malformed` when it is not UTF-8.
    async fn get(&self, bucket: &str, key: &str) -> Result<String>;

    /// Deletes the object `key` in `bucket` (deleting a missing object succeeds, as in S3).
    ///
    /// # Errors
    /// [`Error::Payload`].
    async fn delete(&self, bucket: &str, key: &str) -> Result<()>;
}

/// The large-payload settings a producer and a consumer share: the store, the bucket, when to offload, what to
/// do after an acknowledgement. Cheap to clone.
///
/// # Examples
/// ```
/// # #[cfg(feature = "s3")]
/// # fn example(s3: aws_sdk_s3::Client) -> sqskit::offload::LargePayloads {
/// use sqskit::offload::{LargePayloads, S3PayloadStore};
/// LargePayloads::new(S3PayloadStore::new(s3), "my-payload-bucket").key_prefix("orders/")
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct LargePayloads {
    store: Arc<dyn PayloadStore>,
    bucket: String,
    threshold: Option<usize>,
    always: bool,
    keep: bool,
    legacy_attribute: bool,
    key_prefix: String,
}

impl LargePayloads {
    /// Payloads in `bucket` of `store`; offloads messages above the queue's maximum size, deletes objects after
    /// acknowledgements, writes the current `ExtendedPayloadSize` attribute.
    pub fn new(store: impl PayloadStore, bucket: impl Into<String>) -> Self {
        Self::with_store(Arc::new(store), bucket)
    }

    /// Like [`LargePayloads::new`], with a shared store.
    pub fn with_store(store: Arc<dyn PayloadStore>, bucket: impl Into<String>) -> Self {
        Self {
            store,
            bucket: bucket.into(),
            threshold: None,
            always: false,
            keep: false,
            legacy_attribute: false,
            key_prefix: String::new(),
        }
    }

    /// Offloads messages whose size (body and attributes, as SQS counts) exceeds `bytes` (default: the queue's
    /// `MaximumMessageSize`; at most that, since SQS refuses anything larger).
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = Some(bytes);
        self
    }

    /// Offloads every message, whatever its size (the extended clients' `alwaysThroughS3`).
    pub fn always_through_s3(mut self, always: bool) -> Self {
        self.always = always;
        self
    }

    /// Consumer: keeps objects after acknowledgements instead of deleting them (for example when several
    /// queues receive one payload through SNS, or a lifecycle rule expires them).
    pub fn keep_payloads(mut self, keep: bool) -> Self {
        self.keep = keep;
        self
    }

    /// Producer: marks offloaded messages with the legacy `SQSLargePayloadSize` attribute (for readers older
    /// than version 2 of the Java client) instead of `ExtendedPayloadSize`. Consumers read both.
    pub fn legacy_attribute(mut self, legacy: bool) -> Self {
        self.legacy_attribute = legacy;
        self
    }

    /// Producer: puts objects under this key prefix (`[a-zA-Z0-9./_-]`, at most 988 characters).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn PayloadStore> {
        &self.store
    }

    /// Whether objects are kept after acknowledgements.
    pub fn keeps_payloads(&self) -> bool {
        self.keep
    }

    /// Checks the settings (called by the producer and consumer builders).
    ///
    /// # Errors
    /// [`Error::Config`] for an empty bucket name, a zero threshold or an invalid key prefix.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Err(Error::Config { reason });
        if self.bucket.is_empty() {
            return invalid("the large-payload bucket name is empty".to_owned());
        }
        if self.threshold == Some(0) {
            return invalid(
                "the large-payload threshold must be at least 1 byte (or use always_through_s3)".to_owned(),
            );
        }
        if self.key_prefix.len() > MAX_KEY_PREFIX_LENGTH {
            return invalid(format!(
                "the S3 key prefix has {} characters; at most {MAX_KEY_PREFIX_LENGTH} fit before the UUID",
                self.key_prefix.len()
            ));
        }
        if let Some(bad) = self.key_prefix.chars().find(|c| !(c.is_ascii_alphanumeric() || "./_-".contains(*c))) {
            return invalid(format!("the S3 key prefix contains {bad:?}; only a-z, A-Z, 0-9, '.', '/', '_' and '-'"));
        }
        Ok(())
    }

    /// Deletes a message by a receipt handle in either form: a plain SQS handle, or one an extended client
    /// handed out (`-..s3BucketName..-B-..s3BucketName..--..s3Key..-K-..s3Key..-<handle>`), whose object is
    /// deleted too unless [`keep_payloads`](Self::keep_payloads), after SQS confirmed the message's deletion.
    ///
    /// # Errors
    /// The SQS error of `DeleteMessageBatch` (or of its one entry); an [`Error::Payload`] when the object could
    /// not be deleted (the message is deleted by then).
    pub async fn delete_message(&self, backend: &dyn SqsBackend, queue_url: &str, receipt_handle: &str) -> Result<()> {
        let handle = ExtendedReceiptHandle::parse(receipt_handle);
        let entry = DeleteEntry { id: "0".to_owned(), receipt_handle: ReceiptHandle::from(handle.sqs_handle) };
        let outcome = backend.delete_message_batch(queue_url, &[entry]).await?;
        if let Some(failure) = outcome.failed.into_iter().next() {
            return Err(failure.error);
        }
        match handle.pointer {
            Some(pointer) if !self.keep => self.store.delete(&pointer.bucket, &pointer.key).await,
            _ => Ok(()),
        }
    }

    /// Deletes the object of an acknowledged message (unless [`keep_payloads`](Self::keep_payloads)); a failure
    /// is logged: the message is gone, the object stays as an orphan.
    pub(crate) async fn delete_after_ack(&self, pointer: &PayloadPointer) {
        if self.keep {
            return;
        }
        if let Err(error) = self.store.delete(&pointer.bucket, &pointer.key).await {
            tracing::warn!(%pointer, %error, "could not delete the payload of an acknowledged message; the object stays");
        }
    }
}
