//! Cross-account authorization: whether a caller from one account may act on a queue another account owns.
//! The queue's `Policy` decides (evaluated by [`crate::documents::policy_allows`]); the owner always may.

use super::Engine;
use crate::documents;
use crate::error::{ErrorCode, SqsError};

/// Actions that only the owning account may perform: AWS documents "cross-account permissions don't apply to
/// this action" for each, whatever the queue's policy says.
const OWNER_ONLY_ACTIONS: [&str; 12] = [
    "AddPermission",
    "RemovePermission",
    "CreateQueue",
    "DeleteQueue",
    "ListQueues",
    "ListQueueTags",
    "SetQueueAttributes",
    "TagQueue",
    "UntagQueue",
    "StartMessageMoveTask",
    "ListMessageMoveTasks",
    "CancelMessageMoveTask",
];

impl Engine {
    /// Checks that `caller_account` may perform `action` (an SQS action name) on the queue at `queue_url`: the
    /// owning account always may; another account only when the queue's policy allows it for that action.
    ///
    /// # Errors
    /// `QueueDoesNotExist` for a queue that does not exist; `AccessDenied` (AWS's wording, naming the queue URL
    /// as given) otherwise.
    pub fn authorize(&self, caller_account: &str, action: &str, queue_url: &str) -> Result<(), SqsError> {
        let (owner, name) = self.queue_location(queue_url)?;
        if owner == caller_account {
            return Ok(());
        }
        let queue = self.queue_in(owner, name)?;
        let allowed = !OWNER_ONLY_ACTIONS.contains(&action)
            && queue
                .lock()
                .settings
                .policy
                .as_deref()
                .is_some_and(|policy| documents::policy_allows(policy, caller_account, action));
        if allowed { Ok(()) } else { Err(access_denied(queue_url)) }
    }
}

/// `AccessDenied` as SQS words it for a queue the caller may not use.
pub fn access_denied(queue_url: &str) -> SqsError {
    SqsError::new(ErrorCode::AccessDeniedException, format!("Access to the resource {queue_url} is denied."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_may_and_others_only_with_a_grant() {
        let engine = Engine::default();
        engine.create_queue_in("111122223333", "q", &[], &[]).expect("created");
        let url = engine.queue_url_in("http://localhost", "111122223333", "q");

        assert!(engine.authorize("111122223333", "DeleteQueue", &url).is_ok());
        let denied = engine.authorize("444455556666", "SendMessage", &url).unwrap_err();
        assert_eq!(denied.code, ErrorCode::AccessDeniedException);
        assert_eq!(denied.message, format!("Access to the resource {url} is denied."));

        engine.add_permission(&url, "send", &["444455556666".to_owned()], &["*".to_owned()]).expect("granted");
        assert!(engine.authorize("444455556666", "SendMessageBatch", &url).is_ok());
        assert!(engine.authorize("444455556666", "DeleteQueue", &url).is_err(), "owner-only action");
        let missing = engine.queue_url_in("http://localhost", "111122223333", "missing");
        assert_eq!(
            engine.authorize("444455556666", "SendMessage", &missing).unwrap_err().code,
            ErrorCode::QueueDoesNotExist
        );
    }
}
