//! Helpers the message-level scenarios share: one-entry sends, short polls, queue counters, and the exact
//! assertion of a service error (code, message text, sender fault) that every backend must report alike.

use std::time::Duration;

use sqskit::backend::{DeleteEntry, ReceiveRequest, ReceivedMessage, SendEntry, SentMessage, VisibilityEntry};
use sqskit::types::{QueueAttributeName, QueueAttributes};
use sqskit::{Error, Fault, ReceiptHandle, ServiceErrorCode};

use crate::support::TestContext;

/// A short poll (no wait) for up to `max` messages with every attribute.
pub fn short_poll(max: u8) -> ReceiveRequest {
    ReceiveRequest::new().max_messages(max).wait_time(Duration::ZERO).all_attributes()
}

/// Sends one entry; an entry failure or a failed request is the `Err`.
pub async fn send_entry(ctx: &TestContext, url: &str, entry: SendEntry) -> Result<SentMessage, Error> {
    let mut outcome = ctx.backend.send_message_batch(url, std::slice::from_ref(&entry)).await?;
    if let Some(failure) = outcome.failed.pop() {
        assert_eq!(failure.id, entry.id);
        return Err(failure.error);
    }
    let (id, sent) = outcome.successful.pop().expect("one result per entry");
    assert_eq!(id, entry.id);
    Ok(sent)
}

/// Sends a plain message and returns what SQS answered.
pub async fn send(ctx: &TestContext, url: &str, body: &str) -> SentMessage {
    send_entry(ctx, url, SendEntry::new("m", body)).await.unwrap_or_else(|e| panic!("send {body:?}: {e:?}"))
}

/// A plain entry with a per-message delay.
pub fn delayed(id: &str, body: &str, delay_secs: u64) -> SendEntry {
    SendEntry { delay: Some(Duration::from_secs(delay_secs)), ..SendEntry::new(id, body) }
}

/// Short-polls for up to `max` messages.
pub async fn receive(ctx: &TestContext, url: &str, max: u8) -> Vec<ReceivedMessage> {
    ctx.backend.receive_message(url, &short_poll(max)).await.expect("receive")
}

/// Short-polls with a visibility timeout of its own.
pub async fn receive_hidden_for(ctx: &TestContext, url: &str, max: u8, secs: u64) -> Vec<ReceivedMessage> {
    let request = short_poll(max).visibility_timeout(Duration::from_secs(secs));
    ctx.backend.receive_message(url, &request).await.expect("receive")
}

/// Short-polls for exactly one message and returns it.
pub async fn receive_one(ctx: &TestContext, url: &str) -> ReceivedMessage {
    let mut messages = receive(ctx, url, 1).await;
    assert_eq!(messages.len(), 1, "expected exactly one message, got {messages:?}");
    messages.remove(0)
}

/// The bodies of `messages`, in order.
pub fn bodies(messages: &[ReceivedMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.body.as_str()).collect()
}

/// Deletes one message by handle; the entry's error is the `Err`.
pub async fn delete(ctx: &TestContext, url: &str, handle: &ReceiptHandle) -> Result<(), Error> {
    let entry = DeleteEntry { id: "d".to_owned(), receipt_handle: handle.clone() };
    let mut outcome = ctx.backend.delete_message_batch(url, &[entry]).await?;
    outcome.failed.pop().map_or(Ok(()), |failure| Err(failure.error))
}

/// Changes one message's visibility timeout; the entry's error is the `Err`.
pub async fn change_visibility(ctx: &TestContext, url: &str, handle: &ReceiptHandle, secs: u64) -> Result<(), Error> {
    let entry = VisibilityEntry {
        id: "v".to_owned(),
        receipt_handle: handle.clone(),
        visibility_timeout: Duration::from_secs(secs),
    };
    let mut outcome = ctx.backend.change_message_visibility_batch(url, &[entry]).await?;
    outcome.failed.pop().map_or(Ok(()), |failure| Err(failure.error))
}

/// Sends `n` messages (`m0`, `m1`, ...), receives them all and returns their receipt handles.
pub async fn in_flight_handles(ctx: &TestContext, url: &str, n: usize) -> Vec<ReceiptHandle> {
    for i in 0..n {
        send(ctx, url, &format!("m{i}")).await;
    }
    let messages = super::drain(ctx, url).await;
    assert_eq!(messages.len(), n);
    messages.into_iter().map(|m| m.receipt_handle).collect()
}

