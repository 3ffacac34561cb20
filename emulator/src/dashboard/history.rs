//! Depth history for the dashboard's charts: a bounded series of samples per queue, taken every few seconds
//! of real time by a background task and stamped with the engine's clock, so the charts follow virtual time
//! when a test moves a manual clock.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, QueueMetrics, Timestamp};

/// How often the background task samples every queue (real time).
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);
/// How much history the charts show (engine time).
pub const WINDOW: Duration = Duration::from_secs(600);
/// The most samples kept per queue: a full window at [`SAMPLE_INTERVAL`], with room for extra samples.
const MAX_SAMPLES: usize = 2 * (WINDOW.as_secs() / SAMPLE_INTERVAL.as_secs()) as usize;

/// One queue's depth at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// When (engine time).
    pub at: Timestamp,
    /// Visible messages.
    pub visible: u64,
    /// In-flight messages.
    pub in_flight: u64,
}

/// The recent depth of every queue.
#[derive(Debug, Default)]
pub struct DepthHistory {
    series: Mutex<BTreeMap<String, VecDeque<Sample>>>,
}

impl DepthHistory {
    /// Samples every queue of `engine` now.
    pub fn sample(&self, engine: &Engine) {
        self.record(engine.clock().now(), &engine.queue_metrics());
    }

    /// Adds one sample per queue at `now`. A sample at the same instant as the previous one replaces it (a
    /// stopped manual clock keeps one point, the latest); samples older than [`WINDOW`], samples "after" `now`
    /// (a clock set back) and queues that no longer exist are dropped.
    pub fn record(&self, now: Timestamp, queues: &[QueueMetrics]) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        series.retain(|arn, _| queues.iter().any(|queue| queue.arn == *arn));
        for queue in queues {
            let samples = series.entry(queue.arn.clone()).or_default();
            let sample =
                Sample { at: now, visible: queue.counts.visible as u64, in_flight: queue.counts.in_flight as u64 };
            while samples.back().is_some_and(|last| last.at >= now) {
                samples.pop_back();
            }
            samples.push_back(sample);
            while samples.front().is_some_and(|first| first.at + WINDOW < now) || samples.len() > MAX_SAMPLES {
                samples.pop_front();
            }
        }
    }

    /// The samples of one queue (by ARN: queues of one name in several regions or accounts are several
    /// queues), oldest first.
    pub fn series(&self, arn: &str) -> Vec<Sample> {
        let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        series.get(arn).map(|samples| samples.iter().copied().collect()).unwrap_or_default()
    }

    /// The samples of every queue, by ARN, oldest first.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<Sample>> {
        let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        series.iter().map(|(name, samples)| (name.clone(), samples.iter().copied().collect())).collect()
    }
}

/// Samples `engine` into `history` every [`SAMPLE_INTERVAL`] until `stop` is cancelled.
pub async fn run_sampler(history: Arc<DepthHistory>, engine: Engine, stop: CancellationToken) {
    let mut interval = tokio::time::interval(SAMPLE_INTERVAL);
    interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = interval.tick() => history.sample(&engine),
            () = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::MessageCounts;

    fn queue(name: &str, visible: usize) -> QueueMetrics {
        QueueMetrics {
            region: "us-east-1".to_owned(),
            account: "000000000000".to_owned(),
            name: name.to_owned(),
            arn: format!("arn:aws:sqs:us-east-1:000000000000:{name}"),
            fifo: false,
            counts: MessageCounts { visible, in_flight: 0, delayed: 0 },
            age_of_oldest_message: None,
            messages_sent: 0,
            messages_received: 0,
            messages_deleted: 0,
            empty_receives: 0,
            dead_letter_target_arn: None,
        }
    }

    fn visible_of(history: &DepthHistory, name: &str) -> Vec<(u64, u64)> {
        history.snapshot()[&format!("arn:aws:sqs:us-east-1:000000000000:{name}")]
            .iter()
            .map(|s| (s.at.as_millis() / 1000, s.visible))
            .collect()
    }

    #[test]
    fn keeps_a_window_and_replaces_samples_at_the_same_instant() {
        let history = DepthHistory::default();

        history.record(Timestamp::from_millis(0), &[queue("a", 1)]);
        history.record(Timestamp::from_millis(5_000), &[queue("a", 2)]);
        history.record(Timestamp::from_millis(5_000), &[queue("a", 3)]);
        history.record(Timestamp::from_millis(604_000), &[queue("a", 4)]);

        assert_eq!(visible_of(&history, "a"), vec![(5, 3), (604, 4)]);
    }

    #[test]
    fn forgets_deleted_queues_and_a_clock_set_back() {
        let history = DepthHistory::default();

        history.record(Timestamp::from_millis(10_000), &[queue("a", 1), queue("b", 1)]);
        history.record(Timestamp::from_millis(20_000), &[queue("a", 2)]);
        history.record(Timestamp::from_millis(15_000), &[queue("a", 3)]);

        assert!(!history.snapshot().contains_key("b"));
        assert_eq!(visible_of(&history, "a"), vec![(10, 1), (15, 3)]);
    }
}
