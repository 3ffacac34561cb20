//! [`Producer<T>`]: typed sends with automatic batching, retries, idempotency keys and validation.
//!
//! # How a send travels
//! 1. In the caller's task: the value is encoded by the [`Encode`] codec, options and idempotency key are
//!    applied, and the message is checked against SQS's rules (size, attributes, ids). An invalid message
//!    fails here, before any request.
//! 2. The message and a `oneshot` reply go through a bounded channel to one background task that owns the
//!    buffer (mini-redis's `BufferedClient` pattern). A full channel makes `send` wait: back-pressure.
//! 3. The task merges concurrent messages into `SendMessageBatch` requests of up to 10 entries and at most
//!    1 MiB. It sends a batch as soon as it is full, when the oldest message has lingered
//!    ([`ProducerBuilder::linger`], 5 ms by default), or, when messages had to wait for a free request slot,
//!    as soon as a slot frees. At most [`ProducerBuilder::max_in_flight`] requests run at once, fewer while
//!    SQS throttles: a throttled answer halves the limit, successes raise it by one per round (AIMD, see
//!    [`crate::flow`] and [`Producer::in_flight_limit`]). When more than a quarter of the answers are
//!    throttled, requests also start at a measured rate ([`Producer::paced_rate`]): while a batch waits for
//!    its turn it fills, so a quota in calls per second carries as many messages as it can.
//! 4. Each caller's future resolves with *its* entry's result, once SQS's real answer is known.
//!
//! # Retries
//! Failures that [`Error::is_retryable`](crate::Error::is_retryable) accepts (throttling, server faults,
//! timeouts, transport errors) are retried with exponential backoff and full jitter under the producer's
//! [`RetryPolicy`](crate::retry::RetryPolicy): bounded by a maximum elapsed time and a shared retry budget.
//! After a partial batch failure only the failed retryable entries are sent again; entries that failed for a
//! non-retryable reason (a sender fault) fail at once with AWS's code and message. Every message ends either
//! acknowledged (its `MessageId` returned once) or returned to its caller with the last error, never dropped.
//!
//! # FIFO order
//! On a FIFO queue, messages of one group are stored by SQS in the order they were sent, retries included:
//! a retried message is never overtaken by a later message of its group.
//! - SQS answers a `SendMessageBatch` entry by entry ("The result of sending each message is reported
//!   individually in the response", each failure with its own `SenderFault`), and enqueues a FIFO batch's
//!   messages "in the order they are sent"
//!   (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html>,
//!   <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_BatchResultErrorEntry.html>).
//!   Nothing there says that a failed entry makes the later entries of its group fail too, so SQS may store
//!   entry 3 of a group while failing entry 2, and no retry could then put entry 2 first (more sources in
//!   `src/producer/order.rs`). The producer therefore keeps at most one
//!   unconfirmed message per group: while a message of a group is in a request in flight or waits for a
//!   retry, no later message of that group is sent, and a request carries at most one message per group.
//!   Other groups are not held back: a request carries the next message of up to 10 groups.
//! - A retried message goes back to its original place in the buffer, ahead of later messages of its group;
//!   on a whole-request failure every entry is retried this way.
//! - The cost: one group sends one message per round trip. [`ProducerBuilder::fifo_same_group_per_request`]
//!   lets a request carry several messages of a group (up to 10 per round trip) at the risk described there.
//! - When a message fails for good (a non-retryable error, or retries exhausted), its caller gets the error
//!   and the hold ends: the group's next message is sent, so the group is stored in send order *without*
//!   that message. A caller that must not leave a gap in a group stops sending to it on an error (for
//!   example sends the group's messages one after another with [`Producer::send`]).

