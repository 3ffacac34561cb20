//! Resetting the engine between tests: every queue of a scope deleted with its messages and move tasks, and
//! the 60-second block on their names lifted. Callers that declare queues (the configuration file) declare
//! them again afterwards.

use std::sync::Arc;

use super::{Engine, Queue, StorageEvent};

/// Which state a reset clears: everything, the queues of one account, of one region, or of one account in one
/// region. Built with [`ResetScope::everything`], [`ResetScope::account`] and [`ResetScope::in_region`];
/// `#[non_exhaustive]` so that further narrowing can join without breaking callers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResetScope {
    /// Only the queues this account owns; `None` for every account.
    pub account: Option<String>,
    /// Only the queues of this region; `None` for every region.
    pub region: Option<String>,
}

impl ResetScope {
    /// Every queue of every account.
    pub fn everything() -> Self {
        Self::default()
    }

    /// The queues `account` owns, in every region.
    pub fn account(account: impl Into<String>) -> Self {
        Self { account: Some(account.into()), region: None }
    }

    /// Narrows the scope to the queues of `region`.
    #[must_use]
    pub fn in_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Whether a queue of `region` owned by `account` is in the scope.
    pub fn covers(&self, region: &str, account: &str) -> bool {
        self.account.as_deref().is_none_or(|scope| scope == account)
            && self.region.as_deref().is_none_or(|scope| scope == region)
    }
}

impl Engine {
    /// Deletes every queue in `scope` with its messages (durably, in durable mode), cancels and forgets their
    /// message move tasks, and lifts the 60-second `QueueDeletedRecently` block on names in the scope. Returns
    /// how many queues were deleted.
    ///
    /// Requests running at the same time see each queue either before or after its deletion, as with
    /// `DeleteQueue`; long polls on a deleted queue end.
    pub fn reset(&self, scope: &ResetScope) -> usize {
        let doomed: Vec<Arc<Queue>> = {
            let queues = self.shared.queues.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            queues.values().filter(|queue| scope.covers(&queue.region, &queue.account)).cloned().collect()
        };
        let arns: Vec<String> = doomed.iter().map(|queue| queue.arn.clone()).collect();
        self.shared.move_tasks.forget_sources(&arns);
        if let Some(sink) = &self.shared.sink {
            // After every state of theirs that was stored (forget_sources stopped any more).
            sink.append(arns.iter().map(|arn| StorageEvent::MoveTasksForgotten { source_arn: arn.clone() }).collect());
        }
        let mut deleted = 0;
        for queue in &doomed {
            // A queue deleted concurrently is simply gone already.
            let in_its_region = self.in_region(&queue.region);
            if in_its_region.delete_queue(&format!("{}/{}", queue.account, queue.name)).is_ok() {
                deleted += 1;
            }
        }
        let mut blocked = self.shared.recently_deleted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        blocked.retain(|(region, account, _), _| !scope.covers(region, account));
        deleted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SendMessageInput;

    #[test]
    fn reset_deletes_the_scope_only_and_unblocks_its_names() {
        let engine = Engine::default();
        engine.create_queue("a", &[], &[]).unwrap();
        engine.create_queue_in("111111111111", "b", &[], &[]).unwrap();
        engine.send_message("a", SendMessageInput::with_body("x")).unwrap();
        engine.delete_queue("a").unwrap();
        engine.create_queue("c", &[], &[]).unwrap();
        assert_eq!(engine.reset(&ResetScope::account("000000000000")), 1);
        assert!(engine.get_queue_url("c", None).is_err());
        assert!(engine.get_queue_url_in("111111111111", "b", None).is_ok());
        // The names of the scope are free again at once; another account's are not touched.
        engine.create_queue("a", &[], &[]).unwrap();
        engine.create_queue("c", &[], &[]).unwrap();
        assert_eq!(engine.stored_message_bytes(), 0);
        assert_eq!(engine.reset(&ResetScope::everything()), 3);
        assert!(engine.queue_metrics().is_empty());
    }

    #[test]
    fn reset_of_one_region_leaves_the_others() {
        let engine = Engine::default();
        let ireland = engine.in_region("eu-west-1");
        engine.create_queue("a", &[], &[]).unwrap();
        ireland.create_queue("a", &[], &[]).unwrap();
        ireland.create_queue_in("111111111111", "b", &[], &[]).unwrap();
        ireland.delete_queue("a").unwrap();
        ireland.create_queue("c", &[], &[]).unwrap();

        assert_eq!(engine.reset(&ResetScope::account("000000000000").in_region("eu-west-1")), 1);

        assert!(engine.get_queue_url("a", None).is_ok(), "us-east-1 untouched");
        assert!(ireland.get_queue_url_in("111111111111", "b", None).is_ok(), "another account untouched");
        assert!(ireland.get_queue_url("c", None).is_err());
        ireland.create_queue("a", &[], &[]).expect("the name is free again at once");
        assert_eq!(engine.reset(&ResetScope::everything().in_region("eu-west-1")), 2);
        assert!(engine.get_queue_url("a", None).is_ok());
    }
}
