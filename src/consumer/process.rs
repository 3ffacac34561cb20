//! Processing one job (one message, or one batch): decode and check it, consult the idempotency store, run
//! the handler (catching panics), and settle the outcome. Returns whether a FIFO group may go on to its
//! next message.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::core::{Admitted, Core, Mode, Shared};
use super::dead_letter::send_to_dead_letter_queue;
use super::delivery::{Delivery, MessageMeta, trace_context};
use super::handler::{BatchHandler, CatchUnwind, Handler, JoinAll};
use super::idempotency_store::{Begin, unavailable_delay};
use super::options::{MAX_VISIBILITY, PoisonAction};
use super::outcome::Outcome;
use super::registry::{EntryId, Lease};
use super::settle::{SettleItem, SettleKind};
use super::stats::{bump, drop_one};
use super::timeout::{Bounded, Lifeline, confirmed_margin, run_bounded};
use crate::error::{Error, PayloadErrorKind};
use crate::offload::Resolved;
use crate::otel::process_outcome;
use crate::telemetry;

/// Counts a running handler for as long as it lives (also when its task is aborted at shutdown).
struct RunningGuard<'a>(&'a std::sync::atomic::AtomicU64);

impl<'a> RunningGuard<'a> {
    fn new(counter: &'a std::sync::atomic::AtomicU64) -> Self {
        bump(counter);
        Self(counter)
    }
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        drop_one(self.0);
    }
}

/// A message ready for its handler.
struct Ready<T> {
    admitted: Admitted,
    delivery: Delivery<T>,
    lease: Option<Lease>,
}

/// A message after the handler ran (the delivery moved into the handler).
struct Handled {
    admitted: Admitted,
    lease: Option<Lease>,
    receive_count: u32,
}

enum Prepared<T> {
    Ready(Box<Ready<T>>),
    /// Settled without the handler; `true` when its FIFO group may continue.
    Settled(bool),
}

/// Runs one job. A job is one message (single handler) or one batch; on a FIFO queue, all of one group.
pub(crate) async fn execute<T: Send + 'static>(shared: &Shared<T>, job: Vec<Admitted>) -> bool {
    if shared.core.is_stopping() {
        release_all(shared, job, SettleKind::ReleasedUnstarted).await;
        return false;
    }
    match &shared.mode {
        Mode::Single(handler) => {
            let mut job = job.into_iter();
            while let Some(admitted) = job.next() {
                if !execute_one(shared, handler.as_ref(), admitted).await && shared.core.config.fifo {
                    release_all(shared, job.collect(), SettleKind::Released).await;
                    return false;
                }
            }
            true
        }
        Mode::Batch(handler) => execute_batch(shared, handler.as_ref(), job).await,
    }
}

/// Runs one message of a standard queue with the single handler.
async fn execute_single<T: Send + 'static>(shared: &Shared<T>, admitted: Admitted) {
    match &shared.mode {
        _ if shared.core.is_stopping() => {
            settle_item(shared, admitted, Some(Duration::ZERO), SettleKind::ReleasedUnstarted).await;
        }
        Mode::Single(handler) => {
            execute_one(shared, handler.as_ref(), admitted).await;
        }
        Mode::Batch(handler) => {
            execute_batch(shared, handler.as_ref(), vec![admitted]).await;
        }
    }
}

async fn execute_one<T: Send + 'static>(shared: &Shared<T>, handler: &dyn Handler<T>, admitted: Admitted) -> bool {
    let message = &admitted.message;
    let trace = trace_context(message);
    let config = &shared.core.config;
    let span = crate::otel::process_span(&config.queue_url, message, trace, &admitted.origin, config.process_parent);
    async {
        let ready = match prepare(shared, admitted).await {
            Prepared::Ready(ready) => *ready,
            Prepared::Settled(may_continue) => return may_continue,
        };
        let core = &shared.core;
        let counters = &core.counters;
        let token = ready.delivery.cancellation();
        let (cancel_at, lifeline) = start_handler(core, &[ready.admitted.id], &token);
        bump(&counters.started);
        bump(&counters.running);
        let handled =
            Handled { receive_count: ready.delivery.receive_count(), admitted: ready.admitted, lease: ready.lease };
        // The message's trace context is ambient while its handler runs: the handler's sends continue it.
        let started = Instant::now();
        let call = CatchUnwind::new(handler.handle(ready.delivery));
        let grace = core.config.handler_limits.grace;
        let result = match trace {
            Some(context) => run_bounded(context.scope(call), &token, cancel_at, grace, lifeline).await,
            None => run_bounded(call, &token, cancel_at, grace, lifeline).await,
        };
        core.metrics.handler_duration.record(telemetry::seconds(started.elapsed()));
        drop_one(&counters.running);
        match timed(core, result, 1) {
            Ran::Returned(Ok(outcome)) => {
                if core.registry.is_lost(handled.admitted.id, Instant::now()) {
                    process_outcome("lost");
                    return lost(shared, handled, &outcome).await;
                }
                process_outcome(outcome.as_str());
                settle(shared, handled, outcome).await
            }
            Ran::Returned(Err(panic)) => crashed(shared, handled, &panic).await,
            Ran::Dropped => {
                process_outcome("timed_out");
                settle(shared, handled, Outcome::Retry).await
            }
            Ran::Lost => {
                process_outcome("lost");
                lost(shared, handled, &Outcome::Retry).await
            }
        }
    }
    .instrument(span)
    .await
}

