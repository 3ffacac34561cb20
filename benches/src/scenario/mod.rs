//! The benchmark scenarios and the setup they share: creating the queue and opening one connection per worker.
//!
//! Every scenario is bounded by a duration, a request or message count, or a timeout, and talks only to the one
//! endpoint it is given.

pub mod drain;
pub mod longpoll;
pub mod throughput;

use std::borrow::Cow;

use bytes::Bytes;

use crate::Result;
use crate::conn::{Connection, to_body};
use crate::endpoint::Endpoint;
use crate::wire::{
    Action, CreateQueueRequest, CreateQueueResponse, SendMessageBatchRequest, SendMessageBatchRequestEntry,
    batch_entry_id,
};

/// The most entries an SQS batch may hold.
pub const MAX_BATCH: usize = 10;

/// A benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// `SendMessage` in a closed loop on every connection.
    Send,
    /// `SendMessageBatch` of ten entries in a closed loop on every connection.
    SendBatch,
    /// Pre-fill the queue, then `ReceiveMessage` + `DeleteMessageBatch` until it is empty.
    Drain,
    /// Wake-up latency of long-polling receivers when one message is sent.
    Longpoll,
}

impl Scenario {
    /// The scenario's command-line name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::SendBatch => "send-batch",
            Self::Drain => "drain",
            Self::Longpoll => "longpoll",
        }
    }
}

/// A queue name that no earlier run used: `bench-<scenario>-<8 hex digits>`.
pub fn unique_queue_name(scenario: Scenario) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("bench-{}-{}", scenario.as_str(), &id[..8])
}

/// Creates (or looks up) queue `name` and returns its URL.
///
/// # Errors
///
/// Connection and HTTP failures, any status other than 200, and a response without `QueueUrl`.
pub async fn create_queue(endpoint: &Endpoint, name: &str) -> Result<String> {
    let mut conn = Connection::open(endpoint).await?;
    let reply = conn.call_json(Action::CreateQueue, &CreateQueueRequest { queue_name: Cow::Borrowed(name) }).await?;
    let created: CreateQueueResponse<'_> = reply.decode(Action::CreateQueue)?;
    Ok(created.queue_url.into_owned())
}

/// Opens `count` connections to `endpoint`, one after the other.
///
/// # Errors
///
/// The first connection failure.
pub async fn open_connections(endpoint: &Endpoint, count: usize) -> Result<Vec<Connection>> {
    let mut connections = Vec::with_capacity(count);
    for _ in 0..count {
        connections.push(Connection::open(endpoint).await?);
    }
    Ok(connections)
}

/// A message body of exactly `len` bytes, drawn from characters SQS accepts.
pub fn message_body(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len).map(|i| char::from(ALPHABET[i % ALPHABET.len()])).collect()
}

/// The serialised `SendMessageBatch` request of `count` entries (ids `"0"`..) all carrying `body`.
pub fn send_batch_body(queue_url: &str, body: &str, count: usize) -> Bytes {
    to_body(&SendMessageBatchRequest {
        queue_url: Cow::Borrowed(queue_url),
        entries: (0..count)
            .map(|index| SendMessageBatchRequestEntry { id: batch_entry_id(index), message_body: Cow::Borrowed(body) })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_body_has_the_requested_length() {
        assert_eq!(message_body(0), "");
        assert_eq!(message_body(256).len(), 256);
    }

    #[test]
    fn unique_queue_names_are_valid_and_distinct() {
        let first = unique_queue_name(Scenario::SendBatch);
        let second = unique_queue_name(Scenario::SendBatch);

        assert_ne!(first, second);
        assert!(first.len() <= 80);
        assert!(first.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn batch_body_numbers_its_entries() {
        let body = send_batch_body("http://h/000000000000/q", "x", 3);

        let parsed: SendMessageBatchRequest<'_> = serde_json::from_slice(&body).expect("valid JSON");

        let ids: Vec<&str> = parsed.entries.iter().map(|entry| entry.id.as_ref()).collect();
        assert_eq!(ids, ["0", "1", "2"]);
    }
}
