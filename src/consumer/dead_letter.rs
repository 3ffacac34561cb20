//! Client-side dead-lettering: copy a message to the dead-letter queue (body, attributes, FIFO group; the
//! reason as an extra attribute when there is room), retrying retryable failures. The caller deletes the
//! original only after this succeeded, so a message is never lost between the two queues (a crash in
//! between may leave a copy in both).

use std::time::Duration;

use tokio::time::Instant;

use crate::backend::{MAX_MESSAGE_BYTES, ReceivedMessage, SendEntry, SqsBackend};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::types::MessageAttribute;

/// The message attribute carrying why the consumer dead-lettered a message (added only when the message
/// has fewer than 10 attributes and stays within the size limit).
pub const DEAD_LETTER_REASON_ATTRIBUTE: &str = "sqskit.dead-letter-reason";

/// SQS allows at most this many message attributes.
const MAX_ATTRIBUTES: usize = 10;
/// Reasons are cut to this many bytes.
const MAX_REASON_BYTES: usize = 1024;

fn dead_letter_entry(dead_letter_queue: &str, message: &ReceivedMessage, reason: &str) -> SendEntry {
    let mut entry = SendEntry::new("dead-letter", message.body.clone());
    entry.attributes = message.attributes.clone();
    let reason = truncate(reason, MAX_REASON_BYTES);
    let reason_size = DEAD_LETTER_REASON_ATTRIBUTE.len() + "String".len() + reason.len();
    if entry.attributes.len() < MAX_ATTRIBUTES && entry.size() + reason_size <= MAX_MESSAGE_BYTES && !reason.is_empty()
    {
        entry.attributes.insert(DEAD_LETTER_REASON_ATTRIBUTE, MessageAttribute::string(reason));
    }
    if dead_letter_queue.ends_with(".fifo") {
        // As SQS's own redrive does for FIFO dead-letter queues: the group is kept and the message id
        // becomes the deduplication id, so a retried send is deduplicated.
        entry.group_id = Some(message.group_id().unwrap_or("sqskit-dead-letter").to_owned());
        entry.deduplication_id = Some(message.message_id.as_str().to_owned());
    }
    entry
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Sends a copy of `message` to `dead_letter_queue`.
///
/// # Errors
/// The last error when the send finally failed (non-retryable, or retries exhausted).
pub(crate) async fn send_to_dead_letter_queue(
    backend: &dyn SqsBackend,
    dead_letter_queue: &str,
    message: &ReceivedMessage,
    reason: &str,
    retry: &RetryPolicy,
) -> Result<()> {
    let entry = dead_letter_entry(dead_letter_queue, message, reason);
    let started = Instant::now();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let error = match backend.send_message_batch(dead_letter_queue, std::slice::from_ref(&entry)).await {
            Ok(outcome) => match outcome.failed.into_iter().next() {
                None if !outcome.successful.is_empty() => {
                    retry.deposit();
                    return Ok(());
                }
                None => Error::Timeout { detail: "SendMessageBatch answered without the entry".to_owned() },
                Some(failure) => failure.error,
            },
            Err(error) => error,
        };
        let delay: Option<Duration> = if error.is_retryable() {
            retry
                .next_delay(attempts, started.elapsed())
                .filter(|_| retry.withdraw(matches!(error, Error::Timeout { .. })))
        } else {
            None
        };
        match delay {
            Some(delay) => tokio::time::sleep(delay).await,
            None => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::types::{MessageId, ReceiptHandle, SystemAttributeName};

    fn message(attributes: usize) -> ReceivedMessage {
        ReceivedMessage {
            message_id: MessageId::from("m-1"),
            receipt_handle: ReceiptHandle::from("r"),
            body: "{}".to_owned(),
            attributes: (0..attributes).map(|i| (format!("a{i}"), MessageAttribute::string("v"))).collect(),
            system_attributes: BTreeMap::from([(SystemAttributeName::MessageGroupId, "g".to_owned())]),
            md5_of_body: None,
            md5_of_message_attributes: None,
            checksum_error: None,
        }
    }

    #[test]
    fn fifo_dead_letters_keep_the_group_and_dedupe_on_the_message_id() {
        let entry = dead_letter_entry("http://q/1/dlq.fifo", &message(0), "bad");
        assert_eq!(entry.group_id.as_deref(), Some("g"));
        assert_eq!(entry.deduplication_id.as_deref(), Some("m-1"));
        assert_eq!(entry.attributes.get(DEAD_LETTER_REASON_ATTRIBUTE).and_then(|a| a.as_text()), Some("bad"));
    }

    #[test]
    fn the_reason_is_added_only_when_there_is_room() {
        let entry = dead_letter_entry("http://q/1/dlq", &message(10), "bad");
        assert_eq!(entry.attributes.len(), 10);
        assert!(entry.attributes.get(DEAD_LETTER_REASON_ATTRIBUTE).is_none());
        assert_eq!(entry.group_id, None);
        assert_eq!(truncate("héllo", 2), "h");
    }
}