/// `(ApproximateNumberOfMessages, ...NotVisible, ...Delayed)`.
pub async fn counts(ctx: &TestContext, url: &str) -> (u64, u64, u64) {
    let attributes = attributes(ctx, url).await;
    let get = |value: Option<u64>, name: &str| value.unwrap_or_else(|| panic!("{name} missing from {attributes:?}"));
    (
        get(attributes.approximate_number_of_messages(), "ApproximateNumberOfMessages"),
        get(attributes.approximate_number_of_messages_not_visible(), "ApproximateNumberOfMessagesNotVisible"),
        get(attributes.approximate_number_of_messages_delayed(), "ApproximateNumberOfMessagesDelayed"),
    )
}

/// Every attribute of the queue (`All`).
pub async fn attributes(ctx: &TestContext, url: &str) -> QueueAttributes {
    ctx.backend.get_queue_attributes(url, &[QueueAttributeName::All]).await.expect("get queue attributes")
}

/// Queue attributes from `(name, value)` pairs.
pub fn queue_attributes(pairs: &[(&str, &str)]) -> QueueAttributes {
    pairs.iter().map(|(name, value)| (QueueAttributeName::parse(name), (*value).to_owned())).collect()
}

/// Asserts `error` is a sender-fault service error with `code` whose message contains `message_part`.
pub fn assert_service_error(error: &Error, code: &ServiceErrorCode, message_part: &str) {
    match error {
        Error::Service { code: actual, message, fault, .. } => {
            assert_eq!(actual, code, "{error:?}");
            assert!(message.contains(message_part), "message {message:?} should contain {message_part:?}");
            assert_eq!(*fault, Some(Fault::Sender), "{error:?}");
        }
        other => panic!("expected a {code:?} service error, got {other:?}"),
    }
}

/// Asserts `id` is a UUID in its 36-character text form (8-4-4-4-12 hex digits).
pub fn assert_uuid(id: &str) {
    let groups: Vec<&str> = id.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    assert_eq!(lengths, [8, 4, 4, 4, 12], "MessageId {id} is not a UUID");
    assert!(groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit())), "MessageId {id} is not a UUID");
}

/// Creates `name` (ending in `.fifo`) with `FifoQueue=true` plus `extra` attributes.
pub async fn create_fifo(ctx: &TestContext, name: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![("FifoQueue", "true")];
    pairs.extend_from_slice(extra);
    ctx.create_queue_with(name, queue_attributes(&pairs)).await
}

/// A FIFO entry in `group` with an optional explicit deduplication id.
pub fn fifo_entry(body: &str, group: &str, dedup: Option<&str>) -> SendEntry {
    SendEntry {
        group_id: Some(group.to_owned()),
        deduplication_id: dedup.map(str::to_owned),
        ..SendEntry::new("m", body)
    }
}

/// Sends a FIFO message in `group` with an optional explicit deduplication id.
pub async fn send_fifo(ctx: &TestContext, url: &str, body: &str, group: &str, dedup: Option<&str>) -> SentMessage {
    send_entry(ctx, url, fifo_entry(body, group, dedup))
        .await
        .unwrap_or_else(|e| panic!("send {body:?} to group {group:?}: {e:?}"))
}

/// Sends `body` in `group` with the body as its deduplication id.
pub async fn send_in_group(ctx: &TestContext, url: &str, body: &str, group: &str) -> SentMessage {
    send_fifo(ctx, url, body, group, Some(body)).await
}

/// Short-polls for up to `max` messages with a visibility timeout and an optional `ReceiveRequestAttemptId`.
pub async fn receive_attempt(
    ctx: &TestContext,
    url: &str,
    max: u8,
    visibility_secs: u64,
    attempt: Option<&str>,
) -> Vec<ReceivedMessage> {
    let mut request = short_poll(max).visibility_timeout(Duration::from_secs(visibility_secs));
    request.receive_request_attempt_id = attempt.map(str::to_owned);
    ctx.backend.receive_message(url, &request).await.expect("receive")
}
