//! ReceiveMessage.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::wire::{WireAttributeValue, md5_hex, optional_md5_hex, wire_attributes};
use super::{RequestContext, queue_url};
use crate::engine::{Engine, Md5Digest, MessageBody, ReceiveMessageInput, ReceivedMessage};
use crate::error::SqsError;

/// `ReceiveMessage` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessageRequest {
    queue_url: Option<String>,
    attribute_names: Option<Vec<String>>,
    message_system_attribute_names: Option<Vec<String>>,
    message_attribute_names: Option<Vec<String>>,
    max_number_of_messages: Option<i64>,
    visibility_timeout: Option<i64>,
    wait_time_seconds: Option<i64>,
    receive_request_attempt_id: Option<String>,
}

/// One received `Message`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireMessage {
    message_id: String,
    receipt_handle: String,
    #[serde(rename = "MD5OfBody", serialize_with = "md5_hex")]
    md5_of_body: Md5Digest,
    #[serde(serialize_with = "super::wire::as_str")]
    body: MessageBody,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<&'static str, String>,
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none",
        serialize_with = "optional_md5_hex"
    )]
    md5_of_message_attributes: Option<Md5Digest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_attributes: Option<HashMap<String, WireAttributeValue>>,
}

impl From<ReceivedMessage> for WireMessage {
    fn from(message: ReceivedMessage) -> Self {
        Self {
            message_id: message.message_id,
            receipt_handle: message.receipt_handle,
            md5_of_body: message.md5_of_body,
            body: message.body,
            attributes: message.attributes.into_iter().collect(),
            md5_of_message_attributes: message.md5_of_message_attributes,
            message_attributes: wire_attributes(&message.message_attributes),
        }
    }
}

/// `ReceiveMessage` output; `Messages` is omitted when empty, as AWS does.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessageResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    messages: Vec<WireMessage>,
}

/// `ReceiveMessage`: up to ten messages, long polling for up to `WaitTimeSeconds`.
pub async fn receive_message(
    engine: &Engine,
    context: &RequestContext,
    request: ReceiveMessageRequest,
) -> Result<ReceiveMessageResponse, SqsError> {
    let url = queue_url(context, request.queue_url)?;
    let mut system_attribute_names = request.message_system_attribute_names.unwrap_or_default();
    system_attribute_names.extend(request.attribute_names.unwrap_or_default());
    let input = ReceiveMessageInput {
        max_number_of_messages: request.max_number_of_messages,
        visibility_timeout: request.visibility_timeout,
        wait_time_seconds: request.wait_time_seconds,
        system_attribute_names,
        message_attribute_names: request.message_attribute_names.unwrap_or_default(),
        receive_request_attempt_id: request.receive_request_attempt_id,
    };
    let messages = engine.receive_message(&url, input).await?;
    Ok(ReceiveMessageResponse { messages: messages.into_iter().map(WireMessage::from).collect() })
}
