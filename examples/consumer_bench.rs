//! Consumer throughput with a no-op handler against the emulator over HTTP (aws-sdk-sqs, AWS JSON 1.0),
//! compared in the same run with the raw drain rate (loops of ReceiveMessage(10) + DeleteMessageBatch, no
//! consumer machinery); API calls per message counted by a `CountingBackend`; and the time from send to
//! handler start under moderate load (p50/p99). Prints markdown tables.
//!
//! Run (starts an in-process emulator):
//!     cargo run --release --example consumer_bench
//! or against a running emulator (e.g. `taskset -c 0 target/release/sqskit-emulator --port 9324`):
//!     taskset -c 1 cargo run --release --example consumer_bench -- --endpoint http://127.0.0.1:9324
//! Options: --messages N (30000 per drain), --rounds R (5 rounds, raw and consumer alternating, so both see
//!          the same machine load; medians are reported), --concurrency C (100 handlers; the raw drain uses
//!          as many receive loops as the consumer has pollers), --rate M (500 messages/s for the latency
//!          run), --seconds S (5), --embedded (the same over EmbeddedBackend, no HTTP: the consumer's own
//!          overhead).

#[allow(dead_code)]
#[path = "bench_support/mod.rs"]
mod bench_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench_support::{BenchTarget, percentile};
use sqskit::backend::{CallCounts, CountingBackend, DeleteEntry, ReceiveRequest, SendEntry, SqsBackend};
use sqskit::consumer::{Consumer, Delivery, Outcome};

struct Options {
    endpoint: Option<String>,
    embedded: bool,
    messages: usize,
    rounds: usize,
    concurrency: usize,
    rate: u64,
    seconds: u64,
}

fn parse_options() -> anyhow::Result<Options> {
    let mut options = Options {
        endpoint: None,
        embedded: false,
        messages: 30_000,
        rounds: 5,
        concurrency: 100,
        rate: 500,
        seconds: 5,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--endpoint" => options.endpoint = Some(value()?),
            "--embedded" => options.embedded = true,
            "--messages" => options.messages = value()?.parse()?,
            "--rounds" => options.rounds = value()?.parse()?,
            "--concurrency" => options.concurrency = value()?.parse()?,
            "--rate" => options.rate = value()?.parse()?,
            "--seconds" => options.seconds = value()?.parse()?,
            other => bail!("unknown option {other}"),
        }
    }
    if options.messages == 0 || options.rounds == 0 || options.concurrency == 0 || options.rate == 0 {
        bail!("--messages, --rounds, --concurrency and --rate must be positive");
    }
    Ok(options)
}

/// The same default as the consumer: one poller per 10 slots, at most 16.
fn pollers(concurrency: usize) -> usize {
    concurrency.div_ceil(10).clamp(1, 16)
}

async fn fill(backend: &Arc<dyn SqsBackend>, queue: &str, messages: usize) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (backend, queue, next) = (backend.clone(), queue.to_owned(), next.clone());
        senders.spawn(async move {
            loop {
                let start = next.fetch_add(10, Ordering::Relaxed) as usize;
                if start >= messages {
                    return Ok::<(), anyhow::Error>(());
                }
                let entries: Vec<SendEntry> = (start..(start + 10).min(messages))
                    .map(|i| SendEntry::new(format!("e{}", i % 10), i.to_string()))
                    .collect();
                let outcome = backend.send_message_batch(&queue, &entries).await?;
                if !outcome.failed.is_empty() {
                    bail!("send failures: {:?}", outcome.failed);
                }
            }
        });
    }
    while let Some(result) = senders.join_next().await {
        result??;
    }
    Ok(())
}

/// API calls made between two snapshots: (receives, deletes, all).
#[derive(Debug, Clone, Copy)]
struct Calls {
    receives: u64,
    deletes: u64,
    total: u64,
}

fn calls_between(before: CallCounts, after: CallCounts) -> Calls {
    Calls {
        receives: after.receive_message - before.receive_message,
        deletes: after.delete_message_batch - before.delete_message_batch,
        total: after.total() - before.total(),
    }
}

/// Drains the queue with `loops` plain receive + delete loops; returns (seconds, API calls) at the moment
/// the last message was deleted (loops still waiting in a long poll on the empty queue do not count).
async fn raw_drain(
    counting: &Arc<CountingBackend>,
    queue: &str,
    messages: usize,
    loops: usize,
) -> anyhow::Result<(f64, Calls)> {
    let backend: Arc<dyn SqsBackend> = counting.clone();
    let drained = Arc::new(AtomicU64::new(0));
    let finished: Arc<Mutex<Option<(f64, CallCounts)>>> = Arc::default();
    let before = counting.counts();
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..loops {
        let (backend, queue, drained) = (backend.clone(), queue.to_owned(), drained.clone());
        let (counting, finished) = (counting.clone(), finished.clone());
        workers.spawn(async move {
            let request = ReceiveRequest::new().max_messages(10).wait_time(Duration::from_secs(1));
            while drained.load(Ordering::Relaxed) < messages as u64 {
                let received = backend.receive_message(&queue, &request).await?;
                if received.is_empty() {
                    continue;
                }
                let entries: Vec<DeleteEntry> = received
                    .iter()
                    .enumerate()
                    .map(|(i, m)| DeleteEntry { id: i.to_string(), receipt_handle: m.receipt_handle.clone() })
                    .collect();
                let outcome = backend.delete_message_batch(&queue, &entries).await?;
                let deleted = outcome.successful.len() as u64;
                let before = drained.fetch_add(deleted, Ordering::Relaxed);
                if before < messages as u64 && before + deleted >= messages as u64 {
                    if let Ok(mut finished) = finished.lock() {
                        *finished = Some((started.elapsed().as_secs_f64(), counting.counts()));
                    }
                }
            }
            Ok::<(), sqskit::Error>(())
        });
    }
    while let Some(result) = workers.join_next().await {
        result??;
    }
    let finished = finished.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.context("the queue was not drained")?;
    Ok((finished.0, calls_between(before, finished.1)))
}

