//! Kill -9 at random moments: the emulator binary runs in durable mode under concurrent producers and
//! consumers, is killed with SIGKILL 20 times and restarted each time; afterwards no acknowledged send is
//! lost, no acknowledged delete comes back, and the queue's attributes are intact.
//!
//! Alongside, a second pair of queues keeps messages moving between queues: a bouncer receives from a
//! source with `maxReceiveCount` 1 and visibility 0 without deleting, so every second receive dead-letters a
//! message, and a message move task sends the dead-letter queue's messages back to the source. Afterwards
//! every acknowledged send to that pair is in exactly one of the two queues: no move lost or doubled it.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName, SendMessageBatchRequestEntry};
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const CYCLES: usize = 20;
const QUEUE: &str = "crash";

#[derive(Default)]
struct Ledger {
    /// Sends the emulator acknowledged.
    sent: HashSet<String>,
    /// Messages a delete was asked for (it may have been applied even if the answer never came).
    delete_requested: HashSet<String>,
    /// Deletes the emulator acknowledged.
    deleted: HashSet<String>,
}

async fn start(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sqskit-emulator"))
        .args(["--port", "0", "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the emulator binary");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the emulator starts within 20 s")
        .expect("read stdout")
        .expect("a line");
    let endpoint = line.rsplit(' ').next().expect("endpoint").to_owned();
    assert!(endpoint.starts_with("http://"), "unexpected first line: {line}");
    (child, endpoint)
}

async fn client(endpoint: &str) -> Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_timeout(Duration::from_secs(3))
        .build();
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region("us-east-1")
        .credentials_provider(aws_credential_types::Credentials::new("test", "test", None, None, "static"))
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts)
        .load()
        .await;
    Client::new(&conf)
}

/// Sends batch `batch` of five messages `<prefix>-<batch>-<i>` and returns the bodies SQS acknowledged; `None`
/// when the request failed (the server was killed).
async fn send_five(sqs: &Client, url: &str, prefix: &str, batch: usize) -> Option<Vec<String>> {
    let entries: Vec<SendMessageBatchRequestEntry> = (0..5)
        .map(|i| {
            SendMessageBatchRequestEntry::builder()
                .id(format!("e{i}"))
                .message_body(format!("{prefix}-{batch}-{i}"))
                .build()
                .expect("entry")
        })
        .collect();
    let bodies: Vec<String> = entries.iter().map(|e| e.message_body().to_owned()).collect();
    let output = sqs.send_message_batch().queue_url(url).set_entries(Some(entries)).send().await.ok()?;
    let acknowledged = output
        .successful()
        .iter()
        .map(|success| {
            let index: usize = success.id().trim_start_matches('e').parse().expect("entry id");
            bodies[index].clone()
        })
        .collect();
    Some(acknowledged)
}

async fn produce(sqs: Client, url: String, prefix: String, ledger: Arc<Mutex<Ledger>>) {
    for batch in 0.. {
        let Some(acknowledged) = send_five(&sqs, &url, &prefix, batch).await else {
            return;
        };
        ledger.lock().expect("ledger").sent.extend(acknowledged);
    }
}

/// The queue pair whose messages move: the source (redrive to the dead-letter queue after one receive).
const BOUNCE: &str = "bounce";
/// Its dead-letter queue.
const BOUNCE_DLQ: &str = "bounce-dlq";

/// Sends to the bounce source and receives from it without deleting: receives dead-letter the messages.
async fn bounce(sqs: Client, url: String, prefix: String, ledger: Arc<Mutex<HashSet<String>>>) {
    for batch in 0.. {
        let Some(acknowledged) = send_five(&sqs, &url, &prefix, batch).await else {
            return;
        };
        ledger.lock().expect("ledger").extend(acknowledged);
        for _ in 0..2 {
            if sqs.receive_message().queue_url(&url).max_number_of_messages(10).send().await.is_err() {
                return;
            }
        }
    }
}

/// Starts a move task from the bounce dead-letter queue back to its source, unless one runs.
async fn start_move_task(sqs: &Client) {
    let dlq_arn = format!("arn:aws:sqs:us-east-1:000000000000:{BOUNCE_DLQ}");
    let _ = sqs.start_message_move_task().source_arn(dlq_arn).max_number_of_messages_per_second(200).send().await;
}

