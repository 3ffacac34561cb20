//! ChangeMessageVisibility, ChangeMessageVisibilityBatch.

use serde::Deserialize;

use super::batch::{BatchRequest, IdBatchResponse, RequestEntry};
use super::{EmptyResponse, RequestContext, required};
use crate::engine::{BatchEntry, Engine};
use crate::error::SqsError;

/// `ChangeMessageVisibility` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeMessageVisibilityRequest {
    queue_url: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

queue_scoped!(ChangeMessageVisibilityRequest);

/// `ChangeMessageVisibility`: sets an in-flight message's visibility timeout, counted from now.
pub fn change_message_visibility(
    engine: &Engine,
    url: &str,
    request: ChangeMessageVisibilityRequest,
) -> Result<EmptyResponse, SqsError> {
    let handle = required(request.receipt_handle, "ReceiptHandle")?;
    engine.change_message_visibility(url, &handle, request.visibility_timeout).map(|()| EmptyResponse {})
}

/// One `ChangeMessageVisibilityBatchRequestEntry`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeMessageVisibilityBatchRequestEntry {
    id: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

impl RequestEntry for ChangeMessageVisibilityBatchRequestEntry {
    const KIND: &'static str = "ChangeMessageVisibilityBatchRequestEntry";
    type Input = (Option<String>, Option<i64>);
    fn into_entry(self) -> BatchEntry<Self::Input> {
        BatchEntry { id: self.id.unwrap_or_default(), input: (self.receipt_handle, self.visibility_timeout) }
    }
}

/// `ChangeMessageVisibilityBatch` input.
pub type ChangeMessageVisibilityBatchRequest = BatchRequest<ChangeMessageVisibilityBatchRequestEntry>;

/// `ChangeMessageVisibilityBatch`: up to ten visibility changes, each succeeding or failing on its own.
pub fn change_message_visibility_batch(
    engine: &Engine,
    context: &RequestContext,
    request: ChangeMessageVisibilityBatchRequest,
) -> Result<IdBatchResponse, SqsError> {
    let results = request.run(context, |url, entries| engine.change_message_visibility_batch(url, entries))?;
    Ok(IdBatchResponse::from_ids(results))
}
