//! The receive loops. Each poller first takes at least one free concurrency slot (up to 10), then long-polls
//! for exactly that many messages: nothing is prefetched beyond capacity, and a slot frees as soon as its
//! message is settled, so one slow message never holds up the others. Shutdown drops an in-flight long poll
//! at once.
//!
//! Flow control: the pollers share an AIMD limit ([`crate::flow`]) whose ceiling is the configured number of
//! pollers. Poller `i` receives only while `i` is below the limit: a throttled receive halves the number of
//! active pollers (the others park after their current receive), successful receives bring them back one by
//! one. Every receive asks for up to 10 messages (fewer only when fewer slots are free), and failed receives
//! (other than throttled ones) draw from the consumer's retry budget ([`ConsumerBuilder::api_retry`](super::ConsumerBuilder::api_retry),
//! shared with its deletes and visibility changes): with the budget spent, a poller waits the longest
//! receive backoff before it tries again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tracing::Instrument;

use super::core::{Admitted, Mode, Shared};
use super::fifo;
use super::health::{AfterFailure, ConsumerOperation};
use super::process::{spawn_each, spawn_job};
use super::registry::Tracked;
use super::stats::{Counters, bump};
use crate::backend::{ReceiveRequest, ReceivedMessage};
use crate::error::Error;
use crate::flow::AimdLimit;
use crate::otel::Origin;
use crate::telemetry::{FlowMetrics, InFlightGuard};
use crate::types::{ReceiptHandle, SystemAttributeName};

/// The shortest pause after a failed receive (full jitter could otherwise retry at once, in a tight loop).
const MIN_RECEIVE_BACKOFF: Duration = Duration::from_millis(100);
/// With short polling (wait time 0), the pause after an empty receive, so an idle consumer does not spin.
const EMPTY_SHORT_POLL_PAUSE: Duration = Duration::from_millis(20);

/// The pollers' shared flow control: the AIMD limit on active pollers and its metrics.
#[derive(Debug, Clone)]
pub(crate) struct PollerFlow {
    pub(crate) limit: AimdLimit,
    pub(crate) metrics: FlowMetrics,
}

impl PollerFlow {
    fn record(&self, counters: &Counters, limit: usize) {
        counters.active_pollers.store(limit as u64, std::sync::atomic::Ordering::Relaxed);
        self.metrics.limit.set(limit as f64);
    }
}

/// Waits until poller `index` is within the flow limit; `false` when shutdown began first.
async fn wait_until_active(index: usize, flow: &PollerFlow, stop: &mut watch::Receiver<bool>) -> bool {
    let mut limit = flow.limit.subscribe();
    tokio::select! {
        biased;
        _ = stop.wait_for(|stopping| *stopping) => false,
        active = limit.wait_for(|limit| index < *limit) => active.is_ok(),
    }
}

pub(crate) async fn run<T: Send + 'static>(
    shared: Arc<Shared<T>>,
    slots: Arc<Semaphore>,
    index: usize,
    flow: PollerFlow,
) {
    let mut stop = shared.core.stopping.subscribe();
    loop {
        if index >= flow.limit.current() && !wait_until_active(index, &flow, &mut stop).await {
            return;
        }
        let first = tokio::select! {
            biased;
            _ = stop.wait_for(|stopping| *stopping) => return,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let mut permits = first;
        let target = shared.core.config.receive_batch;
        top_up(&slots, &mut permits, target);
        if permits.num_permits() < target {
            // Under load slots free up within moments: waiting a little for a fuller receive saves requests.
            let until = Instant::now() + shared.core.config.receive_batch_wait;
            let missing = u32::try_from(target - permits.num_permits()).unwrap_or(1);
            tokio::select! {
                biased;
                _ = stop.wait_for(|stopping| *stopping) => return,
                more = tokio::time::timeout_at(until, slots.clone().acquire_many_owned(missing)) => match more {
                    Ok(Ok(more)) => permits.merge(more),
                    _ => top_up(&slots, &mut permits, target),
                },
            }
        }
        let Some((sent_at, messages, origin)) =
            receive(&shared, (index, &flow), &mut stop, permits.num_permits()).await
        else {
            return;
        };
        let empty = messages.is_empty();
        admit(&shared, &slots, permits, (sent_at, origin), messages);
        if empty && shared.core.config.wait_time.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(EMPTY_SHORT_POLL_PAUSE) => {}
                _ = stop.wait_for(|stopping| *stopping) => return,
            }
        }
    }
}

