//! The offline demo behind `cargo run --example order_demo` (and `tests/order_demo.rs`): a producer and a
//! consumer on an embedded SQS at the same time, injected failures, a consumer crash and restart, duplicates
//! sent on purpose and poison orders, then the exactly-once verification. Real time with short timeouts: a
//! run takes about ten seconds.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sqskit::backend::{EmbeddedBackend, SqsBackend};
use sqskit::consumer::{ConsumerStats, InMemoryIdempotencyStore, ShutdownReport};
use tokio::time::Instant;

use super::ledger::Ledger;
use super::model::{Order, duplicate_numbers, order_book, thousands};
use super::queues::{self, Queues};
use super::shop::{Faults, Shop};
use super::verify::{Expected, Verdict, verify};
use super::worker::{self, SendTally, Shape, WorkerSettings};

/// What the demo does.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Distinct orders (poison ones included).
    pub orders: u64,
    /// Orders sent a second time on purpose.
    pub duplicates: u64,
    /// Poison orders (alternately: rejected at once, and failing until the redrive policy moves them).
    pub poison: u64,
    /// Injected failures and step latency.
    pub faults: Faults,
    /// Orders each consumer processes at once.
    pub concurrency: usize,
    /// The consumers' visibility timeout: how long the crashed consumer's orders stay hidden.
    pub visibility_timeout: Duration,
    /// The redrive policy's `maxReceiveCount`.
    pub max_receive_count: u32,
    /// Orders per producer wave, one wave every `wave_every`.
    pub wave: usize,
    /// Time between producer waves.
    pub wave_every: Duration,
    /// Consumer #1 crashes once this share of the orders has shipped.
    pub crash_at: f64,
    /// How long no consumer runs after the crash.
    pub outage: Duration,
    /// Give up waiting for the queue to drain after this long.
    pub timeout: Duration,
    /// How orders travel: bare JSON, or inside SNS notifications (`--sns`).
    pub shape: Shape,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            orders: 300,
            duplicates: 30,
            poison: 2,
            faults: Faults { failure_rate: 0.1, latency: Duration::from_millis(20) },
            concurrency: 16,
            visibility_timeout: Duration::from_secs(2),
            max_receive_count: 5,
            wave: 25,
            wave_every: Duration::from_millis(200),
            crash_at: 0.3,
            outage: Duration::from_secs(1),
            timeout: Duration::from_secs(60),
            shape: Shape::Raw,
        }
    }
}

/// What the demo found.
#[derive(Debug)]
pub struct DemoOutcome {
    /// The exactly-once verification.
    pub verdict: Verdict,
    /// Whether the queue drained before the timeout.
    pub drained: bool,
    /// What the producer managed.
    pub sent: SendTally,
    /// The summary printed at the end.
    pub summary: String,
}

impl DemoOutcome {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.drained && self.sent.failed.is_empty() && self.verdict.ok()
    }
}

/// Prints a line with the time since `start`.
struct Narrator {
    start: Instant,
}

impl Narrator {
    fn say(&self, line: &str) {
        println!("  {:5.1}s  {line}", self.start.elapsed().as_secs_f64());
    }
}

