//! sqskit-emulator: a local Amazon SQS that AWS SDKs, the AWS CLI and boto3 talk to without noticing.
//!
//! Run it as a server (`sqskit-emulator --port 9324`), start it in-process with [`Emulator::builder`], or use
//! the [`engine::Engine`] directly without HTTP.
//!
//! # Layout
//! - [`engine`]: queue semantics (standard queues, visibility, delays, retention, long polling); no HTTP,
//!   JSON or XML.
//! - [`protocol`]: wire formats (AWS JSON 1.0 and the legacy Query/XML protocol); no queue logic.
//! - [`actions`]: the 23 actions: typed requests/responses and one engine call each; one exhaustive dispatch.
//! - [`auth`]: SigV4 verification of requests (`--auth sigv4`) and the credentials that map keys to accounts.
//! - [`http`]: the axum router and the server lifecycle; the admin API under `/_sqskit/`.
//! - [`metrics`]: request counts and latencies, and the Prometheus text served at `GET /metrics`.
//! - [`dashboard`]: the read-only web pages under `/ui` (queues, depth charts, message peek).
//! - [`faults`]: fault rules and quotas; [`config`] and [`storage`]: the config file and durable mode.
//! - [`error`]: the AWS error table and [`SqsError`]; [`documents`]: JSON documents inside queue attributes.

pub mod action;
pub mod actions;
pub mod auth;
pub mod config;
pub mod dashboard;
pub mod documents;
pub mod engine;
pub mod error;
pub mod faults;
pub mod http;
pub mod metrics;
pub mod process;
pub mod protocol;
pub mod storage;

pub use engine::{Clock, Engine, EngineConfig, ManualClock, ResetScope, SystemClock, Timestamp};
pub use error::{ErrorCode, SqsError};
pub use http::server::{Emulator, EmulatorBuilder, ResetReport, RunningEmulator, ServerError};