/// Takes free slots without waiting, up to `target` in all.
fn top_up(slots: &Arc<Semaphore>, permits: &mut OwnedSemaphorePermit, target: usize) {
    while permits.num_permits() < target {
        match slots.clone().try_acquire_owned() {
            Ok(more) => permits.merge(more),
            Err(_) => return,
        }
    }
}

/// One receive, retried with backoff until it succeeds; `None` when shutdown began, or when the consumer
/// stops because its queue became unusable (see `health.rs`); no messages when a throttled answer left this
/// poller (number `index`) outside the flow limit: it gives its slots back and parks. A retried FIFO receive
/// reuses its `ReceiveRequestAttemptId` (except after throttling), so SQS returns the same messages if the first
/// attempt did receive them.
async fn receive<T>(
    shared: &Shared<T>,
    (index, flow): (usize, &PollerFlow),
    stop: &mut watch::Receiver<bool>,
    wanted: usize,
) -> Option<(Instant, Vec<ReceivedMessage>, Origin)> {
    let core = &shared.core;
    let config = &core.config;
    let mut request = ReceiveRequest {
        max_messages: u8::try_from(wanted).unwrap_or(u8::MAX),
        wait_time: Some(config.wait_time),
        visibility_timeout: Some(config.visibility_timeout),
        system_attribute_names: config.system_attribute_names.clone(),
        message_attribute_names: config.message_attribute_names.clone(),
        receive_request_attempt_id: config.fifo.then(|| uuid::Uuid::new_v4().to_string()),
    };
    let mut failures = 0u32;
    loop {
        let span = crate::otel::receive_span(&config.queue_url, wanted);
        let sent_at = Instant::now();
        let result = tokio::select! {
            biased;
            result = core.backend.receive_message(&config.queue_url, &request).instrument(span.clone()) => result,
            _ = stop.wait_for(|stopping| *stopping) => return None,
        };
        match result {
            Ok(messages) => {
                config.api_retry.deposit();
                flow.record(&core.counters, flow.limit.on_success());
                bump(&core.counters.receive_requests);
                core.health.receive_succeeded();
                let origin = crate::otel::receive_done(&span, &messages);
                return Some((sent_at, messages, origin));
            }
            Err(error) => {
                crate::otel::record_error(&span, &error);
                // Counted together, before anything that may stop the consumer on this error.
                bump(&core.counters.receive_errors);
                if error.is_throttling() {
                    bump(&core.counters.receive_throttled);
                }
                failures = failures.saturating_add(1);
                match core.health.receive_failed(&error, config.stop_after_receive_failures) {
                    AfterFailure::Retry { consecutive } => {
                        config.on_error.call(&config.queue_url, ConsumerOperation::Receive, &error, consecutive);
                    }
                    AfterFailure::Stop { consecutive } => {
                        config.on_error.call(&config.queue_url, ConsumerOperation::Receive, &error, consecutive);
                        tracing::error!(
                            queue = %config.queue_url,
                            error = %error,
                            consecutive,
                            "the queue cannot be used; the consumer stops polling"
                        );
                        core.health.stop(&config.queue_url, consecutive, &error);
                        core.stopping.send_replace(true);
                        return None;
                    }
                }
                if error.is_throttling() {
                    flow.metrics.throttled.increment(1);
                    let limit = flow.limit.on_throttled(sent_at, Instant::now());
                    flow.record(&core.counters, limit);
                    if index >= limit {
                        tracing::debug!(queue = %config.queue_url, limit, "receive throttled; poller parked");
                        return Some((sent_at, Vec::new(), Origin::default()));
                    }
                }
                // A throttled FIFO receive cannot be retried with the same attempt id: SQS then answers
                // "ReceiveRequestAttemptId is invalid ... the receive call is not retryable"
                // (https://github.com/awslabs/amazon-sqs-java-messaging-lib/issues/213).
                if (!error.is_retryable() || error.is_throttling()) && request.receive_request_attempt_id.is_some() {
                    request.receive_request_attempt_id = Some(uuid::Uuid::new_v4().to_string());
                }
                // A throttled receive costs no budget: the flow limit and the backoff slow it down.
                let budgeted = !error.is_retryable()
                    || error.is_throttling()
                    || config.api_retry.withdraw(matches!(error, Error::Timeout { .. }));
                let delay = if budgeted {
                    config.api_retry.backoff(failures).max(MIN_RECEIVE_BACKOFF).min(config.max_receive_backoff)
                } else {
                    config.max_receive_backoff
                };
                tracing::warn!(
                    queue = %config.queue_url,
                    error = %error,
                    failures,
                    ?delay,
                    "receive failed; polling again after a pause"
                );
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|stopping| *stopping) => return None,
                }
            }
        }
    }
}

