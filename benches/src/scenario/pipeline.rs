//! The `pipeline` scenario: producers send `SendMessageBatch` of ten at a steady `--rate` (messages per second in
//! total) while consumers loop over `ReceiveMessage` (ten, long polling 1 s) and `DeleteMessageBatch` on the same
//! queue; what it measures is each message's end-to-end latency, from just before its send request was written
//! to the answer of the `DeleteMessageBatch` that deleted it.
//!
//! Every body starts with the microseconds since the run started at which its batch was sent, then the
//! message's number (unique bodies, so content-based deduplication keeps them all on a FIFO queue); the consumer
//! reads the send time back from the body, so no shared table is needed. Messages sent during the warm-up are
//! consumed but not measured. After the measured window the producers stop and the consumers run until every
//! sent message is deleted (or `timeout` passes, which fails the run).
//!
//! The report's `p50_us` / `p99_us` / `max_us` are these send-to-delete latencies; `messages` counts measured
//! messages deleted, `requests` every request of the window.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::open_connections;
use crate::conn::{Connection, to_body};
use crate::endpoint::Endpoint;
use crate::send::{MAX_BATCH, QueueKind, message_body};
use crate::stats::{CpuMeter, Report, Tally};
use crate::wire::{
    Action, BatchResponse, BatchResultId, DeleteMessageBatchRequest, ReceiveMessageRequest, ReceiveMessageResponse,
    SendMessageBatchRequest, SendMessageBatchRequestEntry, batch_entry_id,
};
use crate::{Error, Result};

/// The scenario's name in reports.
pub const NAME: &str = "pipeline";

/// Settings of a `pipeline` run.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Producer connections (each sends one batch at a time, on its share of the schedule).
    pub producers: usize,
    /// Consumer connections (each with one receive or delete in flight).
    pub consumers: usize,
    /// Messages per second, all producers together.
    pub rate: f64,
    /// Unmeasured seconds first.
    pub warmup: Duration,
    /// Measured seconds of sending.
    pub duration: Duration,
    /// Body size in bytes (at least what the send time and number take).
    pub body_bytes: usize,
    /// Standard, or FIFO with this many message groups.
    pub kind: QueueKind,
    /// Upper bound on the whole run; exceeding it fails the run.
    pub timeout: Duration,
}

/// What the producers and consumers share.
struct Shared {
    queue_url: String,
    started: Instant,
    /// Messages sent so far (the next message's number).
    sent: AtomicU64,
    /// Messages deleted so far.
    deleted: AtomicU64,
    /// Set once the producers have stopped: `sent` is final.
    sending_done: AtomicBool,
    /// Send times (µs since `started`) from which messages are measured.
    measure_from_us: u64,
}

/// Runs the pipeline on `queue_url` and reports the send-to-delete latencies.
///
/// # Errors
///
/// The first failed request, a refused send, or [`Error::Scenario`] when not every message was deleted within
/// `config.timeout` or the settings are out of range.
pub async fn run(endpoint: &Endpoint, queue_url: &str, config: &PipelineConfig) -> Result<Report> {
    if config.producers == 0 || config.consumers == 0 || !(config.rate.is_finite() && config.rate > 0.0) {
        return Err(Error::Scenario("pipeline: producers, consumers and --rate must be positive".to_owned()));
    }
    let deadline = Instant::now() + config.timeout;
    let producers = open_connections(endpoint, config.producers).await?;
    let consumers = open_connections(endpoint, config.consumers).await?;
    let shared = Arc::new(Shared {
        queue_url: queue_url.to_owned(),
        started: Instant::now(),
        sent: AtomicU64::new(0),
        deleted: AtomicU64::new(0),
        sending_done: AtomicBool::new(false),
        measure_from_us: u64::try_from(config.warmup.as_micros()).unwrap_or(u64::MAX),
    });
    let cpu = CpuMeter::start();
    let stop_sending = shared.started + config.warmup + config.duration;
    // Each producer sends a batch every `interval`, the producers' schedules offset evenly.
    let interval = Duration::from_secs_f64(MAX_BATCH as f64 * config.producers as f64 / config.rate);
    let mut senders = JoinSet::new();
    for (index, conn) in producers.into_iter().enumerate() {
        let offset = interval.mul_f64(index as f64 / config.producers as f64);
        senders.spawn(produce(conn, Arc::clone(&shared), config.clone(), offset, interval, stop_sending));
    }
    let mut receivers = JoinSet::new();
    for conn in consumers {
        receivers.spawn(consume(conn, Arc::clone(&shared), deadline));
    }
    let mut total = Tally::default();
    while let Some(joined) = senders.join_next().await {
        total.merge(&joined??);
    }
    shared.sending_done.store(true, Ordering::Release);
    while let Some(joined) = receivers.join_next().await {
        total.merge(&joined??);
    }
    Ok(Report::new(NAME, &endpoint.url, config.producers + config.consumers, config.duration, &total)
        .with_loadgen_cpu(&cpu))
}

