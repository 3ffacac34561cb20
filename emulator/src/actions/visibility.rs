//! ChangeMessageVisibility, ChangeMessageVisibilityBatch.

use serde::Deserialize;

use super::delete::IdBatchResponse;
use super::{EmptyResponse, RequestContext, queue_url};
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

pub fn change_message_visibility(
    engine: &Engine,
    context: &RequestContext,
    request: ChangeMessageVisibilityRequest,
) -> Result<EmptyResponse, SqsError> {
    let url = queue_url(context, request.queue_url)?;
    let handle = request.receipt_handle.ok_or_else(|| SqsError::missing_parameter("ReceiptHandle"))?;
    engine.change_message_visibility(&url, &handle, request.visibility_timeout)?;
    Ok(EmptyResponse {})
}

/// One `ChangeMessageVisibilityBatchRequestEntry`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeMessageVisibilityBatchRequestEntry {
    id: Option<String>,
    receipt_handle: Option<String>,
    visibility_timeout: Option<i64>,
}

/// `ChangeMessageVisibilityBatch` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeMessageVisibilityBatchRequest {
    queue_url: Option<String>,
    entries: Option<Vec<ChangeMessageVisibilityBatchRequestEntry>>,
}

pub fn change_message_visibility_batch(
    engine: &Engine,
    context: &RequestContext,
    request: ChangeMessageVisibilityBatchRequest,
) -> Result<IdBatchResponse, SqsError> {
    let url = queue_url(context, request.queue_url)?;
    let entries = request
        .entries
        .unwrap_or_default()
        .into_iter()
        .map(|entry| BatchEntry {
            id: entry.id.unwrap_or_default(),
            input: (entry.receipt_handle, entry.visibility_timeout),
        })
        .collect();
    let results = super::run_batch(context, entries, "ChangeMessageVisibilityBatchRequestEntry", |entries| {
        engine.change_message_visibility_batch(&url, entries)
    })?;
    Ok(IdBatchResponse::from_results(results))
}
