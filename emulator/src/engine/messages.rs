//! Message operations of the engine: send, receive with long polling, delete and visibility changes, each
//! single and batched. Inputs arrive as the protocols decoded them (raw integers, optional members) and are
//! validated here, so both protocols and the in-process backend share one set of rules.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::attributes::DeduplicationScope;
use super::batch::{self, BatchEntry, BatchResult};
use super::clock::Timestamp;
use super::content::{self, Md5Digest, MessageAttributes, MessageBody, RawMessageAttribute};
use super::dedup::{DEDUPLICATION_WINDOW, DeduplicatedSend};
use super::events::QueueEvent;
use super::queue::{DeleteOutcome, MAX_VISIBILITY, QueueState};
use super::receipt::ReceiptHandle;
use super::stored::{MessageExtra, StoredMessage, sequence_number};
use super::{Engine, Queue};
use crate::error::SqsError;

const MAX_DELAY_SECONDS: i64 = 900;
const MAX_RECEIVE_MESSAGES: i64 = 10;
const MAX_WAIT_SECONDS: i64 = 20;
const MAX_VISIBILITY_SECONDS: i64 = 43_200;
const TRACE_HEADER: &str = "AWSTraceHeader";

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

/// The input of SendMessage (and of one SendMessageBatch entry), as decoded from the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendMessageInput {
    /// `MessageBody`.
    pub body: Option<String>,
    /// `DelaySeconds`.
    pub delay_seconds: Option<i64>,
    /// `MessageAttributes`.
    pub message_attributes: Vec<(String, RawMessageAttribute)>,
    /// `MessageSystemAttributes` (only `AWSTraceHeader` is allowed).
    pub system_attributes: Vec<(String, RawMessageAttribute)>,
    /// `MessageDeduplicationId`.
    pub deduplication_id: Option<String>,
    /// `MessageGroupId`.
    pub group_id: Option<String>,
}

impl SendMessageInput {
    /// An input with just a body.
    pub fn with_body(body: impl Into<String>) -> Self {
        Self { body: Some(body.into()), ..Self::default() }
    }

    /// Bytes this message counts toward a batch's 1 MiB total: body plus attribute names, types and values.
    fn payload_size(&self) -> usize {
        let attributes: usize = self
            .message_attributes
            .iter()
            .map(|(name, raw)| {
                name.len()
                    + raw.data_type.as_ref().map_or(0, String::len)
                    + raw.string_value.as_ref().map_or(0, String::len)
                    + raw.binary_value.as_ref().map_or(0, Vec::len)
            })
            .sum();
        self.body.as_ref().map_or(0, String::len) + attributes
    }
}

/// The result of a successful send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendMessageOutput {
    /// `MessageId`.
    pub message_id: String,
    /// `MD5OfMessageBody`.
    pub md5_of_body: Md5Digest,
    /// `MD5OfMessageAttributes`, when attributes were sent.
    pub md5_of_message_attributes: Option<Md5Digest>,
    /// `MD5OfMessageSystemAttributes`, when system attributes were sent.
    pub md5_of_system_attributes: Option<Md5Digest>,
    /// `SequenceNumber` (FIFO queues).
    pub sequence_number: Option<String>,
}

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

/// A validated message ready to enqueue, with its delay and reply.
struct PreparedMessage {
    message: Box<StoredMessage>,
    delay: Duration,
    output: SendMessageOutput,
    /// FIFO: the deduplication id (explicit or content-based) and the group it is scoped to.
    deduplication: Option<(Option<String>, String)>,
}

/// The queue settings a send needs, copied out under the lock.
#[derive(Debug, Clone, Copy)]
struct SendRules {
    maximum_message_size: usize,
    delay: Duration,
    fifo: bool,
    content_based_deduplication: bool,
    scope_is_group: bool,
}

fn range_checked(name: &str, value: Option<i64>, min: i64, max: i64) -> Result<Option<u64>, SqsError> {
    match value {
        None => Ok(None),
        Some(v) if (min..=max).contains(&v) => Ok(Some(v as u64)),
        Some(v) => Err(SqsError::out_of_range(name, v, min, max)),
    }
}

