//! sqskit's one retry policy: exponential backoff with full jitter, bounded by a maximum elapsed time (and
//! optionally an attempt count), and throttled by a shared [`RetryBudget`].
//!
//! What is retryable is decided by [`Error::is_retryable`](crate::Error::is_retryable) alone; this module only
//! decides *when* and *whether there is still room* to try again. Backends never retry on their own.
//!
//! Why a budget and not only a count (tower's `retry::budget` makes the same argument): a fixed count per
//! request multiplies load by that count exactly when the service is struggling. The budget is a token bucket
//! shared by every request of a producer: a retry costs tokens, a successful request refunds one, so
//! a persistently failing service quickly stops being retried at all while occasional failures always are.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use crate::error::{Error, Result};

/// How retry delays are randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// A uniformly random delay between zero and the exponential cap ("full jitter"): spreads the retries of
    /// many clients that failed together.
    #[default]
    Full,
    /// Exactly the exponential cap; for tests that measure time.
    None,
}

/// When to retry a retryable failure.
///
/// The delay before retry `n` (counting from 1) is drawn from `0..=min(max_backoff, initial_backoff * 2^(n-1))`
/// (full jitter). A retry is made only while the total time since the first attempt stays within
/// `max_elapsed`, the attempt count within `max_attempts` (if set), and the [`RetryBudget`] has tokens.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use sqskit::retry::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .initial_backoff(Duration::from_millis(20))
///     .max_backoff(Duration::from_secs(1))
///     .max_elapsed(Duration::from_secs(10));
/// assert!(policy.backoff(3) <= Duration::from_millis(80));
/// ```
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    initial_backoff: Duration,
    max_backoff: Duration,
    max_elapsed: Duration,
    max_attempts: Option<u32>,
    jitter: Jitter,
    budget: Option<RetryBudget>,
}

impl Default for RetryPolicy {
    /// 50 ms initial backoff, 5 s cap, 30 s maximum elapsed time, no attempt limit, full jitter and a fresh
    /// [`RetryBudget::default`].
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(30),
            max_attempts: None,
            jitter: Jitter::Full,
            budget: Some(RetryBudget::default()),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries: the first failure is final.
    pub fn never() -> Self {
        Self { max_attempts: Some(1), budget: None, ..Self::default() }
    }

