//! What a running consumer reports about itself: [`ConsumerHealth`] (for readiness probes), the
//! [`ConsumerErrorEvent`]s given to the [`on_error`](super::ConsumerBuilder::on_error) hook, and the rule
//! that stops a consumer whose queue has become unusable.
//!
//! # When a consumer stops by itself
//! A receive that fails with an error saying the queue cannot be used as configured
//! ([`Error::is_queue_unusable`]: the queue does not exist or was deleted, access is denied, the credentials
//! are invalid or expired, the queue's KMS key cannot be used) is counted. When
//! [`stop_after_receive_failures`](super::ConsumerBuilder::stop_after_receive_failures) such failures follow
//! each other (across all pollers; any successful receive, or any other kind of failure, ends the streak),
//! the consumer stops polling and records an [`Error::ConsumerStopped`]:
//! [`RunningConsumer::failed`](super::RunningConsumer::failed) completes with it,
//! [`health`](super::RunningConsumer::health) reports it, the [`ShutdownReport`](super::ShutdownReport)
//! carries it and [`Consumer::run_until`](super::Consumer::run_until) returns it. Every other receive failure
//! (throttling, 5xx, timeouts, dropped connections) is retried with backoff forever, reported to the hook
//! and counted in the health's consecutive failures.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::Error;

/// The default of [`ConsumerBuilder::stop_after_receive_failures`](super::ConsumerBuilder::stop_after_receive_failures).
pub const DEFAULT_STOP_AFTER_RECEIVE_FAILURES: u32 = 10;

/// Which of the consumer's own requests failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConsumerOperation {
    /// A `ReceiveMessage` request (the poller pauses with backoff, then polls again).
    Receive,
    /// An acknowledgement (`DeleteMessageBatch`) that finally failed: the message will be redelivered.
    Delete,
    /// A retry, release or deferral (`ChangeMessageVisibilityBatch`) that finally failed.
    ChangeVisibility,
    /// A visibility heartbeat request (the heartbeat tries again after a backoff).
    Heartbeat,
}

impl ConsumerOperation {
    /// A stable name for logs and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            ConsumerOperation::Receive => "receive",
            ConsumerOperation::Delete => "delete",
            ConsumerOperation::ChangeVisibility => "change_visibility",
            ConsumerOperation::Heartbeat => "heartbeat",
        }
    }
}

impl fmt::Display for ConsumerOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the [`on_error`](super::ConsumerBuilder::on_error) hook is told: one failed request of the
/// consumer's own (never a handler's error, which its [`Outcome`](super::Outcome) settles).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConsumerErrorEvent {
    /// The queue's URL.
    pub queue_url: String,
    /// Which request failed.
    pub operation: ConsumerOperation,
    /// The error.
    pub error: Error,
    /// For receives: how many receives in a row have failed, this one included (0 for other operations).
    pub consecutive_failures: u32,
}

type HookFn = dyn Fn(&ConsumerErrorEvent) + Send + Sync;

/// The `on_error` hook: a cheap, shareable callback.
#[derive(Clone, Default)]
pub(crate) struct ErrorHook(Option<Arc<HookFn>>);

impl ErrorHook {
    pub(crate) fn new(hook: impl Fn(&ConsumerErrorEvent) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(hook)))
    }

    /// Calls the hook, if one is set.
    pub(crate) fn call(&self, queue_url: &str, operation: ConsumerOperation, error: &Error, consecutive: u32) {
        if let Some(hook) = &self.0 {
            hook(&ConsumerErrorEvent {
                queue_url: queue_url.to_owned(),
                operation,
                error: error.clone(),
                consecutive_failures: consecutive,
            });
        }
    }
}

impl fmt::Debug for ErrorHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "ErrorHook(set)" } else { "ErrorHook(none)" })
    }
}

/// Where a consumer is in its life.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConsumerState {
    /// Polling and handling messages.
    Running,
    /// [`shutdown`](super::RunningConsumer::shutdown) began (or finished).
    ShuttingDown,
    /// Stopped by itself on an error it cannot recover from (an [`Error::ConsumerStopped`]); call
    /// [`shutdown`](super::RunningConsumer::shutdown) to settle what it still holds.
    Failed(Error),
}

/// A snapshot of a running consumer's health, from [`RunningConsumer::health`](super::RunningConsumer::health)
/// or a [`HealthCheck`]: what a readiness or liveness endpoint needs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConsumerHealth {
    /// Running, shutting down, or failed (with the error).
    pub state: ConsumerState,
    /// When a `ReceiveMessage` request last succeeded (with or without messages), on Tokio's clock; `None`
    /// before the first one. With long polling an idle consumer still succeeds every wait time (20 s by
    /// default), so a readiness check can also require this to be recent.
    pub last_receive: Option<Instant>,
    /// Receives that failed in a row, across all pollers (0 after any successful receive).
    pub consecutive_receive_failures: u32,
    /// The error of the last failed receive, kept until a receive succeeds.
    pub last_receive_error: Option<Error>,
    /// Messages held right now (received and not yet settled).
    pub in_flight: usize,
}

impl ConsumerHealth {
    /// Whether the consumer is running and its last receive succeeded (or none failed yet): the usual
    /// readiness answer. A consumer being throttled is not ready until a receive succeeds again.
    pub fn is_ready(&self) -> bool {
        matches!(self.state, ConsumerState::Running) && self.consecutive_receive_failures == 0
    }
}

#[derive(Debug, Default)]
struct Receives {
    last_success: Option<Instant>,
    consecutive_failures: u32,
    /// Consecutive failures that all said the queue is unusable.
    unusable_streak: u32,
    last_error: Option<Error>,
}

