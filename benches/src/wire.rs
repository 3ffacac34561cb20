//! The SQS AWS JSON 1.0 shapes used by the benchmarks (SPEC.md §3 and §6), with the model's member names.
//!
//! Strings are `Cow` borrowed from the JSON buffer where possible, so neither side pays for copies it does not
//! need; unknown members are ignored, as SPEC.md §3.1 requires of a server.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The `Content-Type` of AWS JSON 1.0 requests and responses.
pub const CONTENT_TYPE_JSON_1_0: &str = "application/x-amz-json-1.0";

/// The `Content-Type` of Query protocol requests (form-encoded parameters).
pub const CONTENT_TYPE_FORM: &str = "application/x-www-form-urlencoded";

/// The API version every Query protocol request names.
pub const QUERY_API_VERSION: &str = "2012-11-05";

/// The prefix of every SQS `X-Amz-Target` value.
pub const TARGET_PREFIX: &str = "AmazonSQS.";

/// The account id that queue URLs carry on emulators.
pub const ACCOUNT_ID: &str = "000000000000";

/// The wire protocol of a request (SPEC.md §3 and §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// AWS JSON 1.0: a JSON body and an `X-Amz-Target` header.
    #[default]
    Json,
    /// The legacy Query protocol: form-encoded parameters in, XML out.
    Query,
}

impl Protocol {
    /// The protocol's command-line name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Query => "query",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An SQS action the benchmarks issue or the no-op server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `CreateQueue`.
    CreateQueue,
    /// `DeleteQueue`.
    DeleteQueue,
    /// `GetQueueAttributes`.
    GetQueueAttributes,
    /// `SendMessage`.
    SendMessage,
    /// `SendMessageBatch`.
    SendMessageBatch,
    /// `ReceiveMessage`.
    ReceiveMessage,
    /// `DeleteMessage`.
    DeleteMessage,
    /// `DeleteMessageBatch`.
    DeleteMessageBatch,
    /// `ChangeMessageVisibility`.
    ChangeMessageVisibility,
    /// `ChangeMessageVisibilityBatch`.
    ChangeMessageVisibilityBatch,
}

impl Action {
    /// Every action, for tests that must cover them all.
    pub const ALL: [Self; 10] = [
        Self::CreateQueue,
        Self::DeleteQueue,
        Self::GetQueueAttributes,
        Self::SendMessage,
        Self::SendMessageBatch,
        Self::ReceiveMessage,
        Self::DeleteMessage,
        Self::DeleteMessageBatch,
        Self::ChangeMessageVisibility,
        Self::ChangeMessageVisibilityBatch,
    ];

    /// The action's name as AWS spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreateQueue => "CreateQueue",
            Self::DeleteQueue => "DeleteQueue",
            Self::GetQueueAttributes => "GetQueueAttributes",
            Self::SendMessage => "SendMessage",
            Self::SendMessageBatch => "SendMessageBatch",
            Self::ReceiveMessage => "ReceiveMessage",
            Self::DeleteMessage => "DeleteMessage",
            Self::DeleteMessageBatch => "DeleteMessageBatch",
            Self::ChangeMessageVisibility => "ChangeMessageVisibility",
            Self::ChangeMessageVisibilityBatch => "ChangeMessageVisibilityBatch",
        }
    }

    /// The full `X-Amz-Target` header value, e.g. `AmazonSQS.SendMessage`.
    pub const fn target(self) -> &'static str {
        match self {
            Self::CreateQueue => "AmazonSQS.CreateQueue",
            Self::DeleteQueue => "AmazonSQS.DeleteQueue",
            Self::GetQueueAttributes => "AmazonSQS.GetQueueAttributes",
            Self::SendMessage => "AmazonSQS.SendMessage",
            Self::SendMessageBatch => "AmazonSQS.SendMessageBatch",
            Self::ReceiveMessage => "AmazonSQS.ReceiveMessage",
            Self::DeleteMessage => "AmazonSQS.DeleteMessage",
            Self::DeleteMessageBatch => "AmazonSQS.DeleteMessageBatch",
            Self::ChangeMessageVisibility => "AmazonSQS.ChangeMessageVisibility",
            Self::ChangeMessageVisibilityBatch => "AmazonSQS.ChangeMessageVisibilityBatch",
        }
    }

    /// Parses an `X-Amz-Target` header value; `None` for anything that is not one of [`Action::ALL`].
    pub fn from_target(target: &str) -> Option<Self> {
        let name = target.strip_prefix(TARGET_PREFIX)?;
        Self::ALL.into_iter().find(|action| action.as_str() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `CreateQueue` input.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateQueueRequest<'a> {
    /// The queue name.
    #[serde(borrow)]
    pub queue_name: Cow<'a, str>,
    /// Queue attributes such as `FifoQueue`; left out when empty.
    #[serde(default, borrow, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
}

/// `CreateQueue` output.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateQueueResponse<'a> {
    /// The URL of the created (or existing) queue.
    #[serde(borrow)]
    pub queue_url: Cow<'a, str>,
}

