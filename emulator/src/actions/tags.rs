//! TagQueue, UntagQueue, ListQueueTags.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::queues::QueueUrlRequest;
use super::wire::pairs;
use super::{EmptyResponse, required};
use crate::engine::Engine;
use crate::error::SqsError;

/// `TagQueue` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagQueueRequest {
    queue_url: Option<String>,
    tags: Option<HashMap<String, String>>,
}

queue_scoped!(TagQueueRequest);

/// `TagQueue`: adds or overwrites tags.
pub fn tag_queue(engine: &Engine, url: &str, request: TagQueueRequest) -> Result<EmptyResponse, SqsError> {
    engine.tag_queue(url, &pairs(request.tags)).map(|()| EmptyResponse {})
}

/// `UntagQueue` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagQueueRequest {
    queue_url: Option<String>,
    tag_keys: Option<Vec<String>>,
}

queue_scoped!(UntagQueueRequest);

/// `UntagQueue`: removes tags by key.
pub fn untag_queue(engine: &Engine, url: &str, request: UntagQueueRequest) -> Result<EmptyResponse, SqsError> {
    let keys = required(request.tag_keys, "TagKeys")?;
    engine.untag_queue(url, &keys).map(|()| EmptyResponse {})
}

/// `ListQueueTags` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueueTagsResponse {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

/// `ListQueueTags`: the queue's tags.
pub fn list_queue_tags(engine: &Engine, url: &str, _: QueueUrlRequest) -> Result<ListQueueTagsResponse, SqsError> {
    Ok(ListQueueTagsResponse { tags: engine.list_queue_tags(url)? })
}
