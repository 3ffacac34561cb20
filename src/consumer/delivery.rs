//! [`Delivery<T>`]: a decoded message handed to a handler, with its [`MessageMeta`].
//!
//! The receipt handle is deliberately not exposed: the consumer owns settlement (acks, visibility changes),
//! so a handler cannot race it.

use std::ops::Deref;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::backend::ReceivedMessage;
use crate::envelope::{EnvelopeMeta, EventBridgeMeta, SnsMeta};
use crate::trace_context::{TRACEPARENT_ATTRIBUTE, TraceContext};
use crate::types::{IdempotencyKey, MessageAttributes, MessageId, SystemAttributeName};

/// What SQS says about a received message, besides its body. Fields from system attributes the consumer
/// does not always ask for are `None` unless requested with
/// [`ConsumerBuilder::system_attribute_names`](super::ConsumerBuilder::system_attribute_names).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MessageMeta {
    /// The message id.
    pub message_id: MessageId,
    /// `ApproximateReceiveCount`: 1 on the first delivery.
    pub receive_count: u32,
    /// `SentTimestamp` (the consumer always asks for it).
    pub sent_at: Option<SystemTime>,
    /// `ApproximateFirstReceiveTimestamp` (when requested).
    pub first_received_at: Option<SystemTime>,
    /// `MessageGroupId` (FIFO queues; on standard queues with fair-queue groups when requested).
    pub group_id: Option<String>,
    /// `MessageDeduplicationId` (FIFO queues).
    pub deduplication_id: Option<String>,
    /// `SequenceNumber` (FIFO queues).
    pub sequence_number: Option<String>,
    /// The message attributes.
    pub attributes: MessageAttributes,
    /// The idempotency key the consumer derived for this message, if any.
    pub idempotency_key: Option<IdempotencyKey>,
    /// The W3C trace context from the `traceparent` message attribute (when present and valid).
    pub trace_context: Option<TraceContext>,
    /// The `AWSTraceHeader` system attribute (X-Ray), when present.
    pub aws_trace_header: Option<String>,
    /// What the message's [envelope](crate::envelope) said (SNS or EventBridge fields), or
    /// [`EnvelopeMeta::Raw`].
    pub envelope: EnvelopeMeta,
}

impl MessageMeta {
    pub(crate) fn from_received(message: &ReceivedMessage) -> Self {
        let millis = |name: SystemAttributeName| {
            message
                .system_attributes
                .get(&name)
                .and_then(|v| v.parse::<u64>().ok())
                .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
        };
        Self {
            message_id: message.message_id.clone(),
            receive_count: message.receive_count().unwrap_or(1),
            sent_at: message.sent_at(),
            first_received_at: millis(SystemAttributeName::ApproximateFirstReceiveTimestamp),
            group_id: message.group_id().map(str::to_owned),
            deduplication_id: message.deduplication_id().map(str::to_owned),
            sequence_number: message.sequence_number().map(str::to_owned),
            attributes: message.attributes.clone(),
            idempotency_key: None,
            trace_context: trace_context(message),
            aws_trace_header: message.system_attributes.get(&SystemAttributeName::AwsTraceHeader).cloned(),
            envelope: EnvelopeMeta::Raw,
        }
    }
}

/// The `traceparent` attribute, parsed; a malformed one is ignored (logged at debug level).
pub(crate) fn trace_context(message: &ReceivedMessage) -> Option<TraceContext> {
    let header = message.attributes.get(TRACEPARENT_ATTRIBUTE)?.as_text()?;
    match TraceContext::parse(header) {
        Ok(context) => Some(context),
        Err(error) => {
            tracing::debug!(message_id = %message.message_id, %error, "ignoring a malformed traceparent");
            None
        }
    }
}

