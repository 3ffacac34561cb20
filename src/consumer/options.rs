//! The option types a [`ConsumerBuilder`](super::ConsumerBuilder) takes: [`Heartbeat`], [`PoisonAction`]
//! and [`IdempotencyKeySource`], and the SQS limits they are checked against.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::delivery::MessageMeta;
use crate::envelope::EnvelopeMeta;
use crate::error::{Error, Result};
use crate::types::IdempotencyKey;

/// The longest a message may stay invisible, counted from the receive (an SQS limit).
pub(crate) const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);
/// The longest long poll SQS allows.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(20);

/// Visibility heartbeat: keeps messages whose handler runs long from becoming visible again.
///
/// Every `interval`, one task looks at every message the consumer holds (running, or waiting for its FIFO
/// group) and extends, in one `ChangeMessageVisibilityBatch` per 10 messages (sent concurrently, at most 16
/// at once), those whose visibility ends within `threshold`, to `extension` from now. A message is never
/// extended once its outcome is decided, never beyond `max_total` (nor SQS's 12 hours) since its receive,
/// and never beyond its handler's [timeout and grace period](super::ConsumerBuilder::handler_timeout).
/// A message whose extension failed is tried again after a backoff (2, 4, 8... intervals, at most half the
/// time its visibility has left), not at every tick; one SQS rejects for good (its receipt handle no longer
/// valid) is not tried again.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use sqskit::consumer::Heartbeat;
///
/// let heartbeat = Heartbeat::default()
///     .interval(Duration::from_millis(500))
///     .threshold(Duration::from_secs(5))
///     .max_total(Duration::from_secs(30 * 60));
/// # let _ = heartbeat;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    interval: Option<Duration>,
    threshold: Option<Duration>,
    extension: Option<Duration>,
    max_total: Duration,
}

impl Default for Heartbeat {
    /// Extends messages by the consumer's visibility timeout once their visibility ends within the handler
    /// grace period plus 7 s (two thirds of the visibility timeout, if that is less), looking every second
    /// (or every half threshold, if that is less), for at most 1 hour in total.
    ///
    /// Why the grace period: a handler whose message could not be extended gets its cancellation signal a
    /// grace period (and a small margin) before the visibility it holds runs out. Starting the extensions
    /// earlier than that leaves about 5 s for failed extensions to be tried again (after 2 and 4 intervals)
    /// before one throttled or failed `ChangeMessageVisibilityBatch` cancels a handler.
    fn default() -> Self {
        Self { interval: None, threshold: None, extension: None, max_total: Duration::from_secs(60 * 60) }
    }
}

impl Heartbeat {
    /// How often the heartbeat looks for messages to extend.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Extend a message when its visibility ends within this time (must be below the visibility timeout).
    pub fn threshold(mut self, threshold: Duration) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// The new visibility timeout set by each extension (default: the consumer's visibility timeout).
    pub fn extension(mut self, extension: Duration) -> Self {
        self.extension = Some(extension);
        self
    }

    /// The longest time a message is kept invisible since its receive (capped at SQS's 12 hours).
    pub fn max_total(mut self, max_total: Duration) -> Self {
        self.max_total = max_total;
        self
    }

    /// The longest a message is held invisible under this heartbeat, for a consumer with this visibility
    /// timeout.
    pub(crate) fn hold(&self, visibility: Duration) -> Duration {
        self.max_total.min(MAX_VISIBILITY).max(visibility)
    }

    /// The settings in effect for a consumer with this visibility timeout, whose handlers get this much
    /// `room` between their cancellation signal and the end of a visibility that could not be extended (the
    /// grace period and the margin).
    pub(crate) fn resolve(&self, visibility: Duration, room: Duration) -> Result<ResolvedHeartbeat> {
        let threshold = self.threshold.unwrap_or_else(|| (room + RETRY_ROOM).min(visibility.saturating_mul(2) / 3));
        if threshold >= visibility {
            return Err(Error::Config {
                reason: format!(
                    "the heartbeat threshold {threshold:?} must be below the visibility timeout {visibility:?}"
                ),
            });
        }
        let interval = self.interval.unwrap_or_else(|| (threshold / 2).min(Duration::from_secs(1)));
        if interval.is_zero() {
            return Err(Error::Config { reason: "the heartbeat interval must not be zero".to_owned() });
        }
        let extension = self.extension.unwrap_or(visibility);
        if extension.is_zero() {
            return Err(Error::Config { reason: "the heartbeat extension must not be zero".to_owned() });
        }
        Ok(ResolvedHeartbeat { interval, threshold, extension, max_total: self.max_total.min(MAX_VISIBILITY) })
    }
}

