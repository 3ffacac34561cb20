//! ReceiveMessage: parameter checks, long polling on the queue's signal and the clock, FIFO receive attempts,
//! dead-lettering, and rendering of the selected system and message attributes.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Engine;
use super::content::{Md5Digest, MessageAttributes, MessageBody};
use super::parameters::{
    MAX_RECEIVE_MESSAGES, MAX_VISIBILITY_SECONDS, MAX_WAIT_SECONDS, range_checked, validate_message_id_text,
};
use super::receipt::ReceiptHandle;
use super::redrive::DeadLetterTarget;
use super::stored::{StoredMessage, sequence_number};
use crate::error::{ErrorCode, SqsError};

/// The system attributes a receive can ask for (the model's `MessageSystemAttributeName`).
const SYSTEM_ATTRIBUTE_NAMES: [&str; 9] = [
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
];

/// The input of ReceiveMessage, as decoded from the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveMessageInput {
    /// `MaxNumberOfMessages` (default 1).
    pub max_number_of_messages: Option<i64>,
    /// `VisibilityTimeout` (default: the queue's).
    pub visibility_timeout: Option<i64>,
    /// `WaitTimeSeconds` (default: the queue's `ReceiveMessageWaitTimeSeconds`).
    pub wait_time_seconds: Option<i64>,
    /// Union of `MessageSystemAttributeNames` and the deprecated `AttributeNames`.
    pub system_attribute_names: Vec<String>,
    /// `MessageAttributeNames`.
    pub message_attribute_names: Vec<String>,
    /// `ReceiveRequestAttemptId` (FIFO).
    pub receive_request_attempt_id: Option<String>,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// `MessageId`.
    pub message_id: String,
    /// `ReceiptHandle`.
    pub receipt_handle: String,
    /// `MD5OfBody`.
    pub md5_of_body: Md5Digest,
    /// `Body`.
    pub body: MessageBody,
    /// The requested system attributes (`Attributes`), in a stable order.
    pub attributes: Vec<(&'static str, String)>,
    /// The selected message attributes.
    pub message_attributes: MessageAttributes,
    /// MD5 of the returned message attributes, when any are returned.
    pub md5_of_message_attributes: Option<Md5Digest>,
}

impl Engine {
    /// Receives up to `MaxNumberOfMessages` messages, long polling for up to `WaitTimeSeconds` when none is
    /// visible: it returns as soon as one becomes visible (SPEC.md §10). Messages past the redrive policy's
    /// `maxReceiveCount` move to the dead-letter queue during the receive that would exceed it.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `InvalidParameterValue` for out-of-range numbers; `InvalidAttributeName` for an
    /// unknown attribute name.
    pub async fn receive_message(
        &self,
        queue_url: &str,
        input: ReceiveMessageInput,
    ) -> Result<Vec<ReceivedMessage>, SqsError> {
        let queue = self.queue(queue_url)?;
        let max = range_checked("MaxNumberOfMessages", input.max_number_of_messages, 1, MAX_RECEIVE_MESSAGES)?
            .unwrap_or(1) as usize;
        let visibility = range_checked("VisibilityTimeout", input.visibility_timeout, 0, MAX_VISIBILITY_SECONDS)?
            .map(Duration::from_secs);
        let wait =
            range_checked("WaitTimeSeconds", input.wait_time_seconds, 0, MAX_WAIT_SECONDS)?.map(Duration::from_secs);
        if let Some(attempt_id) = &input.receive_request_attempt_id {
            validate_message_id_text("ReceiveRequestAttemptId", attempt_id)?;
        }
        let selection = SystemAttributeSelection::parse(&input.system_attribute_names)?;
        let (visibility, wait) = {
            let state = queue.lock();
            (
                visibility.unwrap_or(state.settings.visibility_timeout),
                wait.unwrap_or(state.settings.receive_message_wait_time),
            )
        };
        let deadline = self.now() + wait;
        loop {
            let notified = queue.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let now = self.now();
            // Looked up before this queue's lock is taken (see `dead_letter_target`).
            let dead_letter_target = self.dead_letter_target(&queue);
            // A dead-letter move removes messages here and adds them to the dead-letter queue: one atomic group,
            // opened before this queue's lock is released (which hands the removals to storage).
            let mut atomic = None;
            let (received, dead_lettered, next_transition) = {
                let mut state = queue.lock();
                state.tick(now);
                let render = |(handle, message): (ReceiptHandle, &StoredMessage)| {
                    render_received(message, handle, &selection, &input.message_attribute_names)
                };
                let attempt_id = input.receive_request_attempt_id.as_deref().filter(|_| state.fifo.is_some());
                let attempt = attempt_id
                    .and_then(|id| state.fifo.as_ref().and_then(|fifo| fifo.attempt(id)))
                    .map(|attempt| attempt.handles.clone());
                let repeated = attempt.and_then(|handles| state.repeat_receive(&handles, visibility, now));
                if let (Some(stamped), Some(id)) = (repeated, attempt_id) {
                    let received = stamped
                        .iter()
                        .filter_map(|(handle, _)| {
                            state.message(handle.sequence).map(|message| render((*handle, message)))
                        })
                        .collect();
                    if let Some(fifo) = state.fifo.as_mut() {
                        fifo.remember_attempt(id, stamped, now);
                    }
                    (received, Vec::new(), None)
                } else {
                    // AWS's in-flight quota (EngineConfig::max_in_flight_messages).
                    let room = self.shared.config.max_in_flight_messages.saturating_sub(state.counts().in_flight);
                    if room == 0 && wait.is_zero() && state.fifo.is_none() {
                        return Err(SqsError::new(
                            ErrorCode::OverLimit,
                            format!(
                                "The queue has reached its quota of {} in flight messages (received and not yet \
                                 deleted).",
                                self.shared.config.max_in_flight_messages
                            ),
                        ));
                    }
                    let max = max.min(room);
                    let max_receive_count = dead_letter_target.as_ref().map(DeadLetterTarget::max_receive_count);
                    let receipt = state.receive(max, visibility, max_receive_count, queue.uid, now);
                    let handles: Vec<ReceiptHandle> = receipt.delivered.iter().map(|(handle, _)| *handle).collect();
                    let received: Vec<ReceivedMessage> = receipt.delivered.into_iter().map(render).collect();
                    let dead_lettered = receipt.dead_lettered;
                    if !dead_lettered.is_empty() {
                        atomic = Some(self.atomic());
                    }
                    if let (Some(id), false) = (attempt_id, handles.is_empty()) {
                        let stamped = state.stamp(handles);
                        if let Some(fifo) = state.fifo.as_mut() {
                            fifo.remember_attempt(id, stamped, now);
                        }
                    }
                    (received, dead_lettered, state.next_transition())
                }
            };
            if let (false, Some(target)) = (dead_lettered.is_empty(), &dead_letter_target) {
                self.move_to_dead_letter_queue(&queue, target, dead_lettered);
            }
            drop(atomic);
            let finished = !received.is_empty()
                || now >= deadline
                || self.shared.shutdown.is_cancelled()
                || queue.deleted.load(Ordering::Acquire);
            if finished {
                queue.counters.add_receive(received.len());
                return Ok(received);
            }
            let wake_at = next_transition.map_or(deadline, |at| at.min(deadline));
            tokio::select! {
                () = &mut notified => {}
                () = self.shared.clock.sleep_until(wake_at) => {}
                () = self.shared.shutdown.cancelled() => {}
            }
        }
    }
}

