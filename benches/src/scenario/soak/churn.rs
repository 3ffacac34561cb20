//! Queue churn during a soak run: every interval, on a connection of its own, create a short-lived queue, send
//! a few messages to it, receive and delete them, and delete the queue. Its requests take slots from the same
//! schedule as the steady workload, so `--rate` stays the total.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use serde::de::IgnoredAny;

use super::caller::{Caller, Stop};
use crate::conn::to_body;
use crate::wire::{
    Action, BatchResponse, CreateQueueRequest, CreateQueueResponse, DeleteMessageBatchRequest, QueueUrlRequest,
    ReceiveMessageRequest, ReceiveMessageResponse, SendMessageBatchRequest, SendMessageBatchRequestEntry,
    batch_entry_id,
};

/// Messages sent to each short-lived queue.
const MESSAGES_PER_QUEUE: usize = 3;

/// Churns queues named `<prefix>-<n>` every `every` until `deadline`, then hands the caller back (its connection
/// still open).
pub async fn worker(mut caller: Caller, prefix: String, every: Duration, deadline: Instant, body: String) -> Caller {
    let mut next = Instant::now();
    for number in 1_u64.. {
        next += every;
        if next >= deadline {
            break;
        }
        tokio::time::sleep_until(next.into()).await;
        if churn_once(&mut caller, &format!("{prefix}-{number}"), &body).await.is_err() {
            break;
        }
    }
    caller
}

/// One churn cycle on queue `name`. Once the queue exists, it is deleted even if a step in between failed.
async fn churn_once(caller: &mut Caller, name: &str, body: &str) -> Result<(), Stop> {
    let create = CreateQueueRequest { queue_name: Cow::Borrowed(name), attributes: Default::default() };
    let Some(reply) = caller.call(Action::CreateQueue, to_body(&create)).await? else {
        return Ok(());
    };
    let Some(created) = caller.decode::<CreateQueueResponse<'_>>(Action::CreateQueue, &reply) else {
        return Ok(());
    };
    let queue_url = created.queue_url.as_ref();

    let send = SendMessageBatchRequest {
        queue_url: Cow::Borrowed(queue_url),
        entries: (0..MESSAGES_PER_QUEUE)
            .map(|index| SendMessageBatchRequestEntry {
                id: batch_entry_id(index),
                message_body: Cow::Borrowed(body),
                message_group_id: None,
            })
            .collect(),
    };
    if let Some(reply) = caller.call(Action::SendMessageBatch, to_body(&send)).await? {
        if let Some(batch) = caller.decode::<BatchResponse<'_, IgnoredAny>>(Action::SendMessageBatch, &reply) {
            caller.recorder().refused_entries(Action::SendMessageBatch, &batch.failed);
        }
    }

    let receive = ReceiveMessageRequest {
        queue_url: Cow::Borrowed(queue_url),
        max_number_of_messages: Some(10),
        wait_time_seconds: Some(0),
    };
    if let Some(reply) = caller.call(Action::ReceiveMessage, to_body(&receive)).await? {
        if let Some(received) = caller.decode::<ReceiveMessageResponse<'_>>(Action::ReceiveMessage, &reply) {
            delete_received(caller, queue_url, &received).await?;
        }
    }

    let delete_queue = QueueUrlRequest { queue_url: Cow::Borrowed(queue_url) };
    if caller.call(Action::DeleteQueue, to_body(&delete_queue)).await?.is_some() {
        caller.recorder().churned();
    }
    Ok(())
}

async fn delete_received(
    caller: &mut Caller,
    queue_url: &str,
    received: &ReceiveMessageResponse<'_>,
) -> Result<(), Stop> {
    if received.messages.is_empty() {
        return Ok(());
    }
    let handles = received.messages.iter().map(|message| message.receipt_handle.as_ref());
    let delete = DeleteMessageBatchRequest::of_handles(queue_url, handles);
    if let Some(reply) = caller.call(Action::DeleteMessageBatch, to_body(&delete)).await? {
        if let Some(batch) = caller.decode::<BatchResponse<'_, IgnoredAny>>(Action::DeleteMessageBatch, &reply) {
            caller.recorder().refused_entries(Action::DeleteMessageBatch, &batch.failed);
        }
    }
    Ok(())
}
