//! Throughput and calls per message with and without throttling (issue #18): a producer and a consumer on a
//! FIFO queue with the emulator's FIFO quota (300 calls per second per action and queue, answered with
//! `ThrottlingException`) on and off, and on a standard queue with a throttle fault (`RequestThrottled` on a
//! share of `SendMessageBatch` / `ReceiveMessage` calls). Callers must see no error; the table shows where
//! the throughput settles and what the throttled calls cost. Prints a markdown table.
//!
//! Run (starts an in-process emulator over HTTP, driven through aws-sdk-sqs):
//!     cargo run --release --example throttle_bench
//! Options: --messages N (20000), --groups G (100 FIFO groups), --throttle P (0.2, the fault's probability).

#[allow(dead_code)]
#[path = "bench_support/mod.rs"]
mod bench_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench_support::BenchTarget;
use sqskit::backend::{CountingBackend, SendEntry, SqsBackend};
use sqskit::consumer::{Consumer, Delivery, Outcome};
use sqskit::types::{QueueAttributeName, QueueAttributes};
use sqskit::{Producer, SendOptions};
use sqskit_emulator::faults::FaultRule;

struct Options {
    messages: usize,
    groups: usize,
    throttle: f64,
}

fn parse_options() -> anyhow::Result<Options> {
    let mut options = Options { messages: 20_000, groups: 100, throttle: 0.2 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--messages" => options.messages = value()?.parse()?,
            "--groups" => options.groups = value()?.parse()?,
            "--throttle" => options.throttle = value()?.parse()?,
            other => bail!("unknown option {other}"),
        }
    }
    if options.messages == 0 || options.groups == 0 {
        bail!("--messages and --groups must be positive");
    }
    Ok(options)
}

