//! The settle batchers: acknowledgements become `DeleteMessageBatch` requests, retries and releases become
//! `ChangeMessageVisibilityBatch` requests. Each batcher is one task that flushes as soon as 10 entries are
//! ready or after a short linger, with several requests in flight; entries that fail with a retryable error
//! are retried with backoff, and only those entries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use super::health::{ConsumerOperation, ErrorHook};
use super::stats::{Counters, bump};
use crate::backend::{DeleteEntry, MAX_BATCH_ENTRIES, SqsBackend, VisibilityEntry};
use crate::error::Error;
use crate::offload::{LargePayloads, PayloadPointer};
use crate::retry::RetryPolicy;
use crate::telemetry::ConsumerMetrics;
use crate::types::{MessageId, ReceiptHandle};

/// Why a message is being settled: decides which counter a confirmed request bumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SettleKind {
    Completed,
    Duplicate,
    DeadLettered,
    PoisonDeleted,
    Retried,
    Released,
    ReleasedUnstarted,
    Deferred,
}

impl SettleKind {
    /// The metric a confirmed settlement of this kind counts in, if any.
    fn metric(self, metrics: &ConsumerMetrics) -> Option<&metrics::Counter> {
        match self {
            SettleKind::Completed => Some(&metrics.acked),
            SettleKind::Retried => Some(&metrics.retried),
            SettleKind::DeadLettered => Some(&metrics.dead_lettered),
            _ => None,
        }
    }

    fn counter(self, counters: &Counters) -> Option<&AtomicU64> {
        match self {
            SettleKind::Completed => Some(&counters.completed),
            SettleKind::Duplicate => Some(&counters.duplicates),
            SettleKind::DeadLettered => Some(&counters.dead_lettered),
            SettleKind::PoisonDeleted => None,
            SettleKind::Retried => Some(&counters.retried),
            SettleKind::Released => Some(&counters.released),
            SettleKind::ReleasedUnstarted => Some(&counters.released_unstarted),
            SettleKind::Deferred => Some(&counters.deferred),
        }
    }
}

/// One message to delete or to change the visibility of.
#[derive(Debug, Clone)]
pub(crate) struct SettleItem {
    pub(crate) receipt: ReceiptHandle,
    pub(crate) message_id: MessageId,
    /// The new visibility timeout (visibility batcher only).
    pub(crate) visibility: Duration,
    pub(crate) kind: SettleKind,
    /// The S3 object to delete once SQS confirmed the message's deletion (delete batcher only).
    pub(crate) payload: Option<PayloadPointer>,
}

/// Which request a batcher sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SettleOp {
    Delete,
    ChangeVisibility,
}

impl SettleOp {
    const fn name(self) -> &'static str {
        match self {
            SettleOp::Delete => "DeleteMessageBatch",
            SettleOp::ChangeVisibility => "ChangeMessageVisibilityBatch",
        }
    }
}

enum Command {
    Item(SettleItem),
    Close { deadline: Instant, done: oneshot::Sender<u64> },
}

/// The handle of a batcher task.
#[derive(Debug, Clone)]
pub(crate) struct Settler {
    tx: mpsc::UnboundedSender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Item(item) => f.debug_tuple("Item").field(item).finish(),
            Command::Close { deadline, .. } => f.debug_struct("Close").field("deadline", deadline).finish(),
        }
    }
}

/// What a batcher needs to make its requests.
#[derive(Debug, Clone)]
pub(crate) struct SettleContext {
    pub(crate) op: SettleOp,
    pub(crate) backend: Arc<dyn SqsBackend>,
    pub(crate) queue_url: String,
    pub(crate) linger: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) counters: Arc<Counters>,
    pub(crate) metrics: Arc<ConsumerMetrics>,
    /// The consumer's `on_error` hook, told of every item given up.
    pub(crate) on_error: ErrorHook,
    /// Deletes the S3 objects of deleted messages.
    pub(crate) payloads: Option<LargePayloads>,
}

impl Settler {
    /// Starts a batcher task.
    pub(crate) fn spawn(context: SettleContext) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(context, rx));
        Self { tx }
    }

    /// Queues an item. Returns `false` when the batcher has stopped (the item is not settled).
    pub(crate) fn push(&self, item: SettleItem) -> bool {
        self.tx.send(Command::Item(item)).is_ok()
    }

    /// Flushes everything queued and waits for it until `deadline`; returns how many items stayed
    /// unconfirmed. The batcher stops afterwards.
    pub(crate) async fn close(&self, deadline: Instant) -> u64 {
        let (done, result) = oneshot::channel();
        if self.tx.send(Command::Close { deadline, done }).is_err() {
            return 0;
        }
        result.await.unwrap_or(0)
    }
}

