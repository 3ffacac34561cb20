//! The visibility heartbeat: one task that, every tick, extends every held message close to its visibility
//! deadline in `ChangeMessageVisibilityBatch` requests of up to 10, sent concurrently (at most
//! [`MAX_REQUESTS_PER_TICK`] at once), and extends the idempotency leases of those messages to the same
//! deadline. Which messages are due, the caps, and the backoff of failed entries are the registry's rules.
//! A running message whose extension failed is in doubt until one succeeds: the registry then tells its
//! handler call the instant it must be gone by (see `timeout`); its lease is left to end with the confirmed
//! visibility.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::Semaphore;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;

use super::core::Core;
use super::handler::JoinAll;
use super::health::ConsumerOperation;
use super::options::ResolvedHeartbeat;
use super::process::abandon_lease;
use super::registry::{Due, EntryId, ExtensionRule};
use super::stats::bump;
use crate::backend::{BatchOutcome, MAX_BATCH_ENTRIES, VisibilityEntry};
use crate::error::Error;
use crate::telemetry;

/// At most this many heartbeat requests are in flight at once (one tick's requests beyond it wait).
pub(crate) const MAX_REQUESTS_PER_TICK: usize = 16;

pub(crate) async fn run(core: Arc<Core>, heartbeat: ResolvedHeartbeat) {
    let rule = ExtensionRule {
        threshold: heartbeat.threshold,
        extension: heartbeat.extension,
        max_total: heartbeat.max_total,
    };
    let mut ticks = tokio::time::interval(heartbeat.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        tick(&core, rule, heartbeat.interval).await;
    }
}

/// One tick: every due message, in requests of 10 sent concurrently; returns once all were answered.
async fn tick(core: &Core, rule: ExtensionRule, interval: Duration) {
    let due = core.registry.due(Instant::now(), rule);
    if due.is_empty() {
        return;
    }
    let slots = Semaphore::new(MAX_REQUESTS_PER_TICK);
    JoinAll::new(due.chunks(MAX_BATCH_ENTRIES).map(|chunk| async {
        let Ok(_permit) = slots.acquire().await else { return };
        extend(core, chunk, interval, answer_timeout(rule)).await;
    }))
    .await;
}

/// How long the heartbeat waits for the answer to an extension: half the threshold (at least 1 s). Due
/// messages have at most the threshold left of their confirmed visibility, so a later answer could not help
/// them; waiting longer would also hold the next tick (a tick returns once all its requests are answered)
/// and with it every other message's extension. An extension without an answer is in doubt: it counts as
/// failed (the confirmed deadline stays, the handler's lifeline applies) and is tried again after the
/// backoff.
fn answer_timeout(rule: ExtensionRule) -> Duration {
    (rule.threshold / 2).max(Duration::from_secs(1))
}

/// One `ChangeMessageVisibilityBatch` request for up to 10 due messages, and its bookkeeping.
async fn extend(core: &Core, chunk: &[Due], interval: Duration, answer_timeout: Duration) {
    let entries: Vec<VisibilityEntry> = chunk
        .iter()
        .enumerate()
        .map(|(index, due)| VisibilityEntry {
            id: index.to_string(),
            receipt_handle: due.receipt.clone(),
            visibility_timeout: due.timeout,
        })
        .collect();
    bump(&core.counters.heartbeat_requests);
    let span = tracing::debug_span!(
        telemetry::SPAN_HEARTBEAT,
        queue = telemetry::queue_name(&core.config.queue_url),
        batch_size = entries.len(),
    );
    let sent_at = Instant::now();
    let request = core.backend.change_message_visibility_batch(&core.config.queue_url, &entries).instrument(span);
    let result = match tokio::time::timeout(answer_timeout, request).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            detail: format!("no answer to ChangeMessageVisibilityBatch within {answer_timeout:?}"),
        }),
    };
    if let Err(error) = &result {
        core.config.on_error.call(&core.config.queue_url, ConsumerOperation::Heartbeat, error, 0);
    }
    let (extended, rejected) = results(chunk, result);
    for _ in &extended {
        bump(&core.counters.extended);
    }
    core.metrics.heartbeat_extensions.increment(extended.len() as u64);
    // Leases first: settling waits for `finish_extension`, so a lease is never extended after its message
    // was settled (and its lease completed or abandoned).
    extend_leases(core, chunk, &extended).await;
    core.registry.finish_extension(sent_at, chunk, &extended, &rejected, interval);
}

/// The entries SQS extended, and those it rejected for good (a non-retryable entry error: the receipt
/// handle is no longer valid, so trying again cannot help). Every other entry failed and is retried after
/// a backoff.
fn results(chunk: &[Due], result: crate::error::Result<BatchOutcome<()>>) -> (Vec<EntryId>, Vec<EntryId>) {
    let entry = |id: &str| id.parse::<usize>().ok().and_then(|i| chunk.get(i));
    match result {
        Ok(outcome) => {
            let mut rejected = Vec::new();
            for failure in &outcome.failed {
                let due = entry(&failure.id);
                tracing::warn!(
                    message_id = due.map(|due| tracing::field::display(&due.message_id)),
                    error = %failure.error,
                    retried = failure.error.is_retryable(),
                    "could not extend the message's visibility"
                );
                if let Some(due) = due.filter(|_| !failure.error.is_retryable()) {
                    rejected.push(due.id);
                }
            }
            let extended = outcome.successful.iter().filter_map(|(id, ())| entry(id).map(|due| due.id)).collect();
            (extended, rejected)
        }
        Err(error) => {
            // Every entry is retried after its backoff.
            tracing::warn!(error = %error, messages = chunk.len(), "visibility heartbeat request failed");
            (Vec::new(), Vec::new())
        }
    }
}

/// Keeps each extended message's idempotency lease in step with its new visibility deadline.
async fn extend_leases(core: &Core, chunk: &[Due], extended: &[EntryId]) {
    let Some(idempotency) = &core.config.idempotency else { return };
    for due in chunk.iter().filter(|due| extended.contains(&due.id)) {
        let Some(lease) = &due.lease else { continue };
        let until = SystemTime::now() + due.timeout;
        if let Err(error) = idempotency.store.extend(&lease.key, &lease.token, until).await {
            if matches!(error, super::StoreError::Unavailable { .. }) {
                bump(&core.counters.store_failures);
            }
            tracing::warn!(key = %lease.key, error = %error, "could not extend the idempotency lease");
        }
    }
}

/// Gives up the idempotency leases of messages abandoned at shutdown.
pub(crate) async fn abandon_leases(core: &Core, leases: Vec<super::registry::Lease>) {
    let Some(idempotency) = &core.config.idempotency else { return };
    for lease in leases {
        abandon_lease(idempotency, &lease).await;
    }
}
