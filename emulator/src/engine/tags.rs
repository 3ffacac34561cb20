//! Queue tags: TagQueue, UntagQueue, ListQueueTags and the rules for keys and values.

use std::collections::BTreeMap;

use super::Engine;
use crate::error::SqsError;

const MAX_TAGS: usize = 50;

impl Engine {
    /// Adds or overwrites tags.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `MissingParameter` for no tags; `InvalidParameterValue` for bad keys or values or
    /// more than 50 tags.
    pub fn tag_queue(&self, queue_url: &str, tags: &[(String, String)]) -> Result<(), SqsError> {
        self.check_storage()?;
        let queue = self.queue(queue_url)?;
        if tags.is_empty() {
            return Err(SqsError::missing_parameter("Tags"));
        }
        let mut state = queue.lock();
        state.tags = validate_tags(&queue.name, state.tags.clone(), tags)?;
        state.record_metadata();
        Ok(())
    }

    /// Removes tags; unknown keys are ignored.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `InvalidParameterValue` for no keys or an empty or over-long key.
    pub fn untag_queue(&self, queue_url: &str, keys: &[String]) -> Result<(), SqsError> {
        self.check_storage()?;
        let queue = self.queue(queue_url)?;
        if keys.is_empty() || keys.iter().any(|key| key.is_empty() || key.chars().count() > 128) {
            return Err(SqsError::invalid_parameter("Tag keys must be between 1 and 128 characters in length."));
        }
        let mut state = queue.lock();
        for key in keys {
            state.tags.remove(key);
        }
        state.record_metadata();
        Ok(())
    }

    /// The queue's tags.
    ///
    /// # Errors
    /// `QueueDoesNotExist`.
    pub fn list_queue_tags(&self, queue_url: &str) -> Result<BTreeMap<String, String>, SqsError> {
        Ok(self.queue(queue_url)?.lock().tags.clone())
    }
}

/// Adds `tags` to `current` after checking keys, values and the 50-tag limit.
pub(super) fn validate_tags(
    queue_name: &str,
    mut current: BTreeMap<String, String>,
    tags: &[(String, String)],
) -> Result<BTreeMap<String, String>, SqsError> {
    for (key, value) in tags {
        let key_len = key.chars().count();
        if key_len == 0 || key_len > 128 {
            return Err(SqsError::invalid_parameter("Tag keys must be between 1 and 128 characters in length."));
        }
        if value.chars().count() > 256 {
            return Err(SqsError::invalid_parameter("Tag values may not be longer than 256 characters."));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(SqsError::invalid_parameter("Tag keys must not start with the reserved prefix aws:."));
        }
        current.insert(key.clone(), value.clone());
    }
    if current.len() > MAX_TAGS {
        return Err(SqsError::invalid_parameter(format!("Too many tags added for queue {queue_name}.")));
    }
    Ok(current)
}