/// Consumes the queue with a no-op handler; returns (seconds, API calls).
async fn consume(
    counting: &Arc<CountingBackend>,
    queue: &str,
    messages: usize,
    concurrency: usize,
) -> anyhow::Result<(f64, Calls)> {
    let backend: Arc<dyn SqsBackend> = counting.clone();
    let before = counting.counts();
    let started = Instant::now();
    let running = Consumer::<u64>::builder(backend, queue)
        .concurrency(concurrency)
        .build()
        .await?
        .start(|_: Delivery<u64>| std::future::ready(Outcome::Ack));
    while running.stats().completed < messages as u64 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let calls = calls_between(before, counting.counts());
    let report = running.shutdown(Duration::from_secs(5)).await;
    if report.stats.completed != messages as u64 || report.stats.settle_failures != 0 {
        bail!("consumer did not complete cleanly: {report:?}");
    }
    Ok((seconds, calls))
}

/// Sends `rate` messages per second for `seconds`, each carrying its send time, to a running consumer;
/// returns the sorted send-to-handler-start latencies.
async fn latency(
    backend: &Arc<dyn SqsBackend>,
    queue: &str,
    concurrency: usize,
    rate: u64,
    seconds: u64,
) -> anyhow::Result<Vec<Duration>> {
    let origin = Instant::now();
    let samples: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let running = Consumer::<u64>::builder(backend.clone(), queue).concurrency(concurrency).build().await?.start({
        let samples = samples.clone();
        move |sent: Delivery<u64>| {
            let waited = origin.elapsed().saturating_sub(Duration::from_nanos(*sent));
            if let Ok(mut samples) = samples.lock() {
                samples.push(waited);
            }
            std::future::ready(Outcome::Ack)
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await; // pollers are waiting in long polls
    let total = rate * seconds;
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / u32::try_from(rate)?);
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..total {
        ticks.tick().await;
        let (backend, queue) = (backend.clone(), queue.to_owned());
        sends.spawn(async move {
            let sent_at = u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
            backend.send_message_batch(&queue, &[SendEntry::new(format!("m{i}"), sent_at.to_string())]).await
        });
        while let Some(result) = sends.try_join_next() {
            result??;
        }
    }
    while let Some(result) = sends.join_next().await {
        result??;
    }
    while running.stats().completed < total {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.shutdown(Duration::from_secs(5)).await;
    let mut samples = samples.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    samples.sort();
    Ok(samples)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_options()?;
    let target = BenchTarget::start(options.endpoint.as_deref()).await?;
    let aws: Arc<dyn SqsBackend> = if options.embedded {
        Arc::new(sqskit::backend::EmbeddedBackend::new())
    } else {
        target.aws_backend("bench").await
    };
    let counting = Arc::new(CountingBackend::new(aws.clone()));
    let suffix = std::process::id();
    let create = |name: String| {
        let aws = aws.clone();
        async move { aws.create_queue(&name, &Default::default(), &Default::default()).await }
    };
    let loops = pollers(options.concurrency);

    let messages = options.messages as f64;
    println!(
        "Consumer vs raw drain over {}: {} messages per drain, {} handlers, {loops} receive loops/pollers\n",
        if options.embedded { "EmbeddedBackend" } else { "HTTP" },
        options.messages,
        options.concurrency
    );
    println!(
        "| round | drain | seconds | messages/s | ReceiveMessage | DeleteMessageBatch | all calls | calls/message |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    let mut consumer_calls_per_message = Vec::new();
    for round in 1..=options.rounds {
        let raw_queue = create(format!("bench-raw-{suffix}-{round}")).await?;
        fill(&aws, &raw_queue, options.messages).await?;
        let (raw_seconds, raw_calls) = raw_drain(&counting, &raw_queue, options.messages, loops).await?;

        let consumer_queue = create(format!("bench-consumer-{suffix}-{round}")).await?;
        fill(&aws, &consumer_queue, options.messages).await?;
        let (consumer_seconds, consumer_calls) =
            consume(&counting, &consumer_queue, options.messages, options.concurrency).await?;

        for (name, seconds, calls) in [
            ("raw ReceiveMessage(10) + DeleteMessageBatch", raw_seconds, raw_calls),
            ("sqskit Consumer, no-op handler", consumer_seconds, consumer_calls),
        ] {
            println!(
                "| {round} | {name} | {seconds:.2} | {:.0} | {} | {} | {} | {:.3} |",
                messages / seconds,
                calls.receives,
                calls.deletes,
                calls.total,
                calls.total as f64 / messages
            );
        }
        ratios.push(raw_seconds / consumer_seconds);
        consumer_calls_per_message.push(consumer_calls.total as f64 / messages);
    }
    println!(
        "\nconsumer / raw throughput, median of {} rounds: {:.2}x (rounds: {})",
        options.rounds,
        median(&mut ratios),
        ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ")
    );
    println!("consumer API calls per message, median: {:.3}\n", median(&mut consumer_calls_per_message));

    let latency_queue = create(format!("bench-latency-{suffix}")).await?;
    let samples = latency(&aws, &latency_queue, options.concurrency, options.rate, options.seconds).await?;
    println!(
        "Send to handler start at {} messages/s for {} s ({} samples):\n",
        options.rate,
        options.seconds,
        samples.len()
    );
    println!("| p50 | p90 | p99 | max |");
    println!("|---:|---:|---:|---:|");
    println!(
        "| {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.9).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    target.shutdown().await
}