async fn run(context: SettleContext, mut rx: mpsc::UnboundedReceiver<Command>) {
    let context = Arc::new(context);
    let slots = Arc::new(Semaphore::new(context.max_in_flight));
    let pending = Arc::new(AtomicU64::new(0));
    let mut buffer: Vec<SettleItem> = Vec::new();
    let mut flush_at: Option<Instant> = None;
    let mut requests: JoinSet<()> = JoinSet::new();
    loop {
        let linger = async {
            match flush_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            command = rx.recv() => match command {
                Some(Command::Item(item)) => {
                    buffer.push(item);
                    if buffer.len() >= MAX_BATCH_ENTRIES {
                        let batch: Vec<SettleItem> = buffer.drain(..MAX_BATCH_ENTRIES).collect();
                        start(&context, &slots, &pending, &mut requests, batch).await;
                    }
                    flush_at = match (buffer.is_empty(), flush_at) {
                        (true, _) => None,
                        (false, None) => Some(Instant::now() + context.linger),
                        (false, at) => at,
                    };
                }
                Some(Command::Close { deadline, done }) => {
                    flush_all(&context, &slots, &pending, &mut requests, &mut buffer).await;
                    let _ = tokio::time::timeout_at(deadline, async {
                        while requests.join_next().await.is_some() {}
                    })
                    .await;
                    requests.abort_all();
                    let _ = done.send(pending.load(Ordering::Acquire));
                    return;
                }
                None => {
                    flush_all(&context, &slots, &pending, &mut requests, &mut buffer).await;
                    while requests.join_next().await.is_some() {}
                    return;
                }
            },
            () = linger => {
                flush_at = None;
                flush_all(&context, &slots, &pending, &mut requests, &mut buffer).await;
            }
            Some(_) = requests.join_next(), if !requests.is_empty() => {}
        }
    }
}

async fn flush_all(
    context: &Arc<SettleContext>,
    slots: &Arc<Semaphore>,
    pending: &Arc<AtomicU64>,
    requests: &mut JoinSet<()>,
    buffer: &mut Vec<SettleItem>,
) {
    while !buffer.is_empty() {
        let take = buffer.len().min(MAX_BATCH_ENTRIES);
        let batch: Vec<SettleItem> = buffer.drain(..take).collect();
        start(context, slots, pending, requests, batch).await;
    }
}

/// Starts one request, waiting for a free request slot first (back-pressure on the batcher).
async fn start(
    context: &Arc<SettleContext>,
    slots: &Arc<Semaphore>,
    pending: &Arc<AtomicU64>,
    requests: &mut JoinSet<()>,
    batch: Vec<SettleItem>,
) {
    let Ok(permit) = slots.clone().acquire_owned().await else { return };
    pending.fetch_add(batch.len() as u64, Ordering::AcqRel);
    let context = context.clone();
    let pending = pending.clone();
    let span = crate::otel::settle_span(&context.queue_url, context.op.name(), batch.len());
    requests.spawn(
        async move {
            let count = batch.len() as u64;
            let given_up = settle_batch(&context, batch).await;
            let outcome = match given_up {
                0 => "ok",
                n if n as u64 == count => "failed",
                _ => "partial",
            };
            crate::otel::settle_outcome(outcome);
            pending.fetch_sub(count, Ordering::AcqRel);
            drop(permit);
        }
        .instrument(span),
    );
}

