//! Emulator behaviour that only the `aws-sdk-sqs` client can observe: typed SDK error variants, HTTP statuses
//! and the wire's error codes and texts, actions outside sqskit's `SqsBackend` trait (single-message actions,
//! tags, permissions, dead-letter source listing, message move tasks), and parameters the trait cannot express
//! (deprecated `AttributeNames`, missing required parameters). Behaviour the trait can express lives in the
//! client crate's conformance scenarios (`tests/conformance/scenarios/`), which run on every backend row.
//!
//! One test binary: one module per area, the shared fixtures of `emulator/tests/common` and the assertion
//! helpers of [`support`].
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
mod support;

mod dead_letter;
mod errors;
mod messages;
mod move_tasks;
mod permissions;
mod queues;
mod regions;
mod visibility;