async fn execute_batch<T: Send + 'static>(
    shared: &Shared<T>,
    handler: &dyn BatchHandler<T>,
    job: Vec<Admitted>,
) -> bool {
    let fifo = shared.core.config.fifo;
    let span = crate::otel::batch_process_span(
        &shared.core.config.queue_url,
        job.iter().map(|one| &one.message),
        job.first().map(|one| &one.origin),
    );
    async {
        let mut may_continue = true;
        let mut ready = Vec::with_capacity(job.len());
        let mut job = job.into_iter();
        while let Some(admitted) = job.next() {
            match prepare(shared, admitted).await {
                Prepared::Ready(one) => ready.push(*one),
                Prepared::Settled(true) => {}
                Prepared::Settled(false) => {
                    may_continue = false;
                    if fifo {
                        // Messages before this one are processed; the rest of its group must wait for it.
                        release_all(shared, job.by_ref().collect(), SettleKind::Released).await;
                    }
                }
            }
        }
        if ready.is_empty() {
            return may_continue;
        }
        let core = &shared.core;
        let counters = &core.counters;
        let token = CancellationToken::new();
        let ids: Vec<EntryId> = ready.iter().map(|one| one.admitted.id).collect();
        let (cancel_at, lifeline) = start_handler(core, &ids, &token);
        let mut handled = Vec::with_capacity(ready.len());
        let mut deliveries = Vec::with_capacity(ready.len());
        for mut one in ready {
            bump(&counters.started);
            handled.push(Handled {
                receive_count: one.delivery.receive_count(),
                admitted: one.admitted,
                lease: one.lease,
            });
            one.delivery.set_cancellation(token.clone());
            deliveries.push(one.delivery);
        }
        let running: Vec<RunningGuard<'_>> = handled.iter().map(|_| RunningGuard::new(&counters.running)).collect();
        let started = Instant::now();
        let call = CatchUnwind::new(handler.handle_batch(deliveries));
        let result = run_bounded(call, &token, cancel_at, core.config.handler_limits.grace, lifeline).await;
        core.metrics.handler_duration.record(telemetry::seconds(started.elapsed()));
        drop(running);
        let outcomes = match timed(core, result, handled.len()) {
            Ran::Returned(Ok(outcomes)) => outcomes.into_vec(),
            Ran::Returned(Err(panic)) => {
                for one in handled {
                    crashed(shared, one, &panic).await;
                }
                return false;
            }
            Ran::Lost => {
                process_outcome("lost");
                for one in handled {
                    lost(shared, one, &Outcome::Retry).await;
                }
                return false;
            }
            Ran::Dropped => {
                process_outcome("timed_out");
                // Like a retry of each message; on a FIFO queue the group stops here and is redelivered in order.
                for one in handled {
                    settle(shared, one, Outcome::Retry).await;
                }
                return false;
            }
        };
        let mut outcomes = outcomes.into_iter();
        let mut group_failed = false;
        for one in handled {
            let mut outcome = outcomes.next().unwrap_or(Outcome::Retry);
            if fifo && group_failed && outcome != Outcome::Release {
                if outcome == Outcome::Ack {
                    tracing::warn!(
                        message_id = %one.admitted.message.message_id,
                        "batch handler acknowledged a FIFO message after an earlier one of its group failed; \
                         releasing it so that the group is redelivered in order"
                    );
                }
                outcome = Outcome::Release;
            }
            let settled = if shared.core.registry.is_lost(one.admitted.id, Instant::now()) {
                lost(shared, one, &outcome).await
            } else {
                settle(shared, one, outcome).await
            };
            if !settled {
                may_continue = false;
                group_failed = true;
            }
        }
        may_continue
    }
    .instrument(span)
    .await
}