//! # Idempotency keys
//! A message may carry an [`IdempotencyKey`] (per send with [`SendOptions::idempotency_key`], or derived
//! from the value with [`ProducerBuilder::idempotency_key_fn`]). It travels in the
//! [`crate::idempotency::IDEMPOTENCY_KEY_ATTRIBUTE`] message attribute; on FIFO
//! queues the `MessageDeduplicationId` is also derived from it, so a resend after an ambiguous timeout is
//! dropped by SQS itself within its 5-minute window. Without a key, a retry after a timeout whose first
//! attempt did land stores the message twice on a standard queue; on a FIFO queue without content-based
//! deduplication the producer then generates a random deduplication id once per message, which still
//! protects its own retries but not resends by the application.
//!
//! # Large payloads
//! With [`ProducerBuilder::large_payloads`], a message whose size (body and attributes, as SQS counts them)
//! exceeds the threshold (default: the queue's maximum size) is stored in S3 in the caller's task, once, and
//! the buffer sends the pointer AWS's extended clients write (see [`crate::offload`]); retries resend the
//! pointer, and a send that fails for good without SQS having stored the message deletes the object.
//!
//! # Telemetry
//! Each `SendMessageBatch` runs in a [`SPAN_SEND`](crate::telemetry::SPAN_SEND) span; each message counts
//! once in [`MESSAGES_SENT`](crate::telemetry::MESSAGES_SENT) or
//! [`MESSAGES_SEND_FAILED`](crate::telemetry::MESSAGES_SEND_FAILED). A W3C trace context (explicit, or
//! ambient: see [`crate::trace_context`]) travels in the `traceparent` message attribute, which counts toward
//! SQS's limit of 10 attributes.

mod batcher;
mod builder;
mod order;
mod validate;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use builder::ProducerBuilder;
pub use validate::{MAX_DELAY, MAX_MESSAGE_ATTRIBUTES};

use self::batcher::{Command, Submission};
use self::validate::QueueRules;
use crate::backend::SendEntry;
use crate::codec::Encode;
use crate::error::{Error, Result};
use crate::flow::{AimdLimit, RatePacer};
use crate::idempotency::{IDEMPOTENCY_KEY_ATTRIBUTE, deduplication_id};
use crate::offload::{self, LargePayloads, PayloadPointer};
use crate::trace_context::{TRACEPARENT_ATTRIBUTE, TraceContext};
use crate::types::{IdempotencyKey, MessageAttribute, MessageAttributes, MessageId};

type KeyFn<T> = Arc<dyn Fn(&T) -> Option<IdempotencyKey> + Send + Sync>;
type GroupFn<T> = Arc<dyn Fn(&T) -> Option<String> + Send + Sync>;

/// Per-message options for [`Producer::send_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOptions {
    delay: Option<Duration>,
    group_id: Option<String>,
    deduplication_id: Option<String>,
    attributes: MessageAttributes,
    idempotency_key: Option<IdempotencyKey>,
    trace_header: Option<String>,
    trace_context: Option<TraceContext>,
}

impl SendOptions {
    /// No options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Delays delivery (standard queues only; at most 15 minutes, whole seconds).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The `MessageGroupId` (required on FIFO queues; on standard queues it names a fair-queue tenant).
    pub fn group_id(mut self, group_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }

    /// An explicit FIFO `MessageDeduplicationId`; takes precedence over one derived from an idempotency key.
    pub fn deduplication_id(mut self, deduplication_id: impl Into<String>) -> Self {
        self.deduplication_id = Some(deduplication_id.into());
        self
    }

    /// Adds a message attribute.
    pub fn attribute(mut self, name: impl Into<String>, attribute: MessageAttribute) -> Self {
        self.attributes.insert(name, attribute);
        self
    }

    /// Names the message's type for a [`Router`](crate::consumer::Router) on a queue carrying several types:
    /// the [`MESSAGE_TYPE_ATTRIBUTE`](crate::envelope::MESSAGE_TYPE_ATTRIBUTE) message attribute (`String`).
    pub fn message_type(self, message_type: impl Into<String>) -> Self {
        self.attribute(crate::envelope::MESSAGE_TYPE_ATTRIBUTE, MessageAttribute::string(message_type))
    }

    /// Sets all message attributes.
    pub fn attributes(mut self, attributes: MessageAttributes) -> Self {
        self.attributes = attributes;
        self
    }

    /// The message's idempotency key; takes precedence over [`ProducerBuilder::idempotency_key_fn`].
    pub fn idempotency_key(mut self, key: impl Into<IdempotencyKey>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The X-Ray `AWSTraceHeader` system attribute.
    pub fn trace_header(mut self, header: impl Into<String>) -> Self {
        self.trace_header = Some(header.into());
        self
    }

    /// The W3C trace context to send in the [`TRACEPARENT_ATTRIBUTE`] message attribute; takes precedence
    /// over the ambient one ([`TraceContext::scope`]). It counts toward SQS's limit of 10 message attributes.
    pub fn trace_context(mut self, context: TraceContext) -> Self {
        self.trace_context = Some(context);
        self
    }
}

/// What SQS answered for a sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The id SQS assigned (on a FIFO duplicate within the deduplication window: the first message's id).
    pub message_id: MessageId,
    /// The FIFO sequence number.
    pub sequence_number: Option<String>,
    /// How many requests carried this message (1 when it went through at the first attempt).
    pub attempts: u32,
}

