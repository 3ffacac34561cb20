//! Receivers that race and wait, in one test binary:
//! - `fifo_groups`: many concurrent consumers on one FIFO queue keep every group in order and exclusive;
//! - `long_poll_wakeups`: long polls wake for every change that can make a message receivable, not only sends.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod attribute_updates;
mod fifo_groups;
mod long_poll_wakeups;