/// Sends one batch, retrying retryable failures (of the whole request or of single entries) with backoff.
/// Returns how many items finally failed; each is reported with the last error it met.
async fn settle_batch(context: &SettleContext, batch: Vec<SettleItem>) -> usize {
    let mut given_up = 0;
    let started = Instant::now();
    let mut remaining = batch;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let result = request(context, &remaining).await;
        let mut slots: Vec<Option<SettleItem>> = remaining.into_iter().map(Some).collect();
        // Items to try again, each with the error that made it fail this time.
        let mut retry: Vec<(SettleItem, Error)> = Vec::new();
        let mut after_timeout = false;
        let mut payloads = Vec::new();
        match result {
            Ok(outcome) => {
                for (id, ()) in outcome.successful {
                    if let Some(mut item) = take(&mut slots, &id) {
                        payloads.extend(item.payload.take());
                        if let Some(counter) = item.kind.counter(&context.counters) {
                            bump(counter);
                        }
                        if let Some(metric) = item.kind.metric(&context.metrics) {
                            metric.increment(1);
                        }
                    }
                }
                for failure in outcome.failed {
                    if let Some(item) = take(&mut slots, &failure.id) {
                        if failure.error.is_retryable() {
                            retry.push((item, failure.error));
                        } else {
                            give_up(context, &item, &failure.error);
                            given_up += 1;
                        }
                    }
                }
                context.retry.deposit();
            }
            Err(error) if error.is_retryable() => {
                after_timeout = matches!(error, Error::Timeout { .. });
                tracing::debug!(error = %error, "settle request failed; retrying");
                retry.extend(slots.iter_mut().filter_map(Option::take).map(|item| (item, error.clone())));
            }
            Err(error) => {
                for item in slots.iter_mut().filter_map(Option::take) {
                    give_up(context, &item, &error);
                    given_up += 1;
                }
            }
        }
        delete_payloads(context, payloads).await;
        // Entries SQS did not mention at all are retried too: nothing may be dropped silently.
        retry.extend(slots.into_iter().flatten().map(|item| (item, Error::transport(Unmentioned(context.op.name())))));
        if retry.is_empty() {
            return given_up;
        }
        match context.retry.next_delay(attempts, started.elapsed()) {
            Some(delay) if context.retry.withdraw(after_timeout) => {
                tokio::time::sleep(delay).await;
                remaining = retry.into_iter().map(|(item, _)| item).collect();
            }
            _ => {
                // Retries are exhausted: each item is reported with the last error it met.
                for (item, error) in &retry {
                    give_up(context, item, error);
                }
                return given_up + retry.len();
            }
        }
    }
}

/// Deletes the S3 objects of messages SQS confirmed deleted, concurrently (failures are logged by
/// `delete_after_ack`: the message is gone, the object stays).
async fn delete_payloads(context: &SettleContext, pointers: Vec<PayloadPointer>) {
    let Some(payloads) = &context.payloads else { return };
    let mut deletes = JoinSet::new();
    for pointer in pointers {
        let payloads = payloads.clone();
        deletes.spawn(async move { payloads.delete_after_ack(&pointer).await });
    }
    while deletes.join_next().await.is_some() {}
}

/// An entry a batch answer mentioned neither as successful nor as failed.
#[derive(Debug, thiserror::Error)]
#[error("the {0} answer did not mention this entry")]
struct Unmentioned(&'static str);

fn take(slots: &mut [Option<SettleItem>], id: &str) -> Option<SettleItem> {
    id.parse::<usize>().ok().and_then(|index| slots.get_mut(index)).and_then(Option::take)
}

fn give_up(context: &SettleContext, item: &SettleItem, error: &Error) {
    bump(&context.counters.settle_failures);
    let operation = match context.op {
        SettleOp::Delete => ConsumerOperation::Delete,
        SettleOp::ChangeVisibility => ConsumerOperation::ChangeVisibility,
    };
    context.on_error.call(&context.queue_url, operation, error, 0);
    tracing::warn!(
        message_id = %item.message_id,
        operation = context.op.name(),
        error = %error,
        "could not settle the message; SQS will redeliver it after its visibility timeout"
    );
}

async fn request(
    context: &SettleContext,
    items: &[SettleItem],
) -> crate::error::Result<crate::backend::BatchOutcome<()>> {
    match context.op {
        SettleOp::Delete => {
            let entries: Vec<DeleteEntry> = items
                .iter()
                .enumerate()
                .map(|(index, item)| DeleteEntry { id: index.to_string(), receipt_handle: item.receipt.clone() })
                .collect();
            context.backend.delete_message_batch(&context.queue_url, &entries).await
        }
        SettleOp::ChangeVisibility => {
            let entries: Vec<VisibilityEntry> = items
                .iter()
                .enumerate()
                .map(|(index, item)| VisibilityEntry {
                    id: index.to_string(),
                    receipt_handle: item.receipt.clone(),
                    visibility_timeout: item.visibility,
                })
                .collect();
            context.backend.change_message_visibility_batch(&context.queue_url, &entries).await
        }
    }
}
