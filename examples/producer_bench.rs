//! Producer throughput, batched vs unbatched, against the emulator over HTTP (AWS JSON 1.0 through
//! aws-sdk-sqs), with SendMessageBatch calls per message counted by a `CountingBackend`. Prints a markdown
//! table.
//!
//! Run (starts an in-process emulator):
//!     cargo run --release --example producer_bench
//! or against a running emulator (e.g. `taskset -c 0 target/release/sqskit-emulator --port 9324`):
//!     taskset -c 1 cargo run --release --example producer_bench -- --endpoint http://127.0.0.1:9324
//! Options: --messages N (20000), --concurrency C (256 concurrent callers), --body-bytes B (256),
//!          --in-flight R (8 requests in flight), --embedded (add a row over EmbeddedBackend, no HTTP).

#[allow(dead_code)]
#[path = "bench_support/mod.rs"]
mod bench_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench_support::{BenchTarget, percentile};
use sqskit::backend::{CountingBackend, EmbeddedBackend, SqsBackend};
use sqskit::types::{QueueAttributeName, QueueAttributes};
use sqskit::{Producer, ProducerBuilder};

struct Options {
    endpoint: Option<String>,
    messages: usize,
    concurrency: usize,
    body_bytes: usize,
    in_flight: usize,
    embedded: bool,
}

fn parse_options() -> anyhow::Result<Options> {
    let mut options =
        Options { endpoint: None, messages: 20_000, concurrency: 256, body_bytes: 256, in_flight: 8, embedded: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--endpoint" => options.endpoint = Some(value()?),
            "--messages" => options.messages = value()?.parse()?,
            "--concurrency" => options.concurrency = value()?.parse()?,
            "--body-bytes" => options.body_bytes = value()?.parse()?,
            "--in-flight" => options.in_flight = value()?.parse()?,
            "--embedded" => options.embedded = true,
            other => bail!("unknown option {other}"),
        }
    }
    if options.concurrency == 0 || options.messages == 0 {
        bail!("--messages and --concurrency must be positive");
    }
    Ok(options)
}

/// One measured configuration.
struct Row {
    mode: &'static str,
    backend: &'static str,
    max_entries: usize,
    linger: Duration,
    seconds: f64,
    calls: u64,
    p50: Duration,
    p99: Duration,
}

async fn run_mode(
    backend: Arc<dyn SqsBackend>,
    queue: &str,
    options: &Options,
    configure: impl FnOnce(ProducerBuilder<String>) -> ProducerBuilder<String>,
) -> anyhow::Result<(f64, u64, Vec<Duration>)> {
    let counting = Arc::new(CountingBackend::new(backend));
    let queue_url = counting.create_queue(queue, &QueueAttributes::new(), &Default::default()).await?;
    let producer = configure(Producer::<String>::builder(counting.clone(), &queue_url)).build().await?;
    counting.reset();
    let body = "x".repeat(options.body_bytes);
    let per_task = options.messages / options.concurrency;
    let extra = options.messages % options.concurrency;

    let started = Instant::now();
    let tasks: Vec<_> = (0..options.concurrency)
        .map(|task| {
            let producer = producer.clone();
            let body = body.clone();
            let count = per_task + usize::from(task < extra);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(count);
                for _ in 0..count {
                    let sent_at = Instant::now();
                    producer.send(&body).await?;
                    latencies.push(sent_at.elapsed());
                }
                Ok::<_, sqskit::Error>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(options.messages);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    let calls = counting.counts().send_message_batch;
    producer.close().await;

    let attributes =
        counting.get_queue_attributes(&queue_url, &[QueueAttributeName::ApproximateNumberOfMessages]).await?;
    let stored = attributes.approximate_number_of_messages().unwrap_or_default();
    if stored != options.messages as u64 {
        bail!("{queue}: {stored} messages stored, {} sent", options.messages);
    }
    counting.delete_queue(&queue_url).await?;
    latencies.sort();
    Ok((seconds, calls, latencies))
}

async fn measure(
    rows: &mut Vec<Row>,
    backend: Arc<dyn SqsBackend>,
    backend_name: &'static str,
    options: &Options,
) -> anyhow::Result<()> {
    for (mode, max_entries, linger) in [("batched", 10, Duration::from_millis(5)), ("unbatched", 1, Duration::ZERO)] {
        let slug: String = backend_name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        // Unique per run: SQS blocks a deleted queue's name for 60 s.
        let queue = format!("bench-{slug}-{mode}-{}", std::process::id());
        let in_flight = options.in_flight;
        let (seconds, calls, latencies) = run_mode(backend.clone(), &queue, options, |builder| {
            builder.max_batch_entries(max_entries).linger(linger).max_in_flight(in_flight)
        })
        .await?;
        rows.push(Row {
            mode,
            backend: backend_name,
            max_entries,
            linger,
            seconds,
            calls,
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
        });
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_options()?;
    let target = BenchTarget::start(options.endpoint.as_deref()).await?;
    let aws = target.aws_backend("test").await;

    let mut rows = Vec::new();
    measure(&mut rows, aws, "aws-sdk over HTTP", &options).await?;
    if options.embedded {
        measure(&mut rows, Arc::new(EmbeddedBackend::new()), "embedded", &options).await?;
    }
    target.shutdown().await?;

    println!(
        "Producer throughput: {} messages of {} bytes, {} concurrent callers, {} requests in flight, endpoint {}\n",
        options.messages,
        options.body_bytes,
        options.concurrency,
        options.in_flight,
        options.endpoint.as_deref().unwrap_or("in-process emulator")
    );
    println!(
        "| backend | mode | max entries | linger | time (s) | msg/s | SendMessageBatch calls | calls/msg | p50 send | p99 send |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} ms | {:.2} | {:.0} | {} | {:.3} | {:.1} ms | {:.1} ms |",
            row.backend,
            row.mode,
            row.max_entries,
            row.linger.as_millis(),
            row.seconds,
            options.messages as f64 / row.seconds,
            row.calls,
            row.calls as f64 / options.messages as f64,
            row.p50.as_secs_f64() * 1e3,
            row.p99.as_secs_f64() * 1e3,
        );
    }
    for pair in rows.chunks(2) {
        if let [batched, unbatched] = pair {
            println!(
                "\n{}: batching speed-up {:.1}x ({:.3} -> {:.3} SendMessageBatch calls per message)",
                batched.backend,
                unbatched.seconds / batched.seconds,
                unbatched.calls as f64 / options.messages as f64,
                batched.calls as f64 / options.messages as f64
            );
        }
    }
    Ok(())
}
