//! The `drain` scenario: pre-fill the queue with `SendMessageBatch`, then let every connection loop over
//! `ReceiveMessage` (10 messages, no wait) and `DeleteMessageBatch` until the queue is empty.
//!
//! On a FIFO queue a receive returns only messages of groups with nothing in flight, so fewer groups than
//! connections leave some connections polling empty-handed; the figure that matters is messages per second.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::de::IgnoredAny;
use tokio::task::JoinSet;

use super::{Scenario, fill, open_connections};
use crate::conn::{Connection, to_body};
use crate::endpoint::Endpoint;
use crate::send::Sender;
use crate::stats::{CpuMeter, Report, Tally};
use crate::wire::{Action, BatchResponse, DeleteMessageBatchRequest, ReceiveMessageRequest, ReceiveMessageResponse};
use crate::{Error, Result};

/// How long a worker waits before polling again when the queue looks empty but messages are still in flight
/// with other workers.
const EMPTY_RETRY: Duration = Duration::from_millis(1);

/// Settings of a `drain` run.
#[derive(Debug, Clone)]
pub struct DrainConfig {
    /// Connections, each with one request in flight.
    pub concurrency: usize,
    /// Messages to pre-fill.
    pub messages: u64,
    /// Upper bound on pre-fill plus drain; exceeding it fails the run.
    pub timeout: Duration,
}

/// Pre-fills `queue_url` with messages built by `sender` and measures how fast the queue is drained.
///
/// Requests per second and the latency percentiles cover both `ReceiveMessage` and `DeleteMessageBatch` calls;
/// messages per second counts successfully deleted messages.
///
/// # Errors
///
/// The first failed request, or [`Error::Scenario`] if the queue is not drained within `config.timeout`.
pub async fn run(endpoint: &Endpoint, queue_url: &str, sender: &Arc<Sender>, config: &DrainConfig) -> Result<Report> {
    let deadline = Instant::now() + config.timeout;
    let connections = open_connections(endpoint, config.concurrency).await?;
    let queue_url: Arc<str> = Arc::from(queue_url);

    let (connections, _prefill) =
        fill::send_all(connections, sender, config.messages, deadline, "drain: pre-fill").await?;

    let deleted = Arc::new(AtomicU64::new(0));
    let receive = to_body(&ReceiveMessageRequest {
        queue_url: Cow::Borrowed(&queue_url),
        max_number_of_messages: Some(10),
        wait_time_seconds: Some(0),
    });
    let cpu = CpuMeter::start();
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for conn in connections {
        workers.spawn(drain_worker(
            conn,
            Arc::clone(&queue_url),
            receive.clone(),
            Arc::clone(&deleted),
            config.messages,
            deadline,
        ));
    }
    let mut total = Tally::default();
    while let Some(joined) = workers.join_next().await {
        total.merge(&joined??);
    }
    let elapsed = started.elapsed();

    Ok(Report::new(Scenario::Drain.as_str(), &endpoint.url, config.concurrency, elapsed, &total).with_loadgen_cpu(&cpu))
}

async fn drain_worker(
    mut conn: Connection,
    queue_url: Arc<str>,
    receive: Bytes,
    deleted: Arc<AtomicU64>,
    expected: u64,
    deadline: Instant,
) -> Result<Tally> {
    let mut tally = Tally::default();
    loop {
        if Instant::now() >= deadline {
            return Err(Error::Scenario(format!(
                "drain: only {} of {expected} messages were deleted within --timeout; \
                 does the endpoint store messages?",
                deleted.load(Ordering::Relaxed)
            )));
        }
        let sent_at = Instant::now();
        let reply = conn.call(Action::ReceiveMessage, receive.clone()).await?;
        tally.requests += 1;
        tally.latencies.record(reply.received_at - sent_at);
        let received: ReceiveMessageResponse<'_> = reply.decode(Action::ReceiveMessage)?;
        if received.messages.is_empty() {
            // Visible messages are gone, but other workers may still hold received ones they have not deleted;
            // the queue is drained once everything pre-filled is deleted.
            if deleted.load(Ordering::Relaxed) >= expected {
                return Ok(tally);
            }
            tokio::time::sleep(EMPTY_RETRY).await;
            continue;
        }
        let handles = received.messages.iter().map(|message| message.receipt_handle.as_ref());
        let delete = DeleteMessageBatchRequest::of_handles(&queue_url, handles);
        let sent_at = Instant::now();
        let reply = conn.call(Action::DeleteMessageBatch, to_body(&delete)).await?;
        tally.requests += 1;
        tally.latencies.record(reply.received_at - sent_at);
        let batch: BatchResponse<'_, IgnoredAny> = reply.decode(Action::DeleteMessageBatch)?;
        let count = batch.successful.len() as u64;
        tally.messages += count;
        tally.errors += batch.failed.len() as u64;
        deleted.fetch_add(count, Ordering::Relaxed);
    }
}
