//! Two `order_consumer` processes at once on one queue, sharing an idempotency store, with duplicates sent on
//! purpose, injected failures, and one consumer killed with SIGKILL mid-run. Both journal every handler
//! completion (`--completions`, `<order id> <pid>` per line) to one file; the verdict counts them:
//!
//! - every order completed at least once (none lost);
//! - an order completed twice only where the store cannot know better: its first completion was one of the
//!   killed process's last `concurrency` completions, that is, the process died after the handler finished and
//!   before the store recorded it (the limit the README describes). Any other second completion fails.
//!
//! With Redis (Debian's `redis-server`) this runs in CI; the control run with `--idempotency memory` must fail
//! the same verdict (duplicates reach the other process and run again), which shows the check can fail.
//! `dynamodb_store_...` (moto_server, DynamoDB-compatible) runs 300 orders instead of 2,000: moto answers about
//! 130 requests a second on one Python thread (BENCHMARKS.md records a 2,000-order run). The processes are the real example binaries, built here with `cargo build` (a no-op when
//! `cargo test` built them already), talking HTTP to an emulator served by this test.

#[path = "support/example_binaries.rs"]
mod example_binaries;
#[path = "support/servers.rs"]
mod servers;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use example_binaries::{example_binaries, example_command};
use servers::{MotoServer, RedisServer};
use sqskit_emulator::Emulator;

/// Orders of a run on Redis or memory (each run sends a tenth more as duplicates).
const ORDERS: u64 = 2_000;
/// Orders of the DynamoDB run: moto_server answers about 130 requests a second on one Python thread.
const ORDERS_ON_MOTO: u64 = 300;
const CONCURRENCY: u64 = 8;
/// Consumer #1 is killed once this share of the orders' completions is journaled (a third).
const KILL_AT_SHARE: u64 = 3;

/// A child process killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scratch directory, removed on drop.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("sqskit-two-consumers-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("work dir");
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Run {
    store: String,
    env: Vec<(String, String)>,
    orders: u64,
}

impl Run {
    /// Consumer #1 is killed once this many completions are journaled.
    fn kill_at(&self) -> usize {
        usize::try_from(self.orders / KILL_AT_SHARE).expect("a small number")
    }
}

struct Outcome {
    /// Orders never completed.
    lost: Vec<String>,
    /// Orders completed more than once whose extra completion the kill explains.
    explained: Vec<String>,
    /// Orders completed more than once otherwise.
    unexplained: Vec<String>,
    /// Completions journaled by each process.
    by_first: usize,
    by_second: usize,
    /// The second consumer's summary.
    summary: String,
    /// When consumer #1 was killed (completions journaled).
    kill_at: usize,
}

/// One run at a time: each starts two consumer processes, and the machine may have two cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn run_two_consumers(run: Run) -> Outcome {
    let _serial = SERIAL.lock().await;
    let bin = example_binaries();
    let emulator = Emulator::builder().port(0).start().await.expect("emulator");
    let work = WorkDir::new();
    let journal = work.path().join("completions.txt");
    let command = |name: &str| {
        let mut command = example_command(&bin, name);
        command
            .envs(run.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(["--endpoint", &emulator.endpoint(), "--queue", "orders", "--create-queues"])
            .args(["--max-receive-count", "50"]);
        command
    };
    let consumer = |log: &str| {
        let mut consumer = command("order_consumer");
        consumer
            .args(["--failure-rate", "0.1", "--latency-ms", "5", "--concurrency", &CONCURRENCY.to_string()])
            .args(["--visibility-timeout-secs", "3", "--retry-initial-ms", "200", "--retry-max-ms", "1000"])
            .args(["--idempotency", &run.store, "--drain-secs", "10"])
            .arg("--completions")
            .arg(&journal)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(work.path().join(log)).expect("log"))
            .stderr(Stdio::null());
        Process(consumer.spawn().expect("start order_consumer"))
    };

    let started = Instant::now();
    // The queue first (both consumers would create it too; the producer checks it exists).
    let status = command("order_producer").args(["--count", "0"]).stdout(Stdio::null()).status().expect("producer");
    assert!(status.success(), "creating the queues failed");
    let mut first = consumer("consumer-1.log");
    let mut second = consumer("consumer-2.log");
    let produced = command("order_producer")
        .args(["--count", &run.orders.to_string(), "--duplicates", &(run.orders / 10).to_string(), "--poison", "0"])
        .stdout(Stdio::null())
        .status()
        .expect("producer");
    assert!(produced.success(), "order_producer failed");

    let lines = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    let kill_at = run.kill_at();
    while lines(&journal).lines().count() < kill_at {
        assert!(started.elapsed() < Duration::from_secs(90), "fewer than {kill_at} completions after 90 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first_pid = first.0.id();
    first.0.kill().expect("SIGKILL consumer #1");
    let _ = first.0.wait();

    // Until the queue holds nothing (visible, in flight or delayed) for 2 s.
    let backend = orders_backend(&emulator.endpoint()).await;
    let mut quiet = 0;
    while quiet < 8 {
        assert!(started.elapsed() < Duration::from_secs(100), "the queue did not drain within 100 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
        quiet = if queue_depth(&backend).await == 0 { quiet + 1 } else { 0 };
    }
    let second_pid = second.0.id();
    let _ = Command::new("kill").args(["-TERM", &second_pid.to_string()]).status();
    let exited = second.0.wait().expect("consumer #2 exits");
    assert!(exited.success(), "consumer #2 exited with {exited}");
    let summary = lines(&work.path().join("consumer-2.log"));
    eprintln!("two consumers with {}: done in {:.1} s", run.store, started.elapsed().as_secs_f64());
    verdict(&lines(&journal), run.orders, first_pid, second_pid, summary)
}

async fn orders_backend(endpoint: &str) -> std::sync::Arc<dyn sqskit::SqsBackend> {
    let config = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new("test", "test", None, None, "tests"),
        ))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    std::sync::Arc::new(sqskit::AwsBackend::builder(&config).endpoint_url(endpoint).build())
}