/// A decoded message and its metadata; dereferences to the body.
///
/// It also carries the handler's cancellation signal: [`cancelled`](Delivery::cancelled) completes when the
/// handler should wind up, because it reached the consumer's
/// [handler timeout](super::ConsumerBuilder::handler_timeout) or the consumer is shutting down. A handler
/// that returns soon after (within the [grace period](super::ConsumerBuilder::handler_grace) at a timeout,
/// within the drain time at shutdown) has its outcome applied; one still running at a timeout's grace end
/// is dropped and its message retried.
///
/// # Examples
/// ```
/// use sqskit::consumer::{Delivery, Outcome};
///
/// async fn handle(order: Delivery<String>) -> Outcome {
///     println!("{} (receive #{}): {}", order.meta().message_id, order.meta().receive_count, *order);
///     Outcome::Ack
/// }
/// # let _ = handle;
/// ```
///
/// A handler that honours its cancellation:
/// ```
/// use std::time::Duration;
/// use sqskit::consumer::{Delivery, Outcome};
///
/// async fn handle(job: Delivery<String>) -> Outcome {
///     tokio::select! {
///         () = tokio::time::sleep(Duration::from_secs(600)) => Outcome::Ack, // the long work
///         () = job.cancelled() => Outcome::Release, // timed out or shutting down: give the message back
///     }
/// }
/// # let _ = handle;
/// ```
#[derive(Debug, Clone)]
pub struct Delivery<T> {
    body: T,
    meta: MessageMeta,
    cancellation: CancellationToken,
}

impl<T> Delivery<T> {
    pub(crate) fn new(body: T, meta: MessageMeta) -> Self {
        Self { body, meta, cancellation: CancellationToken::new() }
    }

    /// Shares `token` (all deliveries of one batch handler call share one).
    pub(crate) fn set_cancellation(&mut self, token: CancellationToken) {
        self.cancellation = token;
    }

    /// The decoded body.
    pub fn body(&self) -> &T {
        &self.body
    }

    /// The decoded body, by value.
    pub fn into_body(self) -> T {
        self.body
    }

    /// Completes when the handler should wind up: it reached the handler timeout, or the consumer is
    /// shutting down (at once if that already happened).
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.cancellation.cancelled()
    }

    /// Whether the handler was asked to wind up (see [`cancelled`](Self::cancelled)).
    pub fn is_cancelled(&self) -> bool {
        self.cancellation.is_cancelled()
    }

    /// The cancellation token itself, to hand to other tasks or to keep after
    /// [`into_body`](Self::into_body). Cancelling it yourself only affects your own code.
    pub fn cancellation(&self) -> CancellationToken {
        self.cancellation.clone()
    }

    /// Body and metadata, by value (the cancellation token is not included: take
    /// [`cancellation`](Self::cancellation) first).
    pub fn into_parts(self) -> (T, MessageMeta) {
        (self.body, self.meta)
    }

    /// The metadata.
    pub fn meta(&self) -> &MessageMeta {
        &self.meta
    }

    /// The message id.
    pub fn message_id(&self) -> &MessageId {
        &self.meta.message_id
    }

    /// How many times SQS has delivered this message (1 on the first delivery).
    pub fn receive_count(&self) -> u32 {
        self.meta.receive_count
    }

    /// The W3C trace context the producer attached (the `traceparent` message attribute), if any.
    pub fn trace_context(&self) -> Option<TraceContext> {
        self.meta.trace_context
    }

    /// The `AWSTraceHeader` system attribute (X-Ray), if the message has one.
    pub fn aws_trace_header(&self) -> Option<&str> {
        self.meta.aws_trace_header.as_deref()
    }

    /// The SNS notification's fields (topic, SNS message id, subject, timestamp, its message attributes),
    /// when the message came through SNS and the consumer opens SNS envelopes.
    pub fn sns(&self) -> Option<&SnsMeta> {
        self.meta.envelope.sns()
    }

    /// The EventBridge event's fields (`detail-type`, `source`, `id`, `time`...), when the message is an
    /// EventBridge event and the consumer opens EventBridge envelopes.
    pub fn eventbridge(&self) -> Option<&EventBridgeMeta> {
        self.meta.envelope.eventbridge()
    }

    /// A delivery of `body` with this delivery's metadata and cancellation signal (a router hands each
    /// message on this way, decoded into its type).
    pub fn with_body<U>(&self, body: U) -> Delivery<U> {
        Delivery { body, meta: self.meta.clone(), cancellation: self.cancellation.clone() }
    }
}

impl<T> Deref for Delivery<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.body
    }
}
