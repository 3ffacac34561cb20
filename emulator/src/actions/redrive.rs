//! ListDeadLetterSourceQueues, StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask.

use serde::{Deserialize, Serialize};

use super::{RequestContext, queue_url, required};
use crate::engine::{Engine, MoveTaskInfo};
use crate::error::SqsError;

/// `ListDeadLetterSourceQueues` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListDeadLetterSourceQueuesRequest {
    queue_url: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// `ListDeadLetterSourceQueues` output: note the lower-case `queueUrls`, as in the model.
#[derive(Debug, Serialize)]
pub struct ListDeadLetterSourceQueuesResponse {
    #[serde(rename = "queueUrls")]
    queue_urls: Vec<String>,
    #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// `ListDeadLetterSourceQueues`: the URLs of the queues that use this one as their dead-letter queue.
pub fn list_dead_letter_source_queues(
    engine: &Engine,
    context: &RequestContext,
    request: ListDeadLetterSourceQueuesRequest,
) -> Result<ListDeadLetterSourceQueuesResponse, SqsError> {
    let url = queue_url(context, request.queue_url)?;
    let listing = engine.list_dead_letter_source_queues(&url, request.max_results, request.next_token.as_deref())?;
    Ok(ListDeadLetterSourceQueuesResponse {
        queue_urls: listing
            .names
            .iter()
            .map(|name| engine.queue_url_in(&context.base_url, &listing.account, name))
            .collect(),
        next_token: listing.next_token,
    })
}

/// `StartMessageMoveTask` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartMessageMoveTaskRequest {
    source_arn: Option<String>,
    destination_arn: Option<String>,
    max_number_of_messages_per_second: Option<i64>,
}

/// `StartMessageMoveTask` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartMessageMoveTaskResponse {
    task_handle: String,
}

/// `StartMessageMoveTask`: starts redriving a dead-letter queue; returns the task handle.
pub fn start_message_move_task(
    engine: &Engine,
    request: StartMessageMoveTaskRequest,
) -> Result<StartMessageMoveTaskResponse, SqsError> {
    let source = required(request.source_arn, "SourceArn")?;
    let task_handle = engine.start_message_move_task(
        &source,
        request.destination_arn.as_deref().filter(|arn| !arn.is_empty()),
        request.max_number_of_messages_per_second,
    )?;
    Ok(StartMessageMoveTaskResponse { task_handle })
}

/// `ListMessageMoveTasks` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMessageMoveTasksRequest {
    source_arn: Option<String>,
    max_results: Option<i64>,
}

/// One `ListMessageMoveTasksResultEntry`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMessageMoveTasksResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    task_handle: Option<String>,
    status: &'static str,
    source_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_number_of_messages_per_second: Option<u64>,
    approximate_number_of_messages_moved: u64,
    approximate_number_of_messages_to_move: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    started_timestamp: u64,
}

impl From<MoveTaskInfo> for ListMessageMoveTasksResultEntry {
    fn from(info: MoveTaskInfo) -> Self {
        Self {
            task_handle: info.task_handle,
            status: info.status.as_str(),
            source_arn: info.source_arn,
            destination_arn: info.destination_arn,
            max_number_of_messages_per_second: info.max_number_of_messages_per_second,
            approximate_number_of_messages_moved: info.approximate_number_of_messages_moved,
            approximate_number_of_messages_to_move: info.approximate_number_of_messages_to_move,
            failure_reason: info.failure_reason,
            started_timestamp: info.started_timestamp.as_millis(),
        }
    }
}

/// `ListMessageMoveTasks` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMessageMoveTasksResponse {
    results: Vec<ListMessageMoveTasksResultEntry>,
}

/// `ListMessageMoveTasks`: the most recent move tasks of a source queue.
pub fn list_message_move_tasks(
    engine: &Engine,
    request: ListMessageMoveTasksRequest,
) -> Result<ListMessageMoveTasksResponse, SqsError> {
    let source = required(request.source_arn, "SourceArn")?;
    let tasks = engine.list_message_move_tasks(&source, request.max_results)?;
    Ok(ListMessageMoveTasksResponse { results: tasks.into_iter().map(Into::into).collect() })
}

/// `CancelMessageMoveTask` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelMessageMoveTaskRequest {
    task_handle: Option<String>,
}

/// `CancelMessageMoveTask` output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelMessageMoveTaskResponse {
    approximate_number_of_messages_moved: u64,
}

/// `CancelMessageMoveTask`: cancels a running move task; returns how many messages it moved.
pub fn cancel_message_move_task(
    engine: &Engine,
    request: CancelMessageMoveTaskRequest,
) -> Result<CancelMessageMoveTaskResponse, SqsError> {
    let handle = required(request.task_handle, "TaskHandle")?;
    Ok(CancelMessageMoveTaskResponse {
        approximate_number_of_messages_moved: engine.cancel_message_move_task(&handle)?,
    })
}
