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
use std::time::Duration;

use hyper::StatusCode;

use crate::conn::Connection;
use crate::endpoint::Endpoint;
use crate::send::QueueKind;
use crate::wire::{Action, CreateQueueRequest, CreateQueueResponse};
use crate::{Error, Result};

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
    // A server that has just started may accept connections before it serves (the emulator answers 503 while it
    // restores its data file): 503s are retried for a while, as the AWS SDKs retry them.
    let mut waited = Duration::ZERO;
    let reply = loop {
        match conn.call_json(Action::CreateQueue, &request).await {
            Err(Error::Status { status: StatusCode::SERVICE_UNAVAILABLE, .. }) if waited < START_UP_WAIT => {
                tokio::time::sleep(START_UP_RETRY).await;
                waited += START_UP_RETRY;
            }
            result => break result?,
        }
    };
    let created: CreateQueueResponse<'_> = reply.decode(Action::CreateQueue)?;
    Ok(created.queue_url.into_owned())
}

/// How long [`create_queue`] retries a server that answers 503, and how often.
const START_UP_WAIT: Duration = Duration::from_secs(10);
const START_UP_RETRY: Duration = Duration::from_millis(20);

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

    /// A server that answers the first `unavailable` requests of its one connection with 503, then with a queue
    /// URL (an injected fault: a server that accepts connections before it serves, as a starting emulator does).
    async fn starting_server(unavailable: usize) -> (String, tokio::task::JoinHandle<usize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut received = Vec::new();
            let mut answered = 0;
            let mut buffer = [0_u8; 4096];
            loop {
                let Ok(read) = socket.read(&mut buffer).await else { return answered };
                if read == 0 {
                    return answered;
                }
                received.extend_from_slice(&buffer[..read]);
                // Every request has a body; each ends with its Content-Length bytes after the header.
                let text = String::from_utf8_lossy(&received).into_owned();
                let Some(header_end) = text.find("\r\n\r\n") else { continue };
                let length: usize = text[..header_end]
                    .lines()
                    .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(str::to_owned))
                    .and_then(|value| value.trim().parse().ok())
                    .unwrap_or(0);
                if received.len() < header_end + 4 + length {
                    continue;
                }
                received.drain(..header_end + 4 + length);
                let (status, body) = if answered < unavailable {
                    ("503 Service Unavailable", r#"{"__type":"ServiceUnavailable","message":"starting"}"#)
                } else {
                    ("200 OK", r#"{"QueueUrl":"http://127.0.0.1/000000000000/q"}"#)
                };
                answered += 1;
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                socket.write_all(response.as_bytes()).await.expect("answer");
            }
        });
        (url, server)
    }

    #[tokio::test]
    async fn queue_creation_waits_for_a_server_that_is_still_starting() {
        let (url, server) = starting_server(3).await;
        let endpoint = Endpoint::resolve(&url).await.expect("endpoint");

        let queue_url = create_queue(&endpoint, "q", QueueKind::Standard).await.expect("created once it serves");

        assert_eq!(queue_url, "http://127.0.0.1/000000000000/q");
        assert_eq!(server.await.expect("server"), 4, "three 503s, then the queue");
    }
}