/// The input of actions that name only a queue (`DeleteQueue`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueUrlRequest<'a> {
    /// The queue.
    #[serde(borrow)]
    pub queue_url: Cow<'a, str>,
}

/// `GetQueueAttributes` input.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueAttributesRequest<'a> {
    /// The queue.
    #[serde(borrow)]
    pub queue_url: Cow<'a, str>,
    /// The attributes wanted, e.g. `ApproximateNumberOfMessages`.
    #[serde(default, borrow)]
    pub attribute_names: Vec<Cow<'a, str>>,
}

/// `GetQueueAttributes` output; every value is a string on the wire, numbers included.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueAttributesResponse<'a> {
    /// Attribute name to value; left out when empty.
    #[serde(default, borrow, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
}

/// `SendMessage` input (only the members the benchmarks send).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageRequest<'a> {
    /// The target queue.
    #[serde(borrow)]
    pub queue_url: Cow<'a, str>,
    /// The message body.
    #[serde(borrow)]
    pub message_body: Cow<'a, str>,
    /// The message group (FIFO queues only).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<Cow<'a, str>>,
}

/// `SendMessage` output.
#[derive(Debug, Serialize, Deserialize)]
pub struct SendMessageResponse<'a> {
    /// The MD5 of the body as the server stored it.
    #[serde(rename = "MD5OfMessageBody", borrow)]
    pub md5_of_message_body: Cow<'a, str>,
    /// The new message's id.
    #[serde(rename = "MessageId", borrow)]
    pub message_id: Cow<'a, str>,
}

/// The input of every batch action: a queue and its entries, e.g. [`SendMessageBatchRequest`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchRequest<'a, E> {
    /// The queue the batch acts on.
    #[serde(borrow)]
    pub queue_url: Cow<'a, str>,
    /// 1..=10 entries with distinct ids.
    pub entries: Vec<E>,
}

/// `SendMessageBatch` input.
pub type SendMessageBatchRequest<'a> = BatchRequest<'a, SendMessageBatchRequestEntry<'a>>;

/// One entry of a `SendMessageBatch` request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessageBatchRequestEntry<'a> {
    /// The entry id, echoed in the result.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// The message body.
    #[serde(borrow)]
    pub message_body: Cow<'a, str>,
    /// The message group (FIFO queues only).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<Cow<'a, str>>,
}

/// One `Successful` entry of a `SendMessageBatch` response.
#[derive(Debug, Serialize, Deserialize)]
pub struct SendMessageBatchResultEntry<'a> {
    /// The request entry's id.
    #[serde(rename = "Id", borrow)]
    pub id: Cow<'a, str>,
    /// The new message's id.
    #[serde(rename = "MessageId", borrow)]
    pub message_id: Cow<'a, str>,
    /// The MD5 of the body as the server stored it.
    #[serde(rename = "MD5OfMessageBody", borrow)]
    pub md5_of_message_body: Cow<'a, str>,
}

/// A batch response: `Successful` and `Failed` are both always present (SPEC.md §3.2).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchResponse<'a, T> {
    /// Entries that were applied.
    #[serde(default = "Vec::new")]
    pub successful: Vec<T>,
    /// Entries that failed (inside a 200 response).
    #[serde(default, borrow)]
    pub failed: Vec<BatchResultErrorEntry<'a>>,
}

/// One `Failed` entry of a batch response.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchResultErrorEntry<'a> {
    /// The request entry's id.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// Whether the caller is at fault.
    pub sender_fault: bool,
    /// The error code.
    #[serde(borrow)]
    pub code: Cow<'a, str>,
    /// The error text, if any.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub message: Option<Cow<'a, str>>,
}

/// `ReceiveMessage` input (only the members the benchmarks send).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessageRequest<'a> {
    /// The source queue.
    #[serde(borrow)]
    pub queue_url: Cow<'a, str>,
    /// 1..=10; the server's default is 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_number_of_messages: Option<u8>,
    /// 0..=20 seconds of long polling; the server's default is the queue's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_time_seconds: Option<u8>,
}

/// `ReceiveMessage` output; an empty receive is `{}` (SPEC.md §3.2).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessageResponse<'a> {
    /// The received messages.
    #[serde(default, borrow, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<ReceivedMessage<'a>>,
}

/// One message of a `ReceiveMessage` response.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReceivedMessage<'a> {
    /// The message id.
    #[serde(rename = "MessageId", borrow)]
    pub message_id: Cow<'a, str>,
    /// The handle that deletes this receive of the message.
    #[serde(rename = "ReceiptHandle", borrow)]
    pub receipt_handle: Cow<'a, str>,
    /// The MD5 of the body.
    #[serde(rename = "MD5OfBody", borrow)]
    pub md5_of_body: Cow<'a, str>,
    /// The body.
    #[serde(rename = "Body", borrow)]
    pub body: Cow<'a, str>,
}

/// `DeleteMessageBatch` input.
pub type DeleteMessageBatchRequest<'a> = BatchRequest<'a, DeleteMessageBatchRequestEntry<'a>>;