async fn consume(sqs: Client, url: String, ledger: Arc<Mutex<Ledger>>) {
    loop {
        let Ok(received) = sqs.receive_message().queue_url(&url).max_number_of_messages(10).send().await else {
            return;
        };
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().expect("handle"))
                    .build()
                    .expect("entry")
            })
            .collect();
        ledger
            .lock()
            .expect("ledger")
            .delete_requested
            .extend(messages.iter().filter_map(|m| m.body().map(str::to_owned)));
        let Ok(output) = sqs.delete_message_batch().queue_url(&url).set_entries(Some(entries)).send().await else {
            return;
        };
        let mut ledger = ledger.lock().expect("ledger");
        for success in output.successful() {
            let index: usize = success.id().parse().expect("entry id");
            ledger.deleted.insert(messages[index].body().expect("body").to_owned());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_sends_and_deletes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seed: u64 = rand::random();
    println!("crash test seed: {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let bounced = Arc::new(Mutex::new(HashSet::new()));

    for cycle in 0..CYCLES {
        let (mut child, endpoint) = start(dir.path()).await;
        let sqs = client(&endpoint).await;
        let url = format!("{endpoint}/000000000000/{QUEUE}");
        if cycle == 0 {
            sqs.create_queue()
                .queue_name(QUEUE)
                .attributes(QueueAttributeName::VisibilityTimeout, "1")
                .tags("purpose", "crash-test")
                .send()
                .await
                .expect("create");
        }
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .send()
            .await
            .expect("the queue survived")
            .attributes
            .expect("attributes");
        assert_eq!(attributes.get(&QueueAttributeName::VisibilityTimeout).map(String::as_str), Some("1"));
        if cycle == 0 {
            sqs.create_queue().queue_name(BOUNCE_DLQ).send().await.expect("create the dead-letter queue");
            let redrive = format!(
                r#"{{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:{BOUNCE_DLQ}","maxReceiveCount":1}}"#
            );
            sqs.create_queue()
                .queue_name(BOUNCE)
                .attributes(QueueAttributeName::VisibilityTimeout, "0")
                .attributes(QueueAttributeName::RedrivePolicy, redrive)
                .send()
                .await
                .expect("create the bounce source");
        }
        start_move_task(&sqs).await;

        let mut workers = Vec::new();
        for producer in 0..3 {
            let prefix = format!("c{cycle}-p{producer}");
            workers.push(tokio::spawn(produce(sqs.clone(), url.clone(), prefix, Arc::clone(&ledger))));
        }
        for _ in 0..2 {
            workers.push(tokio::spawn(consume(sqs.clone(), url.clone(), Arc::clone(&ledger))));
        }
        let bounce_url = format!("{endpoint}/000000000000/{BOUNCE}");
        workers.push(tokio::spawn(bounce(sqs.clone(), bounce_url, format!("c{cycle}-b"), Arc::clone(&bounced))));
        tokio::time::sleep(Duration::from_millis(rng.random_range(30..300))).await;
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("reaped");
        for worker in workers {
            tokio::time::timeout(Duration::from_secs(10), worker).await.expect("workers stop").expect("no panic");
        }
    }

    let (_child, endpoint) = start(dir.path()).await;
    let sqs = client(&endpoint).await;
    let url = format!("{endpoint}/000000000000/{QUEUE}");
    let tags = sqs.list_queue_tags().queue_url(&url).send().await.expect("tags").tags.unwrap_or_default();
    assert_eq!(tags.get("purpose").map(String::as_str), Some("crash-test"));
    let mut seen = HashSet::new();
    // In-flight messages of the last cycle become visible within their 1 s timeout; collect until quiet.
    let started = Instant::now();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(2) || started.elapsed() < Duration::from_secs(2) {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .send()
            .await
            .expect("receive");
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        } else {
            quiet_since = Instant::now();
        }
        seen.extend(messages.into_iter().filter_map(|m| m.body));
        assert!(started.elapsed() < Duration::from_secs(60), "draining took too long");
    }

    let bounced = bounced.lock().expect("ledger").clone();
    check_bounced(&sqs, &endpoint, &bounced).await;

    let ledger = ledger.lock().expect("ledger");
    assert!(ledger.sent.len() > 100, "the test produced too little traffic: {} sends", ledger.sent.len());
    let lost: Vec<&String> =
        ledger.sent.difference(&ledger.delete_requested).filter(|body| !seen.contains(*body)).collect();
    let resurrected: Vec<&String> = seen.intersection(&ledger.deleted).collect();
    println!(
        "{} acknowledged sends, {} acknowledged deletes, {} messages left",
        ledger.sent.len(),
        ledger.deleted.len(),
        seen.len()
    );
    assert!(lost.is_empty(), "acknowledged sends lost: {lost:?}");
    assert!(resurrected.is_empty(), "acknowledged deletes came back: {resurrected:?}");
}

/// Every acknowledged send to the bounce pair is in exactly one of its two queues.
async fn check_bounced(sqs: &Client, endpoint: &str, acknowledged: &HashSet<String>) {
    let dlq_arn = format!("arn:aws:sqs:us-east-1:000000000000:{BOUNCE_DLQ}");
    // Stop the move task (it resumed at the restart) so the queues hold still.
    let tasks = sqs.list_message_move_tasks().source_arn(&dlq_arn).send().await.expect("list move tasks");
    for task in tasks.results() {
        if let Some(handle) = task.task_handle().filter(|_| task.status() == Some("RUNNING")) {
            let _ = sqs.cancel_message_move_task().task_handle(handle).send().await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    // Receiving from the source dead-letters what was received before (maxReceiveCount 1): drain the source
    // first, then the dead-letter queue, until both are quiet.
    let started = Instant::now();
    let mut quiet_rounds = 0;
    while quiet_rounds < 3 {
        let mut got = 0;
        for name in [BOUNCE, BOUNCE_DLQ] {
            let url = format!("{endpoint}/000000000000/{name}");
            loop {
                let received = sqs
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .visibility_timeout(600)
                    .send()
                    .await
                    .expect("receive");
                let messages = received.messages.unwrap_or_default();
                if messages.is_empty() {
                    break;
                }
                got += messages.len();
                for body in messages.into_iter().filter_map(|m| m.body) {
                    *seen.entry(body).or_default() += 1;
                }
            }
        }
        quiet_rounds = if got == 0 { quiet_rounds + 1 } else { 0 };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(started.elapsed() < Duration::from_secs(60), "draining the bounce queues took too long");
    }
    assert!(acknowledged.len() > 50, "too few bounced sends: {}", acknowledged.len());
    let lost: Vec<&String> = acknowledged.iter().filter(|body| !seen.contains_key(*body)).collect();
    let doubled: Vec<(&String, &usize)> = seen.iter().filter(|(_, count)| **count > 1).collect();
    println!("{} acknowledged sends moved between queues, {} found", acknowledged.len(), seen.len());
    assert!(lost.is_empty(), "messages lost while moving between queues: {lost:?}");
    assert!(doubled.is_empty(), "messages doubled while moving between queues: {doubled:?}");
}