    /// The cap of the first retry's delay.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The largest delay between two attempts.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// The longest time from the first attempt to the start of the last retry.
    pub fn max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.max_elapsed = max_elapsed;
        self
    }

    /// An additional limit on attempts (the first attempt counts); `None` for no limit.
    pub fn max_attempts(mut self, max_attempts: Option<u32>) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// How delays are randomised.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The budget retries draw from; `None` for no budget. Clones of a policy share its budget.
    pub fn budget(mut self, budget: Option<RetryBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// The exponential cap for retry number `retry` (1 for the first retry).
    fn cap(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// The delay before retry number `retry` (1 for the first retry), with jitter applied.
    pub fn backoff(&self, retry: u32) -> Duration {
        let cap = self.cap(retry);
        match self.jitter {
            Jitter::None => cap,
            Jitter::Full => {
                let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
                Duration::from_nanos(rand::rng().random_range(0..=nanos))
            }
        }
    }

    /// The delay before another attempt, after `attempts` attempts of which the first started `elapsed`
    /// ago; `None` when the attempt or time limits leave no room.
    pub(crate) fn next_delay(&self, attempts: u32, elapsed: Duration) -> Option<Duration> {
        if self.max_attempts.is_some_and(|max| attempts >= max) {
            return None;
        }
        let delay = self.backoff(attempts);
        (elapsed + delay <= self.max_elapsed).then_some(delay)
    }

    /// Runs `operation` until it succeeds, fails with an error that is not
    /// [retryable](crate::Error::is_retryable), or this policy leaves no room for another attempt; returns
    /// the success or the last error.
    ///
    /// Between attempts it sleeps [`RetryPolicy::backoff`] on Tokio's clock (so paused-time tests control
    /// it), within `max_elapsed` and `max_attempts`, and each retry draws from the policy's
    /// [`RetryBudget`] like any other retried request (a success refunds it). Use it for one-off calls such
    /// as a program's start-up (`GetQueueUrl`, `CreateQueue`, `GetQueueAttributes`), so that one throttled
    /// answer does not stop the program while a missing queue or a denied permission still does, at once.
    ///
    /// # Errors
    /// The operation's last error: a non-retryable one as soon as it happens, a retryable one when the
    /// policy's limits or budget are exhausted.
    ///
    /// # Examples
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    /// use sqskit::retry::RetryPolicy;
    /// use sqskit::{Error, Fault};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Error> {
    /// let calls = AtomicU32::new(0);
    /// let url = RetryPolicy::default()
    ///     .retry(|| async {
    ///         if calls.fetch_add(1, Ordering::Relaxed) < 2 {
    ///             return Err(Error::service("RequestThrottled", "Rate exceeded", None, Some(Fault::Sender)));
    ///         }
    ///         Ok("https://sqs.eu-west-1.amazonaws.com/123456789012/orders")
    ///     })
    ///     .await?;
    /// assert_eq!(calls.load(Ordering::Relaxed), 3, "two throttled answers, then the URL");
    /// # Ok(()) }
    /// ```
    pub async fn retry<T, F, Fut>(&self, mut operation: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let started = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match operation().await {
                Ok(value) => {
                    self.deposit();
                    return Ok(value);
                }
                Err(error) => error,
            };
            if !error.is_retryable() {
                return Err(error);
            }
            let delay = self.next_delay(attempts, started.elapsed());
            match delay {
                Some(delay) if self.withdraw(matches!(error, Error::Timeout { .. })) => {
                    tracing::debug!(%error, attempts, ?delay, "retryable error; trying again after a backoff");
                    tokio::time::sleep(delay).await;
                }
                _ => return Err(error),
            }
        }
    }

    /// Takes the budget's cost of one retried request; `false` when the budget is exhausted.
    pub(crate) fn withdraw(&self, after_timeout: bool) -> bool {
        self.budget.as_ref().is_none_or(|budget| budget.try_withdraw(after_timeout))
    }

    /// Refunds the budget for one successful request.
    pub(crate) fn deposit(&self) {
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
    }
}

/// A token bucket limiting retries across all requests that share it (the AWS SDKs' "standard" retry quota).
///
/// A retried request costs 5 tokens (10 after a timeout); a successful request refunds 1, up to the capacity.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    inner: Arc<BudgetInner>,
}

#[derive(Debug)]
struct BudgetInner {
    capacity: u32,
    tokens: AtomicU32,
}

const RETRY_COST: u32 = 5;
const TIMEOUT_RETRY_COST: u32 = 10;

impl Default for RetryBudget {
    /// 500 tokens: 100 consecutive retries with no success in between.
    fn default() -> Self {
        Self::new(500)
    }
}

impl RetryBudget {
    /// A full budget of `capacity` tokens.
    pub fn new(capacity: u32) -> Self {
        Self { inner: Arc::new(BudgetInner { capacity, tokens: AtomicU32::new(capacity) }) }
    }

    /// Tokens left.
    pub fn available(&self) -> u32 {
        self.inner.tokens.load(Ordering::Relaxed)
    }

    fn try_withdraw(&self, after_timeout: bool) -> bool {
        let cost = if after_timeout { TIMEOUT_RETRY_COST } else { RETRY_COST };
        self.inner.tokens.fetch_update(Ordering::AcqRel, Ordering::Acquire, |tokens| tokens.checked_sub(cost)).is_ok()
    }

    fn deposit(&self) {
        let capacity = self.inner.capacity;
        let _ = self
            .inner
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tokens| (tokens < capacity).then_some(tokens + 1));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::error::Fault;

    fn throttled() -> Error {
        Error::service("RequestThrottled", "Rate exceeded", None, Some(Fault::Sender))
    }

    fn missing() -> Error {
        Error::service("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.", None, None)
    }

