//! The `drain` scenario: pre-fill the queue with `SendMessageBatch`, then let every connection loop over
//! `ReceiveMessage` (10 messages, no wait) and `DeleteMessageBatch` until the queue is empty.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::de::IgnoredAny;
use tokio::task::JoinSet;

use super::{MAX_BATCH, Scenario, message_body, open_connections, send_batch_body};
use crate::conn::{Connection, to_body};
use crate::endpoint::Endpoint;
use crate::stats::{CpuMeter, Report, Tally};
use crate::wire::{
    Action, BatchResponse, DeleteMessageBatchRequest, DeleteMessageBatchRequestEntry, ReceiveMessageRequest,
    ReceiveMessageResponse, batch_entry_id,
};
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
    /// Size of every message body.
    pub body_bytes: usize,
    /// Upper bound on pre-fill plus drain; exceeding it fails the run.
    pub timeout: Duration,
}

/// Pre-fills `queue_url` and measures how fast the queue is drained.
///
/// Requests per second and the latency percentiles cover both `ReceiveMessage` and `DeleteMessageBatch` calls;
/// messages per second counts successfully deleted messages.
///
/// # Errors
///
/// The first failed request, or [`Error::Scenario`] if the queue is not drained within `config.timeout`.
pub async fn run(endpoint: &Endpoint, queue_url: &str, config: &DrainConfig) -> Result<Report> {
    let deadline = Instant::now() + config.timeout;
    let connections = open_connections(endpoint, config.concurrency).await?;
    let queue_url: Arc<str> = Arc::from(queue_url);

    let connections = prefill(connections, &queue_url, config, deadline).await?;

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

/// Sends `config.messages` messages in batches of ten over all connections and hands the connections back.
async fn prefill(
    connections: Vec<Connection>,
    queue_url: &str,
    config: &DrainConfig,
    deadline: Instant,
) -> Result<Vec<Connection>> {
    let body = message_body(config.body_bytes);
    let full = send_batch_body(queue_url, &body, MAX_BATCH);
    let last_len = (config.messages % MAX_BATCH as u64) as usize;
    let last = send_batch_body(queue_url, &body, last_len.max(1));
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for mut conn in connections {
        let (full, last, next) = (full.clone(), last.clone(), Arc::clone(&next));
        let total = config.messages;
        workers.spawn(async move {
            let mut sent = 0_u64;
            loop {
                let first = next.fetch_add(MAX_BATCH as u64, Ordering::Relaxed);
                if first >= total {
                    return Ok::<_, Error>((conn, sent));
                }
                if Instant::now() >= deadline {
                    return Err(Error::Scenario("drain: pre-fill did not finish within --timeout".to_owned()));
                }
                let payload = if total - first >= MAX_BATCH as u64 { full.clone() } else { last.clone() };
                let reply = conn.call(Action::SendMessageBatch, payload).await?;
                let batch: BatchResponse<'_, IgnoredAny> = reply.decode(Action::SendMessageBatch)?;
                if let Some(failed) = batch.failed.first() {
                    return Err(Error::Scenario(format!(
                        "drain: pre-fill entry {} failed with {}",
                        failed.id, failed.code
                    )));
                }
                sent += batch.successful.len() as u64;
            }
        });
    }
    let mut connections = Vec::new();
    let mut sent = 0;
    while let Some(joined) = workers.join_next().await {
        let (conn, worker_sent) = joined??;
        connections.push(conn);
        sent += worker_sent;
    }
    if sent != config.messages {
        return Err(Error::Scenario(format!("drain: pre-fill sent {sent} messages, expected {}", config.messages)));
    }
    Ok(connections)
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
        let delete = DeleteMessageBatchRequest {
            queue_url: Cow::Borrowed(&queue_url),
            entries: received
                .messages
                .iter()
                .enumerate()
                .map(|(index, message)| DeleteMessageBatchRequestEntry {
                    id: batch_entry_id(index),
                    receipt_handle: Cow::Borrowed(message.receipt_handle.as_ref()),
                })
                .collect(),
        };
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
