//! CloudWatch-like numbers of each queue: counters of sends, receives, deletes and empty receives (bumped by
//! the message operations), and [`Engine::queue_metrics`], a snapshot of every queue with its depth and the
//! age of its oldest message. Plain numbers only: exposition formats live outside the engine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::Engine;
use super::queue::MessageCounts;

/// Counters of one queue, with the meanings of SQS's CloudWatch metrics of the same names.
/// They start at zero when the queue is created (or the emulator restarts), like any Prometheus counter.
#[derive(Debug, Default)]
pub(crate) struct QueueCounters {
    /// `NumberOfMessagesSent`: messages stored by SendMessage(Batch); FIFO duplicates and dead-letter moves
    /// are not sends.
    sent: AtomicU64,
    /// `NumberOfMessagesReceived`: messages returned by receives.
    received: AtomicU64,
    /// `NumberOfMessagesDeleted`: successful deletions with a valid receipt handle, including repeated ones
    /// (AWS counts those too).
    deleted: AtomicU64,
    /// `NumberOfEmptyReceives`: receive calls that returned no message.
    empty_receives: AtomicU64,
}

impl QueueCounters {
    pub(crate) fn add_sent(&self, messages: u64) {
        self.sent.fetch_add(messages, Ordering::Relaxed);
    }

    /// Counts one finished receive call that returned `messages` messages.
    pub(crate) fn add_receive(&self, messages: usize) {
        if messages == 0 {
            self.empty_receives.fetch_add(1, Ordering::Relaxed);
        } else {
            self.received.fetch_add(messages as u64, Ordering::Relaxed);
        }
    }

    pub(crate) fn add_deleted(&self) {
        self.deleted.fetch_add(1, Ordering::Relaxed);
    }
}

/// One queue's numbers at one moment, as [`Engine::queue_metrics`] reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMetrics {
    /// The queue's region.
    pub region: String,
    /// The owning account.
    pub account: String,
    /// The queue name.
    pub name: String,
    /// The queue ARN.
    pub arn: String,
    /// Whether it is a FIFO queue.
    pub fifo: bool,
    /// `ApproximateNumberOfMessages{,NotVisible,Delayed}`.
    pub counts: MessageCounts,
    /// `ApproximateAgeOfOldestMessage`: time since the oldest stored message was enqueued (for a message a
    /// redrive policy moved here: its original send, except in FIFO dead-letter queues); `None` when empty.
    pub age_of_oldest_message: Option<Duration>,
    /// `NumberOfMessagesSent`.
    pub messages_sent: u64,
    /// `NumberOfMessagesReceived`.
    pub messages_received: u64,
    /// `NumberOfMessagesDeleted`.
    pub messages_deleted: u64,
    /// `NumberOfEmptyReceives`.
    pub empty_receives: u64,
    /// The dead-letter queue named by the queue's redrive policy.
    pub dead_letter_target_arn: Option<String>,
}

impl Engine {
    /// Every queue's metrics (of every region and account), by region, account, then name. Due transitions are applied first, as any request would.
    pub fn queue_metrics(&self) -> Vec<QueueMetrics> {
        let queues: Vec<_> = {
            let queues = self.shared.queues.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            queues.values().cloned().collect()
        };
        let now = self.now();
        queues
            .into_iter()
            .map(|queue| {
                let (fifo, counts, oldest, dead_letter_target_arn) = {
                    let mut state = queue.lock();
                    state.tick(now);
                    let target = state.settings.redrive_policy.as_ref().map(|p| p.dead_letter_target_arn.clone());
                    (state.settings.fifo_queue, state.counts(), state.oldest_enqueued_at(), target)
                };
                let counters = &queue.counters;
                QueueMetrics {
                    region: queue.region.clone(),
                    account: queue.account.clone(),
                    name: queue.name.clone(),
                    arn: queue.arn.clone(),
                    fifo,
                    counts,
                    age_of_oldest_message: oldest.map(|at| now.saturating_since(at)),
                    messages_sent: counters.sent.load(Ordering::Relaxed),
                    messages_received: counters.received.load(Ordering::Relaxed),
                    messages_deleted: counters.deleted.load(Ordering::Relaxed),
                    empty_receives: counters.empty_receives.load(Ordering::Relaxed),
                    dead_letter_target_arn,
                }
            })
            .collect()
    }
}