    /// Runs `policy.retry` over scripted answers (the last one repeats); returns the result, the number of
    /// attempts and the virtual time it took.
    async fn scripted(policy: &RetryPolicy, answers: Vec<Result<u32>>) -> (Result<u32>, usize, Duration) {
        let calls = Mutex::new(0usize);
        let started = Instant::now();
        let result = policy
            .retry(|| {
                let mut calls = calls.lock().expect("lock");
                let answer = answers[(*calls).min(answers.len() - 1)].clone();
                *calls += 1;
                async move { answer }
            })
            .await;
        let calls = *calls.lock().expect("lock");
        (result, calls, started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn retry_backs_off_over_retryable_errors_until_success() {
        let policy = RetryPolicy::default().initial_backoff(Duration::from_millis(100)).jitter(Jitter::None);
        let (result, calls, took) = scripted(&policy, vec![Err(throttled()), Err(throttled()), Ok(7)]).await;
        assert_eq!(result.expect("succeeds"), 7);
        assert_eq!(calls, 3);
        assert_eq!(took, Duration::from_millis(300), "100 ms, then 200 ms");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_stops_at_once_on_a_non_retryable_error() {
        let policy = RetryPolicy::default();
        let (result, calls, took) = scripted(&policy, vec![Err(throttled()), Err(missing()), Ok(1)]).await;
        let error = result.expect_err("a missing queue is final");
        assert_eq!(error.code(), Some(&crate::ServiceErrorCode::QueueDoesNotExist));
        assert_eq!(calls, 2);
        assert!(took <= Duration::from_millis(50), "one backoff, at most the initial one: {took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_gives_up_within_the_policy_limits_and_budget() {
        let policy = RetryPolicy::default()
            .initial_backoff(Duration::from_secs(1))
            .max_backoff(Duration::from_secs(4))
            .max_elapsed(Duration::from_secs(20))
            .jitter(Jitter::None)
            .budget(None);
        let (result, calls, took) = scripted(&policy, vec![Err(throttled())]).await;
        assert!(result.expect_err("always throttled").is_retryable());
        // Delays 1, 2, 4, 4, 4, 4 s: the next 4 s would end after 20 s.
        assert_eq!((calls, took), (7, Duration::from_secs(19)));

        let budget = RetryBudget::new(10); // two retries
        let policy = RetryPolicy::default().jitter(Jitter::None).budget(Some(budget.clone()));
        let (result, calls, _) = scripted(&policy, vec![Err(throttled())]).await;
        assert!(result.is_err());
        assert_eq!((calls, budget.available()), (3, 0));
        let (result, calls, _) = scripted(&policy, vec![Ok(1)]).await;
        assert_eq!((result.expect("succeeds"), calls, budget.available()), (1, 1, 1), "a success refunds");
    }

    #[test]
    fn full_jitter_stays_under_the_exponential_cap() {
        let policy =
            RetryPolicy::default().initial_backoff(Duration::from_millis(10)).max_backoff(Duration::from_millis(50));
        for _ in 0..200 {
            assert!(policy.backoff(1) <= Duration::from_millis(10));
            assert!(policy.backoff(2) <= Duration::from_millis(20));
            assert!(policy.backoff(10) <= Duration::from_millis(50));
        }
    }

    #[test]
    fn no_jitter_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(10))
            .max_backoff(Duration::from_millis(50))
            .jitter(Jitter::None);
        let delays: Vec<u128> = (1..=5).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(delays, [10, 20, 40, 50, 50]);
    }

    #[test]
    fn limits_stop_retries() {
        let policy = RetryPolicy::default()
            .initial_backoff(Duration::from_millis(100))
            .jitter(Jitter::None)
            .max_elapsed(Duration::from_millis(250))
            .max_attempts(Some(3));
        assert_eq!(policy.next_delay(1, Duration::ZERO), Some(Duration::from_millis(100)));
        assert_eq!(policy.next_delay(2, Duration::from_millis(100)), None, "100 + 200 > 250");
        assert_eq!(policy.next_delay(3, Duration::ZERO), None, "attempt limit");
        assert_eq!(RetryPolicy::never().next_delay(1, Duration::ZERO), None);
    }

    #[test]
    fn budget_drains_and_refills() {
        let budget = RetryBudget::new(12);
        assert!(budget.try_withdraw(false));
        assert!(budget.try_withdraw(false));
        assert!(!budget.try_withdraw(false), "2 tokens left, a retry costs 5");
        for _ in 0..20 {
            budget.deposit();
        }
        assert_eq!(budget.available(), 12, "refills stop at capacity");
        assert!(budget.try_withdraw(true));
        assert!(!budget.try_withdraw(true));
    }
}
