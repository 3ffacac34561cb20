//! Throttling-aware flow control: an AIMD (additive increase, multiplicative decrease) limit on how many
//! requests a producer keeps in flight and how many receive loops a consumer keeps active.
//!
//! SQS answers a request over its rate with a throttling error (`RequestThrottled`: "Exceeds the permitted
//! request rate for the queue or for the recipient of the request"; KMS's `KmsThrottled` for encrypted
//! queues; the SDKs' generic `ThrottlingException`; see
//! <https://docs.aws.amazon.com/botocore/latest/reference/services/sqs/client/exceptions/RequestThrottled.html>
//! and [`Error::is_throttling`](crate::Error::is_throttling)). Retrying such a request at the same
//! concurrency only keeps the rate above the quota; the rules below bring it down to what the queue accepts
//! and back up when throttling stops, like TCP's congestion window:
//!
//! - **Multiplicative decrease**: a throttled answer multiplies the limit by [`AimdConfig::decrease`]
//!   (default 0.5, rounded down), never below 1. Throttled answers within [`AimdConfig::cooldown`] of a
//!   decrease (default 1 s) do not decrease it again: the requests that were in flight together are answered
//!   together, and one overload must cost one halving, not one per request.
//! - **Additive increase**: every `limit` successful answers in a row (one "round" at the current limit) add
//!   1, never above the configured maximum (the producer's
//!   [`max_in_flight`](crate::ProducerBuilder::max_in_flight), the consumer's
//!   [`pollers`](crate::ConsumerBuilder::pollers)). A throttled answer starts the count again.
//!
//! The limit starts at the maximum: a client that is never throttled behaves as if there were no flow
//! control. Other errors (5xx, timeouts) leave the limit alone: they are retried under the
//! [`RetryPolicy`](crate::retry::RetryPolicy) and its budget as before.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// The rules of an [`AimdLimit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AimdConfig {
    /// The ceiling, and the starting value.
    pub max: usize,
    /// What a throttled answer multiplies the limit by (default 0.5; kept within `0.0..1.0`).
    pub decrease: f64,
    /// After a decrease, how long further throttled answers are taken as echoes of the same overload
    /// (default 1 s).
    pub cooldown: Duration,
}

impl AimdConfig {
    /// The default rules (halve on throttling, 1 s cooldown) with this ceiling (at least 1).
    pub fn new(max: usize) -> Self {
        Self { max: max.max(1), decrease: 0.5, cooldown: Duration::from_secs(1) }
    }
}

#[derive(Debug)]
struct State {
    limit: usize,
    /// Successes since the last change.
    successes: usize,
    last_decrease: Option<Instant>,
}

/// A shared AIMD concurrency limit (clones share it). See the [module documentation](self) for the rules.
#[derive(Debug, Clone)]
pub struct AimdLimit {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: AimdConfig,
    state: Mutex<State>,
    current: watch::Sender<usize>,
    throttled: AtomicU64,
}

