//! The emulator's own HTTP surfaces beside SQS, in one test binary:
//! - `admin_and_faults`: the emulator as a test instrument: virtual time over the admin API, injected faults
//!   as clients see them, the FIFO quota, side-effect-free peeking, the admin token, faults from the config file;
//! - `metrics`: `GET /metrics` reports exact Prometheus counts after a known workload;
//! - `reset`: `POST /_sqskit/reset` and its in-process twin, the `QueueDeletedRecently` switch, the health probes.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod admin_and_faults;
mod metrics;
mod reset;