/// The system attributes to ask for: what the consumer needs (the receive count for retry backoff, the sent
/// timestamp for the message-age metric, the X-Ray trace header; on FIFO queues the group, deduplication id
/// and sequence number) plus what the builder added. Asking for `All` would make every response larger.
pub(crate) fn system_attribute_names(fifo: bool, extra: &[SystemAttributeName]) -> Vec<SystemAttributeName> {
    let mut names = vec![
        SystemAttributeName::ApproximateReceiveCount,
        SystemAttributeName::SentTimestamp,
        SystemAttributeName::AwsTraceHeader,
    ];
    if fifo {
        names.extend([
            SystemAttributeName::MessageGroupId,
            SystemAttributeName::MessageDeduplicationId,
            SystemAttributeName::SequenceNumber,
        ]);
    }
    for name in extra {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// Registers received messages, gives each one slot (unused slots go back) and starts their processing.
fn admit<T: Send + 'static>(
    shared: &Arc<Shared<T>>,
    slots: &Arc<Semaphore>,
    mut permits: OwnedSemaphorePermit,
    (sent_at, origin): (Instant, Origin),
    messages: Vec<ReceivedMessage>,
) {
    let core = &shared.core;
    let mut admitted = Vec::with_capacity(messages.len());
    for mut message in messages {
        bump(&core.counters.received);
        core.metrics.record_received(message.receive_count(), message.sent_at());
        // SQS never returns more than asked; if it did, the extra message still gets a slot if one is free.
        let slot = permits.split(1).or_else(|| slots.clone().try_acquire_owned().ok());
        // The registry owns the receipt handle from here on (settling moves it into the request).
        let receipt = std::mem::replace(&mut message.receipt_handle, ReceiptHandle::new(String::new()));
        let tracked = Tracked::new(receipt, message.message_id.clone(), sent_at, core.config.visibility_timeout);
        let id = core.registry.insert(tracked);
        let in_flight = InFlightGuard::new(&core.metrics.in_flight);
        admitted.push(Admitted { id, message, origin: origin.clone(), _slot: slot, _in_flight: in_flight });
    }
    drop(permits);
    if admitted.is_empty() {
        return;
    }
    let single = matches!(shared.mode, Mode::Single(_));
    if core.config.fifo {
        fifo::dispatch(shared, fifo::group_jobs(admitted, single));
    } else if single {
        spawn_each(shared, admitted);
    } else {
        spawn_job(shared, admitted);
    }
}
