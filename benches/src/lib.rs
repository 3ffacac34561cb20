//! Benchmark tooling for SQS endpoints: a load generator that speaks the AWS JSON 1.0 protocol (and, for sends,
//! the legacy Query protocol) over keep-alive HTTP/1.1, and a no-op server that answers the same JSON requests
//! with fixed responses as a throughput ceiling.
//!
//! # Layout
//!
//! - [`wire`]: the few SQS request and response shapes the benchmarks use, shared by both sides.
//! - [`query`]: Query protocol forms for sends and the counting of their XML results.
//! - [`send`]: the messages of a run (standard or FIFO queue) and the send requests that carry them.
//! - [`endpoint`] and [`conn`]: one hand-managed hyper HTTP/1.1 connection per concurrent worker.
//! - [`stats`]: latency histograms and the per-run [`stats::Report`].
//! - [`procfs`]: a server process's resident memory and open descriptors, for soak runs.
//! - [`scenario`]: the `send`, `send-batch`, `drain`, `longpoll`, `fill` and `soak` scenarios.
//! - [`noop`]: the axum router of `sqskit-noop-server`.
//!
//! # Running
//!
//! The binaries are `sqskit-loadgen` and `sqskit-noop-server`. `benches/scripts/run.sh` builds them and the
//! emulator, pins the servers to CPU 0 and the load generator to CPU 1, runs every scenario three times against the
//! emulator and the no-op server, and prints the medians as a markdown table; `benches/scripts/run-extra.sh` does
//! the same for the Query, FIFO and durable-storage comparisons, `benches/scripts/run-footprint.sh` measures memory
//! and recovery with a million messages, `benches/scripts/run-soak.sh` runs the 30-minute soak, and
//! `benches/scripts/callgrind.sh` counts instructions per request; `benches/README.md` lists them all. By hand:
//!
//! ```text
//! target/release/sqskit-noop-server --port 9399 --threads 1 &
//! target/release/sqskit-loadgen --scenario send --endpoint http://127.0.0.1:9399 --duration 5 --json
//! ```

pub mod conn;
pub mod endpoint;
pub mod error;
pub mod noop;
pub mod procfs;
pub mod query;
pub mod scenario;
pub mod send;
pub mod stats;
pub mod wire;

pub use error::{Error, Result};
