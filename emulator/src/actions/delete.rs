//! DeleteMessage, DeleteMessageBatch.

use serde::{Deserialize, Serialize};

use super::wire::{BatchResultErrorEntry, IdEntry, split_batch};
use super::{EmptyResponse, RequestContext, queue_url};
use crate::engine::{BatchEntry, Engine};
use crate::error::SqsError;

/// `DeleteMessage` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageRequest {
    queue_url: Option<String>,
    receipt_handle: Option<String>,
}

pub fn delete_message(
    engine: &Engine,
    context: &RequestContext,
    request: DeleteMessageRequest,
) -> Result<EmptyResponse, SqsError> {
    let url = queue_url(context, request.queue_url)?;
    let handle = request.receipt_handle.ok_or_else(|| SqsError::missing_parameter("ReceiptHandle"))?;
    engine.delete_message(&url, &handle)?;
    Ok(EmptyResponse {})
}

/// One `DeleteMessageBatchRequestEntry`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageBatchRequestEntry {
    id: Option<String>,
    receipt_handle: Option<String>,
}

/// `DeleteMessageBatch` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessageBatchRequest {
    queue_url: Option<String>,
    entries: Option<Vec<DeleteMessageBatchRequestEntry>>,
}

/// Output of `DeleteMessageBatch` and `ChangeMessageVisibilityBatch`: both lists always present.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdBatchResponse {
    successful: Vec<IdEntry>,
    failed: Vec<BatchResultErrorEntry>,
}

impl IdBatchResponse {
    pub(super) fn from_results(results: Vec<crate::engine::BatchResult<()>>) -> Self {
        let (successful, failed) = split_batch(results, |id, ()| IdEntry { id });
        Self { successful, failed }
    }
}

pub fn delete_message_batch(
    engine: &Engine,
    context: &RequestContext,
    request: DeleteMessageBatchRequest,
) -> Result<IdBatchResponse, SqsError> {
    let url = queue_url(context, request.queue_url)?;
    let entries = request
        .entries
        .unwrap_or_default()
        .into_iter()
        .map(|entry| BatchEntry { id: entry.id.unwrap_or_default(), input: entry.receipt_handle })
        .collect();
    let results = super::run_batch(context, entries, "DeleteMessageBatchRequestEntry", |entries| {
        engine.delete_message_batch(&url, entries)
    })?;
    Ok(IdBatchResponse::from_results(results))
}
