//! The visibility heartbeat: one task that, every tick, extends every held message close to its visibility
//! deadline in `ChangeMessageVisibilityBatch` requests of up to 10, and extends the idempotency leases of
//! those messages to the same deadline. Which messages are due, and the caps, are the registry's rules.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;

use super::core::Core;
use super::options::ResolvedHeartbeat;
use super::process::abandon_lease;
use super::registry::{Due, EntryId, ExtensionRule};
use super::stats::bump;
use crate::backend::{MAX_BATCH_ENTRIES, VisibilityEntry};
use crate::telemetry;

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
        tick(&core, rule).await;
    }
}

async fn tick(core: &Core, rule: ExtensionRule) {
    let due = core.registry.due(Instant::now(), rule);
    for chunk in due.chunks(MAX_BATCH_ENTRIES) {
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
        let result =
            core.backend.change_message_visibility_batch(&core.config.queue_url, &entries).instrument(span).await;
        let extended = extended_ids(chunk, result);
        for _ in &extended {
            bump(&core.counters.extended);
        }
        core.metrics.heartbeat_extensions.increment(extended.len() as u64);
        // Leases first: settling waits for `finish_extension`, so a lease is never extended after its message
        // was settled (and its lease completed or abandoned).
        extend_leases(core, chunk, &extended).await;
        core.registry.finish_extension(sent_at, chunk, &extended);
    }
}

fn extended_ids(chunk: &[Due], result: crate::error::Result<crate::backend::BatchOutcome<()>>) -> Vec<EntryId> {
    match result {
        Ok(outcome) => {
            for failure in &outcome.failed {
                let message_id = failure.id.parse::<usize>().ok().and_then(|i| chunk.get(i)).map(|due| &due.message_id);
                tracing::warn!(
                    message_id = message_id.map(tracing::field::display),
                    error = %failure.error,
                    "could not extend the message's visibility"
                );
            }
            outcome
                .successful
                .iter()
                .filter_map(|(id, ())| id.parse::<usize>().ok().and_then(|i| chunk.get(i)).map(|due| due.id))
                .collect()
        }
        Err(error) => {
            // The next tick tries again: the messages are still due.
            tracing::warn!(error = %error, messages = chunk.len(), "visibility heartbeat request failed");
            Vec::new()
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
