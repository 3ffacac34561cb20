//! `sqskit-loadgen`: drives an SQS endpoint (the emulator, the no-op server, anything on loopback) through one
//! benchmark scenario and prints one result line, or one JSON object with `--json`. A `soak` run also prints one
//! line per sample to stderr, and exits non-zero when it breaks its limits (`--max-errors`,
//! `--max-rss-growth-mib`, `--max-fd-growth`).
//!
//! `cargo run --release -p sqskit-bench --bin sqskit-loadgen -- --scenario send --endpoint http://127.0.0.1:9324`

use std::fmt::Display;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use sqskit_bench::endpoint::Endpoint;
use sqskit_bench::scenario::drain::DrainConfig;
use sqskit_bench::scenario::fill::FillConfig;
use sqskit_bench::scenario::longpoll::LongpollConfig;
use sqskit_bench::scenario::pipeline::PipelineConfig;
use sqskit_bench::scenario::soak::SoakConfig;
use sqskit_bench::scenario::soak::report::SoakReport;
use sqskit_bench::scenario::soak::verdict::Limits;
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
    /// Connections, each with one request in flight (send, send-batch, drain, fill; soak adds one for churn;
    /// pipeline: half of them produce, the others consume).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Measured seconds (send, send-batch, soak).
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
    /// Requests per second in total, churn included (soak); without it every connection goes as fast as it can.
    /// Messages per second sent in total (pipeline; default 1000).
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds between samples (soak).
    #[arg(long, default_value_t = 60.0)]
    sample_interval: f64,
    /// Seconds between queue churn cycles (create, use and delete a queue); 0 turns churn off (soak).
    #[arg(long, default_value_t = 1.0)]
    churn_interval: f64,
    /// Sample this process's RSS and open file descriptors every interval, from Linux's /proc (soak).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Fail when there are more errors than this (soak).
    #[arg(long, default_value_t = 0)]
    max_errors: u64,
    /// Fail when the server's RSS grows by more MiB from the first sample to the last; needs --server-pid (soak).
    #[arg(long)]
    max_rss_growth_mib: Option<f64>,
    /// Fail when the server's open file descriptors grow by more from the first sample to the last (soak, with
    /// --server-pid).
    #[arg(long, default_value_t = 8)]
    max_fd_growth: u64,
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
    match runtime.block_on(run(&args))? {
        Outcome::Bench(report) => print(&report, args.json),
        Outcome::Soak(report) => {
            print(&*report, args.json)?;
            anyhow::ensure!(report.passed, "the soak run failed: {}", report.failures.join("; "));
            Ok(())
        }
    }
}

/// The report of a run, by kind.
enum Outcome {
    /// A throughput or latency scenario.
    Bench(Report),
    /// A soak run, with its verdict (boxed: it carries every sample).
    Soak(Box<SoakReport>),
}

fn print<R: Display + serde::Serialize>(report: &R, json: bool) -> anyhow::Result<()> {
    if json {
        eprintln!("{report}");
        println!("{}", serde_json::to_string(report).context("cannot serialise the report")?);
    } else {
        println!("{report}");
    }
    Ok(())
}

async fn run(args: &Args) -> anyhow::Result<Outcome> {
    // Checked before anything is created on the endpoint.
    let soak = if args.scenario == Scenario::Soak { Some(soak_config(args)?) } else { None };
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
        Scenario::Soak => {
            let config = soak.context("the soak settings were checked above")?;
            let report = scenario::soak::run(&endpoint, &queue_url, &config)
                .await
                .with_context(|| format!("soak against {} failed to start", endpoint.url))?;
            return Ok(Outcome::Soak(Box::new(report)));
        }
        Scenario::Pipeline => {
            let rate = args.rate.unwrap_or(1000.0);
            anyhow::ensure!(rate.is_finite() && rate > 0.0, "--rate must be a positive number of messages per second");
            let producers = (args.concurrency / 2).max(1);
            let config = PipelineConfig {
                producers,
                consumers: args.concurrency.saturating_sub(producers).max(1),
                rate,
                warmup: seconds(args.warmup, "--warmup")?,
                duration: seconds(args.duration, "--duration")?,
                body_bytes: args.body_bytes,
                kind,
                timeout: seconds(args.timeout, "--timeout")?,
            };
            scenario::pipeline::run(&endpoint, &queue_url, &config).await
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
    Ok(Outcome::Bench(report.with_queue(args.protocol, kind)))
}

fn soak_config(args: &Args) -> anyhow::Result<SoakConfig> {
    if let Some(rate) = args.rate {
        anyhow::ensure!(rate.is_finite() && rate > 0.0, "--rate must be a positive number of requests per second");
    }
    anyhow::ensure!(
        args.max_rss_growth_mib.is_none() || args.server_pid.is_some(),
        "--max-rss-growth-mib needs --server-pid: whose memory should be watched?"
    );
    let sample_interval = seconds(args.sample_interval, "--sample-interval")?;
    anyhow::ensure!(!sample_interval.is_zero(), "--sample-interval must be longer than zero");
    let churn_interval = seconds(args.churn_interval, "--churn-interval")?;
    Ok(SoakConfig {
        concurrency: args.concurrency,
        rate: args.rate,
        duration: seconds(args.duration, "--duration")?,
        sample_interval,
        churn_interval: (!churn_interval.is_zero()).then_some(churn_interval),
        body_bytes: args.body_bytes,
        server_pid: args.server_pid,
        limits: Limits {
            max_errors: args.max_errors,
            max_rss_growth_mib: args.max_rss_growth_mib,
            max_fd_growth: args.max_fd_growth,
        },
    })
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value).with_context(|| format!("{flag} must be a non-negative number of seconds"))
}
