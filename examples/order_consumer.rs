//! The workers' side of the order flow: a `Consumer` that runs each order through inventory, payment and
//! shipping (simulated, with `--failure-rate` and `--latency-ms`), retries transient failures with backoff,
//! dead-letters orders that can never succeed (and the queue's redrive policy those that keep failing), and
//! never charges an order twice: duplicates are skipped through the consumer's idempotency store, and the
//! payment itself is idempotent on the order id (see `examples/orders/shop.rs` for why both). Ctrl-C (or
//! SIGTERM) shuts it down gracefully and prints a summary.
//!
//!     cargo run -p sqskit-emulator &     # an SQS on http://127.0.0.1:9324
//!     cargo run --example order_consumer -- --endpoint http://127.0.0.1:9324 --create-queues
//!
//! Against AWS: set AWS_REGION and credentials as usual and pass `--queue NAME|URL` (no `--endpoint`).
//! `--s3-bucket NAME` fetches orders sent through S3 (endpoint: `AWS_ENDPOINT_URL_S3`).
//! `--ledger FILE` keeps the payment ledger across restarts; `--exit-when-drained` stops once the queue is
//! empty; `--expect-orders N --expect-poison K` then verifies the ledger and the dead-letter queue and exits
//! non-zero on any double charge, missing order or poison order outside the dead-letter queue.

#[allow(dead_code)]
#[path = "orders/mod.rs"]
mod orders;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use orders::cli::QueueArgs;
use orders::ledger::Ledger;
use orders::model::{dollars, thousands};
use orders::queues;
use orders::shop::{Faults, Shop};
use orders::store::StoreChoice;
use orders::verify::{Expected, verify};
use orders::worker::{self, WorkerSettings};
use sqskit::backend::SqsBackend;
use sqskit::consumer::RunningConsumer;

/// Processes orders from an SQS queue.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    queues: QueueArgs,
    /// Probability that an attempt at an order fails in one of its steps (injected).
    #[arg(long, default_value_t = 0.1)]
    failure_rate: f64,
    /// Time each step (inventory, payment, shipping) takes, in milliseconds.
    #[arg(long, default_value_t = 5)]
    latency_ms: u64,
    /// Orders processed at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Visibility timeout of each receive, in seconds: how long a crashed worker's orders stay hidden.
    #[arg(long, default_value_t = 30)]
    visibility_timeout_secs: u64,
    /// Cap of the first retry delay in milliseconds (doubling per receive, full jitter).
    #[arg(long, default_value_t = 2_000)]
    retry_initial_ms: u64,
    /// Largest retry delay in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    retry_max_ms: u64,
    /// Keep the payment ledger in this JSON-lines file (loaded at start, appended per charge and shipment).
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// Stop once the queue holds nothing (visible, in flight or delayed) for 2 seconds.
    #[arg(long)]
    exit_when_drained: bool,
    /// At exit, verify that orders ORD-000001..N were each charged and shipped exactly once (needs --ledger
    /// to cover earlier consumer runs).
    #[arg(long)]
    expect_orders: Option<u64>,
    /// How many of the expected orders are poison (they must be in the dead-letter queue, uncharged).
    #[arg(long, default_value_t = 0)]
    expect_poison: u64,
    /// The idempotency store: `memory` (this process only), `redis://HOST:PORT` or `dynamodb://TABLE` (shared
    /// by every consumer using it; DynamoDB's endpoint from AWS_ENDPOINT_URL_DYNAMODB, the table created if
    /// missing).
    #[arg(long, default_value = "memory")]
    idempotency: StoreChoice,
    /// Append `<order id> <pid>` to this file each time an order's handler runs to completion (shared by
    /// consumer processes to count completions across them).
    #[arg(long)]
    completions: Option<PathBuf>,
    /// How long running orders may take to finish at shutdown, in seconds.
    #[arg(long, default_value_t = 30)]
    drain_secs: u64,
}