/// Marks the entries of one handler call running with its token, and returns when the token is cancelled
/// (at the handler timeout, or earlier for a message that waited so long the consumer could not keep it
/// invisible until then) and the call's lifeline (when the heartbeat could not extend one of its messages,
/// the instant the call must be gone by; see `timeout`). A consumer already shutting down cancels the token
/// at once (shutdown cancels the tokens of entries running before it began; the registry lock orders the
/// two).
fn start_handler(core: &Core, ids: &[EntryId], token: &CancellationToken) -> (Instant, Lifeline) {
    let limits = core.config.handler_limits;
    let started = Instant::now();
    let mut cancel_at = started + limits.timeout;
    let lifeline = Arc::new(tokio::sync::watch::Sender::new(None));
    let config = &core.config;
    let window = config
        .heartbeat
        .map_or(config.visibility_timeout, |heartbeat| heartbeat.extension.min(config.visibility_timeout));
    let margin = confirmed_margin(window);
    let watching = lifeline.subscribe();
    for &id in ids {
        let hold_until = |received| limits.hold_until(limits.cancel_at(received, started));
        if let Some(received) = core.registry.set_running(id, token, hold_until, &lifeline, margin) {
            cancel_at = cancel_at.min(limits.cancel_at(received, started));
        }
    }
    if core.is_stopping() {
        token.cancel();
    }
    (cancel_at, watching)
}

/// How a handler call ended, once counted.
enum Ran<T> {
    /// It returned (perhaps after its token fired).
    Returned(T),
    /// Still running at the end of its grace period: dropped, its messages are retried.
    Dropped,
    /// Dropped before the confirmed visibility deadline of a message the heartbeat could not extend.
    Lost,
}

/// Counts a handler call that reached its timeout or was dropped (`messages` of them, for a batch call).
fn timed<T>(core: &Core, result: Bounded<T>, messages: usize) -> Ran<T> {
    let timed_out = || {
        bump(&core.counters.timed_out);
        core.metrics.handler_timeouts.increment(1);
    };
    let dropped = || {
        timed_out();
        bump(&core.counters.dropped);
        core.metrics.handlers_dropped.increment(1);
    };
    match result {
        Bounded::Finished { output, timed_out: false } => Ran::Returned(output),
        Bounded::Finished { output, timed_out: true } => {
            timed_out();
            tracing::info!(messages, "handler reached its timeout and returned within its grace period");
            Ran::Returned(output)
        }
        Bounded::Dropped => {
            dropped();
            tracing::warn!(
                messages,
                timeout = ?core.config.handler_limits.timeout,
                grace = ?core.config.handler_limits.grace,
                "handler still running at the end of its grace period; dropped it and retrying its messages"
            );
            Ran::Dropped
        }
        Bounded::Lost => {
            dropped();
            tracing::warn!(
                messages,
                "the visibility of a message could not be extended; dropped its handler before SQS makes the \
                 message visible again, for redelivery"
            );
            Ran::Lost
        }
    }
}

/// A message whose handler was dropped (`Retry`), or returned `outcome`, after the instant it had to be gone
/// by: the heartbeat could not extend its visibility, so SQS may already have made it visible again and
/// another consumer received it. The consumer no longer acts on it: no delete (a delete with a receipt
/// handle older than the latest receive "will still succeed, but the message might not be deleted", and a
/// delete removes the message "even if the message is locked by another reader": it proves nothing, and
/// could remove a copy another consumer is processing; see
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html>) and no
/// visibility change (the message becomes visible at its deadline, a margin away at most; a late change
/// could hide a copy another consumer received). `run_bounded` drops a handler at that instant, so one that
/// returned is seen here only when it returned just as the instant passed. An acknowledged message's idempotency key is still recorded as completed if its lease is still
/// valid (the store checks the lease token), so a redelivered copy is acknowledged as a duplicate rather
/// than handled again; any other outcome gives the lease up, as a timeout does, so that the redelivered
/// copy is not deferred. Returns `false`: a FIFO group stops here (its message comes back first).
async fn lost<T>(shared: &Shared<T>, handled: Handled, outcome: &Outcome) -> bool {
    tracing::warn!(
        message_id = %handled.admitted.message.message_id,
        outcome = outcome.as_str(),
        "the message's visibility could not be extended; left for redelivery at its visibility deadline"
    );
    if let Some(lease) = &handled.lease {
        match outcome {
            Outcome::Ack => complete(shared, lease).await,
            _ => abandon(shared, lease).await,
        }
    }
    shared.core.registry.remove(handled.admitted.id);
    false
}

