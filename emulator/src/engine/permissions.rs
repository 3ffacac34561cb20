//! AddPermission and RemovePermission: statements in the queue's `Policy`, as AWS maintains them.

use super::Engine;
use crate::documents::{self, PermissionError};
use crate::error::{ErrorCode, SqsError};

/// The actions AddPermission may grant (`SendMessage`, `DeleteMessage` and `ChangeMessageVisibility` also
/// cover their batch forms), plus `*`.
const GRANTABLE_ACTIONS: [&str; 9] = [
    "*",
    "SendMessage",
    "ReceiveMessage",
    "DeleteMessage",
    "ChangeMessageVisibility",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "PurgeQueue",
];
const MAX_ACTIONS_PER_STATEMENT: usize = 7;

impl Engine {
    /// Adds a permission statement labelled `label` to the queue's policy.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `MissingParameter` for an empty label, account list or action list;
    /// `InvalidParameterValue` for a bad or duplicate label, account id or action; `OverLimit` for more than 7
    /// actions.
    pub fn add_permission(
        &self,
        queue_url: &str,
        label: &str,
        account_ids: &[String],
        actions: &[String],
    ) -> Result<(), SqsError> {
        self.check_storage()?;
        let queue = self.queue(queue_url)?;
        validate_label(label)?;
        if account_ids.is_empty() {
            // As AWS words it (moto's AWS-verified `add_permission`): the principal list is checked, not missing.
            return Err(SqsError::invalid_parameter_value("PrincipalId", "[]", "Unable to verify."));
        }
        if actions.is_empty() {
            return Err(SqsError::missing_parameter("Actions"));
        }
        if let Some(bad) = account_ids.iter().find(|id| id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit())) {
            return Err(SqsError::invalid_parameter_value("PrincipalId", bad, "Unable to verify."));
        }
        if let Some(bad) = actions.iter().find(|action| !GRANTABLE_ACTIONS.contains(&action.as_str())) {
            // An SQS action only the owner may call (DeleteQueue, SetQueueAttributes, AddPermission, ...) is
            // refused as AWS words it (moto's AWS-verified `add_permission`); a name that is no SQS action at all
            // points at the action list.
            return Err(if bad.parse::<crate::action::Action>().is_ok() {
                SqsError::invalid_parameter_value(
                    "ActionName",
                    format!("SQS:{bad}"),
                    "Only the queue owner is allowed to invoke this action.",
                )
            } else {
                SqsError::invalid_parameter_value(
                    "ActionName",
                    bad,
                    "Please refer to the appropriate WSDL for a list of valid actions.",
                )
            });
        }
        if actions.len() > MAX_ACTIONS_PER_STATEMENT {
            return Err(SqsError::new(
                ErrorCode::OverLimit,
                format!("{} Actions were found, maximum allowed is {MAX_ACTIONS_PER_STATEMENT}.", actions.len()),
            ));
        }
        let now = self.now();
        let mut state = queue.lock();
        let policy =
            documents::add_permission(state.settings.policy.as_deref(), &queue.arn, label, account_ids, actions)
                .map_err(|_: PermissionError| SqsError::invalid_parameter_value("Label", label, "Already exists."))?;
        state.settings.policy = Some(policy);
        state.last_modified_at = now;
        state.record_metadata();
        Ok(())
    }

    /// Removes the permission statement labelled `label`.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `MissingParameter` for an empty label; `InvalidParameterValue` when no statement
    /// has that label.
    pub fn remove_permission(&self, queue_url: &str, label: &str) -> Result<(), SqsError> {
        self.check_storage()?;
        let queue = self.queue(queue_url)?;
        if label.is_empty() {
            return Err(SqsError::missing_parameter("Label"));
        }
        let now = self.now();
        let mut state = queue.lock();
        let policy = documents::remove_permission(state.settings.policy.as_deref(), label)
            .map_err(|_| SqsError::invalid_parameter_value("Label", label, "can't find label on existing policy."))?;
        state.settings.policy = policy;
        state.last_modified_at = now;
        state.record_metadata();
        Ok(())
    }
}

fn validate_label(label: &str) -> Result<(), SqsError> {
    if label.is_empty() {
        return Err(SqsError::missing_parameter("Label"));
    }
    let valid = label.len() <= 80 && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(SqsError::invalid_parameter_value(
            "Label",
            label,
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length.",
        ))
    }
}
