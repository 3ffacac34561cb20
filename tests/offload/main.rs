//! Large payloads through S3 (`sqskit::offload`, feature `s3`), against real servers: S3 from `moto_server`
//! (moto\[server\], from the venv `tests/servers/setup.sh` installs, started on a free port), SQS from the
//! emulator on both backends (in process, and over HTTP through `aws-sdk-sqs`), and AWS's Python extended client
//! (`amazon-sqs-extended-client`, from the venv `tests/offload/python/setup.sh` installs) for interoperability.
//!
//! Without moto_server or the Python venv a test skips itself with a note, except under CI or
//! `SQSKIT_REQUIRE_STORE_TESTS=1` (which `.ci/run` exports; see `tests/support/servers.rs`), where it fails.
//!
//! - `round_trip`: producer → S3 + pointer → consumer, on both backends; the wire format; batches of pointers;
//!   the object deleted after the acknowledgement, or kept.
//! - `failures`: a missing object is poison with its reason; S3 down puts messages back, never acknowledged;
//!   retried sends upload once; a send SQS refused leaves no object; extended receipt handles.
//! - `interop`: the Python extended client reads what sqskit sends and sqskit reads what it sends.
//! - `examples`: `order_producer` and `order_consumer` with `--s3-bucket` and `--pad-bytes`, as processes.
//! - `readme`: the README's snippet.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/example_binaries.rs"]
mod example_binaries;
#[path = "../support/servers.rs"]
mod servers;

mod examples;
mod failures;
mod interop;
mod readme;
mod round_trip;
mod support;
