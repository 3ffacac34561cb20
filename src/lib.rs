//! sqskit: typed, dependable Amazon SQS producers and consumers, testable offline.
//!
//! - One async trait, [`SqsBackend`], with two implementations: [`AwsBackend`] over `aws-sdk-sqs` (real SQS,
//!   or `sqskit-emulator` over HTTP) and [`EmbeddedBackend`] over the emulator's engine in process.
//! - A typed [`Producer`] that batches concurrent sends into `SendMessageBatch` requests, retries with
//!   jittered backoff under a budget, keeps FIFO group order, derives deduplication ids from idempotency
//!   keys and rejects invalid messages before any request.
//! - MD5 verification of every send response and received message (the Rust SDK does none).
//!
//! # Quick start (offline, on the embedded emulator)
//! ```
//! use std::sync::Arc;
//! use serde::{Deserialize, Serialize};
//! use sqskit::backend::{EmbeddedBackend, ReceiveRequest, SqsBackend};
//! use sqskit::Producer;
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Greeting { to: String }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), sqskit::Error> {
//! let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
//! let queue_url = backend.create_queue("greetings", &Default::default(), &Default::default()).await?;
//!
//! let producer = Producer::<Greeting>::builder(backend.clone(), &queue_url).build().await?;
//! let report = producer.send_all((0..25).map(|i| Greeting { to: format!("user-{i}") })).await;
//! assert_eq!(report.sent.len(), 25);
//! producer.close().await;
//!
//! let received = backend.receive_message(&queue_url, &ReceiveRequest::new().max_messages(10)).await?;
//! let first: Greeting = serde_json::from_str(&received[0].body).expect("json");
//! assert!(first.to.starts_with("user-"));
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`error`]: [`Error`] (one enum for the crate), [`ServiceErrorCode`], and [`Error::is_retryable`], the only
//!   retry classification.
//! - [`types`]: identifiers, message attributes, queue and system attribute names.
//! - [`backend`]: the [`SqsBackend`] trait and its plain request/response types; `aws.rs` ([`AwsBackend`]),
//!   `embedded.rs` ([`EmbeddedBackend`], feature `embedded`), `integrity.rs` ([`integrity`]: MD5 digests of
//!   bodies and attributes and their verification, shared by both backends), `observed.rs` (the one wrapper,
//!   [`Observed`](backend::Observed), showing every request to a [`BackendObserver`](backend::BackendObserver)),
//!   `counting.rs` (call counting) and `metered.rs` (API metrics), both observers.
//! - [`codec`]: [`Encode`](codec::Encode) / [`Decode`](codec::Decode) and the serde_json default.
//! - [`retry`]: the backoff policy (full jitter, max elapsed time) and the retry budget.
//! - [`flow`]: [`AimdLimit`](flow::AimdLimit), the throttling-aware limit on a producer's requests in flight
//!   and a consumer's active pollers.
//! - [`idempotency`]: the idempotency-key attribute name and the FIFO deduplication id derived from a key.
//! - [`producer`]: [`Producer<T>`], its builder, the buffer task (`batcher.rs`) and the pre-request checks
//!   (`validate.rs`).
//! - [`consumer`]: [`Consumer<T>`]: pollers with back-pressure, per-message handlers (or batch handlers),
//!   batched acknowledgements, the visibility heartbeat, retry backoff, dead-lettering, FIFO group ordering,
//!   idempotent processing ([`IdempotencyStore`]) and graceful shutdown.
//! - [`envelope`]: SNS notifications and EventBridge events opened before the codec (metadata on the
//!   [`Delivery`]), raw, or detected per message.
//! - [`consumer::Router`]: several message types on one queue, each to the handler of its type.
//! - `lambda` (feature `lambda`): the same handlers behind an AWS Lambda SQS event source mapping, with
//!   partial batch responses.
//! - [`telemetry`]: every metric, label and span name as a constant, with a table of what each means.
//! - [`trace_context`]: [`TraceContext`], the W3C `traceparent` carried from producer to consumer.
//! - `otel` (feature `otel`): spans following OpenTelemetry's messaging semantic conventions, parented and
//!   linked across producer and consumer through `tracing-opentelemetry`.
//! - [`monitor`]: [`QueueMonitor`], polling queue attributes and calling alert hooks with hysteresis.
//! - [`offload`]: large payloads in S3 ([`offload::LargePayloads`]; `S3PayloadStore`, feature `s3`), compatible with
//!   AWS's SQS extended clients.
//! - [`stores`]: idempotency stores shared by consumers on several machines: `RedisIdempotencyStore`
//!   (feature `redis`) and `DynamoDbIdempotencyStore` (feature `dynamodb`).

pub mod backend;
pub mod codec;
pub mod consumer;
pub mod envelope;
pub mod error;
pub mod flow;
pub mod idempotency;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod monitor;
pub mod offload;
#[cfg(feature = "otel")]
pub mod otel;
#[cfg(not(feature = "otel"))]
mod otel;
pub mod producer;
pub mod retry;
pub mod stores;
pub mod telemetry;
pub mod trace_context;
pub mod types;

#[cfg(feature = "embedded")]
pub use backend::EmbeddedBackend;
pub use backend::{AwsBackend, SqsBackend, integrity};
pub use consumer::{
    Consumer, ConsumerBuilder, Delivery, IdempotencyStore, InMemoryIdempotencyStore, Outcome, RunningConsumer,
    ShutdownReport,
};
pub use error::{Error, Fault, PayloadErrorKind, Result, ServiceErrorCode};
pub use monitor::{Alert, QueueMonitor, Threshold};
pub use producer::{Producer, ProducerBuilder, SendOptions, SendReceipt, SendReport};
pub use trace_context::TraceContext;
pub use types::{IdempotencyKey, MessageAttribute, MessageAttributes, MessageId, ReceiptHandle};
