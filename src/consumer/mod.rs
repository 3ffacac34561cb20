//! The typed consumer: [`Consumer<T>`] receives messages, decodes them into `T` and runs a handler for each
//! (or a batch handler per receive), with continuous concurrency, batched acknowledgements, a visibility
//! heartbeat, retry backoff, dead-lettering, idempotent processing and graceful shutdown.
//!
//! # How a message flows
//!
//! 1. A **poller** takes free concurrency slots (at least one, at most 10) and long-polls for exactly that
//!    many messages (`WaitTimeSeconds` 20 by default). Nothing is prefetched beyond `concurrency`, and each
//!    message frees its slot as soon as it is settled, so a slow message never blocks the others. When SQS
//!    throttles receives, pollers park (AIMD on the active pollers, see [`crate::flow`] and
//!    [`ConsumerStats::active_pollers`]) and come back one by one as receives succeed again.
//! 2. Each message is checked (MD5; a payload offloaded to S3 is fetched first when
//!    [`large_payloads`](ConsumerBuilder::large_payloads) is set, see [`crate::offload`]; decoding; failures are
//!    [poison](PoisonAction)), looked up in the
//!    [idempotency store](IdempotencyStore) if one is configured, and handed to the [`Handler`]. On a FIFO
//!    queue the messages of one group run strictly in order, groups in parallel.
//! 3. The handler's [`Outcome`] is **settled**: acknowledgements are batched into `DeleteMessageBatch`
//!    (10 entries, or after a short linger), retries and releases into `ChangeMessageVisibilityBatch`.
//! 4. Meanwhile the **heartbeat** extends every held message close to its visibility deadline, in batch
//!    requests of 10 sent concurrently each tick, never after its outcome was decided and never past its
//!    handler's timeout.
//!
//! Handlers are **bounded**: at the [handler timeout](ConsumerBuilder::handler_timeout) (15 minutes by
//! default) the handler's [`Delivery::cancelled`] signal fires (it fires at shutdown too); a handler still
//! running after the [grace period](ConsumerBuilder::handler_grace) is dropped and its message retried, so
//! a message is never handled twice at once. That holds when the heartbeat cannot extend a message too
//! (throttled or failed visibility requests): SQS makes it visible again at the last deadline it confirmed,
//! so its handler's signal fires a grace period before that deadline less a margin (2 s, at most a tenth
//! of the visibility timeout), and the handler is dropped at it; the message is then left for SQS to
//! redeliver (not deleted, its idempotency lease given up). A later extension that succeeds lifts that
//! deadline.
//!
//! Failures **surface**: [`ConsumerBuilder::build`] reads the queue (and the dead-letter queue) once, so a
//! wrong URL or a missing permission stops start-up ([`Error::QueueCheck`](crate::Error::QueueCheck)) while
//! transient errors are retried; a running consumer whose receives keep failing because its queue cannot be
//! used (deleted, access revoked, credentials or KMS key unusable) stops by itself after
//! [`stop_after_receive_failures`](ConsumerBuilder::stop_after_receive_failures) such failures in a row, and
//! [`RunningConsumer::failed`] / [`Consumer::run_until`] report the error. Every failed request of the
//! consumer's own goes to the [`on_error`](ConsumerBuilder::on_error) hook, and
//! [`RunningConsumer::health`] answers readiness probes.
//!
//! Nothing is acknowledged before its handler succeeded. A panicking handler, a dropped consumer or a
//! handler still running at the shutdown deadline leaves its message in flight, so SQS redelivers it after
//! its visibility timeout.
//!
//! # Examples
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use sqskit::backend::{EmbeddedBackend, SendEntry, SqsBackend};
//! use sqskit::consumer::{Consumer, Delivery, HandlerError};
//!
//! #[derive(serde::Deserialize)]
//! struct Order { id: u32 }
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), sqskit::Error> {
//! let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
//! let queue = backend.create_queue("orders", &Default::default(), &Default::default()).await?;
//! backend.send_message_batch(&queue, &[SendEntry::new("1", r#"{"id":7}"#)]).await?;
//!
//! let (seen, mut orders) = tokio::sync::mpsc::unbounded_channel();
//! let consumer = Consumer::<Order>::builder(backend, queue).concurrency(64).build().await?;
//! let running = consumer.start(move |order: Delivery<Order>| {
//!     let seen = seen.clone();
//!     async move {
//!         seen.send(order.id)?; // any error converts into a transient HandlerError
//!         Ok::<(), HandlerError>(())
//!     }
//! });
//!
//! assert_eq!(orders.recv().await, Some(7));
//! let report = running.shutdown(Duration::from_secs(5)).await;
//! assert_eq!(report.completed, 1);
//! # Ok(()) }
//! ```

mod builder;
mod core;
mod dead_letter;
mod delivery;
mod fifo;
mod handler;
mod health;
mod heartbeat;
mod idempotency_store;
mod options;
mod outcome;
mod poller;
mod process;
mod registry;
mod router;
mod settle;
mod stats;
mod timeout;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use builder::ConsumerBuilder;
pub use dead_letter::DEAD_LETTER_REASON_ATTRIBUTE;
pub use delivery::{Delivery, MessageMeta};
pub use handler::{BatchHandler, Handler};
pub use health::{
    ConsumerErrorEvent, ConsumerHealth, ConsumerOperation, ConsumerState, DEFAULT_STOP_AFTER_RECEIVE_FAILURES,
    HealthCheck,
};
pub use idempotency_store::{Begin, IdempotencyStore, InMemoryIdempotencyStore, LeaseToken, StoreError};
pub use options::{Heartbeat, IdempotencyKeySource, KeyFn, PoisonAction};
pub use outcome::{BatchOutcomes, Classify, ErrorClass, HandlerError, IntoOutcome, Outcome};
pub use router::{Discriminator, Payload, PayloadCodec, Router, RouterStats, UnknownType};
pub use stats::{ConsumerStats, ShutdownReport};
/// The token type of [`Delivery::cancellation`] (re-exported from `tokio-util`).
pub use tokio_util::sync::CancellationToken;

use self::builder::Config;
use self::core::{Core, Mode, Shared};
#[cfg(feature = "lambda")]
pub(crate) use self::handler::CatchUnwind;
use self::options::IdempotencyKeySource as KeySource;
use self::registry::Phase;
use self::settle::{SettleContext, SettleItem, SettleKind, SettleOp, Settler};
use self::stats::{Counters, bump};
use crate::backend::{SqsBackend, metered};
use crate::codec::Decode;
use crate::flow::{AimdConfig, AimdLimit};
use crate::telemetry::{self, ConsumerMetrics, FlowMetrics};

/// A typed SQS consumer, configured and ready to [`start`](Consumer::start).
///
/// See the [module documentation](self) for how messages flow and an example.
pub struct Consumer<T> {
    backend: Arc<dyn SqsBackend>,
    codec: Arc<dyn Decode<T>>,
    key_source: KeySource<T>,
    config: Config,
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer").field("backend", &self.backend).field("config", &self.config).finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> Consumer<T> {
    /// A builder for a consumer of the queue at `queue_url` that decodes bodies as JSON.
    ///
    /// # Examples
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use sqskit::backend::{EmbeddedBackend, SqsBackend};
    /// use sqskit::consumer::{Consumer, Heartbeat};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sqskit::Error> {
    /// let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    /// let queue = backend.create_queue("q", &Default::default(), &Default::default()).await?;
    /// let consumer = Consumer::<serde_json::Value>::builder(backend, queue)
    ///     .concurrency(100)
    ///     .visibility_timeout(Duration::from_secs(60))
    ///     .heartbeat(Heartbeat::default().threshold(Duration::from_secs(15)))
    ///     .build() // checks the queue once: a wrong URL stops here
    ///     .await?;
    /// # let _ = consumer;
    /// # Ok(()) }
    /// ```
    pub fn builder(backend: Arc<dyn SqsBackend>, queue_url: impl Into<String>) -> ConsumerBuilder<T> {
        ConsumerBuilder::new(backend, queue_url.into())
    }
}

impl<T: Send + 'static> Consumer<T> {
    /// A builder for a consumer that decodes bodies with `codec`.
    pub fn builder_with_codec(
        backend: Arc<dyn SqsBackend>,
        queue_url: impl Into<String>,
        codec: impl Decode<T>,
    ) -> ConsumerBuilder<T> {
        ConsumerBuilder::with_codec(backend, queue_url.into(), Arc::new(codec))
    }

    /// Starts consuming in background tasks, one handler call per message.
    ///
    /// # Panics
    /// Outside a Tokio runtime (it spawns the consumer's tasks).
    pub fn start(self, handler: impl Handler<T>) -> RunningConsumer {
        self.launch(Mode::Single(Arc::new(handler)))
    }

    /// Starts consuming with a batch handler: one call per receive (per group on a FIFO queue), with one
    /// outcome per message.
    ///
    /// # Panics
    /// Outside a Tokio runtime (it spawns the consumer's tasks).
    ///
    /// # Examples
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use sqskit::backend::{EmbeddedBackend, SendEntry, SqsBackend};
    /// use sqskit::consumer::{BatchOutcomes, Consumer, Delivery, Outcome};
    ///
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), sqskit::Error> {
    /// let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    /// let queue = backend.create_queue("numbers", &Default::default(), &Default::default()).await?;
    /// let entries: Vec<SendEntry> = (0..10).map(|i| SendEntry::new(i.to_string(), i.to_string())).collect();
    /// backend.send_message_batch(&queue, &entries).await?;
    ///
    /// let (sums, mut sum) = tokio::sync::mpsc::unbounded_channel();
    /// let running = Consumer::<u32>::builder(backend, queue).build().await?.start_batch(move |batch: Vec<Delivery<u32>>| {
    ///     let sums = sums.clone();
    ///     async move {
    ///         let _ = sums.send(batch.iter().map(|d| **d).sum::<u32>());
    ///         BatchOutcomes::all(Outcome::Ack, batch.len())
    ///     }
    /// });
    ///
    /// let mut total = 0;
    /// while total < 45 {
    ///     total += sum.recv().await.unwrap_or(45);
    /// }
    /// let report = running.shutdown(Duration::from_secs(5)).await;
    /// assert_eq!(report.completed, 10);
    /// # Ok(()) }
    /// ```
    pub fn start_batch(self, handler: impl BatchHandler<T>) -> RunningConsumer {
        self.launch(Mode::Batch(Arc::new(handler)))
    }

    /// Runs until `signal` completes (for example `tokio::signal::ctrl_c()`) or the consumer stops by itself
    /// because its queue became unusable, then shuts down gracefully, letting running handlers finish within
    /// `drain`.
    ///
    /// # Errors
    /// [`Error::ConsumerStopped`](crate::Error::ConsumerStopped) when the consumer stopped by itself: its
    /// last receives all failed with an error such as `QueueDoesNotExist` (the queue was deleted) or
    /// `AccessDenied` (see [`ConsumerBuilder::stop_after_receive_failures`]). The shutdown still ran.
    ///
    /// Changed in 0.1 (breaking, issue #18): returns a `Result` (was the bare [`ShutdownReport`]).
    pub async fn run_until(
        self,
        handler: impl Handler<T>,
        signal: impl Future<Output = ()>,
        drain: Duration,
    ) -> crate::Result<ShutdownReport> {
        let running = self.start(handler);
        tokio::select! {
            () = signal => {}
            _ = running.failed() => {}
        }
        let report = running.shutdown(drain).await;
        match &report.error {
            Some(error) => Err(error.clone()),
            None => Ok(report),
        }
    }

    fn launch(self, mode: Mode<T>) -> RunningConsumer {
        let counters = Arc::new(Counters::default());
        let metrics = ConsumerMetrics::new(&self.config.queue_url);
        let backend = metered(self.backend);
        let settler = |op| {
            Settler::spawn(SettleContext {
                op,
                backend: backend.clone(),
                queue_url: self.config.queue_url.clone(),
                linger: self.config.ack_linger,
                max_in_flight: self.config.max_settle_requests,
                retry: self.config.api_retry.clone(),
                counters: counters.clone(),
                metrics: metrics.clone(),
                on_error: self.config.on_error.clone(),
                payloads: self.config.payloads.clone(),
            })
        };
        let acks = settler(SettleOp::Delete);
        let visibility = settler(SettleOp::ChangeVisibility);
        let pollers = self.config.pollers;
        let slots = Arc::new(Semaphore::new(self.config.concurrency));
        let heartbeat_config = self.config.heartbeat;
        let core = Arc::new(Core::new(backend, self.config, counters, metrics, acks, visibility));
        let shared = Arc::new(Shared { core: core.clone(), codec: self.codec, key_source: self.key_source, mode });
        let flow = poller::PollerFlow {
            limit: AimdLimit::new(AimdConfig::new(pollers)),
            metrics: FlowMetrics::new(&core.config.queue_url, telemetry::FLOW_CONSUMER_POLLERS),
        };
        flow.metrics.limit.set(pollers as f64);
        core.counters.active_pollers.store(pollers as u64, std::sync::atomic::Ordering::Relaxed);
        let pollers = (0..pollers)
            .map(|index| tokio::spawn(poller::run(shared.clone(), slots.clone(), index, flow.clone())))
            .collect();
        let heartbeat = heartbeat_config.map(|heartbeat| tokio::spawn(heartbeat::run(core.clone(), heartbeat)));
        RunningConsumer { core, pollers, heartbeat }
    }
}