/// Integrity check, decoding and the idempotency check.
async fn prepare<T: Send + 'static>(shared: &Shared<T>, admitted: Admitted) -> Prepared<T> {
    if let Err(error) = admitted.message.check_integrity() {
        return Prepared::Settled(poison(shared, admitted, &error).await);
    }
    let fetched = match fetch_payload(shared, &admitted).await {
        Ok(fetched) => fetched,
        Err(Some(error)) => return Prepared::Settled(poison(shared, admitted, &error).await),
        Err(None) => {
            put_back(shared, admitted, &shared.core.counters.payload_failures).await;
            return Prepared::Settled(false);
        }
    };
    let body = match &fetched {
        Resolved::Fetched(payload) => payload.as_str(),
        Resolved::Inline => admitted.message.body.as_str(),
    };
    let opened = match shared.core.config.envelope.open(body) {
        Ok(opened) => opened,
        Err(error) => return Prepared::Settled(poison(shared, admitted, &error.into()).await),
    };
    let body = match shared.codec.decode(&opened.payload) {
        Ok(body) => body,
        Err(error) => return Prepared::Settled(poison(shared, admitted, &error).await),
    };
    let mut meta = MessageMeta::from_received(&admitted.message);
    meta.envelope = opened.meta;
    let key = shared.key_source.key(&body, &meta);
    meta.idempotency_key.clone_from(&key);
    let (Some(idempotency), Some(key)) = (&shared.core.config.idempotency, key) else {
        return Prepared::Ready(Box::new(Ready { admitted, delivery: Delivery::new(body, meta), lease: None }));
    };
    let remaining = shared.core.registry.remaining(admitted.id, Instant::now());
    match idempotency.store.try_begin(&key, SystemTime::now() + remaining).await {
        Ok(Begin::Acquired(token)) => {
            let lease = Lease { key, token };
            shared.core.registry.set_lease(admitted.id, lease.clone());
            Prepared::Ready(Box::new(Ready { admitted, delivery: Delivery::new(body, meta), lease: Some(lease) }))
        }
        Ok(Begin::Completed) => {
            tracing::debug!(message_id = %meta.message_id, key = %key, "already processed; acknowledging the duplicate");
            settle_item(shared, admitted, None, SettleKind::Duplicate).await;
            Prepared::Settled(true)
        }
        Ok(Begin::InProgress { until }) => {
            // Until the other lease ends, but growing with the receive count like a retry: a duplicate of a
            // long-running message is not received over and over (each receive counts toward redrive).
            let lease_left = until.duration_since(SystemTime::now()).unwrap_or_default();
            let backoff = shared.core.config.retry_backoff.backoff(meta.receive_count);
            let wait = lease_left.max(backoff).max(Duration::from_secs(1));
            tracing::debug!(message_id = %meta.message_id, key = %key, ?wait, "key in progress elsewhere; deferring");
            settle_item(shared, admitted, Some(wait), SettleKind::Deferred).await;
            Prepared::Settled(false)
        }
        Err(error) => {
            // The handler must not run unrecorded, nor the message be acknowledged: it comes back after a delay
            // of at least a second, doubling per receive (no busy loop on a store that is down).
            tracing::warn!(message_id = %meta.message_id, error = %error, "idempotency store failed; the message is retried after a delay");
            put_back(shared, admitted, &shared.core.counters.store_failures).await;
            Prepared::Settled(false)
        }
    }
}

/// The message's payload when it was offloaded to S3 (see [`crate::offload`]): `Err(Some(poison reason))` for a
/// missing object or a malformed pointer, `Err(None)` when S3 could not answer (the message must come back
/// later, never be acknowledged without its payload). A consumer without large-payload settings decodes the body
/// as it is.
async fn fetch_payload<T>(shared: &Shared<T>, admitted: &Admitted) -> Result<Resolved, Option<Error>> {
    let Some(payloads) = &shared.core.config.payloads else { return Ok(Resolved::Inline) };
    payloads.resolve(&admitted.message).await.map_err(|error| match &error {
        Error::Payload { kind: PayloadErrorKind::NotFound | PayloadErrorKind::Malformed, .. } => Some(error),
        _ => {
            tracing::warn!(message_id = %admitted.message.message_id, error = %error, "could not fetch the message's payload from S3; the message is retried after a delay");
            None
        }
    })
}