/// Runs the demo, printing its progress, and returns the verification.
///
/// # Errors
/// When the embedded SQS refuses a request (it should not).
pub async fn run(config: &DemoConfig) -> anyhow::Result<DemoOutcome> {
    let narrator = Narrator { start: Instant::now() };
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let (orders, dead_letter) =
        queues::create_with_dead_letter_queue(&backend, "orders", "orders-dlq", config.max_receive_count).await?;
    let queues = Queues { orders, dead_letter: Some(dead_letter.clone()) };
    narrator.say(&format!(
        "queues `orders` and `orders-dlq` created (redrive policy: maxReceiveCount {})",
        config.max_receive_count
    ));

    let ledger = Arc::new(Ledger::in_memory());
    let shop = Arc::new(Shop::new(config.faults, ledger.clone()));
    let settings = WorkerSettings {
        concurrency: config.concurrency,
        visibility_timeout: config.visibility_timeout,
        retry_initial: Duration::from_secs(1),
        retry_max: Duration::from_secs(2),
    };
    let producing = tokio::spawn(produce(backend.clone(), queues.orders.clone(), config.clone()));

    let first = worker::start_shaped(
        backend.clone(),
        &queues,
        shop.clone(),
        Arc::new(InMemoryIdempotencyStore::new()),
        settings,
        config.shape,
    )
    .await?;
    narrator.say(&format!(
        "producer and consumer #1 started ({} workers, visibility timeout {}s, retry backoff 1-2s)",
        config.concurrency,
        config.visibility_timeout.as_secs()
    ));

    // Crash while busy, so that some orders are mid-way: charged, not yet shipped.
    let target = (config.orders as f64 * config.crash_at) as usize;
    let crash_deadline = Instant::now() + config.timeout / 2;
    while Instant::now() < crash_deadline
        && !(ledger.shipped_orders() >= target
            && first.in_flight() >= config.concurrency / 2
            && ledger.charged_orders() > ledger.shipped_orders())
    {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let held = first.in_flight();
    let paid_not_shipped = ledger.charged_orders().saturating_sub(ledger.shipped_orders());
    let first_stats = first.stats();
    drop(first); // aborts every task: nothing it held is acknowledged or released
    narrator.say(&format!(
        "consumer #1 CRASHED holding {held} orders ({paid_not_shipped} orders charged but not shipped yet); \
         its in-memory idempotency store died with it"
    ));

    tokio::time::sleep(config.outage).await;
    let (waiting, hidden, _) = queues::depth(&backend, &queues.orders).await?;
    let second = worker::start_shaped(
        backend.clone(),
        &queues,
        shop.clone(),
        Arc::new(InMemoryIdempotencyStore::new()),
        settings,
        config.shape,
    )
    .await?;
    narrator.say(&format!(
        "no consumer for {:.1}s: {waiting} orders piled up, {hidden} hidden until their visibility timeout; \
         consumer #2 started",
        config.outage.as_secs_f64()
    ));

    let sent = producing.await??;
    narrator.say(&format!(
        "producer done: {} messages sent ({} orders + {} duplicates), {} failed",
        thousands(sent.sent),
        config.orders,
        config.duplicates,
        sent.failed.len()
    ));

    let drained = drain(&backend, &queues.orders, &second, Instant::now() + config.timeout).await?;
    let report = second.shutdown(Duration::from_secs(5)).await;
    narrator.say(&format!(
        "{}; consumer #2 shut down gracefully (completed {}, released {}, abandoned {}, unsettled {})",
        if drained { "queue drained" } else { "TIMED OUT waiting for the queue to drain" },
        report.completed,
        report.released,
        report.abandoned,
        report.unsettled
    ));

    let dead_letters = queues::dead_letters(&backend, &dead_letter, Duration::from_secs(60)).await?;
    let verdict = verify(Expected { orders: config.orders, poison: config.poison }, &ledger.snapshot(), &dead_letters);
    let summary = summarize(&shop, &ledger, &first_stats, &report, &verdict);
    Ok(DemoOutcome { verdict, drained, sent, summary })
}

/// Sends the order book in waves, then the duplicates.
async fn produce(backend: Arc<dyn SqsBackend>, queue: String, config: DemoConfig) -> anyhow::Result<SendTally> {
    let producer = worker::producer_shaped(backend, &queue, config.shape).await?;
    let book = order_book(config.orders, config.poison);
    let duplicates: Vec<Order> = duplicate_numbers(config.orders, config.poison, config.duplicates)
        .into_iter()
        .filter_map(|n| book.get(n as usize - 1).cloned())
        .collect();
    let mut tally = SendTally::default();
    for wave in book.chunks(config.wave.max(1)).chain(std::iter::once(duplicates.as_slice())) {
        let next = Instant::now() + config.wave_every;
        let sent = worker::send_orders(&producer, wave.to_vec(), 64, || {}).await;
        tally.sent += sent.sent;
        tally.failed.extend(sent.failed);
        tokio::time::sleep_until(next).await;
    }
    producer.close().await;
    Ok(tally)
}

/// Waits until the queue holds nothing (visible, in flight or delayed) and the consumer holds nothing, twice
/// in a row; `false` at the deadline.
async fn drain(
    backend: &Arc<dyn SqsBackend>,
    queue: &str,
    consumer: &sqskit::consumer::RunningConsumer,
    deadline: Instant,
) -> anyhow::Result<bool> {
    let mut quiet = 0;
    while Instant::now() < deadline {
        let empty = queues::depth(backend, queue).await? == (0, 0, 0) && consumer.in_flight() == 0;
        quiet = if empty { quiet + 1 } else { 0 };
        if quiet == 2 {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(false)
}

fn summarize(
    shop: &Shop,
    ledger: &Ledger,
    first: &ConsumerStats,
    report: &ShutdownReport,
    verdict: &Verdict,
) -> String {
    let stats = &shop.stats;
    let books = ledger.snapshot();
    let second = &report.stats;
    format!(
        "\nWhat happened\n\
         \x20 attempts     {} runs of inventory -> payment -> shipping; {} hit an injected fault and were retried \
         with backoff\n\
         \x20 duplicates   {} acknowledged without processing by the consumers' idempotency stores\n\
         \x20 idempotency  {} payment and {} shipping requests repeated for an order already done (after a \
         crash,\n\
         \x20              a lost store or a retry): answered from the ledger, nothing charged or shipped twice\n\
         \x20 consumers    #1 completed {} before its crash, #2 {}; {} retries, {} dead-lettered by a consumer\n\
         \nChecks\n{}",
        thousands(stats.attempts.load(Ordering::Relaxed)),
        thousands(stats.injected_failures.load(Ordering::Relaxed)),
        first.duplicates + second.duplicates,
        books.charge_replays,
        books.shipment_replays,
        first.completed,
        second.completed,
        first.retried + second.retried,
        first.dead_lettered + second.dead_lettered,
        verdict.render()
    )
}
