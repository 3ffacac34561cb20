//! AWS Lambda (feature `lambda`): the same handlers ([`Handler`], [`Router`]), codecs,
//! [envelopes](crate::envelope) and [idempotency stores](crate::consumer::IdempotencyStore) behind an SQS
//! event source mapping, answering with a partial batch response.
//!
//! [`SqsLambda::handle`] takes one `SqsEvent` and returns the `SQSBatchResponse` whose `batchItemFailures`
//! name the messages Lambda must not delete; [`SqsLambda::run`] serves it with `lambda_runtime`. Turn on
//! `ReportBatchItemFailures` on the event source mapping (`FunctionResponseTypes`), or Lambda ignores the
//! response and treats the invocation as a success or a failure of the whole batch
//! (<https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>).
//!
//! For each record, in the order a [`Consumer`](crate::Consumer) would: the body and attribute MD5s the
//! event carries are verified, the envelope opened, the payload decoded, the idempotency key looked up, and
//! the handler run (with panics caught). The record is reported as failed unless its outcome is
//! [`Outcome::Ack`] (or it is a duplicate of a completed key):
//!
//! | What happened | Reported | What SQS then does |
//! |---|---|---|
//! | `Ack`, or a duplicate of a completed key | success | Lambda deletes it |
//! | `Retry`, `RetryAfter`, `Release`, a panic, a handler past the deadline, the key in progress elsewhere, the store failing | failure | visible again after the queue's visibility timeout (a Lambda function cannot choose the delay) |
//! | `DeadLetter(reason)`, poison (MD5 mismatch, a broken envelope, a payload the codec rejects) | failure, logged with the reason | redelivered until the queue's redrive policy moves it to the dead-letter queue after `maxReceiveCount` receives |
//!
//! **Standard queues**: records run concurrently (at most [`concurrency`](SqsLambdaBuilder::concurrency) at
//! once). **FIFO queues**: the records of one message group run one after another in order, and at a group's
//! first failure the rest of that group is reported as failed without running, so it is retried in order
//! ([`FifoFailure::StopGroup`], the default: groups are independent); [`FifoFailure::StopBatch`] stops the
//! whole batch at its first failure instead, what Powertools for AWS Lambda's `SqsFifoPartialProcessor` does by
//! default (its `skip_group_on_error` option is `StopGroup`;
//! <https://docs.aws.amazon.com/powertools/python/latest/api/utilities/batch/sqs_fifo_partial_processor.html>).
//!
//! Each record is counted in [`LAMBDA_RECORDS`](crate::telemetry::LAMBDA_RECORDS)
//! (`sqskit_lambda_records_total{queue, outcome}`: `processed`, `duplicate`, `failed`, `poison`, `skipped`).
//!
//! A record without a `messageId` cannot be reported by id: it is reported with an empty `itemIdentifier`,
//! which Lambda treats as the failure of the whole batch (so nothing is lost).
//!
//! Handlers get their [`Delivery::cancelled`](crate::consumer::Delivery::cancelled) signal
//! [`deadline_margin`](SqsLambdaBuilder::deadline_margin) (default 2 s) before the invocation's deadline; a
//! handler still running half that margin before the deadline is dropped and its record reported as failed,
//! so the function answers before Lambda times it out.

mod record;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use aws_lambda_events::encodings::Base64Data;
pub use aws_lambda_events::event::sqs::{
    BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute,
};
pub use record::sqs_event;

/// The error of [`SqsLambda::run`] (`lambda_runtime`'s boxed error).
pub type LambdaError = lambda_runtime::Error;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::backend::ReceivedMessage;
use crate::codec::{Decode, JsonCodec};
use crate::consumer::{
    Begin, CatchUnwind, Delivery, Handler, IdempotencyKeySource, IdempotencyStore, MessageMeta, Outcome, Payload,
    PayloadCodec, Router,
};
use crate::envelope::Envelope;

/// How a FIFO batch reacts to a failed record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FifoFailure {
    /// The rest of the failed record's group is reported as failed without running; other groups go on.
    #[default]
    StopGroup,
    /// Every record after the first failure (in the batch's order, any group) is reported as failed without
    /// running: the whole batch runs one record at a time.
    StopBatch,
}

