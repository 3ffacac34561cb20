//! TagQueue, UntagQueue, ListQueueTags.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::queues::QueueUrlRequest;
use super::wire::pairs;
use super::{EmptyResponse, RequestContext, queue_url, required};
use crate::engine::Engine;
use crate::error::SqsError;

/// `TagQueue` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagQueueRequest {
    queue_url: Option<String>,
    tags: Option<HashMap<String, String>>,
}

pub fn tag_queue(
    engine: &Engine,
    context: &RequestContext,
    request: TagQueueRequest,
) -> Result<EmptyResponse, SqsError> {
    let url = queue_url(context, request.queue_url)?;
    engine.tag_queue(&url, &pairs(request.tags)).map(|()| EmptyResponse {})
}

/// `UntagQueue` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagQueueRequest {
    queue_url: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub fn untag_queue(
    engine: &Engine,
    context: &RequestContext,
    request: UntagQueueRequest,
) -> Result<EmptyResponse, SqsError> {
    let url = queue_url(context, request.queue_url)?;
    let keys = required(request.tag_keys, "TagKeys")?;
    engine.untag_queue(&url, &keys).map(|()| EmptyResponse {})
}

/// `ListQueueTags` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueueTagsResponse {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

pub fn list_queue_tags(
    engine: &Engine,
    context: &RequestContext,
    request: QueueUrlRequest,
) -> Result<ListQueueTagsResponse, SqsError> {
    let url = queue_url(context, request.queue_url)?;
    Ok(ListQueueTagsResponse { tags: engine.list_queue_tags(&url)? })
}
