//! Consumer throughput with each idempotency store, against the emulator's engine in process (no HTTP, so the
//! store's cost is not hidden behind SQS round trips), and each store's added latency per message
//! (`try_begin` and `complete` together, p50/p99). Every message has its own key; the handler does nothing.
//! Rounds alternate the stores so they see the same machine load; medians are reported, with throughput as a
//! ratio to the in-memory store of the same round. Prints a markdown table.
//!
//! ```text
//! redis-server --port 6390 --save '' &                       # optional
//! tests/servers/.venv-moto/bin/moto_server -p 5055 &          # optional (DynamoDB)
//! cargo run --release --example idempotency_bench -- --redis redis://127.0.0.1:6390 --dynamodb http://127.0.0.1:5055
//! ```
//!
//! Options: `--messages N` (10000), `--rounds R` (3), `--concurrency C` (100), `--http` (the consumer talks to
//! an in-process emulator over HTTP through aws-sdk-sqs, as against SQS, instead of calling its engine).

#[allow(dead_code)]
#[path = "bench_support/mod.rs"]
mod bench_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use async_trait::async_trait;
use sqskit::backend::{EmbeddedBackend, SqsBackend};
use sqskit::consumer::{
    Begin, Consumer, Delivery, IdempotencyStore, InMemoryIdempotencyStore, LeaseToken, Outcome, StoreError,
};
use sqskit::stores::{DynamoDbIdempotencyStore, RedisIdempotencyStore};
use sqskit::{IdempotencyKey, Producer};

/// A store that times `try_begin` + `complete` per key.
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn IdempotencyStore>,
    begun: Mutex<std::collections::HashMap<IdempotencyKey, Duration>>,
    per_message: Mutex<Vec<Duration>>,
}

#[async_trait]
impl IdempotencyStore for Timed {
    async fn try_begin(&self, key: &IdempotencyKey, lease_until: SystemTime) -> Result<Begin, StoreError> {
        let started = Instant::now();
        let answer = self.inner.try_begin(key, lease_until).await;
        self.begun.lock().map_err(|_| unavailable())?.insert(key.clone(), started.elapsed());
        answer
    }
    async fn extend(&self, key: &IdempotencyKey, token: &LeaseToken, until: SystemTime) -> Result<(), StoreError> {
        self.inner.extend(key, token, until).await
    }
    async fn complete(&self, key: &IdempotencyKey, token: &LeaseToken, at: SystemTime) -> Result<(), StoreError> {
        let started = Instant::now();
        let answer = self.inner.complete(key, token, at).await;
        let begin = self.begun.lock().map_err(|_| unavailable())?.remove(key).unwrap_or_default();
        self.per_message.lock().map_err(|_| unavailable())?.push(begin + started.elapsed());
        answer
    }
    async fn abandon(&self, key: &IdempotencyKey, token: &LeaseToken) -> Result<(), StoreError> {
        self.inner.abandon(key, token).await
    }
}

fn unavailable() -> StoreError {
    StoreError::Unavailable { reason: "timing lock poisoned".to_owned() }
}

struct Options {
    messages: usize,
    rounds: usize,
    concurrency: usize,
    redis: Option<String>,
    dynamodb: Option<String>,
    http: bool,
}

fn options() -> anyhow::Result<Options> {
    let mut options =
        Options { messages: 10_000, rounds: 3, concurrency: 100, redis: None, dynamodb: None, http: false };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--messages" => options.messages = value()?.parse()?,
            "--rounds" => options.rounds = value()?.parse()?,
            "--concurrency" => options.concurrency = value()?.parse()?,
            "--redis" => options.redis = Some(value()?),
            "--dynamodb" => options.dynamodb = Some(value()?),
            "--http" => options.http = true,
            other => anyhow::bail!("unknown option {other} (see the file's documentation)"),
        }
    }
    Ok(options)
}

