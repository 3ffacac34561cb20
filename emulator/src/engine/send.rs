//! SendMessage and SendMessageBatch: validation of the content and the FIFO parameters, content-based
//! deduplication, the memory budget, and enqueueing.

use std::sync::Arc;
use std::time::Duration;

use super::attributes::DeduplicationScope;
use super::batch::{self, BatchEntry, BatchResult};
use super::clock::Timestamp;
use super::content::{self, Md5Digest, MessageAttributes, MessageBody, RawMessageAttribute};
use super::dedup::{DEDUPLICATION_WINDOW, DeduplicatedSend};
use super::events::QueueEvent;
use super::parameters::{MAX_DELAY_SECONDS, not_for_this_queue_type, range_checked, validate_message_id_text};
use super::queue::QueueState;
use super::stored::{MessageExtra, StoredMessage, sequence_number};
use super::{Engine, Queue};
use crate::error::SqsError;

const TRACE_HEADER: &str = "AWSTraceHeader";

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

/// What a send request says about its messages beyond their own members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendOrigin<'a> {
    /// The request's X-Ray trace header (HTTP `X-Amzn-Trace-Id`): the `AWSTraceHeader` of each message whose
    /// `MessageSystemAttributes` set none, since the system attribute "overrides the HTTP trace header"
    /// (<https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sqs.html>). It adds no
    /// `MD5OfMessageSystemAttributes`: the request sent no system attributes.
    pub trace_header: Option<&'a str>,
    /// The authenticated caller's account, the messages' `SenderId` (the sender's id, for root credentials the
    /// account id: <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html>);
    /// `None` for the default account.
    pub sender_account: Option<&'a str>,
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
    fn prepare(
        &self,
        rules: SendRules,
        input: SendMessageInput,
        origin: SendOrigin<'_>,
        now: Timestamp,
    ) -> Result<PreparedMessage, SqsError> {
        let body = match input.body {
            Some(body) if !body.is_empty() => body,
            _ => return Err(SqsError::missing_parameter("MessageBody")),
        };
        if !content::is_valid_text(&body) {
            return Err(content::invalid_characters());
        }
        let attributes = MessageAttributes::validate(input.message_attributes)?;
        let (trace_header, md5_of_system_attributes) = validate_system_attributes(input.system_attributes)?;
        let trace_header =
            trace_header.or_else(|| origin.trace_header.filter(|header| !header.is_empty()).map(str::to_owned));
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
            self.sender_id(origin.sender_account),
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
        self.send_message_from(queue_url, input, SendOrigin::default())
    }

    /// [`Engine::send_message`] with the context of the request that carried the message (see [`SendOrigin`]).
    ///
    /// # Errors
    /// As [`Engine::send_message`].
    pub fn send_message_from(
        &self,
        queue_url: &str,
        input: SendMessageInput,
        origin: SendOrigin<'_>,
    ) -> Result<SendMessageOutput, SqsError> {
        self.check_storage()?;
        let queue = self.queue(queue_url)?;
        self.check_memory_budget(input.payload_size())?;
        let now = self.now();
        let prepared = self.prepare(SendRules::of(&queue), input, origin, now)?;
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
        self.send_message_batch_from(queue_url, entries, SendOrigin::default())
    }

    /// [`Engine::send_message_batch`] with the context of the request (see [`SendOrigin`]); it applies to every
    /// entry.
    ///
    /// # Errors
    /// As [`Engine::send_message_batch`].
    pub fn send_message_batch_from(
        &self,
        queue_url: &str,
        entries: Vec<BatchEntry<SendMessageInput>>,
        origin: SendOrigin<'_>,
    ) -> Result<Vec<BatchResult<SendMessageOutput>>, SqsError> {
        self.check_storage()?;
        let queue = self.queue(queue_url)?;
        batch::validate_entries(&entries, "SendMessageBatchRequestEntry")?;
        let total: usize = entries.iter().map(|entry| entry.input.payload_size()).sum();
        batch::validate_payload(total)?;
        // On a FIFO queue an entry without a MessageGroupId fails the whole request, with InvalidParameterValue
        // (not SendMessage's MissingParameter): AWS's answer to a SendMessageBatch of messages without group ids,
        // quoted in https://github.com/Jimdo/sqs-dead-letter-handling/issues/10 ("InvalidParameterValue: The
        // request must contain the parameter MessageGroupId.", status 400, from that tool's SendMessageBatch).
        if queue.is_fifo() && entries.iter().any(|entry| entry.input.group_id.is_none()) {
            return Err(SqsError::invalid_parameter("The request must contain the parameter MessageGroupId."));
        }
        self.check_memory_budget(total)?;
        let now = self.now();
        let rules = SendRules::of(&queue);
        let prepared: Vec<(String, Result<PreparedMessage, SqsError>)> =
            entries.into_iter().map(|entry| (entry.id, self.prepare(rules, entry.input, origin, now))).collect();
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
}

/// Hex SHA-256 of a body: the content-based deduplication id.
fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    content::lower_hex(&sha2::Sha256::digest(bytes))
}

impl Engine {
    /// The `SenderId` of messages sent by `account` (the default account's is shared, not allocated per message).
    fn sender_id(&self, account: Option<&str>) -> Arc<str> {
        match account {
            Some(account) if account != &*self.shared.sender_id => Arc::from(account),
            _ => Arc::clone(&self.shared.sender_id),
        }
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