/// Exits with status 1 and one line on stderr when the queues cannot be found or set up (for example
/// `order_consumer: queue orders does not exist (pass --create-queues ...)`), when the consumer stops because
/// its queue became unusable (`order_consumer: the consumer of <url> stopped after 10 consecutive failed
/// receives ...`), or when the run itself fails.
#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(status) => status,
        Err(error) => orders::cli::failed("order_consumer", &error),
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (backend, queues) = args.queues.open().await?;
    if queues.dead_letter.is_none() {
        eprintln!("order_consumer: no dead-letter queue found; permanent failures are left to the redrive policy");
    }
    let ledger = Arc::new(match &args.ledger {
        Some(path) => Ledger::open(path)?,
        None => Ledger::in_memory(),
    });
    let faults = Faults { failure_rate: args.failure_rate, latency: Duration::from_millis(args.latency_ms) };
    let mut shop = Shop::new(faults, ledger.clone());
    if let Some(path) = &args.completions {
        shop = shop.journal_completions(path)?;
    }
    let shop = Arc::new(shop);
    let settings = WorkerSettings {
        concurrency: args.concurrency,
        visibility_timeout: Duration::from_secs(args.visibility_timeout_secs),
        retry_initial: Duration::from_millis(args.retry_initial_ms),
        retry_max: Duration::from_millis(args.retry_max_ms),
    };
    let store = args.idempotency.open().await?;
    let started = Instant::now();
    let payloads = args.queues.payloads().await;
    let running = worker::start_with_payloads(
        backend.clone(),
        &queues,
        shop.clone(),
        store,
        settings,
        args.queues.shape(),
        payloads,
    )
    .await?;
    println!("order_consumer: consuming {} (Ctrl-C stops gracefully)", queues.orders);

    let why = wait_for_stop(&running, &backend, &queues.orders, args.exit_when_drained, &ledger).await?;
    let report = running.shutdown(Duration::from_secs(args.drain_secs)).await;
    let elapsed = started.elapsed();

    if let Some(error) = report.error {
        // The queue was deleted or access revoked while running: say so and exit non-zero.
        println!(
            "order_consumer: stopped after {:.1} s: completed {}, abandoned {}",
            elapsed.as_secs_f64(),
            report.completed,
            report.abandoned
        );
        return Err(anyhow::Error::new(error));
    }
    let stats = &report.stats;
    let books = ledger.snapshot();
    println!("order_consumer: stopped ({why}) after {:.1} s", elapsed.as_secs_f64());
    println!(
        "  completed      {} orders ({:.0}/s)",
        thousands(report.completed),
        report.completed as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    println!(
        "  duplicates     {} acknowledged unprocessed (idempotency store), {} deferred while their twin ran",
        thousands(stats.duplicates),
        thousands(stats.deferred)
    );
    println!(
        "  attempts       {}: {} failed on an injected fault (retried with backoff), {} on a poison order",
        thousands(shop.stats.attempts.load(Ordering::Relaxed)),
        thousands(shop.stats.injected_failures.load(Ordering::Relaxed)),
        thousands(shop.stats.poison_failures.load(Ordering::Relaxed))
    );
    println!(
        "  dead-lettered  {} by this consumer (others by the queue's redrive policy)",
        thousands(stats.dead_lettered)
    );
    println!(
        "  ledger         {} orders charged ({}), {} shipped; {} payment and {} shipping replays answered without \
         a second charge{}",
        thousands(books.charges.len() as u64),
        dollars(books.charged_cents),
        thousands(books.shipments.len() as u64),
        thousands(books.charge_replays),
        thousands(books.shipment_replays),
        if books.loaded > 0 {
            format!("; {} records loaded from earlier runs", thousands(books.loaded as u64))
        } else {
            String::new()
        }
    );
    println!(
        "  shutdown       completed {}, released {}, abandoned {}, unsettled {}",
        report.completed, report.released, report.abandoned, report.unsettled
    );

    let Some(orders) = args.expect_orders else { return Ok(ExitCode::SUCCESS) };
    let Some(dlq) = &queues.dead_letter else {
        anyhow::bail!("--expect-orders needs a dead-letter queue to check");
    };
    let dead_letters = queues::dead_letters(&backend, dlq, Duration::from_secs(300)).await?;
    let verdict = verify(Expected { orders, poison: args.expect_poison }, &books, &dead_letters);
    println!("\nVerification of {} orders\n{}", thousands(orders), verdict.render());
    Ok(if verdict.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Waits for Ctrl-C, SIGTERM, the consumer stopping by itself (its queue became unusable: `run` then exits
/// non-zero with the error) or (with `when_drained`) an empty queue, showing live counters meanwhile;
/// returns which.
async fn wait_for_stop(
    running: &RunningConsumer,
    backend: &Arc<dyn SqsBackend>,
    queue: &str,
    when_drained: bool,
    ledger: &Ledger,
) -> anyhow::Result<&'static str> {
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")?);
    let interrupt = tokio::signal::ctrl_c();
    let terminate = terminated();
    tokio::pin!(interrupt, terminate);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut quiet = 0;
    let why = loop {
        tokio::select! {
            _ = &mut interrupt => break "Ctrl-C",
            () = &mut terminate => break "SIGTERM",
            _ = running.failed() => break "the queue became unusable",
            _ = tick.tick() => {}
        }
        let stats = running.stats();
        spinner.set_message(format!(
            "completed {} | retried {} | duplicates {} | dead-lettered {} | charged {} | in flight {}",
            stats.completed,
            stats.retried,
            stats.duplicates,
            stats.dead_lettered,
            ledger.charged_orders(),
            running.in_flight()
        ));
        spinner.tick();
        if when_drained {
            let empty = queues::depth(backend, queue).await? == (0, 0, 0) && running.in_flight() == 0;
            quiet = if empty { quiet + 1 } else { 0 };
            if quiet >= 4 {
                break "queue drained";
            }
        }
    };
    spinner.finish_and_clear();
    Ok(why)
}

/// Completes on SIGTERM (never on platforms without it).
async fn terminated() {
    #[cfg(unix)]
    if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        signal.recv().await;
        return;
    }
    std::future::pending::<()>().await;
}
