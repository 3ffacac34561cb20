//! The web tier's side of the order flow: sends N orders to an SQS queue through a batching `Producer`, each
//! with its order id as idempotency key, with a progress bar and a summary (sent, failed, throughput,
//! requests). `--duplicates K` re-sends K orders on purpose; `--poison K` makes K orders impossible to
//! process. Works against real SQS (the standard aws-config environment) or any emulator.
//!
//!     cargo run -p sqskit-emulator &     # an SQS on http://127.0.0.1:9324
//!     cargo run --example order_producer -- --endpoint http://127.0.0.1:9324 --create-queues --count 1000
//!
//! Against AWS: set AWS_REGION and credentials as usual and pass `--queue NAME|URL` (no `--endpoint`).
//! `--s3-bucket NAME --pad-bytes 2097152` sends 2 MiB orders through S3 (endpoint: `AWS_ENDPOINT_URL_S3`).
//! `--help` lists every flag. The consumer is `order_consumer`; both in one process: `order_demo`.

#[allow(dead_code)]
#[path = "orders/mod.rs"]
mod orders;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use orders::cli::QueueArgs;
use orders::model::{Order, duplicate_numbers, order_book, thousands};
use orders::worker;
use sqskit::backend::{CountingBackend, SqsBackend};

/// Sends orders to an SQS queue.
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    queues: QueueArgs,
    /// How many orders to send (ORD-000001, ORD-000002, ...).
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// How many of them to send a second time, on purpose.
    #[arg(long, default_value_t = 0)]
    duplicates: u64,
    /// How many of them are poison orders that can never be processed.
    #[arg(long, default_value_t = 0)]
    poison: u64,
    /// Sends in flight at once (the producer merges them into batches of 10).
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Adds N bytes of padding (a field the consumer ignores) to every order: with N above 1 MiB and
    /// `--s3-bucket`, every order travels through S3.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pad_bytes: usize,
}

/// Exits with status 1 and one line on stderr when the queues cannot be found or set up (for example
/// `order_producer: queue orders does not exist (pass --create-queues ...)`), or when the run itself fails.
#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(status) => status,
        Err(error) => orders::cli::failed("order_producer", &error),
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let counting = Arc::new(CountingBackend::new(args.queues.connect().await?));
    let backend: Arc<dyn SqsBackend> = counting.clone();
    let queues = args.queues.resolve(&backend).await?;
    let payloads = args.queues.payloads().await;
    let producer = worker::producer_with_payloads(backend, &queues.orders, args.queues.shape(), payloads).await?;

    let mut book = order_book(args.count, args.poison);
    if args.pad_bytes > 0 {
        let padding = "x".repeat(args.pad_bytes);
        book.iter_mut().for_each(|order| order.padding.clone_from(&padding));
    }
    let duplicates: Vec<Order> = duplicate_numbers(args.count, args.poison, args.duplicates)
        .into_iter()
        .filter_map(|n| book.get(n as usize - 1).cloned())
        .collect();
    let total = book.len() + duplicates.len();
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} [{bar:40}] {human_pos}/{human_len} orders, {rate}")?
            .with_key("rate", |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{:.0} messages/s", state.per_sec());
            })
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(100));

    let before = counting.counts();
    let started = Instant::now();
    let progress = {
        let bar = bar.clone();
        move || bar.inc(1)
    };
    let mut tally = worker::send_orders(&producer, book, args.concurrency, progress.clone()).await;
    let again = worker::send_orders(&producer, duplicates, args.concurrency, progress).await;
    producer.close().await;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    tally.sent += again.sent;
    tally.failed.extend(again.failed);

    let requests = counting.counts().send_message_batch - before.send_message_batch;
    println!("order_producer: {} orders to {}", thousands(total as u64), queues.orders);
    println!(
        "  sent        {} messages ({} orders, {} of them poison, + {} duplicates)",
        thousands(tally.sent),
        thousands(args.count),
        args.poison.min(args.count),
        total as u64 - args.count
    );
    println!("  failed      {}", tally.failed.len());
    for (order_id, error) in tally.failed.iter().take(5) {
        println!("              {order_id}: {error}");
    }
    println!(
        "  throughput  {:.0} messages/s ({:.1} s)",
        tally.sent as f64 / elapsed.as_secs_f64().max(1e-9),
        elapsed.as_secs_f64()
    );
    println!(
        "  requests    {} SendMessageBatch ({:.1} messages per request)",
        thousands(requests),
        tally.sent as f64 / requests.max(1) as f64
    );
    Ok(if tally.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