/// A consumer running in background tasks.
///
/// Call [`shutdown`](RunningConsumer::shutdown) to stop it gracefully. Dropping it stops everything at once:
/// running handlers are cancelled and their messages, never acknowledged, are redelivered by SQS after their
/// visibility timeout; acknowledgements already queued are still sent.
#[derive(Debug)]
pub struct RunningConsumer {
    core: Arc<Core>,
    pollers: Vec<JoinHandle<()>>,
    heartbeat: Option<JoinHandle<()>>,
}

impl RunningConsumer {
    /// The consumer's counters so far.
    pub fn stats(&self) -> ConsumerStats {
        self.core.counters.snapshot()
    }

    /// How many messages the consumer holds right now (received and not yet settled).
    pub fn in_flight(&self) -> usize {
        self.core.registry.len()
    }

    /// The consumer's health: running or failed, when a receive last succeeded, how many failed in a row
    /// since, and how many messages it holds. See [`ConsumerHealth::is_ready`] for a readiness answer.
    pub fn health(&self) -> ConsumerHealth {
        self.core.health()
    }

    /// A cloneable handle on [`health`](Self::health) for a readiness endpoint that does not own the
    /// running consumer.
    pub fn health_check(&self) -> HealthCheck {
        HealthCheck { core: self.core.clone() }
    }

