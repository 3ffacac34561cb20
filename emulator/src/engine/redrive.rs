//! Dead-letter queues: moving messages that passed `maxReceiveCount` and finding the sources of a dead-letter
//! queue (SPEC.md §13). Redriving them back is `move_tasks.rs`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::listing::QueueListing;
use super::region::parse_queue_arn;
use super::stored::StoredMessage;
use super::{Engine, Queue};
use crate::error::SqsError;

/// A dead-letter queue that admits a source's messages, and the receive count past which they move.
pub(crate) struct DeadLetterTarget {
    queue: Arc<Queue>,
    max_receive_count: u32,
}

impl DeadLetterTarget {
    /// The source's `maxReceiveCount`.
    pub(crate) fn max_receive_count(&self) -> u32 {
        self.max_receive_count
    }
}

impl Engine {
    /// Finds a queue by ARN (`arn:<partition>:sqs:<region>:<account>:<name>`), in whatever region it names;
    /// `None` when the ARN is not one of this endpoint's queues.
    pub(super) fn queue_by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        let (region, account, name) = parse_queue_arn(arn)?;
        self.queue_at(region, account, name)
    }

    /// Finds a queue by ARN in this handle's region only: a request to one regional endpoint sees no queue of
    /// another region, whatever ARN it names.
    pub(super) fn queue_by_arn_here(&self, arn: &str) -> Option<Arc<Queue>> {
        self.queue_by_arn(arn).filter(|queue| queue.region == *self.region)
    }

    /// Where messages of `source` that pass `maxReceiveCount` go now, and that count: the redrive policy's
    /// dead-letter queue if it still exists, is not `source` itself, and its `RedriveAllowPolicy` still admits
    /// `source`. SQS checks both when the policy is set; the dead-letter queue may have been deleted or have
    /// narrowed its `RedriveAllowPolicy` since, and then nothing moves: the message stays where it is, in its
    /// FIFO group's order, and is delivered again, as with no redrive policy (docs/aws-behaviour.md).
    ///
    /// Takes `source`'s lock and then the target's, one after the other, never both: a receive calls this
    /// before it locks `source`, so two queues that name each other cannot deadlock.
    pub(crate) fn dead_letter_target(&self, source: &Queue) -> Option<DeadLetterTarget> {
        let (target_arn, max_receive_count) = {
            let state = source.lock();
            let policy = state.settings.redrive_policy.as_ref()?;
            (policy.dead_letter_target_arn.clone(), u32::try_from(policy.max_receive_count).unwrap_or(u32::MAX))
        };
        let queue = self.queue_by_arn(&target_arn).filter(|target| target.uid != source.uid)?;
        let admitted =
            queue.lock().settings.redrive_allow_policy.as_ref().is_none_or(|allow| allow.allows(&source.arn));
        admitted.then_some(DeadLetterTarget { queue, max_receive_count })
    }

    /// Moves messages that passed `maxReceiveCount` from `source` to `target` (from
    /// [`Engine::dead_letter_target`]). They keep their id, body, attributes, send time and receive count and
    /// gain `DeadLetterQueueSourceArn`; in a FIFO dead-letter queue their retention restarts and their
    /// deduplication id becomes their message id. If the dead-letter queue was deleted after it was looked up
    /// (a race with `DeleteQueue`), they go back to the source, visible, behind its other messages.
    ///
    /// The caller removed the messages from `source` inside an atomic group ([`Engine::atomic`]) that is still
    /// open, so the removal and the insertion reach the disk in one transaction.
    pub(crate) fn move_to_dead_letter_queue(
        &self,
        source: &Queue,
        target: &DeadLetterTarget,
        messages: Vec<StoredMessage>,
    ) {
        let now = self.now();
        let target = &target.queue;
        let mut state = target.lock();
        if target.deleted.load(Ordering::Acquire) {
            drop(state);
            let mut state = source.lock();
            for message in messages {
                state.enqueue(Box::new(message), Duration::ZERO, now);
            }
            drop(state);
            source.notify.notify_waiters();
            return;
        }
        state.tick(now);
        let fifo = state.fifo.is_some();
        for mut message in messages {
            let message_id = message.message_id();
            let extra = message.extra_mut();
            extra.dead_letter_source_arn = Some(source.arn.clone());
            if fifo {
                extra.deduplication_id = Some(message_id);
                message.retention_start = now;
            }
            state.enqueue(Box::new(message), Duration::ZERO, now);
        }
        drop(state);
        target.notify.notify_waiters();
    }

    /// The queues whose redrive policy names this queue as their dead-letter queue, paged like ListQueues.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `InvalidParameterValue` for `max_results` outside 1..=1000 or a bad token.
    pub fn list_dead_letter_source_queues(
        &self,
        queue_url: &str,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> Result<QueueListing, SqsError> {
        let target = self.queue(queue_url)?;
        let sources: Vec<String> = {
            let queues = self.shared.queues.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            // A dead-letter queue's sources are in its own account and region.
            queues
                .of(&target.region, &target.account)
                .filter(|queue| {
                    queue
                        .lock()
                        .settings
                        .redrive_policy
                        .as_ref()
                        .is_some_and(|p| p.dead_letter_target_arn == target.arn)
                })
                .map(|queue| queue.name.clone())
                .collect()
        };
        let mut listing = super::listing::page(sources.into_iter(), max_results, next_token)?;
        listing.account.clone_from(&target.account);
        Ok(listing)
    }
}
