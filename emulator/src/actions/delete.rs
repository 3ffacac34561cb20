//! DeleteMessage, DeleteMessageBatch.

use serde::Deserialize;

use super::batch::{BatchRequest, IdBatchResponse, RequestEntry};
use super::{EmptyResponse, RequestContext, required};
use crate::engine::{BatchEntry, Engine};
use crate::error::SqsError;

/// `DeleteMessage` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageRequest {
    queue_url: Option<String>,
    receipt_handle: Option<String>,
}

queue_scoped!(DeleteMessageRequest);

/// `DeleteMessage`: deletes the message a receipt handle names.
pub fn delete_message(engine: &Engine, url: &str, request: DeleteMessageRequest) -> Result<EmptyResponse, SqsError> {
    let handle = required(request.receipt_handle, "ReceiptHandle")?;
    engine.delete_message(url, &handle).map(|()| EmptyResponse {})
}

/// One `DeleteMessageBatchRequestEntry`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageBatchRequestEntry {
    id: Option<String>,
    receipt_handle: Option<String>,
}

impl RequestEntry for DeleteMessageBatchRequestEntry {
    const KIND: &'static str = "DeleteMessageBatchRequestEntry";
    type Input = Option<String>;
    fn into_entry(self) -> BatchEntry<Option<String>> {
        BatchEntry { id: self.id.unwrap_or_default(), input: self.receipt_handle }
    }
}

/// `DeleteMessageBatch` input.
pub type DeleteMessageBatchRequest = BatchRequest<DeleteMessageBatchRequestEntry>;

/// `DeleteMessageBatch`: up to ten deletes, each succeeding or failing on its own.
pub fn delete_message_batch(
    engine: &Engine,
    context: &RequestContext,
    request: DeleteMessageBatchRequest,
) -> Result<IdBatchResponse, SqsError> {
    let results = request.run(context, |url, entries| engine.delete_message_batch(url, entries))?;
    Ok(IdBatchResponse::from_ids(results))
}
