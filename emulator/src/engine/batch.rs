//! Rules shared by SendMessageBatch, DeleteMessageBatch and ChangeMessageVisibilityBatch: the checks that fail
//! a whole request (SPEC.md §14), and the per-entry result type.

use crate::error::{ErrorCode, SqsError};

/// At most this many entries per batch.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// At most this many message bytes (bodies and attributes) per SendMessageBatch.
pub const MAX_BATCH_PAYLOAD: usize = 1_048_576;
const MAX_ENTRY_ID_LEN: usize = 80;

/// One entry of a batch request: the caller's id and the entry's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry<T> {
    /// The entry id, unique within the request.
    pub id: String,
    /// The entry's input.
    pub input: T,
}

/// One entry's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResult<T> {
    /// The entry id from the request.
    pub id: String,
    /// What happened to it.
    pub result: Result<T, SqsError>,
}

/// Checks the entry count, the id format and the id uniqueness (the whole-request rules of every batch).
/// `entry_kind` names the entry type in the `EmptyBatchRequest` text (e.g. `SendMessageBatchRequestEntry`).
///
/// # Errors
/// `EmptyBatchRequest`, `TooManyEntriesInBatchRequest`, `InvalidBatchEntryId`, `BatchEntryIdsNotDistinct`.
pub fn validate_entries<T>(entries: &[BatchEntry<T>], entry_kind: &str) -> Result<(), SqsError> {
    if entries.is_empty() {
        return Err(SqsError::new(
            ErrorCode::EmptyBatchRequest,
            format!("There should be at least one {entry_kind} in the request."),
        ));
    }
    if entries.len() > MAX_BATCH_ENTRIES {
        return Err(SqsError::new(
            ErrorCode::TooManyEntriesInBatchRequest,
            format!("Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {}.", entries.len()),
        ));
    }
    let valid_id = |id: &str| {
        !id.is_empty()
            && id.len() <= MAX_ENTRY_ID_LEN
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if entries.iter().any(|entry| !valid_id(&entry.id)) {
        return Err(SqsError::new(
            ErrorCode::InvalidBatchEntryId,
            "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most \
             80 letters long.",
        ));
    }
    // At most ten entries: comparing each id with the earlier ones is cheaper than hashing them all.
    let repeated = entries.iter().enumerate().find(|(at, entry)| entries[..*at].iter().any(|e| e.id == entry.id));
    if let Some((_, repeated)) = repeated {
        return Err(SqsError::new(ErrorCode::BatchEntryIdsNotDistinct, format!("Id {} repeated.", repeated.id)));
    }
    Ok(())
}

/// Checks the total payload of a SendMessageBatch.
pub fn validate_payload(total_bytes: usize) -> Result<(), SqsError> {
    if total_bytes > MAX_BATCH_PAYLOAD {
        return Err(SqsError::new(
            ErrorCode::BatchRequestTooLong,
            format!(
                "Batch requests cannot be longer than {MAX_BATCH_PAYLOAD} bytes. You have sent {total_bytes} bytes."
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(ids: &[&str]) -> Vec<BatchEntry<()>> {
        ids.iter().map(|id| BatchEntry { id: (*id).to_owned(), input: () }).collect()
    }

    #[test]
    fn whole_request_rules() {
        let code = |ids: &[&str]| validate_entries(&entries(ids), "E").err().map(|e| e.code);

        assert_eq!(code(&[]), Some(ErrorCode::EmptyBatchRequest));
        assert_eq!(code(&["a"; 11]), Some(ErrorCode::TooManyEntriesInBatchRequest));
        assert_eq!(code(&["a", "b c"]), Some(ErrorCode::InvalidBatchEntryId));
        assert_eq!(code(&["a", "b", "a"]), Some(ErrorCode::BatchEntryIdsNotDistinct));
        assert_eq!(code(&["a", "b-1", "c_2"]), None);
        assert_eq!(validate_payload(MAX_BATCH_PAYLOAD + 1).unwrap_err().code, ErrorCode::BatchRequestTooLong);
    }
}