/// Why a record was reported as failed (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordFailure {
    /// An MD5 mismatch, a broken envelope or an undecodable payload: retried until the redrive policy
    /// dead-letters it.
    Poison(String),
    /// The handler's outcome was not `Ack` (`DeadLetter` carries its reason).
    Outcome(Outcome),
    /// The handler panicked.
    Panicked(String),
    /// The handler was still running near the invocation's deadline.
    Deadline,
    /// The idempotency key is being processed elsewhere.
    InProgress,
    /// The idempotency store failed.
    Store(String),
    /// An earlier record of the same FIFO group (or, with [`FifoFailure::StopBatch`], of the batch) failed.
    Skipped,
}

/// How a record that succeeded was done with.
enum Done {
    /// Its handler returned `Ack`.
    Processed,
    /// A duplicate of a completed idempotency key: acknowledged without running the handler.
    Duplicate,
}

/// A record's fate: its message id and `None` on success.
pub type RecordResult = (String, Option<RecordFailure>);

struct Inner<T> {
    handler: Arc<dyn Handler<T>>,
    codec: Arc<dyn Decode<T>>,
    envelope: Envelope,
    key_source: IdempotencyKeySource<T>,
    store: Option<Arc<dyn IdempotencyStore>>,
    completed_ttl: Duration,
    fifo_failure: FifoFailure,
    concurrency: usize,
    deadline_margin: Duration,
}

/// The partial batch response for `results`: a `batchItemFailures` entry per failed record.
pub fn batch_response(results: &[RecordResult]) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for (message_id, failure) in results {
        if let Some(failure) = failure {
            tracing::debug!(%message_id, ?failure, "reporting a batch item failure");
            let mut item = BatchItemFailure::default();
            item.item_identifier.clone_from(message_id);
            response.batch_item_failures.push(item);
        }
    }
    response
}

/// Runs a handler over Lambda SQS events; see the [module documentation](self).
///
/// # Examples
/// ```
/// use sqskit::consumer::{Delivery, Outcome};
/// use sqskit::lambda::{SqsEvent, SqsLambda};
///
/// #[derive(serde::Deserialize)]
/// struct Order { id: u32 }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let function = SqsLambda::builder(|order: Delivery<Order>| async move {
///     if order.id > 0 { Outcome::Ack } else { Outcome::Retry }
/// })
/// .build();
/// let response = function.handle(SqsEvent::default()).await;
/// assert!(response.batch_item_failures.is_empty());
/// // In `main` of the function's binary: `function.run().await`
/// # }
/// ```
pub struct SqsLambda<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for SqsLambda<T> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<T> fmt::Debug for SqsLambda<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqsLambda")
            .field("envelope", &self.inner.envelope)
            .field("idempotency", &self.inner.store.is_some())
            .field("fifo_failure", &self.inner.fifo_failure)
            .field("concurrency", &self.inner.concurrency)
            .finish_non_exhaustive()
    }
}

/// Configures an [`SqsLambda`].
pub struct SqsLambdaBuilder<T> {
    inner: Inner<T>,
}

impl<T> fmt::Debug for SqsLambdaBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqsLambdaBuilder").field("envelope", &self.inner.envelope).finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> SqsLambda<T> {
    /// A function running `handler` on JSON bodies.
    pub fn builder(handler: impl Handler<T>) -> SqsLambdaBuilder<T> {
        Self::builder_with_codec(handler, JsonCodec)
    }
}

impl SqsLambda<Payload> {
    /// A function dispatching each record through `router` (which decodes each type itself).
    pub fn router(router: Router) -> SqsLambdaBuilder<Payload> {
        Self::builder_with_codec(router, PayloadCodec)
    }
}

