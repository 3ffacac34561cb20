//! SendMessage, SendMessageBatch.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::RequestContext;
use super::batch::{BatchRequest, BatchResponse, RequestEntry};
use super::wire::{WireAttributeValue, md5_hex, optional_md5_hex, raw_attributes};
use crate::engine::{BatchEntry, Engine, Md5Digest, SendMessageInput, SendMessageOutput, SendOrigin};
use crate::error::SqsError;

/// The members of `SendMessage` and of each `SendMessageBatchRequestEntry`: one shape for both (each ignores
/// the other's `QueueUrl` / `Id`), because `#[serde(flatten)]` would buffer every entry on this hot path.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageFields {
    queue_url: Option<String>,
    id: Option<String>,
    message_body: Option<String>,
    delay_seconds: Option<i64>,
    message_attributes: Option<HashMap<String, WireAttributeValue>>,
    message_system_attributes: Option<HashMap<String, WireAttributeValue>>,
    message_deduplication_id: Option<String>,
    message_group_id: Option<String>,
}

impl From<MessageFields> for SendMessageInput {
    fn from(fields: MessageFields) -> Self {
        SendMessageInput {
            body: fields.message_body,
            delay_seconds: fields.delay_seconds,
            message_attributes: raw_attributes(fields.message_attributes),
            system_attributes: raw_attributes(fields.message_system_attributes),
            deduplication_id: fields.message_deduplication_id,
            group_id: fields.message_group_id,
        }
    }
}

queue_scoped!(MessageFields);

/// `SendMessage` input.
pub type SendMessageRequest = MessageFields;

/// `SendMessage` output (and, with `Id`, a `SendMessageBatchResultEntry`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    message_id: String,
    #[serde(rename = "MD5OfMessageBody", serialize_with = "md5_hex")]
    md5_of_message_body: Md5Digest,
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none",
        serialize_with = "optional_md5_hex"
    )]
    md5_of_message_attributes: Option<Md5Digest>,
    #[serde(
        rename = "MD5OfMessageSystemAttributes",
        skip_serializing_if = "Option::is_none",
        serialize_with = "optional_md5_hex"
    )]
    md5_of_message_system_attributes: Option<Md5Digest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
}

impl SendMessageResponse {
    fn new(id: Option<String>, output: SendMessageOutput) -> Self {
        Self {
            id,
            message_id: output.message_id,
            md5_of_message_body: output.md5_of_body,
            md5_of_message_attributes: output.md5_of_message_attributes,
            md5_of_message_system_attributes: output.md5_of_system_attributes,
            sequence_number: output.sequence_number,
        }
    }
}

/// `SendMessage`: enqueues one message.
pub fn send_message(
    engine: &Engine,
    context: &RequestContext,
    url: &str,
    request: SendMessageRequest,
) -> Result<SendMessageResponse, SqsError> {
    let output = engine.send_message_from(url, request.into(), origin(context))?;
    Ok(SendMessageResponse::new(None, output))
}

impl RequestEntry for MessageFields {
    const KIND: &'static str = "SendMessageBatchRequestEntry";
    type Input = SendMessageInput;
    fn into_entry(mut self) -> BatchEntry<SendMessageInput> {
        BatchEntry { id: self.id.take().unwrap_or_default(), input: self.into() }
    }
}

/// `SendMessageBatch` input.
pub type SendMessageBatchRequest = BatchRequest<MessageFields>;

/// `SendMessageBatch` output.
pub type SendMessageBatchResponse = BatchResponse<SendMessageResponse>;

/// `SendMessageBatch`: up to ten sends, each succeeding or failing on its own.
pub fn send_message_batch(
    engine: &Engine,
    context: &RequestContext,
    request: SendMessageBatchRequest,
) -> Result<SendMessageBatchResponse, SqsError> {
    let results = request.run(context, |url, entries| engine.send_message_batch_from(url, entries, origin(context)))?;
    Ok(SendMessageBatchResponse::from_results(results, |id, output| SendMessageResponse::new(Some(id), output)))
}

/// The request-level context of a send: its X-Ray trace header and the caller's account.
fn origin(context: &RequestContext) -> SendOrigin<'_> {
    SendOrigin { trace_header: context.trace_header.as_deref(), sender_account: context.caller_account.as_deref() }
}