/// The result of [`Producer::send_all`]: every value comes back, either with its receipt or with its error.
#[derive(Debug)]
pub struct SendReport<T> {
    /// The values SQS accepted, with their receipts, in input order.
    pub sent: Vec<(T, SendReceipt)>,
    /// The values that finally failed, with the last error, in input order.
    pub failed: Vec<(T, Error)>,
}

impl<T> SendReport<T> {
    /// Whether every value was sent.
    pub fn is_complete_success(&self) -> bool {
        self.failed.is_empty()
    }
}

/// A typed, batching SQS producer. Cloning is cheap; all clones feed the same batches.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use serde::Serialize;
/// use sqskit::backend::{EmbeddedBackend, ReceiveRequest, SqsBackend};
/// use sqskit::{Producer, SendOptions};
///
/// #[derive(Serialize)]
/// struct Order { id: u32, total_cents: u64 }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), sqskit::Error> {
/// let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
/// let queue_url = backend.create_queue("orders", &Default::default(), &Default::default()).await?;
///
/// let producer = Producer::<Order>::builder(backend.clone(), &queue_url)
///     .idempotency_key_fn(|order| Some(format!("order-{}", order.id).into()))
///     .build()
///     .await?;
/// let receipt = producer.send(&Order { id: 1, total_cents: 1250 }).await?;
/// producer.send_with(&Order { id: 2, total_cents: 99 }, SendOptions::new().delay(std::time::Duration::ZERO)).await?;
/// producer.close().await;
///
/// let received = backend.receive_message(&queue_url, &ReceiveRequest::new().all_attributes()).await?;
/// assert_eq!(received[0].message_id, receipt.message_id);
/// assert_eq!(received[0].idempotency_key().map(|k| k.into_string()), Some("order-1".to_owned()));
/// # Ok(()) }
/// ```
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    rules: QueueRules,
    encoder: Arc<dyn Encode<T>>,
    key_fn: Option<KeyFn<T>>,
    group_fn: Option<GroupFn<T>>,
    /// Derives the message-type attribute.
    type_fn: Option<GroupFn<T>>,
    commands: mpsc::Sender<Command>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// The buffer task's limit on requests in flight.
    flow: AimdLimit,
    /// The buffer task's limit on requests started per second.
    pacer: RatePacer,
    /// Where messages above the threshold go (see [`crate::offload`]).
    payloads: Option<LargePayloads>,
}