impl<T: Send + 'static> SqsLambda<T> {
    /// A function running `handler` on bodies decoded with `codec`.
    pub fn builder_with_codec(handler: impl Handler<T>, codec: impl Decode<T>) -> SqsLambdaBuilder<T> {
        SqsLambdaBuilder {
            inner: Inner {
                handler: Arc::new(handler),
                codec: Arc::new(codec),
                envelope: Envelope::Raw,
                key_source: IdempotencyKeySource::AttributeOrDeduplicationId,
                store: None,
                completed_ttl: Duration::from_secs(60 * 60),
                fifo_failure: FifoFailure::default(),
                concurrency: 64,
                deadline_margin: Duration::from_secs(2),
            },
        }
    }

    /// Processes one event without a deadline and answers with its partial batch response.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        self.handle_until(event, None).await
    }

    /// Processes one event that must be answered by `deadline` (the invocation's).
    pub async fn handle_until(&self, event: SqsEvent, deadline: Option<SystemTime>) -> SqsBatchResponse {
        batch_response(&self.process(event, deadline).await)
    }

    /// Processes one event and returns each record's fate, in the event's order.
    pub async fn process(&self, event: SqsEvent, deadline: Option<SystemTime>) -> Vec<RecordResult> {
        let records = event.records;
        let indexed_arn = records.first().and_then(|r| r.event_source_arn.clone()).unwrap_or_default();
        let ids: Vec<String> = records.iter().map(|r| r.message_id.clone().unwrap_or_default()).collect();
        let fifo = records.iter().any(record::is_fifo);
        let limits = Limits::new(deadline, self.inner.deadline_margin);
        let mut results: Vec<Option<RecordFailure>> = vec![None; records.len()];
        let indexed: Vec<(usize, SqsMessage)> = records.into_iter().enumerate().collect();
        let chains: Vec<Vec<(usize, SqsMessage)>> = if !fifo {
            indexed.into_iter().map(|one| vec![one]).collect()
        } else if self.inner.fifo_failure == FifoFailure::StopBatch {
            vec![indexed]
        } else {
            let mut groups: Vec<Vec<(usize, SqsMessage)>> = Vec::new();
            let mut by_group: HashMap<String, usize> = HashMap::new();
            for (index, record) in indexed {
                let group = record.attributes.get("MessageGroupId").cloned().unwrap_or_default();
                let slot = *by_group.entry(group).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[slot].push((index, record));
            }
            groups
        };
        let slots = Arc::new(Semaphore::new(self.inner.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        let queue: Arc<str> = Arc::from(queue_name(&indexed_arn));
        for chain in chains {
            let queue = queue.clone();
            let this = self.clone();
            let slots = slots.clone();
            let limits = limits.clone();
            let task = async move {
                let mut out = Vec::with_capacity(chain.len());
                let mut failed = false;
                for (index, record) in chain {
                    if failed {
                        count(&queue, "skipped");
                        out.push((index, Some(RecordFailure::Skipped)));
                        continue;
                    }
                    let result = match slots.acquire().await {
                        Ok(_permit) => this.process_one(&queue, &record, &limits).await,
                        Err(_) => Err(RecordFailure::Deadline),
                    };
                    failed = result.is_err();
                    let outcome = match &result {
                        Ok(Done::Processed) => "processed",
                        Ok(Done::Duplicate) => "duplicate",
                        Err(RecordFailure::Poison(_)) => "poison",
                        Err(_) => "failed",
                    };
                    count(&queue, outcome);
                    out.push((index, result.err()));
                }
                out
            };
            // The invocation's span (if any) is the parent of the records' `sqskit.process` spans.
            tasks.spawn(task.in_current_span());
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(chain) => {
                    for (index, failure) in chain {
                        results[index] = failure;
                    }
                }
                Err(error) => {
                    // Unreachable in practice (handler panics are caught); fail the whole batch rather than
                    // report records as processed that may not have been.
                    tracing::error!(%error, "a record task failed; reporting the whole batch as failed");
                    return ids.into_iter().map(|id| (id, Some(RecordFailure::Panicked(error.to_string())))).collect();
                }
            }
        }
        ids.into_iter().zip(results).collect()
    }

    /// Processes one record inside its `sqskit.process` span.
    async fn process_one(&self, queue: &str, record: &SqsMessage, limits: &Limits) -> Result<Done, RecordFailure> {
        let message = record::received(record);
        let span = crate::otel::lambda_process_span(queue, &message);
        let result = self.process_message(message, limits).instrument(span.clone()).await;
        let outcome = match &result {
            Ok(Done::Processed) => "ack",
            Ok(Done::Duplicate) => "duplicate",
            Err(RecordFailure::Poison(_)) => "poison",
            Err(RecordFailure::Outcome(outcome)) => outcome.as_str(),
            Err(RecordFailure::Panicked(_)) => "panicked",
            Err(RecordFailure::Deadline) => "timed_out",
            Err(RecordFailure::InProgress) => "in_progress",
            Err(RecordFailure::Store(_)) => "store_unavailable",
            Err(RecordFailure::Skipped) => "skipped",
        };
        span.in_scope(|| crate::otel::process_outcome(outcome));
        result
    }

    async fn process_message(&self, message: ReceivedMessage, limits: &Limits) -> Result<Done, RecordFailure> {
        let inner = &self.inner;
        let message_id = message.message_id.clone();
        let poison = |reason: String| {
            tracing::warn!(%message_id, %reason, "poison message; reporting it as failed for the redrive policy");
            RecordFailure::Poison(reason)
        };
        message.check_integrity().map_err(|error| poison(error.to_string()))?;
        let opened =
            inner.envelope.open(&message.body).map_err(|error| poison(crate::Error::from(error).to_string()))?;
        let body = inner.codec.decode(&opened.payload).map_err(|error| poison(error.to_string()))?;
        let mut meta = MessageMeta::from_received(&message);
        meta.envelope = opened.meta;
        let key = inner.key_source.key(&body, &meta);
        meta.idempotency_key.clone_from(&key);
        let lease = match (&inner.store, key) {
            (Some(store), Some(key)) => {
                let until = limits.deadline.unwrap_or_else(|| SystemTime::now() + Duration::from_secs(15 * 60));
                match store.try_begin(&key, until).await {
                    Ok(Begin::Acquired(token)) => Some((store.clone(), key, token)),
                    Ok(Begin::Completed) => {
                        tracing::debug!(%message_id, %key, "already processed; acknowledging the duplicate");
                        return Ok(Done::Duplicate);
                    }
                    Ok(Begin::InProgress { .. }) => return Err(RecordFailure::InProgress),
                    Err(error) => return Err(RecordFailure::Store(error.to_string())),
                }
            }
            _ => None,
        };
        let delivery = Delivery::new(body, meta);
        let token = delivery.cancellation();
        let ran = limits.run(CatchUnwind::new(inner.handler.handle(delivery)), &token).await;
        let result = match ran {
            Some(Ok(Outcome::Ack)) => Ok(Done::Processed),
            Some(Ok(outcome)) => {
                if let Outcome::DeadLetter(reason) = &outcome {
                    tracing::warn!(%message_id, %reason, "permanent failure; reporting it as failed for the redrive policy");
                }
                Err(RecordFailure::Outcome(outcome))
            }
            Some(Err(panic)) => {
                tracing::error!(%message_id, %panic, "handler panicked; reporting the message as failed");
                Err(RecordFailure::Panicked(panic))
            }
            None => {
                tracing::warn!(%message_id, "handler still running at the invocation's deadline; reporting it as failed");
                Err(RecordFailure::Deadline)
            }
        };
        if let Some((store, key, token)) = lease {
            let settled = if result.is_ok() {
                store.complete(&key, &token, SystemTime::now() + inner.completed_ttl).await
            } else {
                store.abandon(&key, &token).await
            };
            if let Err(error) = settled {
                tracing::warn!(%key, %error, "could not record the idempotency key's outcome");
            }
        }
        result
    }

    /// Serves the function with `lambda_runtime` (the Lambda Runtime API), one event at a time, each answered
    /// with its partial batch response, until the runtime stops.
    ///
    /// # Errors
    /// Outside Lambda (one of the variables the Lambda environment sets is missing or invalid: checked first,
    /// since `lambda_runtime` would panic), or the runtime's error when it cannot reach the Runtime API.
    pub async fn run(self) -> Result<(), lambda_runtime::Error> {
        check_lambda_environment()?;
        lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<SqsEvent>| {
            let function = self.clone();
            async move {
                let deadline = event.context.deadline();
                Ok::<_, lambda_runtime::Error>(function.handle_until(event.payload, Some(deadline)).await)
            }
        }))
        .await
    }
}

