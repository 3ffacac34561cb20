//! The messages a run sends and the requests that carry them, in either protocol, to standard or FIFO queues.
//!
//! On a standard queue every message has the same body, so each request is serialised once and reused. On a
//! FIFO queue (created with content-based deduplication) every message needs a body of its own, or deduplication
//! would drop it, and a message group; those requests are built per call, and the load generator's CPU column
//! shows what that costs.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use serde::de::IgnoredAny;

use crate::conn::{Connection, to_body};
use crate::query::{self, BatchCounts, OutgoingMessage};
use crate::wire::{
    Action, BatchResponse, Protocol, SendMessageBatchRequest, SendMessageBatchRequestEntry, SendMessageRequest,
    batch_entry_id,
};
use crate::{Error, Result};

/// The most entries an SQS batch may hold.
pub const MAX_BATCH: usize = 10;

/// The kind of queue a run creates and sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueKind {
    /// A standard queue.
    #[default]
    Standard,
    /// A FIFO queue with content-based deduplication; message `k` of the run goes to group `g{k % groups}`.
    Fifo {
        /// How many message groups the run spreads its messages over.
        groups: NonZeroU64,
    },
}

impl QueueKind {
    /// Whether the queue is a FIFO queue.
    pub const fn is_fifo(self) -> bool {
        matches!(self, Self::Fifo { .. })
    }

    /// The suffix SQS requires of the queue's name: `.fifo` for FIFO queues.
    pub const fn name_suffix(self) -> &'static str {
        match self {
            Self::Standard => "",
            Self::Fifo { .. } => ".fifo",
        }
    }

    /// The `CreateQueue` attributes that make a queue of this kind.
    pub fn attributes(self) -> BTreeMap<Cow<'static, str>, Cow<'static, str>> {
        match self {
            Self::Standard => BTreeMap::new(),
            Self::Fifo { .. } => BTreeMap::from([
                (Cow::Borrowed("FifoQueue"), Cow::Borrowed("true")),
                (Cow::Borrowed("ContentBasedDeduplication"), Cow::Borrowed("true")),
            ]),
        }
    }
}

/// The outcome of one send request.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Messages accepted, and those refused inside the 200 response.
    pub counts: BatchCounts,
    /// When the response finished arriving.
    pub received_at: Instant,
}

/// Builds and sends the `SendMessage` / `SendMessageBatch` requests of one run; shared by all its workers.
#[derive(Debug)]
pub struct Sender {
    protocol: Protocol,
    queue_url: String,
    kind: QueueKind,
    body: String,
    /// The number of the next message, for unique FIFO bodies and group assignment.
    next_message: AtomicU64,
    /// Standard queues only: the full batch and the single send, serialised once.
    reusable: Option<(Bytes, Bytes)>,
}

impl Sender {
    /// A sender of `body_bytes`-byte messages to `queue_url` over `protocol`.
    pub fn new(protocol: Protocol, queue_url: &str, kind: QueueKind, body_bytes: usize) -> Self {
        let mut sender = Self {
            protocol,
            queue_url: queue_url.to_owned(),
            kind,
            body: message_body(body_bytes),
            next_message: AtomicU64::new(0),
            reusable: None,
        };
        if kind == QueueKind::Standard {
            sender.reusable = Some((sender.build_batch(MAX_BATCH), sender.build_single()));
        }
        sender
    }

    /// The protocol requests are sent in.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The body of a `SendMessageBatch` request of `count` (1..=10) entries with ids `"0"`...
    pub fn batch_body(&self, count: usize) -> Bytes {
        match &self.reusable {
            Some((batch, _)) if count == MAX_BATCH => batch.clone(),
            _ => self.build_batch(count),
        }
    }

    /// The body of a `SendMessage` request.
    pub fn single_body(&self) -> Bytes {
        match &self.reusable {
            Some((_, single)) => single.clone(),
            None => self.build_single(),
        }
    }