/// Messages per second through a consumer with `store`, and the per-message store latencies.
async fn measure(
    store: Arc<dyn IdempotencyStore>,
    options: &Options,
    round: usize,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    let target = if options.http { Some(bench_support::BenchTarget::start(None).await?) } else { None };
    let backend: Arc<dyn SqsBackend> = match &target {
        Some(target) => target.aws_backend("bench").await,
        None => Arc::new(EmbeddedBackend::new()),
    };
    let queue = backend.create_queue("bench", &Default::default(), &Default::default()).await?;
    let producer = Producer::<u64>::builder(backend.clone(), &queue)
        .idempotency_key_fn(move |n| Some(IdempotencyKey::from(format!("r{round}-{}-{n}", uuid::Uuid::new_v4()))))
        .build()
        .await?;
    let report = producer.send_all(0..options.messages as u64).await;
    anyhow::ensure!(report.sent.len() == options.messages, "could not fill the queue");
    producer.close().await;
    let timed = Arc::new(Timed { inner: store, begun: Mutex::default(), per_message: Mutex::default() });
    let started = Instant::now();
    let running = Consumer::<u64>::builder(backend, &queue)
        .concurrency(options.concurrency)
        .idempotency(timed.clone())
        .build()
        .await?
        .start(|_: Delivery<u64>| std::future::ready(Outcome::Ack));
    while (running.stats().completed as usize) < options.messages {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "the consumer stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    running.shutdown(Duration::from_secs(10)).await;
    if let Some(target) = target {
        target.shutdown().await?;
    }
    let latencies = std::mem::take(&mut *timed.per_message.lock().map_err(|_| anyhow::anyhow!("lock"))?);
    Ok((options.messages as f64 / elapsed.as_secs_f64(), latencies))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn percentile(values: &mut [Duration], p: f64) -> Duration {
    values.sort();
    let index = ((values.len() as f64 - 1.0) * p).round() as usize;
    values.get(index).copied().unwrap_or_default()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let mut stores: Vec<(String, Arc<dyn IdempotencyStore>)> =
        vec![("memory".to_owned(), Arc::new(InMemoryIdempotencyStore::new()))];
    if let Some(url) = &options.redis {
        stores.push(("redis".to_owned(), Arc::new(RedisIdempotencyStore::connect(url).await?)));
    }
    if let Some(endpoint) = &options.dynamodb {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .test_credentials()
            .load()
            .await;
        let store = DynamoDbIdempotencyStore::builder(&config, "sqskit-bench").endpoint_url(endpoint).build()?;
        store.create_table().await?;
        stores.push(("dynamodb (moto)".to_owned(), Arc::new(store)));
    }
    let mut rates = vec![Vec::new(); stores.len()];
    let mut ratios = vec![Vec::new(); stores.len()];
    let mut latencies = vec![Vec::new(); stores.len()];
    for round in 0..options.rounds {
        let mut memory_rate = 0.0;
        for (index, (name, store)) in stores.iter().enumerate() {
            let (rate, mut per_message) = measure(store.clone(), &options, round).await?;
            eprintln!("round {}: {name}: {rate:.0} msg/s", round + 1);
            if index == 0 {
                memory_rate = rate;
            }
            rates[index].push(rate);
            ratios[index].push(rate / memory_rate);
            latencies[index].append(&mut per_message);
        }
    }
    println!(
        "| store | throughput (msg/s, median of {}) | vs memory (same round) | store latency per message p50 | p99 |",
        options.rounds
    );
    println!("|---|---|---|---|---|");
    for (index, (name, _)) in stores.iter().enumerate() {
        let latencies = &mut latencies[index];
        println!(
            "| {name} | {:.0} | {:.2}x | {:.3} ms | {:.3} ms |",
            median(rates[index].clone()),
            median(ratios[index].clone()),
            percentile(latencies, 0.5).as_secs_f64() * 1e3,
            percentile(latencies, 0.99).as_secs_f64() * 1e3
        );
    }
    let backend = if options.http { "the emulator over HTTP (aws-sdk-sqs)" } else { "EmbeddedBackend (no HTTP)" };
    println!("\n{} messages per run, concurrency {}, {backend}.", options.messages, options.concurrency);
    Ok(())
}
