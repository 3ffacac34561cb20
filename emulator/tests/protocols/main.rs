//! The wire protocols without an SDK in between, in one test binary ("build once, test many"):
//! - `json_wire`: AWS JSON 1.0 byte for byte: exact keys, values, headers and errors (SPEC.md §3);
//! - `query_wire`: the legacy Query protocol byte for byte: whole pinned XML documents (SPEC.md §4);
//! - `query_actions`: every supported action over Query, checked as a Query client sees it, MD5s included;
//! - `query_requests`: how Query requests may arrive (path, GET, merged parameters) and the error paths;
//! - `error_table`: the emulator's error table against the Smithy model the SDKs are generated from.
//! - `relaxations`: QueueDeletedRecently, its switch and `POST /_sqskit/reset` as Query clients see them.
//!
//! Shared helpers: `support` (the test-only Query client, XML tree, pinned-document envelopes, JSON
//! assertions) on top of `common` (starting the emulator, raw HTTP requests, MD5s).
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
mod support;

mod error_table;
mod json_wire;
mod query_actions;
mod query_requests;
mod query_wire;
mod relaxations;
