//! The producer's buffer task: the one owner of every buffered message, every in-flight request and every
//! retry timer. It never blocks on a request: each `SendMessageBatch` runs in its own task of a `JoinSet`
//! and comes back here as a completion, so all bookkeeping (replies, retries, FIFO group locks) happens in
//! one place without locks.
//!
//! Invariants:
//! - every admitted message is in exactly one of `ready`, `backoff` or `in_flight_meta` until its reply is
//!   sent, and its reply is sent exactly once;
//! - on FIFO queues, `holds` counts the messages of each group in flight or in backoff; the choice of the
//!   next batch ([`super::order::pick`]) gives a held group no message and, by default, every other group at
//!   most one per request, and `ready` is ordered by admission sequence, so a group has at most one
//!   unconfirmed message and its messages are stored in the order they arrived, retries included (the
//!   module [`super::order`] records what SQS documents and why this is needed).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{self, JoinError, JoinSet};
use tokio::time::Instant;
use tracing::Instrument;

use super::SendReceipt;
use super::order::{self, Candidate, GroupHolds, Limits, Waiting};
use crate::backend::{BatchOutcome, MAX_BATCH_ENTRIES, MAX_MESSAGE_BYTES, SendEntry, SentMessage, SqsBackend};
use crate::error::{Error, Result};
use crate::flow::{AimdConfig, AimdLimit, PaceConfig, RatePacer};
use crate::retry::RetryPolicy;
use crate::telemetry::{self, FlowMetrics, ProducerMetrics};

/// A request to the buffer task.
pub(super) enum Command {
    /// Buffer a message and answer on its reply channel.
    Send(Submission),
    /// Stop accepting messages; flush and finish.
    Close,
}

/// A validated message and where its result goes.
pub(super) struct Submission {
    pub(super) entry: SendEntry,
    pub(super) reply: oneshot::Sender<Result<SendReceipt>>,
}

/// The buffer task's options (set through `ProducerBuilder`).
#[derive(Debug, Clone)]
pub(super) struct BatcherConfig {
    pub(super) max_batch_entries: usize,
    pub(super) max_batch_bytes: usize,
    pub(super) linger: Duration,
    pub(super) max_in_flight: usize,
    pub(super) attempt_timeout: Duration,
    pub(super) retry: RetryPolicy,
    /// FIFO only: whether one request may carry several messages of one group.
    pub(super) same_group_per_request: bool,
}

impl Default for BatcherConfig {
    fn default() -> Self {
        Self {
            max_batch_entries: MAX_BATCH_ENTRIES,
            max_batch_bytes: MAX_MESSAGE_BYTES,
            linger: Duration::from_millis(5),
            max_in_flight: 8,
            attempt_timeout: Duration::from_secs(35),
            retry: RetryPolicy::default(),
            same_group_per_request: false,
        }
    }
}

/// Everything about a buffered message except its content.
struct Meta {
    seq: u64,
    size: usize,
    /// The FIFO group whose order this message must keep (`None` on standard queues).
    group: Option<String>,
    reply: oneshot::Sender<Result<SendReceipt>>,
    admitted_at: Instant,
    first_attempt_at: Option<Instant>,
    attempts: u32,
}

struct Pending {
    meta: Meta,
    entry: SendEntry,
}

/// What a request task hands back: the entries (moved out for the request) and the result.
struct Completed {
    batch_id: u64,
    /// When the request was sent (a throttled answer to a request sent before the last decrease of the flow
    /// limit does not decrease it again).
    sent_at: Instant,
    entries: Vec<SendEntry>,
    result: Result<BatchOutcome<SentMessage>>,
}

/// A response that did not mention one of the request's entries.
#[derive(Debug, thiserror::Error)]
#[error("SendMessageBatch response has no result for entry {0}")]
struct MissingResult(String);

/// The task that carried a request panicked.
#[derive(Debug, thiserror::Error)]
#[error("the request task failed: {0}")]
struct RequestTaskFailed(String);

pub(super) struct Batcher {
    backend: Arc<dyn SqsBackend>,
    queue_url: Arc<str>,
    fifo: bool,
    config: BatcherConfig,
    metrics: ProducerMetrics,
    /// How many messages to take from the channel before the buffer stops reading (back-pressure).
    lookahead: usize,
    next_seq: u64,
    next_batch: u64,
    ready: BTreeMap<u64, Pending>,
    backoff: BTreeMap<(Instant, u64), Pending>,
    holds: GroupHolds,
    in_flight: JoinSet<Completed>,
    /// How many requests may be in flight now: `max_in_flight`, reduced on throttling (see [`crate::flow`]).
    flow: AimdLimit,
    flow_metrics: FlowMetrics,
    /// How many requests may start per second while throttling persists at one request in flight.
    pacer: RatePacer,
    rate_gauge: metrics::Gauge,
    /// When the pacer lets the next request start (set while a ready batch waits for it).
    pace_deadline: Option<Instant>,
    in_flight_meta: HashMap<u64, Vec<Meta>>,
    task_batches: HashMap<task::Id, u64>,
    closing: bool,
    /// A batch waited because every request slot was busy: send as soon as one frees, without lingering.
    slots_were_short: bool,
    /// When the current partial batch has lingered long enough.
    linger_deadline: Option<Instant>,
}

