//! Where the engine's time comes from: [`SystemClock`] in production, [`ManualClock`] in tests.
//!
//! Every timestamp the engine stores or returns, and every wait it performs (long polls), goes through a
//! [`Clock`], so tests can move time forward instead of sleeping.

use std::fmt;
use std::future::Future;
use std::ops::{Add, Sub};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time as milliseconds since the Unix epoch (SQS's own resolution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// A timestamp from milliseconds since the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the epoch (SQS's `SentTimestamp` unit).
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds since the epoch (SQS's `CreatedTimestamp` unit).
    pub const fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    /// The time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Duration) -> Timestamp {
        let millis = u64::try_from(rhs.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(millis))
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, rhs: Duration) -> Timestamp {
        let millis = u64::try_from(rhs.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_sub(millis))
    }
}

/// A future that completes when a clock reaches a deadline.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of time for the engine.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;

    /// A future that completes once [`Clock::now`] has reached `deadline`.
    fn sleep_until(&self, deadline: Timestamp) -> Sleep;

    /// The clock as a [`ManualClock`], when it is one (so the admin API can move it).
    fn as_manual(&self) -> Option<&ManualClock> {
        None
    }
}

/// The wall clock, with tokio timers for waiting.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }

    fn sleep_until(&self, deadline: Timestamp) -> Sleep {
        let wait = deadline.saturating_since(self.now());
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A virtual clock that moves only when told to; clones share one time.
///
/// Waiting long polls and other sleepers wake as soon as [`ManualClock::advance`] or [`ManualClock::set`]
/// carries the time past their deadline.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<tokio::sync::watch::Sender<Timestamp>>,
}

impl ManualClock {
    /// A manual clock starting at the current wall-clock time.
    pub fn new() -> Self {
        Self::starting_at(SystemClock.now())
    }

    /// A manual clock starting at `start`.
    pub fn starting_at(start: Timestamp) -> Self {
        Self { now: Arc::new(tokio::sync::watch::Sender::new(start)) }
    }

    /// Moves time forward by `by`, waking every sleeper whose deadline has passed.
    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|now| *now = *now + by);
    }

    /// Sets the time to `to` (which may be in the past), waking every sleeper whose deadline has passed.
    pub fn set(&self, to: Timestamp) {
        self.now.send_replace(to);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.borrow()
    }

    fn as_manual(&self) -> Option<&ManualClock> {
        Some(self)
    }

    fn sleep_until(&self, deadline: Timestamp) -> Sleep {
        let mut changes = self.now.subscribe();
        Box::pin(async move {
            // wait_for checks the current value first, so a deadline already reached completes at once.
            // It errs only when the sender is gone; the clock then never moves again, so sleep forever.
            if changes.wait_for(|now| *now >= deadline).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_sleep_completes_only_after_advance() {
        let clock = ManualClock::starting_at(Timestamp::from_millis(1_000));
        let sleep = clock.sleep_until(Timestamp::from_millis(3_000));
        let handle = tokio::spawn(sleep);
        tokio::task::yield_now().await;
        assert!(!handle.is_finished());

        clock.advance(Duration::from_secs(2));

        tokio::time::timeout(Duration::from_secs(1), handle).await.expect("sleep woke").expect("task ran");
        assert_eq!(clock.now().as_millis(), 3_000);
    }
}
