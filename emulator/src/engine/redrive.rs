//! Dead-letter queues: moving messages that passed `maxReceiveCount` and finding the sources of a dead-letter
//! queue (SPEC.md §13). Redriving them back is `move_tasks.rs`.

use std::sync::Arc;
use std::time::Duration;

use super::listing::QueueListing;
use super::region::parse_queue_arn;
use super::stored::StoredMessage;
use super::{Engine, Queue};
use crate::error::SqsError;

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

    /// Moves messages that passed `maxReceiveCount` from `source` to its dead-letter queue. They keep their id,
    /// body, attributes, send time and receive count and gain `DeadLetterQueueSourceArn`; in a FIFO dead-letter
    /// queue their retention restarts and their deduplication id becomes their message id. If the dead-letter
    /// queue is gone they go back to the source, visible.
    ///
    /// The caller removed the messages from `source` inside an atomic group ([`Engine::atomic`]) that is still
    /// open, so the removal and the insertion reach the disk in one transaction.
    pub(crate) fn move_to_dead_letter_queue(&self, source: &Queue, messages: Vec<StoredMessage>) {
        let now = self.now();
        let target_arn =
            source.lock().settings.redrive_policy.as_ref().map(|policy| policy.dead_letter_target_arn.clone());
        let target = target_arn.as_deref().and_then(|arn| self.queue_by_arn(arn));
        let Some(target) = target.filter(|target| target.uid != source.uid) else {
            let mut state = source.lock();
            for message in messages {
                state.enqueue(Box::new(message), Duration::ZERO, now);
            }
            drop(state);
            source.notify.notify_waiters();
            return;
        };
        let mut state = target.lock();
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