/// Puts a message back without running its handler because something it needs (the idempotency store, S3) is
/// unavailable: visible again after at least a second, doubling per receive, counted in `failures`.
async fn put_back<T>(shared: &Shared<T>, admitted: Admitted, failures: &std::sync::atomic::AtomicU64) {
    bump(failures);
    let receive_count = admitted.message.receive_count().unwrap_or(1);
    let delay = unavailable_delay(receive_count, shared.core.config.retry_backoff.backoff(receive_count));
    tracing::debug!(message_id = %admitted.message.message_id, ?delay, "message put back");
    settle_item(shared, admitted, Some(delay), SettleKind::Retried).await;
}

/// Applies a handler's outcome. Returns whether a FIFO group may continue.
async fn settle<T>(shared: &Shared<T>, handled: Handled, outcome: Outcome) -> bool {
    let Handled { admitted, lease, receive_count } = handled;
    if let Some(lease) = &lease {
        match &outcome {
            Outcome::Ack => complete(shared, lease).await,
            _ => abandon(shared, lease).await,
        }
    }
    match outcome {
        Outcome::Ack => {
            settle_item(shared, admitted, None, SettleKind::Completed).await;
            true
        }
        Outcome::Retry => {
            let delay = shared.core.config.retry_backoff.backoff(receive_count);
            settle_item(shared, admitted, Some(delay), SettleKind::Retried).await;
            false
        }
        Outcome::RetryAfter(delay) => {
            settle_item(shared, admitted, Some(delay), SettleKind::Retried).await;
            false
        }
        Outcome::Release => {
            settle_item(shared, admitted, Some(Duration::ZERO), SettleKind::Released).await;
            false
        }
        Outcome::DeadLetter(reason) => dead_letter(shared, admitted, &reason).await,
    }
}

async fn crashed<T>(shared: &Shared<T>, handled: Handled, panic: &str) -> bool {
    process_outcome("panicked");
    bump(&shared.core.counters.panicked);
    tracing::error!(
        message_id = %handled.admitted.message.message_id,
        panic,
        "handler panicked; the message is left for redelivery after its visibility timeout"
    );
    if let Some(lease) = &handled.lease {
        abandon(shared, lease).await;
    }
    shared.core.registry.remove(handled.admitted.id);
    false
}

async fn poison<T>(shared: &Shared<T>, admitted: Admitted, error: &Error) -> bool {
    process_outcome("poison");
    bump(&shared.core.counters.poison);
    let message_id = admitted.message.message_id.clone();
    match shared.core.config.poison {
        PoisonAction::DeadLetter => {
            tracing::warn!(message_id = %message_id, error = %error, "poison message; dead-lettering it");
            dead_letter(shared, admitted, &error.to_string()).await
        }
        PoisonAction::Delete => {
            tracing::warn!(message_id = %message_id, error = %error, "poison message; deleting it");
            settle_item(shared, admitted, None, SettleKind::PoisonDeleted).await;
            true
        }
        PoisonAction::LeaveForRedrive => {
            tracing::warn!(message_id = %message_id, error = %error, "poison message; leaving it for the redrive policy");
            shared.core.registry.remove(admitted.id);
            false
        }
    }
}

async fn dead_letter<T>(shared: &Shared<T>, admitted: Admitted, reason: &str) -> bool {
    let core = &shared.core;
    let message_id = &admitted.message.message_id;
    let Some(queue) = &core.config.dead_letter_queue else {
        tracing::warn!(
            message_id = %message_id,
            reason,
            "no dead-letter queue configured; leaving the message for the queue's redrive policy"
        );
        core.registry.remove(admitted.id);
        return false;
    };
    match send_to_dead_letter_queue(core.backend.as_ref(), queue, &admitted.message, reason, &core.config.api_retry)
        .await
    {
        Ok(()) => {
            tracing::info!(message_id = %message_id, reason, "message sent to the dead-letter queue");
            settle_item(shared, admitted, None, SettleKind::DeadLettered).await;
            true
        }
        Err(error) => {
            bump(&core.counters.dead_letter_failures);
            tracing::error!(
                message_id = %message_id,
                error = %error,
                "could not send the message to the dead-letter queue; leaving it for redrive"
            );
            core.registry.remove(admitted.id);
            false
        }
    }
}

