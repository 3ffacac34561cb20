//! The `longpoll` scenario: how long after a send a long-polling receiver gets the message.
//!
//! Waiter connections keep a `ReceiveMessage` with a long `WaitTimeSeconds` outstanding; one sender sends a single
//! message, waits until a waiter reports it, pauses, and sends the next. A sample is the time from the start of the
//! `SendMessage` request to the moment a waiter's response has arrived, so it includes the send round trip.

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::de::IgnoredAny;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{Scenario, open_connections};
use crate::conn::{Connection, to_body};
use crate::endpoint::Endpoint;
use crate::stats::{CpuMeter, Report, Tally};
use crate::wire::{
    Action, BatchResponse, DeleteMessageBatchRequest, ReceiveMessageRequest, ReceiveMessageResponse, SendMessageRequest,
};
use crate::{Error, Result};

/// Time given to the waiters to park their first receive before the first send.
const SETTLE: Duration = Duration::from_millis(200);

/// Settings of a `longpoll` run.
#[derive(Debug, Clone)]
pub struct LongpollConfig {
    /// Waiter connections, each with one long poll outstanding.
    pub waiters: usize,
    /// Measured samples.
    pub samples: usize,
    /// Unmeasured samples sent first.
    pub warmup_samples: usize,
    /// `WaitTimeSeconds` of every receive (0..=20).
    pub wait_seconds: u8,
    /// Pause between a message's arrival and the next send.
    pub pause: Duration,
}

impl LongpollConfig {
    /// How long one message may take to arrive before the run fails: a full long poll plus slack.
    fn sample_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.wait_seconds) + 5)
    }
}

/// A message as a waiter saw it arrive.
#[derive(Debug)]
struct Arrival {
    seq: u64,
    at: Instant,
}

/// Requests and batch failures counted by the waiters.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
}

/// Measures long-poll wake-up latency on `queue_url`.
///
/// # Errors
///
/// The first failed request (sender's or any waiter's), or [`Error::Scenario`] if a message is not delivered
/// within one long-poll period plus five seconds (e.g. an endpoint that does not store messages).
pub async fn run(endpoint: &Endpoint, queue_url: &str, config: &LongpollConfig) -> Result<Report> {
    let mut sender = Connection::open(endpoint).await?;
    let connections = open_connections(endpoint, config.waiters).await?;
    let queue_url_shared: Arc<str> = Arc::from(queue_url);
    let receive = to_body(&ReceiveMessageRequest {
        queue_url: Cow::Borrowed(queue_url),
        max_number_of_messages: Some(10),
        wait_time_seconds: Some(config.wait_seconds),
    });
    let counters = Arc::new(Counters::default());
    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel();
    let mut waiters = JoinSet::new();
    for conn in connections {
        waiters.spawn(waiter(
            conn,
            Arc::clone(&queue_url_shared),
            receive.clone(),
            arrivals_tx.clone(),
            Arc::clone(&counters),
        ));
    }
    drop(arrivals_tx);
    tokio::time::sleep(SETTLE).await;

    let cpu = CpuMeter::start();
    let mut tally = Tally::default();
    let mut measure_from = Instant::now();
    let mut waiter_requests_before = 0;
    let total = (config.warmup_samples + config.samples) as u64;
    let outcome = async {
        for seq in 0..total {
            if seq == config.warmup_samples as u64 {
                measure_from = Instant::now();
                waiter_requests_before = counters.requests.load(Ordering::Relaxed);
            }
            tokio::time::sleep(config.pause).await;
            let body = seq.to_string();
            let sent_at = Instant::now();
            sender
                .call_json(
                    Action::SendMessage,
                    &SendMessageRequest {
                        queue_url: Cow::Borrowed(queue_url),
                        message_body: Cow::Borrowed(&body),
                        message_group_id: None,
                    },
                )
                .await?;
            let arrived_at = wait_for(&mut arrivals, seq, sent_at + config.sample_timeout()).await?;
            if seq >= config.warmup_samples as u64 {
                tally.requests += 1;
                tally.messages += 1;
                tally.latencies.record(arrived_at.saturating_duration_since(sent_at));
            }
        }
        Ok::<_, Error>(())
    }
    .await;
    let elapsed = measure_from.elapsed();
    waiters.abort_all();
    outcome?;

    tally.requests += counters.requests.load(Ordering::Relaxed) - waiter_requests_before;
    tally.errors += counters.errors.load(Ordering::Relaxed);
    Ok(Report::new(Scenario::Longpoll.as_str(), &endpoint.url, config.waiters, elapsed, &tally).with_loadgen_cpu(&cpu))
}

/// Waits until a waiter reports message `seq`; earlier messages delivered again are skipped.
async fn wait_for(
    arrivals: &mut mpsc::UnboundedReceiver<Result<Arrival>>,
    seq: u64,
    deadline: Instant,
) -> Result<Instant> {
    loop {
        match tokio::time::timeout_at(deadline.into(), arrivals.recv()).await {
            Err(_elapsed) => {
                return Err(Error::Scenario(format!(
                    "longpoll: message {seq} reached no waiter in time; does the endpoint store messages \
                     and support long polling?"
                )));
            }
            Ok(None) => return Err(Error::Scenario("longpoll: every waiter stopped".to_owned())),
            Ok(Some(Err(err))) => return Err(err),
            Ok(Some(Ok(arrival))) if arrival.seq == seq => return Ok(arrival.at),
            Ok(Some(Ok(_earlier))) => {}
        }
    }
}

/// Long-polls until aborted, reporting every message and deleting it; a failure is reported, then the task ends.
async fn waiter(
    mut conn: Connection,
    queue_url: Arc<str>,
    receive: Bytes,
    arrivals: mpsc::UnboundedSender<Result<Arrival>>,
    counters: Arc<Counters>,
) {
    let outcome: Result<Infallible> = async {
        loop {
            let reply = conn.call(Action::ReceiveMessage, receive.clone()).await?;
            counters.requests.fetch_add(1, Ordering::Relaxed);
            let received: ReceiveMessageResponse<'_> = reply.decode(Action::ReceiveMessage)?;
            if received.messages.is_empty() {
                continue;
            }
            for message in &received.messages {
                // Bodies are sequence numbers; anything else was left in the queue by someone else and is
                // only deleted.
                if let Ok(seq) = message.body.parse() {
                    if arrivals.send(Ok(Arrival { seq, at: reply.received_at })).is_err() {
                        return Err(Error::Scenario("longpoll: the sender has finished".to_owned()));
                    }
                }
            }
            let handles = received.messages.iter().map(|message| message.receipt_handle.as_ref());
            let delete = DeleteMessageBatchRequest::of_handles(&queue_url, handles);
            let reply = conn.call(Action::DeleteMessageBatch, to_body(&delete)).await?;
            counters.requests.fetch_add(1, Ordering::Relaxed);
            let batch: BatchResponse<'_, IgnoredAny> = reply.decode(Action::DeleteMessageBatch)?;
            counters.errors.fetch_add(batch.failed.len() as u64, Ordering::Relaxed);
        }
    }
    .await;
    let Err(err) = outcome;
    // The receiver is gone only when the run is over, and then nobody needs the error.
    let _receiver_gone = arrivals.send(Err(err));
}