/// What the emulator does to the requests of a row.
#[derive(Clone, Copy)]
enum Limit {
    None,
    FifoQuota,
    ThrottleFault(&'static str),
}

struct Row {
    side: &'static str,
    queue: &'static str,
    limit: String,
    seconds: f64,
    calls: u64,
    throttled: u64,
    errors: u64,
    final_limit: String,
}

fn apply(emulator: &sqskit_emulator::RunningEmulator, limit: Limit, probability: f64) -> anyhow::Result<()> {
    let faults = emulator.faults();
    faults.reset(Some(7));
    faults.set_quotas(matches!(limit, Limit::FifoQuota));
    if let Limit::ThrottleFault(action) = limit {
        let rule: FaultRule = serde_json::from_value(serde_json::json!({
            "action": action, "kind": "throttle", "probability": probability,
        }))?;
        faults.add(rule).map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

fn describe(limit: Limit, probability: f64) -> String {
    match limit {
        Limit::None => "none".to_owned(),
        Limit::FifoQuota => "FIFO quota 300 calls/s".to_owned(),
        Limit::ThrottleFault(action) => format!("throttle {:.0}% of {action}", probability * 100.0),
    }
}

async fn queue(backend: &Arc<dyn SqsBackend>, fifo: bool, name: &str) -> anyhow::Result<String> {
    let attributes = if fifo {
        QueueAttributes::new()
            .with(QueueAttributeName::FifoQueue, "true")
            .with(QueueAttributeName::ContentBasedDeduplication, "true")
    } else {
        QueueAttributes::new()
    };
    // Unique per row: SQS blocks a deleted queue's name for 60 s.
    static ROW: AtomicU64 = AtomicU64::new(0);
    let row = ROW.fetch_add(1, Ordering::Relaxed);
    let name = format!("{name}-{}-{row}{}", std::process::id(), if fifo { ".fifo" } else { "" });
    Ok(backend.create_queue(&name, &attributes, &Default::default()).await?)
}

async fn produce(
    backend: Arc<dyn SqsBackend>,
    fifo: bool,
    limit: Limit,
    options: &Options,
    emulator: &sqskit_emulator::RunningEmulator,
) -> anyhow::Result<Row> {
    apply(emulator, Limit::None, 0.0)?;
    let counting = Arc::new(CountingBackend::new(backend));
    let queue_url = queue(&(counting.clone() as Arc<dyn SqsBackend>), fifo, "throttle-produce").await?;
    let producer = Producer::<String>::builder(counting.clone(), &queue_url).max_in_flight(16).build().await?;
    apply(emulator, limit, options.throttle)?;
    counting.reset();
    let started = Instant::now();
    let callers = 256;
    let tasks: Vec<_> = (0..callers)
        .map(|task| {
            let producer = producer.clone();
            let count = options.messages / callers + usize::from(task < options.messages % callers);
            let groups = options.groups;
            tokio::spawn(async move {
                let mut errors = 0u64;
                for i in 0..count {
                    let body = format!("{task}-{i}");
                    let send = if fifo {
                        let group = format!("g{}", (task * count + i) % groups);
                        producer.send_with(&body, SendOptions::new().group_id(group)).await
                    } else {
                        producer.send(&body).await
                    };
                    errors += u64::from(send.is_err());
                }
                errors
            })
        })
        .collect();
    let mut errors = 0;
    for task in tasks {
        errors += task.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let calls = counting.counts().send_message_batch;
    let row = Row {
        side: "producer",
        queue: if fifo { "FIFO" } else { "standard" },
        limit: describe(limit, options.throttle),
        seconds,
        calls,
        throttled: producer.flow().throttled(),
        errors,
        final_limit: format!(
            "{} of {}{}",
            producer.in_flight_limit(),
            producer.flow().max(),
            producer.paced_rate().map(|rate| format!(", paced at {rate:.0} req/s")).unwrap_or_default()
        ),
    };
    producer.close().await;
    apply(emulator, Limit::None, 0.0)?;
    counting.delete_queue(&queue_url).await?;
    Ok(row)
}

async fn consume(
    backend: Arc<dyn SqsBackend>,
    fifo: bool,
    limit: Limit,
    options: &Options,
    emulator: &sqskit_emulator::RunningEmulator,
) -> anyhow::Result<Row> {
    apply(emulator, Limit::None, 0.0)?;
    let counting = Arc::new(CountingBackend::new(backend.clone()));
    let queue_url = queue(&backend, fifo, "throttle-consume").await?;
    // Fill the queue first, without any limit.
    for (wave, chunk) in (0..options.messages).collect::<Vec<_>>().chunks(10).enumerate() {
        let entries: Vec<SendEntry> = chunk
            .iter()
            .map(|i| {
                let mut entry = SendEntry::new(format!("e{}", i % 10), i.to_string());
                if fifo {
                    entry.group_id = Some(format!("g{}", (wave * 10 + i % 10) % options.groups));
                }
                entry
            })
            .collect();
        backend.send_message_batch(&queue_url, &entries).await?;
    }
    apply(emulator, limit, options.throttle)?;
    counting.reset();
    let handled = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let running = Consumer::<u64>::builder(counting.clone(), &queue_url)
        .concurrency(64)
        .pollers(8)
        .wait_time(Duration::from_secs(1))
        .build()
        .await?
        .start({
            let handled = handled.clone();
            move |_: Delivery<u64>| {
                handled.fetch_add(1, Ordering::Relaxed);
                std::future::ready(Outcome::Ack)
            }
        });
    while handled.load(Ordering::Relaxed) < options.messages as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let stats = running.stats();
    let calls = counting.counts().receive_message;
    let report = running.shutdown(Duration::from_secs(10)).await;
    apply(emulator, Limit::None, 0.0)?;
    backend.delete_queue(&queue_url).await?;
    Ok(Row {
        side: "consumer",
        queue: if fifo { "FIFO" } else { "standard" },
        limit: describe(limit, options.throttle),
        seconds,
        calls,
        throttled: stats.receive_throttled,
        errors: report.stats.settle_failures + report.unsettled + report.abandoned,
        final_limit: format!("{} of 8 pollers", stats.active_pollers),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_options()?;
    let emulator = sqskit_emulator::Emulator::builder().port(0).start().await?;
    let target = BenchTarget::start(Some(&emulator.endpoint())).await?;
    let backend = target.aws_backend("test").await;

    let mut rows = Vec::new();
    for (fifo, limit) in [(true, Limit::None), (true, Limit::FifoQuota), (false, Limit::None)] {
        rows.push(produce(backend.clone(), fifo, limit, &options, &emulator).await?);
    }
    rows.push(produce(backend.clone(), false, Limit::ThrottleFault("SendMessageBatch"), &options, &emulator).await?);
    for (fifo, limit) in [(true, Limit::None), (true, Limit::FifoQuota), (false, Limit::None)] {
        rows.push(consume(backend.clone(), fifo, limit, &options, &emulator).await?);
    }
    rows.push(consume(backend.clone(), false, Limit::ThrottleFault("ReceiveMessage"), &options, &emulator).await?);
    emulator.shutdown().await?;

    println!(
        "Throttling: {} messages, {} FIFO groups, producer 256 callers / 16 requests in flight, consumer \
         concurrency 64 / 8 pollers, in-process emulator over HTTP (aws-sdk-sqs)\n",
        options.messages, options.groups
    );
    println!(
        "| side | queue | throttling | time (s) | msg/s | calls | calls/msg | throttled calls | caller errors | limit at end |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {:.2} | {:.0} | {} | {:.3} | {} | {} | {} |",
            row.side,
            row.queue,
            row.limit,
            row.seconds,
            options.messages as f64 / row.seconds,
            row.calls,
            row.calls as f64 / options.messages as f64,
            row.throttled,
            row.errors,
            row.final_limit,
        );
    }
    println!("\ncalls: SendMessageBatch for the producer, ReceiveMessage for the consumer, throttled ones included");
    Ok(())
}
