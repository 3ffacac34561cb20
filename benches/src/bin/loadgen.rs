//! `sqskit-loadgen`: drives an SQS endpoint (the emulator, the no-op server, anything on loopback) through one
//! benchmark scenario and prints one result line, or one JSON object with `--json`.
//!
//! `cargo run --release -p sqskit-bench --bin sqskit-loadgen -- --scenario send --endpoint http://127.0.0.1:9324`

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use sqskit_bench::endpoint::Endpoint;
use sqskit_bench::scenario::drain::DrainConfig;
use sqskit_bench::scenario::fill::FillConfig;
use sqskit_bench::scenario::longpoll::LongpollConfig;
use sqskit_bench::scenario::throughput::{Limit, ThroughputConfig};
use sqskit_bench::scenario::{self, Scenario};
use sqskit_bench::send::{QueueKind, Sender};
use sqskit_bench::stats::Report;
use sqskit_bench::wire::Protocol;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(name = "sqskit-loadgen", about = "Load generator for SQS endpoints (AWS JSON 1.0; Query for sends)")]
struct Args {
    /// What to measure.
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Base URL of the endpoint (http only).
    #[arg(long, default_value = "http://127.0.0.1:9324")]
    endpoint: String,
    /// Queue name; the default is a fresh `bench-<scenario>-<random>` queue (with `.fifo` for FIFO queues).
    #[arg(long)]
    queue: Option<String>,
    /// Use a FIFO queue with content-based deduplication and spread the messages over this many message groups
    /// (send, send-batch, drain, fill); every message gets a unique body.
    #[arg(long)]
    fifo_groups: Option<NonZeroU64>,
    /// The protocol of the send requests (send, send-batch, fill); queues are always created over JSON.
    #[arg(long, value_enum, default_value_t = Protocol::Json)]
    protocol: Protocol,
    /// Connections, each with one request in flight (send, send-batch, drain, fill).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Measured seconds (send, send-batch).
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Unmeasured seconds before the measured window (send, send-batch).
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Send exactly this many requests instead of running for --duration (send, send-batch).
    #[arg(long)]
    requests: Option<u64>,
    /// Size of each message body in bytes.
    #[arg(long, default_value_t = 256)]
    body_bytes: usize,
    /// Messages to pre-fill and drain (drain), or to enqueue (fill).
    #[arg(long, default_value_t = 100_000)]
    messages: u64,
    /// Measured wake-ups (longpoll).
    #[arg(long, default_value_t = 2000)]
    samples: usize,
    /// Unmeasured wake-ups sent first (longpoll).
    #[arg(long, default_value_t = 50)]
    warmup_samples: usize,
    /// Long-polling waiter connections (longpoll).
    #[arg(long, default_value_t = 4)]
    waiters: usize,
    /// WaitTimeSeconds of the waiters' receives, 1..=20 (longpoll).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(1..=20))]
    wait_seconds: u8,
    /// Milliseconds between a message's arrival and the next send (longpoll).
    #[arg(long, default_value_t = 5)]
    pause_ms: u64,
    /// Give up on a drain or fill run after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
    /// Tokio worker threads of the load generator; 1 uses the current-thread runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print the result as one JSON object on stdout (the human-readable line goes to stderr).
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
    anyhow::ensure!(args.waiters >= 1, "--waiters must be at least 1");
    anyhow::ensure!(args.threads >= 1, "--threads must be at least 1");
    anyhow::ensure!(
        args.fifo_groups.is_none() || args.scenario.supports_fifo(),
        "--fifo-groups does not apply to the {} scenario",
        args.scenario.as_str()
    );
    anyhow::ensure!(
        args.protocol == Protocol::Json || args.scenario.supports_query(),
        "--protocol {} applies only to send, send-batch and fill",
        args.protocol
    );
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()
    }
    .context("cannot build the tokio runtime")?;
    let report = runtime.block_on(run(&args))?;

    if args.json {
        eprintln!("{report}");
        println!("{}", serde_json::to_string(&report).context("cannot serialise the report")?);
    } else {
        println!("{report}");
    }
    Ok(())
}

async fn run(args: &Args) -> anyhow::Result<Report> {
    let endpoint = Endpoint::resolve(&args.endpoint).await?;
    let kind = args.fifo_groups.map_or(QueueKind::Standard, |groups| QueueKind::Fifo { groups });
    let queue = args.queue.clone().unwrap_or_else(|| scenario::unique_queue_name(args.scenario, kind));
    anyhow::ensure!(
        queue.ends_with(".fifo") == kind.is_fifo(),
        "queue {queue}: FIFO queue names, and only they, end in .fifo (FIFO is chosen with --fifo-groups)"
    );
    let queue_url = scenario::create_queue(&endpoint, &queue, kind)
        .await
        .with_context(|| format!("cannot create queue {queue} at {}", endpoint.url))?;
    let sender = Arc::new(Sender::new(args.protocol, &queue_url, kind, args.body_bytes));
    let scenario_name = args.scenario.as_str();

    let report = match args.scenario {
        Scenario::Send | Scenario::SendBatch => {
            let limit = match args.requests {
                Some(count) => Limit::Requests(count),
                None => Limit::Duration {
                    warmup: seconds(args.warmup, "--warmup")?,
                    measure: seconds(args.duration, "--duration")?,
                },
            };
            let config = ThroughputConfig { concurrency: args.concurrency, limit };
            scenario::throughput::run(&endpoint, &sender, args.scenario, &config).await
        }
        Scenario::Drain => {
            let config = DrainConfig {
                concurrency: args.concurrency,
                messages: args.messages,
                timeout: seconds(args.timeout, "--timeout")?,
            };
            scenario::drain::run(&endpoint, &queue_url, &sender, &config).await
        }
        Scenario::Fill => {
            let config = FillConfig {
                concurrency: args.concurrency,
                messages: args.messages,
                timeout: seconds(args.timeout, "--timeout")?,
            };
            scenario::fill::run(&endpoint, &sender, &config).await
        }
        Scenario::Longpoll => {
            let config = LongpollConfig {
                waiters: args.waiters,
                samples: args.samples,
                warmup_samples: args.warmup_samples,
                wait_seconds: args.wait_seconds,
                pause: Duration::from_millis(args.pause_ms),
            };
            scenario::longpoll::run(&endpoint, &queue_url, &config).await
        }
    };
    let report = report.with_context(|| format!("scenario {scenario_name} against {} failed", endpoint.url))?;
    Ok(report.with_queue(args.protocol, kind))
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value).with_context(|| format!("{flag} must be a non-negative number of seconds"))
}