impl<T> Clone for Producer<T> {
    fn clone(&self) -> Self {
        Self { shared: Arc::clone(&self.shared) }
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("queue_url", &self.shared.rules.queue_url)
            .field("fifo", &self.shared.rules.fifo)
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> Producer<T> {
    /// The queue this producer sends to.
    pub fn queue_url(&self) -> &str {
        &self.shared.rules.queue_url
    }

    /// Whether the queue is FIFO.
    pub fn is_fifo(&self) -> bool {
        self.shared.rules.fifo
    }

    /// How many `SendMessageBatch` requests may be in flight right now: [`ProducerBuilder::max_in_flight`]
    /// while SQS accepts the rate, less after throttled answers, back up as requests succeed again (AIMD, see
    /// [`crate::flow`]; also the `sqskit_flow_limit{limit="producer_requests"}` gauge).
    pub fn in_flight_limit(&self) -> usize {
        self.shared.flow.current()
    }

    /// The throttling-aware limit itself (current value, ceiling, throttled answers seen).
    pub fn flow(&self) -> &AimdLimit {
        &self.shared.flow
    }

    /// How many `SendMessageBatch` requests may start per second, or `None` while unpaced (the usual case).
    /// The producer paces its requests when more than a quarter of its answers are throttled, so that a quota
    /// that even one request in flight exceeds is met with full batches (see [`RatePacer`]; also the
    /// `sqskit_flow_limit{limit="producer_rate"}` gauge).
    pub fn paced_rate(&self) -> Option<f64> {
        self.shared.pacer.rate()
    }

    /// Sends one message and resolves with its receipt once SQS accepted it.
    ///
    /// Dropping the returned future does not cancel the send once the message is in the buffer (after the
    /// upload of a large payload, see [`ProducerBuilder::large_payloads`]).
    ///
    /// # Errors
    /// [`Error::Encode`] and [`Error::InvalidMessage`] before any request; [`Error::Payload`] when a large
    /// payload could not be stored in S3; the last retryable error once
    /// retries are exhausted; a non-retryable service error (with AWS's code and message) at once;
    /// [`Error::ChecksumMismatch`] when SQS reported a digest that does not match; [`Error::Shutdown`] after
    /// [`Producer::close`].
    pub async fn send(&self, value: &T) -> Result<SendReceipt> {
        self.send_with(value, SendOptions::default()).await
    }

    /// Sends one message with options (delay, group id, deduplication id, attributes, idempotency key).
    ///
    /// # Errors
    /// As for [`Producer::send`].
    pub async fn send_with(&self, value: &T, options: SendOptions) -> Result<SendReceipt> {
        let creation = self.creation(&options);
        let result = match self.prepare(value, options, &creation).await {
            Ok((entry, offloaded)) => match self.submit(entry, offloaded).await {
                Ok(reply) => reply.await.unwrap_or(Err(Error::Shutdown)),
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        creation.finish(result.as_ref().map(|receipt| &receipt.message_id));
        result
    }

    /// Sends many messages (batched together, in order) and reports each value's fate: the values that were
    /// sent with their receipts, and the values that finally failed with their errors.
    pub async fn send_all<I: IntoIterator<Item = T>>(&self, values: I) -> SendReport<T> {
        self.send_all_with(values, |_| SendOptions::default()).await
    }

    /// Like [`Producer::send_all`], with options computed per value.
    pub async fn send_all_with<I, F>(&self, values: I, mut options: F) -> SendReport<T>
    where
        I: IntoIterator<Item = T>,
        F: FnMut(&T) -> SendOptions,
    {
        let mut pending = Vec::new();
        let mut failed_early = Vec::new();
        for (index, value) in values.into_iter().enumerate() {
            let value_options = options(&value);
            let creation = self.creation(&value_options);
            let submitted = match self.prepare(&value, value_options, &creation).await {
                Ok((entry, offloaded)) => self.submit(entry, offloaded).await,
                Err(error) => Err(error),
            };
            match submitted {
                Ok(reply) => pending.push((index, value, reply, creation)),
                Err(error) => {
                    creation.finish(Err(&error));
                    failed_early.push((index, value, error));
                }
            }
        }
        let mut sent = Vec::with_capacity(pending.len());
        let mut failed: Vec<(usize, T, Error)> = failed_early;
        for (index, value, reply, creation) in pending {
            let result = reply.await.unwrap_or(Err(Error::Shutdown));
            creation.finish(result.as_ref().map(|receipt| &receipt.message_id));
            match result {
                Ok(receipt) => sent.push((value, receipt)),
                Err(error) => failed.push((index, value, error)),
            }
        }
        failed.sort_by_key(|(index, _, _)| *index);
        SendReport { sent, failed: failed.into_iter().map(|(_, value, error)| (value, error)).collect() }
    }

    /// Stops accepting messages, sends everything buffered (waiting for retries to finish or give up), and
    /// returns once every message has its result. Sends after `close` fail with [`Error::Shutdown`]; so do
    /// the sends of other clones. Dropping every clone without calling `close` also flushes, in the
    /// background.
    pub async fn close(&self) {
        // A closed channel means another clone is closing; its task handle is then already taken.
        let _ = self.shared.commands.send(Command::Close).await;
        let task = self.shared.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(%error, "sqskit producer task failed");
            }
        }
    }

    /// The `create` span of one message (feature `otel`), unless the caller chose its trace context.
    fn creation(&self, options: &SendOptions) -> crate::otel::Creation {
        let custom = options.trace_context.is_some() || options.attributes.get(TRACEPARENT_ATTRIBUTE).is_some();
        crate::otel::Creation::start(&self.shared.rules.queue_url, custom)
    }

    /// Hands an entry to the buffer task. The reply of an entry whose payload went to S3 passes through
    /// [`offload::clean_up_on_failure`], which deletes the object when the send fails for good.
    async fn submit(
        &self,
        entry: SendEntry,
        offloaded: Option<PayloadPointer>,
    ) -> Result<oneshot::Receiver<Result<SendReceipt>>> {
        let (reply, receiver) = oneshot::channel();
        let sent = self.shared.commands.send(Command::Send(Submission { entry, reply })).await;
        match (offloaded, &self.shared.payloads) {
            (Some(pointer), Some(payloads)) if sent.is_err() => {
                payloads.discard(&pointer, &Error::Shutdown).await;
                Err(Error::Shutdown)
            }
            (Some(pointer), Some(payloads)) => Ok(offload::clean_up_on_failure(payloads.clone(), pointer, receiver)),
            _ => sent.map(|()| receiver).map_err(|_| Error::Shutdown),
        }
    }

    /// Everything that can fail before a request: encodes, applies options and the idempotency key, replaces a
    /// large body by an S3 pointer, validates, and only then uploads the payload (so an invalid message leaves
    /// no object). Returns the entry and, when its payload went to S3, the pointer.
    /// The entry is built inside the message's `create` span, whose trace context it carries.
    async fn prepare(
        &self,
        value: &T,
        options: SendOptions,
        creation: &crate::otel::Creation,
    ) -> Result<(SendEntry, Option<PayloadPointer>)> {
        let mut entry = creation.in_scope(|| self.entry(value, options))?;
        let Some(payloads) = &self.shared.payloads else {
            validate::validate(&entry, &self.shared.rules)?;
            return Ok((entry, None));
        };
        let pending = payloads.plan(&mut entry, self.shared.rules.max_message_size)?;
        validate::validate(&entry, &self.shared.rules)?;
        match pending {
            Some(pending) => Ok((entry, Some(payloads.upload(pending).await?))),
            None => Ok((entry, None)),
        }
    }

    /// Encodes and applies options and the idempotency key.
    fn entry(&self, value: &T, options: SendOptions) -> Result<SendEntry> {
        let shared = &self.shared;
        let body = shared.encoder.encode(value)?;
        let key = options.idempotency_key.or_else(|| shared.key_fn.as_ref().and_then(|f| f(value)));
        let group_id = options.group_id.or_else(|| shared.group_fn.as_ref().and_then(|f| f(value)));
        let mut attributes = options.attributes;
        if attributes.get(crate::envelope::MESSAGE_TYPE_ATTRIBUTE).is_none() {
            if let Some(message_type) = shared.type_fn.as_ref().and_then(|f| f(value)) {
                attributes.insert(crate::envelope::MESSAGE_TYPE_ATTRIBUTE, MessageAttribute::string(message_type));
            }
        }
        if let Some(key) = &key {
            attributes.insert(IDEMPOTENCY_KEY_ATTRIBUTE, MessageAttribute::string(key.as_str()));
        }
        add_trace_context(&mut attributes, options.trace_context);
        let deduplication_id = match (options.deduplication_id, &key) {
            (Some(explicit), _) => Some(explicit),
            (None, Some(key)) if shared.rules.fifo => Some(deduplication_id(key)),
            // Generated once per message, so the producer's own retries are still deduplicated by SQS.
            (None, None) if shared.rules.fifo && !shared.rules.content_based_deduplication => {
                Some(uuid::Uuid::new_v4().simple().to_string())
            }
            (None, _) => None,
        };
        let entry = SendEntry {
            id: String::new(),
            body,
            delay: options.delay,
            attributes,
            trace_header: options.trace_header,
            group_id,
            deduplication_id,
        };
        Ok(entry)
    }
}

/// Adds the `traceparent` attribute: the explicit context, or else the current OpenTelemetry span's (feature
/// `otel`, with `tracestate`), or else the ambient one, when there is room for it (an ambient context never
/// makes a send fail). An attribute the caller set by hand is kept.
fn add_trace_context(attributes: &mut MessageAttributes, explicit: Option<TraceContext>) {
    if attributes.get(TRACEPARENT_ATTRIBUTE).is_some() {
        return;
    }
    let context = match explicit {
        Some(context) => context,
        // The current OpenTelemetry span (feature `otel`: the message's `create` span) comes first.
        None if crate::otel::inject_current(attributes, MAX_MESSAGE_ATTRIBUTES.saturating_sub(attributes.len())) => {
            return;
        }
        None => match TraceContext::current() {
            Some(context) if attributes.len() < MAX_MESSAGE_ATTRIBUTES => context,
            Some(_) => {
                tracing::debug!("message already has 10 attributes; not adding the ambient traceparent");
                return;
            }
            None => return,
        },
    };
    attributes.insert(TRACEPARENT_ATTRIBUTE, MessageAttribute::string(context.to_string()));
}

impl<T: serde::Serialize + Send + Sync + 'static> Producer<T> {
    /// A builder for a producer of `T` sending JSON (serde_json) to `queue_url` through `backend`.
    pub fn builder(backend: Arc<dyn crate::backend::SqsBackend>, queue_url: impl Into<String>) -> ProducerBuilder<T> {
        ProducerBuilder::with_codec(backend, queue_url, crate::codec::JsonCodec)
    }
}