    /// Completes with the error once the consumer stopped by itself: its last receives all failed with an
    /// error saying the queue cannot be used (see [`ConsumerBuilder::stop_after_receive_failures`]); never
    /// completes otherwise. The consumer then no longer polls: call [`shutdown`](Self::shutdown) to let
    /// running handlers finish and settle what can be settled.
    ///
    /// ```no_run
    /// # async fn wait(running: sqskit::consumer::RunningConsumer) -> Result<(), sqskit::Error> {
    /// tokio::select! {
    ///     _ = tokio::signal::ctrl_c() => {}
    ///     error = running.failed() => eprintln!("consumer stopped: {error}"),
    /// }
    /// let report = running.shutdown(std::time::Duration::from_secs(30)).await;
    /// if let Some(error) = report.error {
    ///     return Err(error);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn failed(&self) -> crate::Error {
        self.core.health.failed().await
    }

    /// Stops gracefully and reports what happened:
    ///
    /// 1. stops polling, dropping in-flight long polls at once, and cancels every running handler's
    ///    [cancellation token](Delivery::cancelled);
    /// 2. lets running handlers finish until `drain` has passed (their handler timeouts still apply);
    ///    messages received but not started are released (visibility 0) for other consumers;
    /// 3. handlers still running at the deadline are abandoned: cancelled, their messages left in flight
    ///    for redelivery after their visibility timeout;
    /// 4. flushes pending acknowledgements and visibility changes (within the settle timeout);
    /// 5. stops the heartbeat and returns the [`ShutdownReport`].
    ///
    /// Nothing is deleted unless its handler acknowledged it. A receive cut off in flight may still have
    /// taken messages on the server (SQS cannot tell a dropped long poll from a slow client): like abandoned
    /// ones, they become visible again after their visibility timeout.
    pub async fn shutdown(mut self, drain: Duration) -> ShutdownReport {
        let deadline = Instant::now() + drain;
        let core = self.core.clone();
        core.stopping.send_replace(true);
        core.registry.cancel_all();
        for poller in std::mem::take(&mut self.pollers) {
            let _ = poller.await;
        }

        let mut tasks = core.take_tasks();
        let drained = tokio::time::timeout_at(deadline, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        // Anything still held was never settled: queued messages are released, running ones abandoned.
        drop(core.groups.drain());
        let mut abandoned = 0;
        let mut leases = Vec::new();
        for (_, tracked) in core.registry.drain() {
            match tracked.phase {
                Phase::Queued => {
                    let item = SettleItem {
                        receipt: tracked.receipt,
                        message_id: tracked.message_id,
                        visibility: Duration::ZERO,
                        kind: SettleKind::ReleasedUnstarted,
                        payload: None,
                    };
                    if !core.visibility.push(item) {
                        bump(&core.counters.settle_failures);
                    }
                }
                Phase::Running | Phase::Settling => {
                    abandoned += 1;
                    bump(&core.counters.abandoned);
                    tracing::warn!(
                        message_id = %tracked.message_id,
                        "handler still running at the shutdown deadline; the message will be redelivered"
                    );
                    leases.extend(tracked.lease);
                }
            }
        }
        heartbeat::abandon_leases(&core, leases).await;
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }

        let settle_deadline = Instant::now() + core.config.settle_timeout;
        let (unacked, unchanged) =
            tokio::join!(core.acks.close(settle_deadline), core.visibility.close(settle_deadline));
        let stats = core.counters.snapshot();
        ShutdownReport {
            completed: stats.completed,
            released: stats.released_unstarted,
            abandoned,
            unsettled: unacked + unchanged,
            stats,
            error: core.health.failure(),
        }
    }
}

impl Drop for RunningConsumer {
    fn drop(&mut self) {
        for poller in &self.pollers {
            poller.abort();
        }
        if let Some(heartbeat) = &self.heartbeat {
            heartbeat.abort();
        }
        self.core.abort_tasks();
    }
}
