//! SigV4 mode (`--auth sigv4`) in one test binary:
//! - `auth`: signatures through the real `aws-sdk-sqs` client and raw requests signed with `aws-sigv4`: right
//!   and wrong keys, tampered bodies, skewed clocks, replays, presigned Query GETs;
//! - `accounts`: each key's account is its own namespace of queues; cross-account access follows the Policy.
//! - `pages`: `/ui`, `/metrics` and `/_sqskit/*` need the admin token or a signature, and show an account only its own.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod auth;
mod identity;
mod pages;

use sqskit_emulator::auth::{AuthMode, Credential};
use sqskit_emulator::{Emulator, ManualClock, RunningEmulator};

/// Starts an emulator in SigV4 mode on `clock` that knows exactly `credentials`.
async fn start_sigv4(clock: ManualClock, credentials: Vec<Credential>) -> RunningEmulator {
    common::start_emulator(Emulator::builder().clock(clock).auth(AuthMode::Sigv4).credentials(credentials)).await
}