impl Batcher {
    pub(super) fn new(backend: Arc<dyn SqsBackend>, queue_url: String, fifo: bool, config: BatcherConfig) -> Self {
        let lookahead = (config.max_batch_entries * (config.max_in_flight + 2)).max(100);
        let flow = AimdLimit::new(AimdConfig::new(config.max_in_flight));
        let flow_metrics = FlowMetrics::new(&queue_url, telemetry::FLOW_PRODUCER_REQUESTS);
        flow_metrics.limit.set(flow.current() as f64);
        let rate_gauge = FlowMetrics::producer_rate(&queue_url);
        rate_gauge.set(0.0);
        Self {
            backend,
            flow,
            flow_metrics,
            pacer: RatePacer::new(PaceConfig::default()),
            rate_gauge,
            pace_deadline: None,
            metrics: ProducerMetrics::new(&queue_url),
            queue_url: Arc::from(queue_url),
            fifo,
            config,
            lookahead,
            next_seq: 0,
            next_batch: 0,
            ready: BTreeMap::new(),
            backoff: BTreeMap::new(),
            holds: GroupHolds::default(),
            in_flight: JoinSet::new(),
            in_flight_meta: HashMap::new(),
            task_batches: HashMap::new(),
            closing: false,
            slots_were_short: false,
            linger_deadline: None,
        }
    }

    /// The producer's limit on requests in flight (shared: it keeps following the buffer task).
    pub(super) fn flow(&self) -> AimdLimit {
        self.flow.clone()
    }

    /// The producer's request pacer (shared: it keeps following the buffer task).
    pub(super) fn pacer(&self) -> RatePacer {
        self.pacer.clone()
    }

    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut input_open = true;
        loop {
            // Take what is already queued before deciding, so concurrent senders share batches.
            while input_open && self.ready.len() < self.lookahead {
                match commands.try_recv() {
                    Ok(command) => self.handle(command, &mut commands),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        input_open = false;
                        self.closing = true;
                    }
                }
            }
            let now = Instant::now();
            self.release_due_retries(now);
            self.dispatch(now);
            if !input_open && self.is_idle() {
                return;
            }

