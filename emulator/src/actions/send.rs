//! SendMessage, SendMessageBatch.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::wire::{BatchResultErrorEntry, WireAttributeValue, raw_attributes, split_batch};
use super::{RequestContext, queue_url};
use crate::engine::{BatchEntry, Engine, SendMessageInput, SendMessageOutput};
use crate::error::SqsError;

/// The members shared by `SendMessage` and each `SendMessageBatchRequestEntry`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageFields {
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

/// `SendMessage` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageRequest {
    queue_url: Option<String>,
    #[serde(flatten)]
    fields: MessageFields,
}

/// `SendMessage` output (and, with `Id`, a `SendMessageBatchResultEntry`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    message_id: String,
    #[serde(rename = "MD5OfMessageBody")]
    md5_of_message_body: String,
    #[serde(rename = "MD5OfMessageAttributes", skip_serializing_if = "Option::is_none")]
    md5_of_message_attributes: Option<String>,
    #[serde(rename = "MD5OfMessageSystemAttributes", skip_serializing_if = "Option::is_none")]
    md5_of_message_system_attributes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
}

impl SendMessageResponse {
    fn new(id: Option<String>, output: SendMessageOutput) -> Self {
        Self {
            id,
            message_id: output.message_id,
            md5_of_message_body: output.md5_of_body.to_string(),
            md5_of_message_attributes: output.md5_of_message_attributes.map(|d| d.to_string()),
            md5_of_message_system_attributes: output.md5_of_system_attributes.map(|d| d.to_string()),
            sequence_number: output.sequence_number,
        }
    }
}

pub fn send_message(
    engine: &Engine,
    context: &RequestContext,
    request: SendMessageRequest,
) -> Result<SendMessageResponse, SqsError> {
    let url = queue_url(context, request.queue_url)?;
    let output = engine.send_message(&url, request.fields.into())?;
    Ok(SendMessageResponse::new(None, output))
}

/// One `SendMessageBatchRequestEntry`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatchRequestEntry {
    id: Option<String>,
    #[serde(flatten)]
    fields: MessageFields,
}

/// `SendMessageBatch` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatchRequest {
    queue_url: Option<String>,
    entries: Option<Vec<SendMessageBatchRequestEntry>>,
}

/// `SendMessageBatch` output; both lists are always present, as the model requires.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatchResponse {
    successful: Vec<SendMessageResponse>,
    failed: Vec<BatchResultErrorEntry>,
}

pub fn send_message_batch(
    engine: &Engine,
    context: &RequestContext,
    request: SendMessageBatchRequest,
) -> Result<SendMessageBatchResponse, SqsError> {
    let url = queue_url(context, request.queue_url)?;
    let entries = request
        .entries
        .unwrap_or_default()
        .into_iter()
        .map(|entry| BatchEntry { id: entry.id.unwrap_or_default(), input: entry.fields.into() })
        .collect();
    let results = engine.send_message_batch(&url, entries)?;
    let (successful, failed) = split_batch(results, |id, output| SendMessageResponse::new(Some(id), output));
    Ok(SendMessageBatchResponse { successful, failed })
}