fn not_for_this_queue_type(name: &str, value: impl std::fmt::Display) -> SqsError {
    SqsError::invalid_parameter_value(
        name,
        value,
        "The request include parameter that is not valid for this queue type.",
    )
}

impl SendRules {
    /// The rules as the queue's settings stand now (read once per request, under a short lock).
    fn of(queue: &Queue) -> Self {
        let state = queue.lock();
        let settings = &state.settings;
        SendRules {
            maximum_message_size: settings.maximum_message_size,
            delay: settings.delay,
            fifo: settings.fifo_queue,
            content_based_deduplication: settings.content_based_deduplication,
            scope_is_group: settings.deduplication_scope == DeduplicationScope::MessageGroup,
        }
    }
}

impl Engine {
    fn prepare(&self, rules: SendRules, input: SendMessageInput, now: Timestamp) -> Result<PreparedMessage, SqsError> {
        let body = match input.body {
            Some(body) if !body.is_empty() => body,
            _ => return Err(SqsError::missing_parameter("MessageBody")),
        };
        if !content::is_valid_text(&body) {
            return Err(content::invalid_characters());
        }
        let attributes = MessageAttributes::validate(input.message_attributes)?;
        let (trace_header, md5_of_system_attributes) = validate_system_attributes(input.system_attributes)?;
        let size = body.len() + attributes.size();
        if size > rules.maximum_message_size {
            return Err(SqsError::invalid_parameter(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {} bytes.",
                rules.maximum_message_size
            )));
        }
        let delay = match range_checked("DelaySeconds", input.delay_seconds, 0, MAX_DELAY_SECONDS)? {
            Some(0) | None if rules.fifo => rules.delay,
            Some(seconds) if rules.fifo => return Err(not_for_this_queue_type("DelaySeconds", seconds)),
            Some(seconds) => Duration::from_secs(seconds),
            None => rules.delay,
        };
        if let Some(group) = &input.group_id {
            validate_message_id_text("MessageGroupId", group)?;
        }
        let deduplication = if rules.fifo {
            let group = input.group_id.clone().ok_or_else(|| SqsError::missing_parameter("MessageGroupId"))?;
            let id = match &input.deduplication_id {
                Some(id) => {
                    validate_message_id_text("MessageDeduplicationId", id)?;
                    id.clone()
                }
                None if rules.content_based_deduplication => hex_sha256(body.as_bytes()),
                None => {
                    return Err(SqsError::invalid_parameter(
                        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId \
                         provided explicitly",
                    ));
                }
            };
            Some((rules.scope_is_group.then_some(group), id))
        } else {
            if let Some(id) = &input.deduplication_id {
                return Err(not_for_this_queue_type("MessageDeduplicationId", id));
            }
            None
        };
        let md5_of_body = Md5Digest::of(body.as_bytes());
        let extra = MessageExtra {
            trace_header,
            group_id: input.group_id,
            deduplication_id: deduplication.as_ref().map(|(_, id)| id.clone()),
            dead_letter_source_arn: None,
        };
        let message = Box::new(StoredMessage::new(
            MessageBody::new(body),
            md5_of_body,
            attributes,
            extra,
            Arc::clone(&self.shared.sender_id),
            now,
        ));
        let output = SendMessageOutput {
            message_id: message.message_id(),
            md5_of_body,
            md5_of_message_attributes: message.md5_of_attributes(),
            md5_of_system_attributes,
            sequence_number: None,
        };
        Ok(PreparedMessage { message, delay, output, deduplication })
    }

    /// Enqueues a prepared message under the queue lock, or answers with the original of a FIFO duplicate.
    /// Returns the reply and whether a message became visible; `None` instead of the flag for a duplicate
    /// (nothing was stored).
    fn commit(state: &mut QueueState, prepared: PreparedMessage, now: Timestamp) -> (SendMessageOutput, Option<bool>) {
        let PreparedMessage { message, delay, mut output, deduplication } = prepared;
        let Some((scope, dedup_id)) = deduplication else {
            let (_, visible) = state.enqueue(message, delay, now);
            return (output, Some(visible));
        };
        if let Some(original) = state.fifo.as_ref().and_then(|fifo| fifo.duplicate_of(scope.as_deref(), &dedup_id)) {
            output.message_id = original.message_id.clone();
            output.sequence_number = Some(sequence_number(original.sequence));
            return (output, None);
        }
        let (sequence, visible) = state.enqueue(message, delay, now);
        output.sequence_number = Some(sequence_number(sequence));
        if let Some(fifo) = state.fifo.as_mut() {
            let original = DeduplicatedSend { message_id: output.message_id.clone(), sequence };
            fifo.remember_send(scope.as_deref(), &dedup_id, original, now);
        }
        if state.is_journaled() {
            state.record(QueueEvent::DeduplicationRecorded {
                scope_group: scope,
                deduplication_id: dedup_id,
                message_id: output.message_id.clone(),
                sequence,
                expires_at: now + DEDUPLICATION_WINDOW,
            });
        }
        (output, Some(visible))
    }

    /// Sends one message.
    ///
    /// # Errors
    /// `QueueDoesNotExist`, `MissingParameter` (empty body, FIFO without group), `InvalidMessageContents`,
    /// `InvalidParameterValue` (size, delay, attributes, parameters that do not fit the queue type);
    /// `ServiceUnavailable` when the memory budget for stored messages is exhausted.
    pub fn send_message(&self, queue_url: &str, input: SendMessageInput) -> Result<SendMessageOutput, SqsError> {
        let queue = self.queue(queue_url)?;
        self.check_memory_budget(input.payload_size())?;
        let now = self.now();
        let prepared = self.prepare(SendRules::of(&queue), input, now)?;
        let (output, stored) = {
            let mut state = queue.lock();
            state.tick(now);
            Self::commit(&mut state, prepared, now)
        };
        if stored.is_some() {
            queue.counters.add_sent(1);
        }
        if stored == Some(true) {
            queue.notify.notify_waiters();
        }
        Ok(output)
    }

    /// Sends up to ten messages; entries fail or succeed one by one, and FIFO entries are enqueued in request
    /// order.
    ///
    /// # Errors
    /// The whole request fails with `QueueDoesNotExist`, `EmptyBatchRequest`, `TooManyEntriesInBatchRequest`,
    /// `InvalidBatchEntryId`, `BatchEntryIdsNotDistinct`, `BatchRequestTooLong`, or `ServiceUnavailable` when
    /// the memory budget for stored messages is exhausted.
    pub fn send_message_batch(
        &self,
        queue_url: &str,
        entries: Vec<BatchEntry<SendMessageInput>>,
    ) -> Result<Vec<BatchResult<SendMessageOutput>>, SqsError> {
        let queue = self.queue(queue_url)?;
        batch::validate_entries(&entries, "SendMessageBatchRequestEntry")?;
        let total: usize = entries.iter().map(|entry| entry.input.payload_size()).sum();
        batch::validate_payload(total)?;
        self.check_memory_budget(total)?;
        let now = self.now();
        let rules = SendRules::of(&queue);
        let prepared: Vec<(String, Result<PreparedMessage, SqsError>)> =
            entries.into_iter().map(|entry| (entry.id, self.prepare(rules, entry.input, now))).collect();
        let mut any_visible = false;
        let mut stored = 0;
        let results = {
            let mut state = queue.lock();
            state.tick(now);
            prepared
                .into_iter()
                .map(|(id, prepared)| {
                    let result = prepared.map(|prepared| {
                        let (output, visible) = Self::commit(&mut state, prepared, now);
                        any_visible |= visible == Some(true);
                        stored += u64::from(visible.is_some());
                        output
                    });
                    BatchResult { id, result }
                })
                .collect()
        };
        queue.counters.add_sent(stored);
        if any_visible {
            queue.notify.notify_waiters();
        }
        Ok(results)
    }

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
                    let max_receive_count = state
                        .settings
                        .redrive_policy
                        .as_ref()
                        .map(|policy| u32::try_from(policy.max_receive_count).unwrap_or(u32::MAX));
                    let receipt = state.receive(max, visibility, max_receive_count, queue.uid, now);
                    let handles: Vec<ReceiptHandle> = receipt.delivered.iter().map(|(handle, _)| *handle).collect();
                    let received: Vec<ReceivedMessage> = receipt.delivered.into_iter().map(render).collect();
                    let dead_lettered = receipt.dead_lettered;
                    if let (Some(id), false) = (attempt_id, handles.is_empty()) {
                        let stamped = state.stamp(handles);
                        if let Some(fifo) = state.fifo.as_mut() {
                            fifo.remember_attempt(id, stamped, now);
                        }
                    }
                    (received, dead_lettered, state.next_transition())
                }
            };
            if !dead_lettered.is_empty() {
                self.move_to_dead_letter_queue(&queue, dead_lettered);
            }
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

    /// Deletes a message by receipt handle. A stale handle of a standard queue succeeds without deleting.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `ReceiptHandleIsInvalid` for a handle this queue never issued.
    pub fn delete_message(&self, queue_url: &str, receipt_handle: &str) -> Result<(), SqsError> {
        let queue = self.queue(queue_url)?;
        self.delete_from(&queue, receipt_handle)
    }

    fn delete_from(&self, queue: &Queue, receipt_handle: &str) -> Result<(), SqsError> {
        let handle = decode_handle(queue, receipt_handle)?;
        let now = self.now();
        let mut state = queue.lock();
        state.tick(now);
        let outcome = state.delete(handle, receipt_handle)?;
        let unblocks_a_group = state.fifo.is_some() && outcome == DeleteOutcome::Deleted;
        drop(state);
        queue.counters.add_deleted();
        if unblocks_a_group {
            // The next message of the group may be received now: wake long polls that were waiting for it.
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

/// Hex SHA-256 of a body: the content-based deduplication id.
fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    content::lower_hex(&sha2::Sha256::digest(bytes))
}

fn decode_handle(queue: &Queue, receipt_handle: &str) -> Result<ReceiptHandle, SqsError> {
    if receipt_handle.is_empty() {
        return Err(SqsError::missing_parameter("ReceiptHandle"));
    }
    ReceiptHandle::decode(receipt_handle)
        .filter(|handle| handle.queue_uid == queue.uid)
        .ok_or_else(|| SqsError::receipt_handle_invalid(receipt_handle))
}

/// Checks ids such as `MessageGroupId`: 1..=128 characters of alphanumerics and ASCII punctuation.
fn validate_message_id_text(name: &str, value: &str) -> Result<(), SqsError> {
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

/// Validates `MessageSystemAttributes`: only `AWSTraceHeader`, of type `String`. Returns the header and the
/// MD5 of the system attributes.
fn validate_system_attributes(
    raw: Vec<(String, RawMessageAttribute)>,
) -> Result<(Option<String>, Option<Md5Digest>), SqsError> {
    if raw.is_empty() {
        return Ok((None, None));
    }
    if let Some((name, _)) = raw.iter().find(|(name, _)| name != TRACE_HEADER) {
        return Err(SqsError::invalid_parameter(format!("Message system attribute name '{name}' is invalid.")));
    }
    if raw.len() > 1 {
        return Err(SqsError::invalid_parameter(format!(
            "Message system attribute '{TRACE_HEADER}' was specified multiple times."
        )));
    }
    let attributes = MessageAttributes::validate(raw)?;
    let Some((_, attribute)) = attributes.iter().next() else { return Ok((None, None)) };
    let header = match (&attribute.data_type[..], &attribute.value) {
        ("String", super::content::AttributeValue::String(text)) => text.clone(),
        _ => {
            return Err(SqsError::invalid_parameter(format!(
                "The message system attribute '{TRACE_HEADER}' must be of type 'String'."
            )));
        }
    };
    Ok((Some(header), attributes.md5()))
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