            let wake_at = self.next_wake();
            let accept_input = input_open && self.ready.len() < self.lookahead;
            tokio::select! {
                Some(joined) = self.in_flight.join_next_with_id(), if !self.in_flight.is_empty() => {
                    self.complete(joined);
                }
                command = commands.recv(), if accept_input => match command {
                    Some(command) => self.handle(command, &mut commands),
                    None => {
                        input_open = false;
                        self.closing = true;
                    }
                },
                () = sleep_until(wake_at), if wake_at.is_some() => {}
                else => {
                    // Unreachable by the invariants (a buffered message is either sendable now, or waits for
                    // a request or a timer); fail loudly rather than spin or drop replies silently.
                    tracing::error!(queue_url = %self.queue_url, "sqskit producer stalled; failing buffered messages");
                    self.fail_everything_buffered();
                    return;
                }
            }
        }
    }

    fn handle(&mut self, command: Command, commands: &mut mpsc::Receiver<Command>) {
        match command {
            Command::Send(Submission { mut entry, reply }) => {
                let seq = self.next_seq;
                self.next_seq += 1;
                entry.id = seq.to_string();
                let group = if self.fifo { entry.group_id.clone() } else { None };
                let meta = Meta {
                    seq,
                    size: entry.size(),
                    group,
                    reply,
                    admitted_at: Instant::now(),
                    first_attempt_at: None,
                    attempts: 0,
                };
                self.ready.insert(seq, Pending { meta, entry });
            }
            Command::Close => {
                // Messages already in the channel are still delivered by recv; new sends fail.
                commands.close();
                self.closing = true;
            }
        }
    }

    fn is_idle(&self) -> bool {
        self.ready.is_empty() && self.backoff.is_empty() && self.in_flight.is_empty()
    }

    fn next_wake(&self) -> Option<Instant> {
        let retry_due = self.backoff.keys().next().map(|(due, _)| *due);
        [self.linger_deadline, retry_due, self.pace_deadline].into_iter().flatten().min()
    }

    fn release_due_retries(&mut self, now: Instant) {
        while let Some(first) = self.backoff.first_entry() {
            if first.key().0 > now {
                break;
            }
            let pending = first.remove();
            self.holds.release(pending.meta.group.as_deref());
            self.ready.insert(pending.meta.seq, pending);
        }
    }

    /// The next batch under the FIFO ordering rules of [`super::order`].
    fn candidate(&self) -> Candidate {
        let waiting = self.ready.iter().map(|(seq, pending)| Waiting {
            seq: *seq,
            size: pending.meta.size,
            group: pending.meta.group.as_deref(),
            admitted_at: pending.meta.admitted_at,
        });
        let limits = Limits {
            entries: self.config.max_batch_entries,
            bytes: self.config.max_batch_bytes,
            same_group_per_request: self.config.same_group_per_request,
        };
        order::pick(waiting, &self.holds, limits)
    }

    fn dispatch(&mut self, now: Instant) {
        // A batch that waited for a request slot goes as soon as one frees, unless throttling lowered the
        // limit: then every request counts against the quota, and lingering makes it carry more messages.
        let slot_freed = std::mem::take(&mut self.slots_were_short) && self.flow.current() == self.flow.max();
        let eager = self.closing || slot_freed;
        self.linger_deadline = None;
        self.pace_deadline = None;
        loop {
            let candidate = self.candidate();
            let Some(oldest) = candidate.oldest else { return };
            if self.in_flight.len() >= self.flow.current() {
                self.slots_were_short = true;
                return;
            }
            let start_at = self.pacer.start_at(now);
            if start_at > now {
                // Waiting for the pace also lets the batch fill: under a quota, every request counts.
                self.pace_deadline = Some(start_at);
                return;
            }
            let lingered = now >= oldest + self.config.linger;
            if !(candidate.full || eager || lingered) {
                self.linger_deadline = Some(oldest + self.config.linger);
                return;
            }
            self.send(candidate.seqs, now);
        }
    }

    fn send(&mut self, seqs: Vec<u64>, now: Instant) {
        let batch_id = self.next_batch;
        self.next_batch += 1;
        self.pacer.on_start(now);
        let mut metas = Vec::with_capacity(seqs.len());
        let mut entries = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let Some(Pending { mut meta, entry }) = self.ready.remove(&seq) else { continue };
            meta.attempts += 1;
            meta.first_attempt_at.get_or_insert(now);
            self.holds.hold(meta.group.as_deref());
            metas.push(meta);
            entries.push(entry);
        }
        let span = crate::otel::send_span(&self.queue_url, &entries, batch_id);
        let backend = Arc::clone(&self.backend);
        let queue_url = Arc::clone(&self.queue_url);
        let timeout = self.config.attempt_timeout;
        let handle = self.in_flight.spawn(
            async move {
                let result = match tokio::time::timeout(timeout, backend.send_message_batch(&queue_url, &entries)).await
                {
                    Ok(result) => result,
                    Err(_) => {
                        Err(Error::Timeout { detail: format!("no answer to SendMessageBatch within {timeout:?}") })
                    }
                };
                let outcome = match &result {
                    Ok(outcome) if outcome.is_complete_success() => "ok",
                    Ok(_) => "partial",
                    Err(error) => {
                        crate::otel::record_error(&tracing::Span::current(), error);
                        "error"
                    }
                };
                tracing::Span::current().record("outcome", outcome);
                Completed { batch_id, sent_at: now, entries, result }
            }
            .instrument(span),
        );
        self.task_batches.insert(handle.id(), batch_id);
        self.in_flight_meta.insert(batch_id, metas);
    }

    fn complete(&mut self, joined: std::result::Result<(task::Id, Completed), JoinError>) {
        match joined {
            Ok((task_id, completed)) => {
                self.task_batches.remove(&task_id);
                let metas = self.in_flight_meta.remove(&completed.batch_id).unwrap_or_default();
                self.observe_flow(&completed.result, completed.sent_at);
                self.settle(metas, completed.entries, completed.result);
            }
            Err(join_error) => {
                let batch_id = self.task_batches.remove(&join_error.id());
                let metas = batch_id.and_then(|id| self.in_flight_meta.remove(&id)).unwrap_or_default();
                let error = Error::transport(RequestTaskFailed(join_error.to_string()));
                for meta in metas {
                    self.holds.release(meta.group.as_deref());
                    self.metrics.send_failed.increment(1);
                    let _ = meta.reply.send(Err(error.clone()));
                }
            }
        }
    }

    /// Feeds a request's answer to the flow limit: a throttled request (or entry) decreases it, any other
    /// answer that reached SQS counts as a success; failures that say nothing about the rate change nothing.
    fn observe_flow(&mut self, result: &Result<BatchOutcome<SentMessage>>, sent_at: Instant) {
        let throttled = match result {
            Err(error) if error.is_throttling() => true,
            Err(_) => return,
            Ok(outcome) => outcome.failed.iter().any(|failure| failure.error.is_throttling()),
        };
        let now = Instant::now();
        let limit = if throttled {
            self.flow_metrics.throttled.increment(1);
            let limit = self.flow.on_throttled(sent_at, now);
            tracing::debug!(queue_url = %self.queue_url, limit, "SendMessageBatch throttled; fewer requests in flight");
            limit
        } else {
            self.flow.on_success()
        };
        self.flow_metrics.limit.set(limit as f64);
        let rate = self.pacer.on_answer(throttled, now);
        self.rate_gauge.set(rate.unwrap_or(0.0));
    }

    /// Routes each entry's result to its caller, or schedules its retry.
    fn settle(&mut self, metas: Vec<Meta>, entries: Vec<SendEntry>, result: Result<BatchOutcome<SentMessage>>) {
        let now = Instant::now();
        match result {
            Err(error) => {
                // Throttling is answered by fewer requests in flight and the backoff, not by giving up: a
                // throttled retry costs no budget (the policy's time and attempt limits still apply).
                let retry_allowed = error.is_throttling()
                    || error.is_retryable() && self.config.retry.withdraw(matches!(error, Error::Timeout { .. }));
                tracing::debug!(queue_url = %self.queue_url, %error, retry_allowed, "SendMessageBatch failed");
                for (meta, entry) in metas.into_iter().zip(entries) {
                    self.resolve_failure(meta, entry, error.clone(), retry_allowed, now);
                }
            }
            Ok(outcome) => {
                self.config.retry.deposit();
                let mut successes: HashMap<String, SentMessage> = outcome.successful.into_iter().collect();
                let mut failures: HashMap<String, Error> =
                    outcome.failed.into_iter().map(|failure| (failure.id, failure.error)).collect();
                let retryable = failures.values().filter(|error| error.is_retryable());
                let retry_allowed = match retryable.clone().all(Error::is_throttling) {
                    true => retryable.count() > 0,
                    false => self.config.retry.withdraw(false),
                };
                // Groups with an entry rescheduled in this batch, to detect a later entry that overtook it: only
                // possible when a request may carry several messages of a group (`same_group_per_request`).
                let mut retried_groups: HashSet<String> = HashSet::new();
                for (meta, entry) in metas.into_iter().zip(entries) {
                    if let Some(sent) = successes.remove(&entry.id) {
                        if let Some(group) = meta.group.as_deref().filter(|g| retried_groups.contains(*g)) {
                            tracing::warn!(
                                queue_url = %self.queue_url, group,
                                "SQS accepted a FIFO message while failing an earlier one of its group in the same \
                                 request (fifo_same_group_per_request is on); the earlier one is retried and will \
                                 follow it"
                            );
                        }
                        self.holds.release(meta.group.as_deref());
                        let receipt = SendReceipt {
                            message_id: sent.message_id,
                            sequence_number: sent.sequence_number,
                            attempts: meta.attempts,
                        };
                        self.metrics.sent.increment(1);
                        let _ = meta.reply.send(Ok(receipt));
                    } else {
                        let error = failures
                            .remove(&entry.id)
                            .unwrap_or_else(|| Error::transport(MissingResult(entry.id.clone())));
                        let group = meta.group.clone();
                        if self.resolve_failure(meta, entry, error, retry_allowed, now) {
                            retried_groups.extend(group);
                        }
                    }
                }
            }
        }
    }

    /// Schedules a retry when the error, the budget and the policy allow it (returns `true`), or fails the
    /// message to its caller.
    fn resolve_failure(
        &mut self,
        meta: Meta,
        entry: SendEntry,
        error: Error,
        retry_allowed: bool,
        now: Instant,
    ) -> bool {
        if retry_allowed && error.is_retryable() {
            let elapsed = now.saturating_duration_since(meta.first_attempt_at.unwrap_or(now));
            if let Some(delay) = self.config.retry.next_delay(meta.attempts, elapsed) {
                tracing::debug!(queue_url = %self.queue_url, attempts = meta.attempts, ?delay, %error, "retrying message");
                // The group stays held while the message waits, so no later message of it can overtake.
                self.backoff.insert((now + delay, meta.seq), Pending { meta, entry });
                return true;
            }
        }
        tracing::debug!(queue_url = %self.queue_url, attempts = meta.attempts, %error, "message failed");
        // The hold ends with the message: the group's next message may go, so the group is stored in send order
        // without this one, which its caller gets back with the error (see "FIFO order" in `super`).
        self.holds.release(meta.group.as_deref());
        self.metrics.send_failed.increment(1);
        let _ = meta.reply.send(Err(error));
        false
    }

    fn fail_everything_buffered(&mut self) {
        let ready = std::mem::take(&mut self.ready).into_values();
        let backoff = std::mem::take(&mut self.backoff).into_values();
        for pending in ready.chain(backoff) {
            let _ = pending.meta.reply.send(Err(Error::Shutdown));
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