/// Which system attributes a receive asked for.
#[derive(Debug, Default)]
struct SystemAttributeSelection {
    names: Vec<&'static str>,
}

impl SystemAttributeSelection {
    fn parse(requested: &[String]) -> Result<Self, SqsError> {
        let mut names = Vec::new();
        for name in requested {
            if name == "All" {
                return Ok(Self { names: SYSTEM_ATTRIBUTE_NAMES.to_vec() });
            }
            match SYSTEM_ATTRIBUTE_NAMES.iter().find(|known| *known == name) {
                Some(known) if !names.contains(known) => names.push(*known),
                Some(_) => {}
                // The deprecated AttributeNames member is typed as queue attribute names; accept those quietly.
                None if name.parse::<super::QueueAttributeName>().is_ok() => {}
                None => return Err(SqsError::unknown_attribute(name)),
            }
        }
        Ok(Self { names })
    }
}

/// A stored message as a receive returns it, with the attributes the request selected.
fn render_received(
    message: &StoredMessage,
    handle: ReceiptHandle,
    selection: &SystemAttributeSelection,
    message_attribute_names: &[String],
) -> ReceivedMessage {
    let extra = message.extra.as_deref();
    let attributes = selection
        .names
        .iter()
        .filter_map(|name| {
            let value = match *name {
                "SenderId" => Some(message.sender_id.to_string()),
                "SentTimestamp" => Some(message.sent_at.as_millis().to_string()),
                "ApproximateReceiveCount" => Some(message.receive_count.to_string()),
                "ApproximateFirstReceiveTimestamp" => message.first_received_at().map(|at| at.as_millis().to_string()),
                "SequenceNumber" => message.deduplication_id().is_some().then(|| sequence_number(handle.sequence)),
                "MessageDeduplicationId" => message.deduplication_id().map(str::to_owned),
                "MessageGroupId" => message.group_id().map(str::to_owned),
                "AWSTraceHeader" => extra.and_then(|extra| extra.trace_header.clone()),
                "DeadLetterQueueSourceArn" => extra.and_then(|extra| extra.dead_letter_source_arn.clone()),
                _ => None,
            };
            value.map(|value| (*name, value))
        })
        .collect();
    let (message_attributes, md5_of_message_attributes) = match message.attributes() {
        Some(all) if !message_attribute_names.is_empty() => {
            let selected = all.select(message_attribute_names);
            let md5 = if selected.iter().count() == all.iter().count() {
                message.md5_of_attributes()
            } else {
                selected.md5()
            };
            (selected, md5)
        }
        _ => (MessageAttributes::default(), None),
    };
    ReceivedMessage {
        message_id: message.message_id(),
        receipt_handle: handle.encode(),
        md5_of_body: message.md5_of_body,
        body: message.body.clone(),
        attributes,
        message_attributes,
        md5_of_message_attributes,
    }
}