/// The variables `lambda_runtime` reads at start-up (it panics on a missing one); see
/// <https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime>.
fn check_lambda_environment() -> Result<(), lambda_runtime::Error> {
    for name in [
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
    ] {
        if std::env::var_os(name).is_none() {
            return Err(format!("not running in AWS Lambda: the environment variable {name} is not set").into());
        }
    }
    let memory = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").unwrap_or_default();
    if memory.parse::<i32>().is_err() {
        return Err(format!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE `{memory}` is not a number").into());
    }
    Ok(())
}

/// The queue's name from its ARN (`arn:aws:sqs:region:account:name`), for the metrics' `queue` label.
fn queue_name(arn: &str) -> &str {
    arn.rsplit(':').next().filter(|name| !name.is_empty()).unwrap_or("unknown")
}

/// Counts one record in [`LAMBDA_RECORDS`](crate::telemetry::LAMBDA_RECORDS).
fn count(queue: &Arc<str>, outcome: &'static str) {
    metrics::counter!(
        crate::telemetry::LAMBDA_RECORDS,
        crate::telemetry::LABEL_QUEUE => queue.to_string(),
        crate::telemetry::LABEL_OUTCOME => outcome
    )
    .increment(1);
}

/// When handlers are told to wind up and when they are given up on.
#[derive(Debug, Clone)]
struct Limits {
    deadline: Option<SystemTime>,
    margin: Duration,
}

impl Limits {
    fn new(deadline: Option<SystemTime>, margin: Duration) -> Self {
        Self { deadline, margin }
    }

    /// Runs `future`, cancelling `token` `margin` before the deadline and dropping the future half the margin
    /// before it (`None`).
    async fn run<F: std::future::Future>(&self, future: F, token: &CancellationToken) -> Option<F::Output> {
        let Some(deadline) = self.deadline else { return Some(future.await) };
        let left = deadline.duration_since(SystemTime::now()).unwrap_or_default();
        let cancel_in = left.saturating_sub(self.margin);
        let give_up_in = left.saturating_sub(self.margin / 2);
        tokio::pin!(future);
        tokio::select! {
            output = &mut future => return Some(output),
            () = tokio::time::sleep(cancel_in) => token.cancel(),
        }
        tokio::time::timeout(give_up_in.saturating_sub(cancel_in), future).await.ok()
    }
}

impl<T: Send + 'static> SqsLambdaBuilder<T> {
    /// The envelope of the queue's bodies (default [`Envelope::Raw`]).
    pub fn envelope(mut self, envelope: Envelope) -> Self {
        self.inner.envelope = envelope;
        self
    }

    /// Deduplicates processing through `store`, as a consumer does: a completed key is acknowledged without
    /// running the handler, a key in progress elsewhere is reported as failed (retried later).
    pub fn idempotency(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.inner.store = Some(store);
        self
    }

    /// Where idempotency keys come from (default
    /// [`IdempotencyKeySource::AttributeOrDeduplicationId`]).
    pub fn idempotency_key_source(mut self, source: IdempotencyKeySource<T>) -> Self {
        self.inner.key_source = source;
        self
    }

    /// How long a completed key is remembered (default 1 hour).
    pub fn idempotency_ttl(mut self, ttl: Duration) -> Self {
        self.inner.completed_ttl = ttl;
        self
    }

    /// How a FIFO batch reacts to a failure (default [`FifoFailure::StopGroup`]).
    pub fn fifo_failure(mut self, policy: FifoFailure) -> Self {
        self.inner.fifo_failure = policy;
        self
    }

    /// At most this many handlers at once (default 64; at least 1).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.inner.concurrency = concurrency.max(1);
        self
    }

    /// How long before the invocation's deadline handlers are told to wind up (default 2 s); they are given up
    /// on at half of it.
    pub fn deadline_margin(mut self, margin: Duration) -> Self {
        self.inner.deadline_margin = margin;
        self
    }

    /// The function.
    pub fn build(self) -> SqsLambda<T> {
        SqsLambda { inner: Arc::new(self.inner) }
    }
}