impl<'a> DeleteMessageBatchRequest<'a> {
    /// A request deleting the messages of `receipt_handles` (at most ten), entry ids `0`, `1`, ... in order.
    pub fn of_handles(queue_url: &'a str, receipt_handles: impl IntoIterator<Item = &'a str>) -> Self {
        let entries = receipt_handles
            .into_iter()
            .enumerate()
            .map(|(index, handle)| DeleteMessageBatchRequestEntry {
                id: batch_entry_id(index),
                receipt_handle: Cow::Borrowed(handle),
            })
            .collect();
        Self { queue_url: Cow::Borrowed(queue_url), entries }
    }
}

/// One entry of a `DeleteMessageBatch` request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageBatchRequestEntry<'a> {
    /// The entry id, echoed in the result.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// The receipt handle of the message to delete.
    #[serde(borrow)]
    pub receipt_handle: Cow<'a, str>,
}

/// One `Successful` entry of a batch response that carries only the entry's id (`DeleteMessageBatch`,
/// `ChangeMessageVisibilityBatch`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchResultId<'a> {
    /// The request entry's id.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
}

/// One `Successful` entry of a `DeleteMessageBatch` response.
pub type DeleteMessageBatchResultEntry<'a> = BatchResultId<'a>;

/// `DeleteMessage` input.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageRequest<'a> {
    /// The queue the message was received from.
    #[serde(borrow)]
    pub queue_url: Cow<'a, str>,
    /// The receipt handle of the message to delete.
    #[serde(borrow)]
    pub receipt_handle: Cow<'a, str>,
}

/// `ChangeMessageVisibility` input.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeMessageVisibilityRequest<'a> {
    /// The queue the message was received from.
    #[serde(borrow)]
    pub queue_url: Cow<'a, str>,
    /// The receipt handle of the received message.
    #[serde(borrow)]
    pub receipt_handle: Cow<'a, str>,
    /// Seconds from now until the message is visible again (0 releases it at once).
    pub visibility_timeout: u32,
}

/// `ChangeMessageVisibilityBatch` input.
pub type ChangeMessageVisibilityBatchRequest<'a> = BatchRequest<'a, ChangeMessageVisibilityBatchRequestEntry<'a>>;

/// One entry of a `ChangeMessageVisibilityBatch` request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeMessageVisibilityBatchRequestEntry<'a> {
    /// The entry id, echoed in the result.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// The receipt handle of the received message.
    #[serde(borrow)]
    pub receipt_handle: Cow<'a, str>,
    /// Seconds from now until the message is visible again (0 releases it at once).
    pub visibility_timeout: u32,
}

/// One `Successful` entry of a `ChangeMessageVisibilityBatch` response.
pub type ChangeMessageVisibilityBatchResultEntry<'a> = BatchResultId<'a>;

/// The id of entry `index` in a batch: `"0"` to `"9"`.
pub fn batch_entry_id(index: usize) -> Cow<'static, str> {
    const IDS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    IDS.get(index).map_or_else(|| Cow::Owned(index.to_string()), |id| Cow::Borrowed(*id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_through_its_target() {
        for action in Action::ALL {
            assert_eq!(Action::from_target(action.target()), Some(action));
            assert_eq!(action.target(), format!("{TARGET_PREFIX}{action}"));
        }
        assert_eq!(Action::from_target("AmazonSQS.PurgeQueue"), None);
        assert_eq!(Action::from_target("SendMessage"), None);
    }

    #[test]
    fn empty_receive_serialises_as_empty_object() {
        let response = ReceiveMessageResponse { messages: Vec::new() };

        let json = serde_json::to_string(&response).expect("serialise");

        assert_eq!(json, "{}");
    }

    #[test]
    fn visibility_changes_use_the_model_member_names() {
        let request = ChangeMessageVisibilityBatchRequest {
            queue_url: Cow::Borrowed("u"),
            entries: vec![ChangeMessageVisibilityBatchRequestEntry {
                id: batch_entry_id(0),
                receipt_handle: Cow::Borrowed("h"),
                visibility_timeout: 0,
            }],
        };

        let json = serde_json::to_string(&request).expect("serialise");

        assert_eq!(json, r#"{"QueueUrl":"u","Entries":[{"Id":"0","ReceiptHandle":"h","VisibilityTimeout":0}]}"#);
    }

    #[test]
    fn queue_attributes_are_read_as_strings() {
        let json = r#"{"Attributes":{"ApproximateNumberOfMessages":"12"}}"#;

        let parsed: GetQueueAttributesResponse<'_> = serde_json::from_str(json).expect("parse");

        assert_eq!(parsed.attributes.get("ApproximateNumberOfMessages").map(AsRef::as_ref), Some("12"));
    }

    #[test]
    fn batch_response_reads_both_lists() {
        let json = r#"{"Successful":[{"Id":"0"}],"Failed":[{"Id":"1","SenderFault":true,"Code":"X"}]}"#;

        let parsed: BatchResponse<'_, DeleteMessageBatchResultEntry<'_>> = serde_json::from_str(json).expect("parse");

        assert_eq!(parsed.successful.len(), 1);
        assert_eq!(parsed.failed.len(), 1);
        assert_eq!(parsed.failed[0].code, "X");
    }
}