fn micros_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// One producer: a batch of ten every `interval` (skipping ticks it is late for, so a slow server sees the
/// backlog as latency, not as a burst), until `stop`.
async fn produce(
    mut conn: Connection,
    shared: Arc<Shared>,
    config: PipelineConfig,
    offset: Duration,
    interval: Duration,
    stop: Instant,
) -> Result<Tally> {
    let mut tally = Tally::default();
    let mut ticks = tokio::time::interval_at((shared.started + offset).into(), interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let padding = message_body(config.body_bytes);
    loop {
        ticks.tick().await;
        if Instant::now() >= stop {
            return Ok(tally);
        }
        let sent_us = micros_since(shared.started);
        let first = shared.sent.fetch_add(MAX_BATCH as u64, Ordering::Relaxed);
        let bodies: Vec<String> = (first..first + MAX_BATCH as u64)
            .map(|number| {
                let mut body = format!("{sent_us}-{number}-");
                body.push_str(padding.get(body.len()..).unwrap_or_default());
                body
            })
            .collect();
        let groups: Vec<Option<String>> = (first..first + MAX_BATCH as u64)
            .map(|number| match config.kind {
                QueueKind::Standard => None,
                QueueKind::Fifo { groups } => Some(format!("g{}", number % groups.get())),
            })
            .collect();
        let request = SendMessageBatchRequest {
            queue_url: Cow::Borrowed(&shared.queue_url),
            entries: bodies
                .iter()
                .zip(&groups)
                .enumerate()
                .map(|(index, (body, group))| SendMessageBatchRequestEntry {
                    id: batch_entry_id(index),
                    message_body: Cow::Borrowed(body),
                    message_group_id: group.as_deref().map(Cow::Borrowed),
                })
                .collect(),
        };
        let reply = conn.call(Action::SendMessageBatch, to_body(&request)).await?;
        let batch: BatchResponse<'_, BatchResultId<'_>> = reply.decode(Action::SendMessageBatch)?;
        if let Some(failed) = batch.failed.first() {
            return Err(Error::Scenario(format!("pipeline: a send was refused with {}", failed.code)));
        }
        tally.requests += 1;
    }
}

/// One consumer: receive up to ten (long polling 1 s), delete them in one batch, and record each deleted
/// message's latency from its send; until every sent message is deleted.
async fn consume(mut conn: Connection, shared: Arc<Shared>, deadline: Instant) -> Result<Tally> {
    let mut tally = Tally::default();
    let receive = to_body(&ReceiveMessageRequest {
        queue_url: Cow::Borrowed(&shared.queue_url),
        max_number_of_messages: Some(10),
        wait_time_seconds: Some(1),
    });
    loop {
        if shared.sending_done.load(Ordering::Acquire)
            && shared.deleted.load(Ordering::Relaxed) >= shared.sent.load(Ordering::Relaxed)
        {
            return Ok(tally);
        }
        if Instant::now() >= deadline {
            return Err(Error::Scenario(format!(
                "pipeline: only {} of {} messages were deleted within --timeout",
                shared.deleted.load(Ordering::Relaxed),
                shared.sent.load(Ordering::Relaxed)
            )));
        }
        let reply = conn.call(Action::ReceiveMessage, receive.clone()).await?;
        tally.requests += 1;
        let received: ReceiveMessageResponse<'_> = reply.decode(Action::ReceiveMessage)?;
        if received.messages.is_empty() {
            continue;
        }
        let mut sent_at = Vec::with_capacity(received.messages.len());
        for message in &received.messages {
            let sent_us = message.body.split('-').next().and_then(|micros| micros.parse::<u64>().ok());
            sent_at.push(sent_us.ok_or_else(|| {
                Error::Scenario(format!("pipeline: a body without a send time: {:.40}", message.body))
            })?);
        }
        let handles = received.messages.iter().map(|message| message.receipt_handle.as_ref());
        let delete = DeleteMessageBatchRequest::of_handles(&shared.queue_url, handles);
        let reply = conn.call(Action::DeleteMessageBatch, to_body(&delete)).await?;
        let deleted_us =
            u64::try_from(reply.received_at.saturating_duration_since(shared.started).as_micros()).unwrap_or(u64::MAX);
        tally.requests += 1;
        let batch: BatchResponse<'_, BatchResultId<'_>> = reply.decode(Action::DeleteMessageBatch)?;
        tally.errors += batch.failed.len() as u64;
        shared.deleted.fetch_add(batch.successful.len() as u64, Ordering::Relaxed);
        for entry in &batch.successful {
            let Some(&sent_us) = entry.id.parse::<usize>().ok().and_then(|index| sent_at.get(index)) else {
                return Err(Error::Scenario(format!("pipeline: a delete result with an unknown id {}", entry.id)));
            };
            if sent_us >= shared.measure_from_us {
                tally.messages += 1;
                tally.latencies.record(Duration::from_micros(deleted_us.saturating_sub(sent_us)));
            }
        }
    }
}
