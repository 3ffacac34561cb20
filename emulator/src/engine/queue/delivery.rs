//! Delivery of one queue's messages: receives (with FIFO groups, repeated receive attempts and dead-lettering),
//! deletes and visibility changes by receipt handle.

use std::time::Duration;

use super::{DeleteOutcome, MAX_VISIBILITY, QueueState, Receipt};
use crate::engine::clock::Timestamp;
use crate::engine::receipt::ReceiptHandle;
use crate::engine::stored::MessageState;
use crate::error::SqsError;

impl QueueState {
    /// Takes up to `max` messages for a receive (standard: oldest visible first; FIFO: by group, see
    /// [`FifoState::candidates`]), marks them in flight for `visibility`, and returns them with their new
    /// handles. Messages that would pass `max_receive_count` are removed for the dead-letter queue instead.
    pub fn receive(
        &mut self,
        max: usize,
        visibility: Duration,
        max_receive_count: Option<u32>,
        queue_uid: u64,
        now: Timestamp,
    ) -> Receipt<'_> {
        let mut delivered = Vec::with_capacity(max);
        let mut dead_lettered = Vec::new();
        // Dead-lettered candidates free their slot, so keep choosing until `max` are delivered or none is left.
        loop {
            let wanted = max - delivered.len();
            let candidates: Vec<u64> = match self.fifo.as_mut() {
                Some(fifo) => {
                    let visible = &self.visible;
                    fifo.candidates(wanted, |sequence| visible.contains(sequence))
                }
                None => self.visible.iter().take(wanted).collect(),
            };
            if candidates.is_empty() {
                break;
            }
            let mut moved_any = false;
            for sequence in candidates {
                let Some(message) = self.messages.get(sequence) else { continue };
                if max_receive_count.is_some_and(|limit| message.receive_count >= limit) {
                    if let Some(message) = self.remove(sequence) {
                        dead_lettered.push(message);
                        moved_any = true;
                    }
                    continue;
                }
                self.set_state(sequence, MessageState::InFlight { until: now + visibility, received_at: now });
                if let Some(message) = self.messages.get_mut(sequence) {
                    message.receive_count = message.receive_count.saturating_add(1);
                    if message.first_received_at().is_none() {
                        message.set_first_received_at(Some(now));
                    }
                    delivered.push(ReceiptHandle { queue_uid, sequence, receive: message.receive_count });
                }
                self.record_update(sequence);
            }
            if !moved_any || delivered.len() >= max {
                break;
            }
        }
        let delivered = delivered
            .into_iter()
            .filter_map(|handle| self.messages.get(handle.sequence).map(|message| (handle, &**message)))
            .collect();
        Receipt { delivered, dead_lettered }
    }

    /// Re-issues the messages of an earlier receive whose handles are all still current, in flight and
    /// unchanged since (same state epoch), restarting their visibility timeout (FIFO `ReceiveRequestAttemptId`).
    /// Returns the handles with their new epochs, or `None` when the attempt no longer applies.
    pub fn repeat_receive(
        &mut self,
        handles: &[(ReceiptHandle, u32)],
        visibility: Duration,
        now: Timestamp,
    ) -> Option<Vec<(ReceiptHandle, u32)>> {
        let unchanged = handles.iter().all(|(handle, epoch)| {
            self.messages.get(handle.sequence).is_some_and(|message| {
                message.receive_count == handle.receive
                    && message.epoch == *epoch
                    && matches!(message.state, MessageState::InFlight { .. })
            })
        });
        if !unchanged || handles.is_empty() {
            return None;
        }
        for (handle, _) in handles {
            self.set_state(handle.sequence, MessageState::InFlight { until: now + visibility, received_at: now });
            self.record_update(handle.sequence);
        }
        Some(self.stamp(handles.iter().map(|(handle, _)| *handle)))
    }

    /// Pairs handles with their message's current state epoch (see [`super::fifo::Attempt`]).
    pub fn stamp(&self, handles: impl IntoIterator<Item = ReceiptHandle>) -> Vec<(ReceiptHandle, u32)> {
        handles
            .into_iter()
            .filter_map(|handle| self.messages.get(handle.sequence).map(|message| (handle, message.epoch)))
            .collect()
    }

    /// Deletes the message a handle points to.
    ///
    /// Standard queues accept any handle the queue issued for the message, also one of an earlier receive
    /// (AWS-verified: moto's "SQS - Align logic around receipt_handles with AWS",
    /// <https://github.com/getmoto/moto/pull/4655>: "Old receipt handles should be kept, as it is possible to change
    /// message visibility or delete a message using them"); deleting a message already gone succeeds. FIFO queues
    /// accept only the handle of the receive the message is in flight for: any other is expired (SPEC.md §6
    /// DeleteMessage; <https://github.com/aws/aws-sdk-js/issues/1750>).
    ///
    /// # Errors
    /// `ReceiptHandleIsInvalid` for a handle that was never issued for this message; on FIFO queues
    /// `InvalidParameterValue` "The receipt handle has expired." for a superseded or timed-out handle.
    pub fn delete(&mut self, handle: ReceiptHandle, raw_handle: &str) -> Result<DeleteOutcome, SqsError> {
        let Some(message) = self.messages.get(handle.sequence) else {
            if handle.sequence >= self.next_sequence || handle.receive == 0 {
                return Err(SqsError::receipt_handle_invalid(raw_handle));
            }
            return Ok(DeleteOutcome::AlreadyGone);
        };
        if handle.receive > message.receive_count || handle.receive == 0 {
            return Err(SqsError::receipt_handle_invalid(raw_handle));
        }
        if self.fifo.is_some() && !holds_current_receipt(message, handle) {
            return Err(receipt_handle_expired(raw_handle));
        }
        self.remove(handle.sequence);
        Ok(DeleteOutcome::Deleted)
    }

    /// Changes the visibility timeout of an in-flight message to `timeout` from now; returns whether the message
    /// became visible.
    ///
    /// Standard queues: any handle the queue issued for the message changes it while it is in flight, also one of
    /// an earlier receive (moto PR 4655, above); a handle of a message that is no longer in flight (its
    /// visibility timeout ran out and it was not received again) is answered with success and changes nothing
    /// (AWS-validated in LocalStack's "fix change_message_visibility behaviour for expired handles",
    /// <https://github.com/localstack/localstack/pull/9632>: "AWS simply sends back an OK and does nothing"). FIFO
    /// queues: only the handle of the current receive, while in flight; any other is expired.
    ///
    /// # Errors
    /// `ReceiptHandleIsInvalid` for a handle never issued; `InvalidParameterValue` when the message is gone
    /// ("Message does not exist or is not available for visibility timeout change."), for an expired FIFO
    /// handle, or when the total would pass 12 hours since the receive.
    pub fn change_visibility(
        &mut self,
        handle: ReceiptHandle,
        raw_handle: &str,
        timeout: Duration,
        now: Timestamp,
    ) -> Result<bool, SqsError> {
        if handle.sequence >= self.next_sequence || handle.receive == 0 {
            return Err(SqsError::receipt_handle_invalid(raw_handle));
        }
        let message = self.messages.get(handle.sequence).ok_or_else(|| {
            SqsError::invalid_parameter_value(
                "ReceiptHandle",
                raw_handle,
                "Message does not exist or is not available for visibility timeout change.",
            )
        })?;
        if handle.receive > message.receive_count {
            return Err(SqsError::receipt_handle_invalid(raw_handle));
        }
        if self.fifo.is_some() && !holds_current_receipt(message, handle) {
            return Err(receipt_handle_expired(raw_handle));
        }
        let MessageState::InFlight { received_at, .. } = message.state else {
            return Ok(false);
        };
        let until = now + timeout;
        if until.saturating_since(received_at) > MAX_VISIBILITY {
            return Err(SqsError::invalid_parameter_value(
                "VisibilityTimeout",
                timeout.as_secs(),
                "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]",
            ));
        }
        let became_visible = timeout.is_zero();
        if became_visible {
            self.set_state(handle.sequence, MessageState::Visible);
        } else {
            self.set_state(handle.sequence, MessageState::InFlight { until, received_at });
        }
        self.record_update(handle.sequence);
        Ok(became_visible)
    }
}

/// Whether `handle` is the one of the receive `message` is in flight for.
fn holds_current_receipt(message: &crate::engine::stored::StoredMessage, handle: ReceiptHandle) -> bool {
    handle.receive == message.receive_count && matches!(message.state, MessageState::InFlight { .. })
}

/// The error for a FIFO handle that is superseded or whose visibility timeout ran out (SPEC.md §5.3).
fn receipt_handle_expired(raw_handle: &str) -> SqsError {
    SqsError::invalid_parameter_value("ReceiptHandle", raw_handle, "The receipt handle has expired.")
}