    /// Sends one `SendMessageBatch` of `count` (1..=10) messages on `conn`.
    ///
    /// # Errors
    ///
    /// Transport errors, any status other than 200, and a response that is not a `SendMessageBatch` result.
    pub async fn send_batch(&self, conn: &mut Connection, count: usize) -> Result<Sent> {
        let action = Action::SendMessageBatch;
        let reply = conn.exchange(action, self.protocol, self.batch_body(count)).await?;
        let counts = match self.protocol {
            Protocol::Json => {
                let batch: BatchResponse<'_, IgnoredAny> = reply.decode(action)?;
                BatchCounts {
                    succeeded: batch.successful.len() as u64,
                    failed: batch.failed.len() as u64,
                    first_failure: batch.failed.first().map(|entry| entry.code.clone().into_owned()),
                }
            }
            Protocol::Query => query::read_send_message_batch(&reply.body)?,
        };
        Ok(Sent { counts, received_at: reply.received_at })
    }

    /// Sends one `SendMessage` on `conn`.
    ///
    /// # Errors
    ///
    /// Transport errors and any status other than 200; over Query also a response without a message id.
    pub async fn send_one(&self, conn: &mut Connection) -> Result<Sent> {
        let reply = conn.exchange(Action::SendMessage, self.protocol, self.single_body()).await?;
        if self.protocol == Protocol::Query {
            query::read_send_message(&reply.body)?;
        }
        let counts = BatchCounts { succeeded: 1, ..BatchCounts::default() };
        Ok(Sent { counts, received_at: reply.received_at })
    }

    fn build_batch(&self, count: usize) -> Bytes {
        let messages = self.next_messages(count);
        let messages: Vec<OutgoingMessage<'_>> =
            messages.iter().map(|(body, group)| OutgoingMessage { body, group: group.as_deref() }).collect();
        match self.protocol {
            Protocol::Json => to_body(&SendMessageBatchRequest {
                queue_url: Cow::Borrowed(&self.queue_url),
                entries: messages
                    .iter()
                    .enumerate()
                    .map(|(index, message)| SendMessageBatchRequestEntry {
                        id: batch_entry_id(index),
                        message_body: Cow::Borrowed(message.body),
                        message_group_id: message.group.map(Cow::Borrowed),
                    })
                    .collect(),
            }),
            Protocol::Query => query::send_message_batch_form(&self.queue_url, &messages),
        }
    }

    fn build_single(&self) -> Bytes {
        let messages = self.next_messages(1);
        let (body, group) =
            messages.first().map_or((self.body.as_str(), None), |(body, group)| (body, group.as_deref()));
        match self.protocol {
            Protocol::Json => to_body(&SendMessageRequest {
                queue_url: Cow::Borrowed(&self.queue_url),
                message_body: Cow::Borrowed(body),
                message_group_id: group.map(Cow::Borrowed),
            }),
            Protocol::Query => query::send_message_form(&self.queue_url, &OutgoingMessage { body, group }),
        }
    }

    /// Bodies and groups of the next `count` messages: the shared body on standard queues; on FIFO queues a body
    /// of the same length that starts with the message's number, in group `g{number % groups}`.
    fn next_messages(&self, count: usize) -> Vec<(Cow<'_, str>, Option<String>)> {
        match self.kind {
            QueueKind::Standard => (0..count).map(|_| (Cow::Borrowed(self.body.as_str()), None)).collect(),
            QueueKind::Fifo { groups } => {
                let first = self.next_message.fetch_add(count as u64, Ordering::Relaxed);
                (first..first + count as u64)
                    .map(|number| {
                        (Cow::Owned(unique_body(&self.body, number)), Some(format!("g{}", number % groups.get())))
                    })
                    .collect()
            }
        }
    }
}

/// A message body of exactly `len` bytes, drawn from characters SQS accepts.
pub fn message_body(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len).map(|i| char::from(ALPHABET[i % ALPHABET.len()])).collect()
}

/// `template` with its start replaced by `<number>-`: unique per number, and as long as `template` unless that
/// is too short to hold the number.
pub fn unique_body(template: &str, number: u64) -> String {
    let mut body = format!("{number}-");
    if let Some(rest) = template.get(body.len()..) {
        body.push_str(rest);
    }
    body
}