/// Releases messages that will not be processed now (visibility 0).
pub(crate) async fn release_all<T>(shared: &Shared<T>, messages: Vec<Admitted>, kind: SettleKind) {
    for admitted in messages {
        settle_item(shared, admitted, Some(Duration::ZERO), kind).await;
    }
}

/// Hands a message to a settle batcher: a delete (`visibility: None`) or a visibility change. The registry
/// entry is settled first, so the heartbeat never touches the message again; its concurrency slot is freed
/// when `admitted` drops at the end.
pub(crate) async fn settle_item<T>(
    shared: &Shared<T>,
    admitted: Admitted,
    visibility: Option<Duration>,
    kind: SettleKind,
) {
    let core = &shared.core;
    // A deleted message's S3 object goes once SQS confirmed the delete; a dead-lettered copy still points to it.
    let payload = match (&core.config.payloads, visibility, kind) {
        (Some(_), None, kind) if kind != SettleKind::DeadLettered => {
            crate::offload::pointer_of(&admitted.message).and_then(Result::ok)
        }
        _ => None,
    };
    let Some(tracked) = core.registry.begin_settle(admitted.id).await else { return };
    let pushed = match visibility {
        None => core.acks.push(SettleItem {
            receipt: tracked.receipt,
            message_id: tracked.message_id,
            visibility: Duration::ZERO,
            kind,
            payload,
        }),
        Some(delay) => {
            // At most 12 hours since the receive (an SQS limit), in whole seconds rounded down.
            let room = (tracked.received_at + MAX_VISIBILITY).saturating_duration_since(Instant::now());
            let delay = delay.min(Duration::from_secs(room.as_secs()));
            core.visibility.push(SettleItem {
                receipt: tracked.receipt,
                message_id: tracked.message_id,
                visibility: delay,
                kind,
                payload: None,
            })
        }
    };
    if !pushed {
        bump(&core.counters.settle_failures);
        tracing::warn!(message_id = %admitted.message.message_id, "consumer stopped before the message was settled");
    }
}

async fn complete<T>(shared: &Shared<T>, lease: &Lease) {
    let Some(idempotency) = &shared.core.config.idempotency else { return };
    let expires_at = SystemTime::now() + idempotency.completed_ttl;
    // The handler ran and succeeded: the message is acknowledged whatever happens here. Not acknowledging it
    // would make SQS redeliver it, and once the lease lapsed its handler would certainly run again; acknowledged,
    // only a separate copy of the message (a producer retry) arriving later can run again.
    if let Err(error) = idempotency.store.complete(&lease.key, &lease.token, expires_at).await {
        if matches!(error, super::StoreError::Unavailable { .. }) {
            bump(&shared.core.counters.store_failures);
        }
        tracing::warn!(key = %lease.key, error = %error, "handler succeeded but the key could not be recorded as completed; a later copy of the message may run again");
    }
}

pub(crate) async fn abandon_lease(shared_store: &super::builder::Idempotency, lease: &Lease) {
    if let Err(error) = shared_store.store.abandon(&lease.key, &lease.token).await {
        tracing::debug!(key = %lease.key, error = %error, "could not abandon the idempotency lease");
    }
}

async fn abandon<T>(shared: &Shared<T>, lease: &Lease) {
    if let Some(idempotency) = &shared.core.config.idempotency {
        abandon_lease(idempotency, lease).await;
    }
}

/// Runs a job as its own task.
pub(crate) fn spawn_job<T: Send + 'static>(shared: &Arc<Shared<T>>, job: Vec<Admitted>) {
    let task_shared = shared.clone();
    shared.core.spawn(async move {
        execute(&task_shared, job).await;
    });
}

/// Runs each message as its own job, concurrently, in one task (standard queues, single handler).
pub(crate) fn spawn_each<T: Send + 'static>(shared: &Arc<Shared<T>>, messages: Vec<Admitted>) {
    let task_shared = shared.clone();
    shared.core.spawn(async move {
        let shared = &task_shared;
        JoinAll::new(messages.into_iter().map(|one| execute_single(shared, one))).await;
    });
}