/// The receive health a running consumer's pollers update, and its failure once it stopped by itself.
#[derive(Debug)]
pub(crate) struct Health {
    receives: Mutex<Receives>,
    failure: watch::Sender<Option<Error>>,
}

impl Default for Health {
    fn default() -> Self {
        Self { receives: Mutex::default(), failure: watch::Sender::new(None) }
    }
}

/// What the poller should do after a failed receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// Pause with backoff, then poll again.
    Retry {
        /// Receives failed in a row (this one included).
        consecutive: u32,
    },
    /// The consumer stops.
    Stop {
        /// Receives that failed in a row with an unusable-queue error (this one included).
        consecutive: u32,
    },
}

impl Health {
    // Plain counters: a poisoned lock still holds usable values.
    fn receives(&self) -> MutexGuard<'_, Receives> {
        self.receives.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn receive_succeeded(&self) {
        let mut receives = self.receives();
        receives.last_success = Some(Instant::now());
        receives.consecutive_failures = 0;
        receives.unusable_streak = 0;
        receives.last_error = None;
    }

    /// Records a failed receive; says to stop once `stop_after` failures in a row said the queue is unusable
    /// (the poller then reports the failure and calls [`Health::stop`]).
    pub(crate) fn receive_failed(&self, error: &Error, stop_after: u32) -> AfterFailure {
        let mut receives = self.receives();
        receives.consecutive_failures = receives.consecutive_failures.saturating_add(1);
        receives.unusable_streak =
            if error.is_queue_unusable() { receives.unusable_streak.saturating_add(1) } else { 0 };
        receives.last_error = Some(error.clone());
        let consecutive = receives.consecutive_failures;
        if receives.unusable_streak < stop_after {
            AfterFailure::Retry { consecutive }
        } else {
            AfterFailure::Stop { consecutive: receives.unusable_streak }
        }
    }

    /// Records the error the consumer stops on (the first one wins): `failures` receives of `queue_url`
    /// failed in a row, the last with `error`.
    pub(crate) fn stop(&self, queue_url: &str, failures: u32, error: &Error) {
        self.failure.send_if_modified(|failure| {
            if failure.is_some() {
                return false;
            }
            *failure = Some(Error::ConsumerStopped {
                queue_url: queue_url.to_owned(),
                failures,
                source: Box::new(error.clone()),
            });
            true
        });
    }

    /// The error the consumer stopped on, if it did.
    pub(crate) fn failure(&self) -> Option<Error> {
        self.failure.borrow().clone()
    }

    /// Completes with the error once the consumer stopped by itself (never otherwise).
    pub(crate) async fn failed(&self) -> Error {
        let mut failure = self.failure.subscribe();
        loop {
            if let Some(error) = failure.borrow_and_update().clone() {
                return error;
            }
            if failure.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    pub(crate) fn snapshot(&self, stopping: bool, in_flight: usize) -> ConsumerHealth {
        let state = match self.failure() {
            Some(error) => ConsumerState::Failed(error),
            None if stopping => ConsumerState::ShuttingDown,
            None => ConsumerState::Running,
        };
        let receives = self.receives();
        ConsumerHealth {
            state,
            last_receive: receives.last_success,
            consecutive_receive_failures: receives.consecutive_failures,
            last_receive_error: receives.last_error.clone(),
            in_flight,
        }
    }
}

/// A cheap, cloneable handle on a running consumer's health, for a readiness endpoint that lives apart from
/// the [`RunningConsumer`](super::RunningConsumer) (from [`RunningConsumer::health_check`](super::RunningConsumer::health_check)).
/// It keeps answering after the consumer was shut down (state [`ConsumerState::ShuttingDown`]).
#[derive(Debug, Clone)]
pub struct HealthCheck {
    pub(crate) core: Arc<super::core::Core>,
}

impl HealthCheck {
    /// The consumer's health right now.
    pub fn health(&self) -> ConsumerHealth {
        self.core.health()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing() -> Error {
        Error::service("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.", None, None)
    }

    fn throttled() -> Error {
        Error::service("RequestThrottled", "Rate exceeded", None, None)
    }

    #[tokio::test(start_paused = true)]
    async fn only_a_streak_of_unusable_queue_errors_stops() {
        let health = Health::default();
        assert_eq!(health.receive_failed(&missing(), 3), AfterFailure::Retry { consecutive: 1 });
        assert_eq!(health.receive_failed(&throttled(), 3), AfterFailure::Retry { consecutive: 2 });
        assert_eq!(health.receive_failed(&missing(), 3), AfterFailure::Retry { consecutive: 3 });
        assert_eq!(health.receive_failed(&missing(), 3), AfterFailure::Retry { consecutive: 4 });
        health.receive_succeeded();
        assert!(health.snapshot(false, 0).is_ready());
        for _ in 0..2 {
            assert!(matches!(health.receive_failed(&missing(), 3), AfterFailure::Retry { .. }));
        }
        assert!(!health.snapshot(false, 0).is_ready());
        assert_eq!(health.receive_failed(&missing(), 3), AfterFailure::Stop { consecutive: 3 });
        assert!(health.failure().is_none(), "recorded only by stop()");
        health.stop("q", 3, &missing());
        let error = health.failed().await;
        assert!(
            error.to_string().starts_with("the consumer of q stopped after 3 consecutive failed receives"),
            "{error}"
        );
        assert!(matches!(health.snapshot(true, 0).state, ConsumerState::Failed(_)));
    }
}
