//! DeleteMessage, ChangeMessageVisibility and their batches: operations on messages by receipt handle.
//! Sending is `send.rs`, receiving `receive.rs`.

use std::time::Duration;

use super::batch::{self, BatchEntry, BatchResult};
use super::parameters::range_checked;
use super::queue::{DeleteOutcome, MAX_VISIBILITY};
use super::receipt::ReceiptHandle;
use super::{Engine, Queue};
use crate::error::SqsError;

impl Engine {
    /// Deletes a message by receipt handle. A stale handle of a standard queue succeeds without deleting.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `ReceiptHandleIsInvalid` for a handle this queue never issued.
    pub fn delete_message(&self, queue_url: &str, receipt_handle: &str) -> Result<(), SqsError> {
        self.check_storage()?;
        let queue = self.queue(queue_url)?;
        self.delete_from(&queue, receipt_handle)
    }

    fn delete_from(&self, queue: &Queue, receipt_handle: &str) -> Result<(), SqsError> {
        let handle = decode_handle(queue, receipt_handle)?;
        let now = self.now();
        let mut state = queue.lock();
        state.tick(now);
        let limit = self.shared.config.max_in_flight_messages;
        let was_at_quota = state.counts().in_flight >= limit;
        let outcome = state.delete(handle, receipt_handle)?;
        let unblocks_a_group = state.fifo.is_some() && outcome == DeleteOutcome::Deleted;
        let frees_quota = was_at_quota && state.counts().in_flight < limit;
        drop(state);
        queue.counters.add_deleted();
        if unblocks_a_group || frees_quota {
            // The next message of the group, or any message once the in-flight quota has room again, may be
            // received now: wake long polls that were waiting for it.
            queue.notify.notify_waiters();
        }
        Ok(())
    }

    /// Deletes up to ten messages; entries fail or succeed one by one.
    ///
    /// # Errors
    /// Whole-request failures as for [`Engine::send_message_batch`] (except the size check).
    pub fn delete_message_batch(
        &self,
        queue_url: &str,
        entries: Vec<BatchEntry<Option<String>>>,
    ) -> Result<Vec<BatchResult<()>>, SqsError> {
        self.check_storage()?;
        let queue = self.queue(queue_url)?;
        batch::validate_entries(&entries, "DeleteMessageBatchRequestEntry")?;
        Ok(entries
            .into_iter()
            .map(|entry| {
                let result = match entry.input {
                    Some(handle) => self.delete_from(&queue, &handle),
                    None => Err(SqsError::missing_parameter("ReceiptHandle")),
                };
                BatchResult { id: entry.id, result }
            })
            .collect())
    }

    /// Changes the visibility timeout of an in-flight message, counted from now.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `MissingParameter`; `ReceiptHandleIsInvalid`; `InvalidParameterValue` for an
    /// out-of-range timeout, a message not in flight, or a total beyond 12 hours.
    pub fn change_message_visibility(
        &self,
        queue_url: &str,
        receipt_handle: &str,
        visibility_timeout: Option<i64>,
    ) -> Result<(), SqsError> {
        let queue = self.queue(queue_url)?;
        self.change_visibility_in(&queue, receipt_handle, visibility_timeout)
    }

    fn change_visibility_in(
        &self,
        queue: &Queue,
        receipt_handle: &str,
        visibility_timeout: Option<i64>,
    ) -> Result<(), SqsError> {
        let seconds = visibility_timeout.ok_or_else(|| SqsError::missing_parameter("VisibilityTimeout"))?;
        let seconds =
            range_checked("VisibilityTimeout", Some(seconds), 0, MAX_VISIBILITY.as_secs() as i64)?.unwrap_or_default();
        let handle = decode_handle(queue, receipt_handle)?;
        let now = self.now();
        {
            let mut state = queue.lock();
            state.tick(now);
            state.change_visibility(handle, receipt_handle, Duration::from_secs(seconds), now)?;
        }
        // Waiting long polls sleep until the queue's next transition; a new deadline (earlier, or now) changes
        // it, so wake them to look again.
        queue.notify.notify_waiters();
        Ok(())
    }

    /// Changes the visibility of up to ten messages; entries fail or succeed one by one.
    ///
    /// # Errors
    /// Whole-request failures as for [`Engine::delete_message_batch`].
    pub fn change_message_visibility_batch(
        &self,
        queue_url: &str,
        entries: Vec<BatchEntry<(Option<String>, Option<i64>)>>,
    ) -> Result<Vec<BatchResult<()>>, SqsError> {
        let queue = self.queue(queue_url)?;
        batch::validate_entries(&entries, "ChangeMessageVisibilityBatchRequestEntry")?;
        Ok(entries
            .into_iter()
            .map(|entry| {
                let (handle, timeout) = entry.input;
                let result = match handle {
                    Some(handle) => self.change_visibility_in(&queue, &handle, timeout),
                    None => Err(SqsError::missing_parameter("ReceiptHandle")),
                };
                BatchResult { id: entry.id, result }
            })
            .collect())
    }
}

/// Decodes a receipt handle and checks that it was issued by this queue.
fn decode_handle(queue: &Queue, receipt_handle: &str) -> Result<ReceiptHandle, SqsError> {
    if receipt_handle.is_empty() {
        return Err(SqsError::missing_parameter("ReceiptHandle"));
    }
    ReceiptHandle::decode(receipt_handle)
        .filter(|handle| handle.queue_uid == queue.uid)
        .ok_or_else(|| SqsError::receipt_handle_invalid(receipt_handle))
}
