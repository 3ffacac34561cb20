//! The request schedule of a soak run: one slot sequence shared by every connection, so that the total rate is
//! what `--rate` asks for whatever each connection's latency, and nothing is issued after the deadline.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

// Tokio's clock, not std's: it is the one `sleep_until` follows, and tests can pause it.
use tokio::time::Instant;

/// Tokio's timer has a resolution of one millisecond, so a sleep until a slot closer than that would oversleep
/// by up to a millisecond and cost its connection that much per request; such a slot is taken at once instead.
/// Slots are still handed out one period apart, so the average rate is unchanged; only the spacing within a
/// millisecond is lost.
const TIMER_SLACK: Duration = Duration::from_millis(1);

/// How far the schedule may fall behind and still be caught up with. On a shared machine the server (or the load
/// generator) is descheduled for milliseconds at a time, blocking every connection at once; without catching up,
/// each such stall would lower the achieved rate. A longer stall is forgiven: the schedule resumes from now.
const MAX_CATCH_UP: Duration = Duration::from_millis(100);

/// Hands out request slots at a fixed rate (or at once, without a rate) until a deadline.
///
/// Slots that passed while every connection was busy are caught up with, in a burst, for up to 100 ms:
/// over any window longer than that the achieved rate is the target whenever the server keeps up, and never more.
/// Latency is measured from a request's send, not from its slot.
#[derive(Debug)]
pub struct Pacer {
    period: Option<Duration>,
    deadline: Instant,
    next: Mutex<Instant>,
}

impl Pacer {
    /// A pacer of `rate` requests per second in total (`None`, zero or an unrepresentable rate: no limit) that
    /// refuses slots from `deadline` on.
    pub fn new(rate: Option<f64>, deadline: std::time::Instant) -> Self {
        let period = rate.filter(|rate| *rate > 0.0).and_then(|rate| Duration::try_from_secs_f64(1.0 / rate).ok());
        Self { period, deadline: Instant::from_std(deadline), next: Mutex::new(Instant::now()) }
    }

    /// Whether the run is over.
    pub fn is_over(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Waits for the caller's next slot; `false` once the run is over.
    pub async fn wait_turn(&self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        let Some(period) = self.period else {
            return true;
        };
        let slot = {
            // The lock is never held across an await, and the guarded value is always a valid instant.
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let slot = (*next).max(now.checked_sub(MAX_CATCH_UP).unwrap_or(now));
            *next = slot + period;
            slot
        };
        if slot >= self.deadline {
            return false;
        }
        if slot >= now + TIMER_SLACK {
            tokio::time::sleep_until(slot).await;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_follow_the_rate_and_stop_at_the_deadline() {
        let start = Instant::now();
        let pacer = Pacer::new(Some(100.0), (start + Duration::from_millis(95)).into_std());

        let mut granted = 0;
        while pacer.wait_turn().await {
            granted += 1;
        }

        assert_eq!(granted, 10, "slots at 0, 10, ..., 90 ms");
        assert!(Instant::now() >= start + Duration::from_millis(90));
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_stall_is_made_up_for_at_most_the_catch_up_window() {
        let start = Instant::now();
        let pacer = Pacer::new(Some(100.0), (start + Duration::from_secs(10)).into_std());
        assert!(pacer.wait_turn().await);

        tokio::time::advance(Duration::from_millis(500)).await;
        let resumed = Instant::now();
        let mut immediate = 0;
        while Instant::now() == resumed {
            assert!(pacer.wait_turn().await);
            immediate += 1;
        }

        // The slots of the last 100 ms (10 of them, plus the one due now) at once, then one per period again.
        assert_eq!(immediate, 12, "the twelfth slot waits");
        assert_eq!(Instant::now(), resumed + Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn rates_above_the_timer_resolution_are_kept_on_average() {
        let start = Instant::now();
        let pacer = Pacer::new(Some(10_000.0), (start + Duration::from_secs(1)).into_std());

        let mut granted = 0;
        while Instant::now() < start + Duration::from_millis(100) {
            assert!(pacer.wait_turn().await);
            granted += 1;
        }

        assert!((1000..=1010).contains(&granted), "{granted} slots in 100 ms at 10,000/s");
    }

    #[tokio::test]
    async fn without_a_rate_every_slot_is_immediate() {
        let start = Instant::now();
        let pacer = Pacer::new(None, (start + Duration::from_secs(60)).into_std());

        for _ in 0..1000 {
            assert!(pacer.wait_turn().await);
        }

        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(!pacer.is_over());
    }
}
