//! CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, PurgeQueue.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::wire::pairs;
use super::{EmptyResponse, RequestContext, required};
use crate::engine::Engine;
use crate::error::SqsError;

/// `CreateQueue` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateQueueRequest {
    queue_name: Option<String>,
    attributes: Option<HashMap<String, String>>,
    #[serde(rename = "tags")]
    tags: Option<HashMap<String, String>>,
}

/// `CreateQueue` / `GetQueueUrl` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueUrlResponse {
    queue_url: String,
}

/// `CreateQueue`: creates a queue in the caller's account (quietly, if it exists alike) and returns its URL.
pub fn create_queue(
    engine: &Engine,
    context: &RequestContext,
    request: CreateQueueRequest,
) -> Result<QueueUrlResponse, SqsError> {
    let name = required(request.queue_name, "QueueName")?;
    let account = context.account(engine);
    engine.create_queue_in(account, &name, &pairs(request.attributes), &pairs(request.tags))?;
    Ok(QueueUrlResponse { queue_url: engine.queue_url_in(&context.base_url, account, &name) })
}

/// `GetQueueUrl` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueUrlRequest {
    queue_name: Option<String>,
    #[serde(rename = "QueueOwnerAWSAccountId")]
    queue_owner_aws_account_id: Option<String>,
}

/// `GetQueueUrl`: the URL of a queue of the caller's (or the named owner's) account.
pub fn get_queue_url(
    engine: &Engine,
    context: &RequestContext,
    request: GetQueueUrlRequest,
) -> Result<QueueUrlResponse, SqsError> {
    let name = required(request.queue_name, "QueueName")?;
    let owner = request.queue_owner_aws_account_id.as_deref().unwrap_or(context.account(engine));
    engine.get_queue_url_in(owner, &name, None)?;
    Ok(QueueUrlResponse { queue_url: engine.queue_url_in(&context.base_url, owner, &name) })
}

/// `ListQueues` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueuesRequest {
    queue_name_prefix: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// `ListQueues` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueuesResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    queue_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// `ListQueues`: the URLs of the caller's queues, by prefix, paged when `MaxResults` is given.
pub fn list_queues(
    engine: &Engine,
    context: &RequestContext,
    request: ListQueuesRequest,
) -> Result<ListQueuesResponse, SqsError> {
    let listing = engine.list_queues_in(
        context.account(engine),
        request.queue_name_prefix.as_deref(),
        request.max_results,
        request.next_token.as_deref(),
    )?;
    Ok(ListQueuesResponse {
        queue_urls: listing
            .names
            .iter()
            .map(|name| engine.queue_url_in(&context.base_url, &listing.account, name))
            .collect(),
        next_token: listing.next_token,
    })
}

/// Input of the actions that take only a queue URL (`DeleteQueue`, `PurgeQueue`, `ListQueueTags`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueUrlRequest {
    pub(super) queue_url: Option<String>,
}

queue_scoped!(QueueUrlRequest);

/// `DeleteQueue`: deletes the queue and its messages.
pub fn delete_queue(engine: &Engine, url: &str, _: QueueUrlRequest) -> Result<EmptyResponse, SqsError> {
    engine.delete_queue(url).map(|()| EmptyResponse {})
}

/// `PurgeQueue`: deletes every message of the queue.
pub fn purge_queue(engine: &Engine, url: &str, _: QueueUrlRequest) -> Result<EmptyResponse, SqsError> {
    engine.purge_queue(url).map(|()| EmptyResponse {})
}
