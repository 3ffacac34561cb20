//! The numeric limits and the id rules that the message operations share, checked on inputs as the protocols
//! decoded them (raw integers, optional members).

use crate::error::SqsError;

/// The longest `DelaySeconds` (15 minutes).
pub(super) const MAX_DELAY_SECONDS: i64 = 900;
/// The most messages one receive returns.
pub(super) const MAX_RECEIVE_MESSAGES: i64 = 10;
/// The longest long poll.
pub(super) const MAX_WAIT_SECONDS: i64 = 20;
/// The longest `VisibilityTimeout` (12 hours).
pub(super) const MAX_VISIBILITY_SECONDS: i64 = 43_200;

/// An optional integer parameter checked against `min..=max`, as `u64`.
pub(super) fn range_checked(name: &str, value: Option<i64>, min: i64, max: i64) -> Result<Option<u64>, SqsError> {
    match value {
        None => Ok(None),
        Some(v) if (min..=max).contains(&v) => Ok(Some(v as u64)),
        Some(v) => Err(SqsError::out_of_range(name, v, min, max)),
    }
}

/// The error for a parameter the queue's type does not take (FIFO: `DelaySeconds` per message; standard:
/// `MessageDeduplicationId`).
pub(super) fn not_for_this_queue_type(name: &str, value: impl std::fmt::Display) -> SqsError {
    SqsError::invalid_parameter_value(
        name,
        value,
        "The request include parameter that is not valid for this queue type.",
    )
}

/// Checks ids such as `MessageGroupId`: 1..=128 characters of alphanumerics and ASCII punctuation.
pub(super) fn validate_message_id_text(name: &str, value: &str) -> Result<(), SqsError> {
    let valid = !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(())
    } else {
        Err(SqsError::invalid_parameter_value(
            name,
            value,
            &format!("{name} can only include alphanumeric and punctuation characters. 1 to 128 in length."),
        ))
    }
}