/// How long the default heartbeat threshold leaves for failed extensions to be tried again before a handler
/// whose message could not be extended is cancelled.
const RETRY_ROOM: Duration = Duration::from_secs(5);

/// Heartbeat settings with every default resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResolvedHeartbeat {
    pub(crate) interval: Duration,
    pub(crate) threshold: Duration,
    pub(crate) extension: Duration,
    pub(crate) max_total: Duration,
}

/// What to do with a message that cannot be processed at all: its body does not decode, or its MD5 digest
/// does not match (it was damaged). Such messages never reach the handler and never stop the consumer;
/// each is logged with its message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoisonAction {
    /// Send it to the consumer's dead-letter queue now, then delete it (the default when a dead-letter
    /// queue is configured).
    DeadLetter,
    /// Leave it in flight: SQS redelivers it after its visibility timeout, and the queue's redrive policy
    /// moves it to the dead-letter queue after `maxReceiveCount` receives (the default otherwise).
    LeaveForRedrive,
    /// Delete it (the message is lost: use only for data nobody needs).
    Delete,
}

/// Derives a message's idempotency key.
pub type KeyFn<T> = Arc<dyn Fn(&T, &MessageMeta) -> Option<IdempotencyKey> + Send + Sync>;

/// Where a consumer finds a message's idempotency key.
pub enum IdempotencyKeySource<T> {
    /// The key a sqskit producer attached (the
    /// [`IDEMPOTENCY_KEY_ATTRIBUTE`](crate::idempotency::IDEMPOTENCY_KEY_ATTRIBUTE) message attribute, on the
    /// SQS message or, for a message that came through SNS, among the notification's own attributes), else
    /// the FIFO `MessageDeduplicationId`, else the [envelope](crate::envelope)'s id: the SNS `MessageId` or
    /// the EventBridge event `id`, which stay the same when SNS or EventBridge deliver one publish twice (the
    /// default).
    AttributeOrDeduplicationId,
    /// Only the producer's attribute.
    Attribute,
    /// Only the FIFO `MessageDeduplicationId`.
    DeduplicationId,
    /// A function of the decoded body and the metadata.
    Custom(KeyFn<T>),
}

impl<T> IdempotencyKeySource<T> {
    pub(crate) fn key(&self, body: &T, meta: &MessageMeta) -> Option<IdempotencyKey> {
        let attribute = || {
            meta.attributes
                .get(crate::idempotency::IDEMPOTENCY_KEY_ATTRIBUTE)
                .and_then(|a| a.as_text())
                .map(IdempotencyKey::from)
        };
        let deduplication_id = || meta.deduplication_id.as_deref().map(IdempotencyKey::from);
        let envelope_attribute = || {
            meta.envelope
                .sns()
                .and_then(|sns| sns.attributes.get(crate::idempotency::IDEMPOTENCY_KEY_ATTRIBUTE))
                .and_then(|a| a.as_text())
                .map(IdempotencyKey::from)
        };
        let envelope_id = || match &meta.envelope {
            EnvelopeMeta::Sns(sns) => Some(IdempotencyKey::from(format!("sns:{}", sns.message_id))),
            EnvelopeMeta::EventBridge(event) => Some(IdempotencyKey::from(format!("events:{}", event.id))),
            _ => None,
        };
        match self {
            IdempotencyKeySource::AttributeOrDeduplicationId => {
                attribute().or_else(envelope_attribute).or_else(deduplication_id).or_else(envelope_id)
            }
            IdempotencyKeySource::Attribute => attribute(),
            IdempotencyKeySource::DeduplicationId => deduplication_id(),
            IdempotencyKeySource::Custom(key) => key(body, meta),
        }
    }
}

impl<T> Clone for IdempotencyKeySource<T> {
    fn clone(&self) -> Self {
        match self {
            IdempotencyKeySource::AttributeOrDeduplicationId => IdempotencyKeySource::AttributeOrDeduplicationId,
            IdempotencyKeySource::Attribute => IdempotencyKeySource::Attribute,
            IdempotencyKeySource::DeduplicationId => IdempotencyKeySource::DeduplicationId,
            IdempotencyKeySource::Custom(key) => IdempotencyKeySource::Custom(key.clone()),
        }
    }
}

impl<T> fmt::Debug for IdempotencyKeySource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdempotencyKeySource::AttributeOrDeduplicationId => "AttributeOrDeduplicationId",
            IdempotencyKeySource::Attribute => "Attribute",
            IdempotencyKeySource::DeduplicationId => "DeduplicationId",
            IdempotencyKeySource::Custom(_) => "Custom",
        })
    }
}