/// The error for a batch entry that the server refused where the scenario needs every message stored.
pub fn refused(scenario: &str, counts: &BatchCounts) -> Error {
    Error::Scenario(format!(
        "{scenario}: {} entr{} refused, the first with {}",
        counts.failed,
        if counts.failed == 1 { "y was" } else { "ies were" },
        counts.first_failure.as_deref().unwrap_or("no code")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(n: u64) -> QueueKind {
        QueueKind::Fifo { groups: NonZeroU64::new(n).expect("non-zero") }
    }

    #[test]
    fn message_body_has_the_requested_length() {
        assert_eq!(message_body(0), "");
        assert_eq!(message_body(256).len(), 256);
    }

    #[test]
    fn unique_bodies_keep_the_length_and_differ() {
        let template = message_body(32);

        assert_eq!(unique_body(&template, 0).len(), 32);
        assert_eq!(unique_body(&template, 123_456).len(), 32);
        assert!(unique_body(&template, 12).starts_with("12-"));
        assert_ne!(unique_body(&template, 1), unique_body(&template, 11));
        assert_eq!(unique_body("ab", 1234), "1234-");
    }

    #[test]
    fn standard_batches_are_reused_and_number_their_entries() {
        let sender = Sender::new(Protocol::Json, "http://h/000000000000/q", QueueKind::Standard, 8);

        let body = sender.batch_body(MAX_BATCH);

        assert_eq!(body.as_ptr(), sender.batch_body(MAX_BATCH).as_ptr(), "serialised once");
        let parsed: SendMessageBatchRequest<'_> = serde_json::from_slice(&body).expect("valid JSON");
        let ids: Vec<&str> = parsed.entries.iter().map(|entry| entry.id.as_ref()).collect();
        assert_eq!(ids, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
        assert!(parsed.entries.iter().all(|entry| entry.message_group_id.is_none() && entry.message_body.len() == 8));
        assert_eq!(
            serde_json::from_slice::<SendMessageBatchRequest<'_>>(&sender.batch_body(3)).expect("JSON").entries.len(),
            3
        );
    }

    #[test]
    fn fifo_entries_get_unique_bodies_and_round_robin_groups() {
        let sender = Sender::new(Protocol::Json, "http://h/000000000000/q.fifo", groups(3), 16);
        let (batch, single) = (sender.batch_body(4), sender.single_body());

        let first: SendMessageBatchRequest<'_> = serde_json::from_slice(&batch).expect("JSON");
        let single: SendMessageRequest<'_> = serde_json::from_slice(&single).expect("JSON");

        let groups: Vec<&str> = first.entries.iter().filter_map(|entry| entry.message_group_id.as_deref()).collect();
        assert_eq!(groups, ["g0", "g1", "g2", "g0"]);
        assert_eq!(single.message_group_id.as_deref(), Some("g1"));
        let mut bodies: Vec<&str> = first.entries.iter().map(|entry| entry.message_body.as_ref()).collect();
        bodies.push(&single.message_body);
        assert!(bodies.iter().all(|body| body.len() == 16));
        bodies.sort_unstable();
        bodies.dedup();
        assert_eq!(bodies.len(), 5, "every body is unique");
    }

    #[test]
    fn query_batches_carry_groups_on_fifo_queues() {
        let sender = Sender::new(Protocol::Query, "http://h/000000000000/q.fifo", groups(1000), 8);

        let form = sender.batch_body(2);

        let pairs: BTreeMap<String, String> =
            form_urlencoded::parse(&form).map(|(name, value)| (name.into_owned(), value.into_owned())).collect();
        assert_eq!(pairs["Action"], "SendMessageBatch");
        assert_eq!(pairs["SendMessageBatchRequestEntry.2.MessageGroupId"], "g1");
        assert!(pairs["SendMessageBatchRequestEntry.2.MessageBody"].starts_with("1-"));
    }

    #[test]
    fn fifo_queues_ask_for_content_based_deduplication() {
        let attributes = groups(10).attributes();

        assert_eq!(attributes.get("FifoQueue").map(AsRef::as_ref), Some("true"));
        assert_eq!(attributes.get("ContentBasedDeduplication").map(AsRef::as_ref), Some("true"));
        assert!(QueueKind::Standard.attributes().is_empty());
        assert_eq!(groups(10).name_suffix(), ".fifo");
    }
}