async fn queue_depth(backend: &std::sync::Arc<dyn sqskit::SqsBackend>) -> u64 {
    use sqskit::types::QueueAttributeName as Name;
    let url = backend.get_queue_url("orders").await.expect("queue url");
    let names = [
        Name::ApproximateNumberOfMessages,
        Name::ApproximateNumberOfMessagesNotVisible,
        Name::ApproximateNumberOfMessagesDelayed,
    ];
    let attributes = backend.get_queue_attributes(&url, &names).await.expect("attributes");
    attributes.approximate_number_of_messages().unwrap_or(u64::MAX)
        + attributes.approximate_number_of_messages_not_visible().unwrap_or(u64::MAX)
        + attributes.approximate_number_of_messages_delayed().unwrap_or(u64::MAX)
}

fn verdict(journal: &str, orders: u64, first_pid: u32, second_pid: u32, summary: String) -> Outcome {
    let entries: Vec<(&str, u32)> = journal
        .lines()
        .filter_map(|line| {
            let (order, pid) = line.split_once(' ')?;
            Some((order, pid.parse().ok()?))
        })
        .collect();
    let first_lines: Vec<usize> =
        entries.iter().enumerate().filter(|(_, (_, pid))| *pid == first_pid).map(|(i, _)| i).collect();
    // The killed process's last `concurrency` completions: the only ones it may not have recorded in the store.
    let window: Vec<usize> = first_lines.iter().rev().take(CONCURRENCY as usize).copied().collect();
    let mut seen: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, (order, _)) in entries.iter().enumerate() {
        seen.entry(order).or_default().push(index);
    }
    let (mut lost, mut explained, mut unexplained) = (Vec::new(), Vec::new(), Vec::new());
    for n in 1..=orders {
        let order = format!("ORD-{n:06}");
        match seen.get(order.as_str()).map(Vec::as_slice) {
            None | Some([]) => lost.push(order),
            Some([_]) => {}
            Some([first, _second]) if window.contains(first) => explained.push(order),
            Some(_) => unexplained.push(order),
        }
    }
    Outcome {
        lost,
        explained,
        unexplained,
        by_first: first_lines.len(),
        by_second: entries.iter().filter(|(_, pid)| *pid == second_pid).count(),
        summary,
        kill_at: usize::try_from(orders / KILL_AT_SHARE).expect("a small number"),
    }
}

fn assert_every_order_completed_once(outcome: &Outcome) {
    assert!(outcome.lost.is_empty(), "orders never completed: {:?}", outcome.lost);
    assert!(
        outcome.unexplained.is_empty(),
        "orders whose handler completed more than once: {:?} (explained by the kill: {:?})",
        outcome.unexplained,
        outcome.explained
    );
    let quarter = outcome.kill_at / 4;
    assert!(outcome.by_first >= quarter && outcome.by_second >= quarter, "both processes worked");
    // The second consumer met duplicates and acknowledged them unprocessed through the shared store.
    let duplicates = outcome
        .summary
        .lines()
        .find_map(|line| {
            line.trim().strip_prefix("duplicates")?.split_whitespace().next()?.replace(',', "").parse().ok()
        })
        .unwrap_or(0u64);
    assert!(duplicates > 0, "consumer #2 reported no duplicates:\n{}", outcome.summary);
    eprintln!(
        "every order completed once; {} completions by the killed consumer, {} by the other; {} run again after the \
         kill (completed in the killed process's last moments); consumer #2 acknowledged {duplicates} duplicates",
        outcome.by_first,
        outcome.by_second,
        outcome.explained.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_two_consumers_one_killed_every_order_completes_once() {
    let Some(redis) = RedisServer::start() else { return };
    let outcome = run_two_consumers(Run { store: redis.url(), env: Vec::new(), orders: ORDERS }).await;
    assert_every_order_completed_once(&outcome);
}

/// The control: with a store private to each process, duplicates that reach the other process run again, and
/// the verdict above catches them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_two_consumers_run_cross_process_duplicates_again() {
    if servers::RedisServer::start().is_none() {
        return; // the control only matters where the Redis run happens
    }
    let outcome = run_two_consumers(Run { store: "memory".to_owned(), env: Vec::new(), orders: ORDERS }).await;
    assert!(outcome.lost.is_empty(), "orders never completed: {:?}", outcome.lost);
    assert!(!outcome.unexplained.is_empty(), "per-process stores must let cross-process duplicates run again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_two_consumers_one_killed_every_order_completes_once() {
    let Some(moto) = MotoServer::start() else { return };
    let env = vec![("AWS_ENDPOINT_URL_DYNAMODB".to_owned(), moto.endpoint())];
    let store = "dynamodb://sqskit-orders-idempotency".to_owned();
    let outcome = run_two_consumers(Run { store, env, orders: ORDERS_ON_MOTO }).await;
    assert_every_order_completed_once(&outcome);
}