impl AimdLimit {
    /// A limit at `config.max`.
    pub fn new(config: AimdConfig) -> Self {
        let config = AimdConfig { max: config.max.max(1), ..config };
        let state = State { limit: config.max, successes: 0, last_decrease: None };
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(state),
                current: watch::Sender::new(config.max),
                throttled: AtomicU64::new(0),
            }),
        }
    }

    /// The limit now (between 1 and the maximum).
    pub fn current(&self) -> usize {
        *self.inner.current.borrow()
    }

    /// The ceiling.
    pub fn max(&self) -> usize {
        self.inner.config.max
    }

    /// Throttled answers seen so far (each one, including those within a cooldown).
    pub fn throttled(&self) -> u64 {
        self.inner.throttled.load(Ordering::Relaxed)
    }

    /// Follows changes of the limit (for a task that waits until it may run again).
    pub(crate) fn subscribe(&self) -> watch::Receiver<usize> {
        self.inner.current.subscribe()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is two integers and an instant, consistent after every statement: a poisoned lock is usable.
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a throttled answer at `now`; returns the new limit.
    pub fn on_throttled(&self, now: Instant) -> usize {
        self.inner.throttled.fetch_add(1, Ordering::Relaxed);
        let config = self.inner.config;
        let mut state = self.state();
        state.successes = 0;
        let echo = state.last_decrease.is_some_and(|at| now.saturating_duration_since(at) < config.cooldown);
        if !echo {
            let decrease = if (0.0..1.0).contains(&config.decrease) { config.decrease } else { 0.5 };
            // `limit` is at most the configured maximum, far below 2^52: the conversions are exact.
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let reduced = (state.limit as f64 * decrease).floor() as usize;
            state.limit = reduced.max(1);
            state.last_decrease = Some(now);
            self.inner.current.send_replace(state.limit);
        }
        state.limit
    }

    /// Records a successful answer; returns the new limit.
    pub fn on_success(&self) -> usize {
        let mut state = self.state();
        state.successes += 1;
        if state.successes >= state.limit {
            state.successes = 0;
            if state.limit < self.inner.config.max {
                state.limit += 1;
                self.inner.current.send_replace(state.limit);
            }
        }
        state.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max: usize) -> AimdLimit {
        AimdLimit::new(AimdConfig::new(max))
    }

    #[tokio::test(start_paused = true)]
    async fn starts_at_the_maximum_and_halves_on_throttling_down_to_one() {
        let aimd = limit(16);
        assert_eq!(aimd.current(), 16);
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(aimd.on_throttled(Instant::now()));
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert_eq!(seen, [8, 4, 2, 1, 1, 1], "halved once per cooldown, floor 1");
        assert_eq!(aimd.throttled(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_answers_within_the_cooldown_count_once() {
        let aimd = limit(16);
        assert_eq!(aimd.on_throttled(Instant::now()), 8);
        tokio::time::advance(Duration::from_millis(999)).await;
        for _ in 0..7 {
            assert_eq!(aimd.on_throttled(Instant::now()), 8, "echoes of the same overload");
        }
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(aimd.on_throttled(Instant::now()), 4, "a new overload after the cooldown");
    }

    #[tokio::test(start_paused = true)]
    async fn successes_add_one_per_round_up_to_the_maximum() {
        let aimd = limit(6);
        aimd.on_throttled(Instant::now());
        tokio::time::advance(Duration::from_secs(2)).await;
        aimd.on_throttled(Instant::now());
        assert_eq!(aimd.current(), 1);
        let mut limits = Vec::new();
        for _ in 0..30 {
            limits.push(aimd.on_success());
        }
        // A round is `limit` successes: 1, 2, 3, 4, 5 successes raise it to 2, 3, 4, 5, 6.
        assert_eq!(&limits[..6], [2, 2, 3, 3, 3, 4]);
        assert_eq!(limits.iter().position(|&l| l == 6), Some(14), "1+2+3+4+5 successes to recover");
        assert_eq!(aimd.current(), 6, "never above the maximum");
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_answer_restarts_the_round() {
        let aimd = limit(4);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(aimd.on_throttled(Instant::now()), 2);
        aimd.on_success();
        tokio::time::advance(Duration::from_millis(10)).await;
        aimd.on_throttled(Instant::now()); // within the cooldown: no decrease, but the round restarts
        assert_eq!(aimd.on_success(), 2);
        assert_eq!(aimd.on_success(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn subscribers_see_every_change() {
        let aimd = limit(2);
        let mut changes = aimd.subscribe();
        aimd.on_throttled(Instant::now());
        assert!(changes.has_changed().expect("open"));
        assert_eq!(*changes.borrow_and_update(), 1);
        aimd.on_success();
        assert_eq!(*changes.borrow_and_update(), 2);
        assert_eq!(AimdLimit::new(AimdConfig::new(0)).current(), 1, "a zero ceiling means 1");
    }
}
