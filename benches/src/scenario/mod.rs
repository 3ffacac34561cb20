//! The benchmark scenarios and the setup they share: creating the queue and opening one connection per worker.
//!
//! Every scenario is bounded by a duration, a request or message count, or a timeout, and talks only to the one
//! endpoint it is given.

pub mod drain;
pub mod fill;
pub mod longpoll;
pub mod pipeline;
pub mod soak;
pub mod throughput;

use std::borrow::Cow;

use crate::Result;
use crate::conn::Connection;
use crate::endpoint::Endpoint;
use crate::send::QueueKind;
use crate::wire::{Action, CreateQueueRequest, CreateQueueResponse};

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
    /// Enqueue exactly `--messages` messages with `SendMessageBatch`, then stop (memory and recovery runs).
    Fill,
    /// A mixed workload at `--rate` for `--duration`, sampling the server every `--sample-interval`.
    Soak,
    /// Producers send at `--rate` messages/s while consumers receive and delete; reports send-to-delete latency.
    Pipeline,
}

impl Scenario {
    /// The scenario's command-line name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::SendBatch => "send-batch",
            Self::Drain => "drain",
            Self::Longpoll => "longpoll",
            Self::Fill => "fill",
            Self::Soak => "soak",
            Self::Pipeline => pipeline::NAME,
        }
    }

    /// Whether the scenario can run on a FIFO queue: those that only send, `drain` and `pipeline`.
    pub const fn supports_fifo(self) -> bool {
        !matches!(self, Self::Longpoll | Self::Soak)
    }

    /// Whether the scenario can send over the Query protocol: those that only send (`drain`, `longpoll` and
    /// `soak` receive and delete over JSON).
    pub const fn supports_query(self) -> bool {
        matches!(self, Self::Send | Self::SendBatch | Self::Fill)
    }
}

/// A queue name that no earlier run used: `bench-<scenario>-<8 hex digits>`, plus `.fifo` for FIFO queues.
pub fn unique_queue_name(scenario: Scenario, kind: QueueKind) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("bench-{}-{}{}", scenario.as_str(), &id[..8], kind.name_suffix())
}

/// Creates (or looks up) queue `name` of `kind` and returns its URL.
///
/// # Errors
///
/// Connection and HTTP failures, any status other than 200, and a response without `QueueUrl`.
pub async fn create_queue(endpoint: &Endpoint, name: &str, kind: QueueKind) -> Result<String> {
    let mut conn = Connection::open(endpoint).await?;
    let request = CreateQueueRequest { queue_name: Cow::Borrowed(name), attributes: kind.attributes() };
    let reply = conn.call_json(Action::CreateQueue, &request).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_queue_names_are_valid_and_distinct() {
        let first = unique_queue_name(Scenario::SendBatch, QueueKind::Standard);
        let second = unique_queue_name(Scenario::SendBatch, QueueKind::Standard);

        assert_ne!(first, second);
        assert!(first.len() <= 80);
        assert!(first.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn fifo_queue_names_end_in_dot_fifo() {
        let kind = QueueKind::Fifo { groups: std::num::NonZeroU64::MIN };

        let name = unique_queue_name(Scenario::Drain, kind);

        assert!(name.starts_with("bench-drain-") && name.ends_with(".fifo"), "{name}");
        assert!(name.len() <= 80);
    }
}
