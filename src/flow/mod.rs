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
//!   (default 0.5, rounded down), never below 1. A throttled answer to a request sent before the last
//!   decrease does not decrease it again: the requests that were in flight together are answered together,
//!   and one overload must cost one halving, not one per request (TCP's one decrease per round trip).
//! - **Additive increase**: every `limit` successful answers in a row (one "round" at the current limit) add
//!   1, never above the configured maximum (the producer's
//!   [`max_in_flight`](crate::ProducerBuilder::max_in_flight), the consumer's
//!   [`pollers`](crate::ConsumerBuilder::pollers)). A throttled answer starts the count again.
//!
//! The limit starts at the maximum: a client that is never throttled behaves as if there were no flow
//! control. Other errors (5xx, timeouts) leave the limit alone: they are retried under the
//! [`RetryPolicy`](crate::retry::RetryPolicy) and its budget as before. Throttled requests are retried with
//! the policy's backoff and within its time and attempt limits, but draw nothing from its
//! [`RetryBudget`](crate::retry::RetryBudget): the budget stops retry storms against a failing service,
//! while a throttling service is answered by slowing down, and a spent budget would fail every message
//! of a burst at once (measured in BENCHMARKS.md, "Throttling (issue #18)").
//!
//! The limit counts requests in flight, so its floor is one request per round trip: where a round trip is
//! much shorter than the quota's period allows (a local emulator answers in about 1 ms, a FIFO queue allows
//! 300 calls per second), the producer also paces the requests it starts with a [`RatePacer`] (its
//! documentation has the rules); the consumer's pollers wait at least the retry backoff after a throttled receive.

mod pace;

pub use pace::{PaceConfig, RatePacer};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::watch;
use tokio::time::Instant;

/// The rules of an [`AimdLimit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AimdConfig {
    /// The ceiling, and the starting value.
    pub max: usize,
    /// What a throttled answer multiplies the limit by (default 0.5; a value outside `0.0..1.0` means 0.5).
    pub decrease: f64,
}

impl AimdConfig {
    /// The default rules (halve on throttling) with this ceiling (at least 1).
    pub fn new(max: usize) -> Self {
        Self { max: max.max(1), decrease: 0.5 }
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

    /// Throttled answers seen so far (each one, including those that did not decrease the limit).
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

    /// Records a throttled answer, at `now`, to a request sent at `sent_at`; returns the new limit.
    pub fn on_throttled(&self, sent_at: Instant, now: Instant) -> usize {
        self.inner.throttled.fetch_add(1, Ordering::Relaxed);
        let config = self.inner.config;
        let mut state = self.state();
        state.successes = 0;
        let echo = state.last_decrease.is_some_and(|at| sent_at < at);
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
    use std::time::Duration;

    use super::*;

    fn limit(max: usize) -> AimdLimit {
        AimdLimit::new(AimdConfig::new(max))
    }

    /// A throttled answer to a request sent now and answered 10 ms later.
    async fn throttle(aimd: &AimdLimit) -> usize {
        let sent_at = Instant::now();
        tokio::time::advance(Duration::from_millis(10)).await;
        aimd.on_throttled(sent_at, Instant::now())
    }

    #[tokio::test(start_paused = true)]
    async fn starts_at_the_maximum_and_halves_on_throttling_down_to_one() {
        let aimd = limit(16);
        assert_eq!(aimd.current(), 16);
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(throttle(&aimd).await);
        }
        assert_eq!(seen, [8, 4, 2, 1, 1, 1], "halved once per throttled round trip, floor 1");
        assert_eq!(aimd.throttled(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_sent_before_a_decrease_do_not_decrease_it_again() {
        let aimd = limit(16);
        let together = Instant::now();
        tokio::time::advance(Duration::from_millis(10)).await;
        assert_eq!(aimd.on_throttled(together, Instant::now()), 8);
        for _ in 0..7 {
            tokio::time::advance(Duration::from_millis(1)).await;
            assert_eq!(aimd.on_throttled(together, Instant::now()), 8, "echoes of the same overload");
        }
        assert_eq!(throttle(&aimd).await, 4, "a request sent after the decrease: a new overload");
        assert_eq!(aimd.throttled(), 9);
    }

    #[tokio::test(start_paused = true)]
    async fn successes_add_one_per_round_up_to_the_maximum() {
        let aimd = limit(6);
        throttle(&aimd).await;
        throttle(&aimd).await;
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
        let early = Instant::now();
        assert_eq!(throttle(&aimd).await, 2);
        aimd.on_success();
        aimd.on_throttled(early, Instant::now()); // an echo: no decrease, but the round restarts
        assert_eq!(aimd.on_success(), 2);
        assert_eq!(aimd.on_success(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn subscribers_see_every_change() {
        let aimd = limit(2);
        let mut changes = aimd.subscribe();
        throttle(&aimd).await;
        assert!(changes.has_changed().expect("open"));
        assert_eq!(*changes.borrow_and_update(), 1);
        aimd.on_success();
        assert_eq!(*changes.borrow_and_update(), 2);
        assert_eq!(AimdLimit::new(AimdConfig::new(0)).current(), 1, "a zero ceiling means 1");
        let odd = AimdLimit::new(AimdConfig { max: 10, decrease: 7.0 });
        assert_eq!(throttle(&odd).await, 5, "an out-of-range factor halves");
    }
}
