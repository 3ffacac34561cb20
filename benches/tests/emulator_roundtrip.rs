//! End-to-end: the scenarios that need a queue that really stores messages (fill, FIFO drain, Query sends),
//! against an in-process sqskit-emulator on an ephemeral loopback port; the engine is asked what was stored.

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use sqskit_bench::endpoint::Endpoint;
use sqskit_bench::scenario::drain::DrainConfig;
use sqskit_bench::scenario::fill::FillConfig;
use sqskit_bench::scenario::throughput::{Limit, ThroughputConfig};
use sqskit_bench::scenario::{self, Scenario};
use sqskit_bench::send::{QueueKind, Sender};
use sqskit_bench::wire::Protocol;
use sqskit_emulator::{Emulator, RunningEmulator};

async fn start_emulator() -> (RunningEmulator, Endpoint) {
    let emulator = Emulator::builder().port(0).start().await.expect("emulator starts");
    let endpoint = Endpoint::resolve(&emulator.endpoint()).await.expect("valid endpoint");
    (emulator, endpoint)
}

fn fifo(groups: u64) -> QueueKind {
    QueueKind::Fifo { groups: NonZeroU64::new(groups).expect("non-zero") }
}

/// Creates queue `name` of `kind` and a sender of 64-byte messages to it.
async fn sender(endpoint: &Endpoint, name: &str, kind: QueueKind, protocol: Protocol) -> (String, Arc<Sender>) {
    let queue_url = scenario::create_queue(endpoint, name, kind).await.expect("created");
    let sender = Arc::new(Sender::new(protocol, &queue_url, kind, 64));
    (queue_url, sender)
}

fn visible_messages(emulator: &RunningEmulator, queue_url: &str) -> u64 {
    let attributes = emulator
        .engine()
        .get_queue_attributes(queue_url, &["ApproximateNumberOfMessages".to_owned()])
        .expect("the queue exists");
    attributes.first().and_then(|(_, value)| value.parse().ok()).expect("a count")
}

fn fill_config(messages: u64) -> FillConfig {
    FillConfig { concurrency: 3, messages, timeout: Duration::from_secs(30) }
}

#[tokio::test]
async fn fill_stores_exactly_the_requested_number_of_messages() {
    let (emulator, endpoint) = start_emulator().await;
    let (queue_url, sender) = sender(&endpoint, "fill", QueueKind::Standard, Protocol::Json).await;

    let report = scenario::fill::run(&endpoint, &sender, &fill_config(1234)).await.expect("run succeeds");

    assert_eq!(report.messages, 1234);
    assert_eq!(report.requests, 124);
    assert_eq!(visible_messages(&emulator, &queue_url), 1234);
    emulator.shutdown().await.expect("stops");
}

#[tokio::test]
async fn fifo_fill_keeps_every_message_despite_content_deduplication() {
    let (emulator, endpoint) = start_emulator().await;
    let (queue_url, sender) = sender(&endpoint, "fill.fifo", fifo(3), Protocol::Json).await;

    let report = scenario::fill::run(&endpoint, &sender, &fill_config(95)).await.expect("run succeeds");

    assert_eq!(report.messages, 95);
    assert_eq!(visible_messages(&emulator, &queue_url), 95);
    emulator.shutdown().await.expect("stops");
}

#[tokio::test]
async fn query_send_batch_stores_ten_messages_per_request() {
    let (emulator, endpoint) = start_emulator().await;
    let (queue_url, sender) = sender(&endpoint, "query", QueueKind::Standard, Protocol::Query).await;
    let config = ThroughputConfig { concurrency: 2, limit: Limit::Requests(20) };

    let report = scenario::throughput::run(&endpoint, &sender, Scenario::SendBatch, &config).await.expect("runs");

    assert_eq!((report.requests, report.messages, report.errors), (20, 200, 0));
    assert_eq!(visible_messages(&emulator, &queue_url), 200);
    emulator.shutdown().await.expect("stops");
}

#[tokio::test]
async fn query_fifo_sends_are_stored() {
    let (emulator, endpoint) = start_emulator().await;
    let (queue_url, sender) = sender(&endpoint, "query.fifo", fifo(1000), Protocol::Query).await;
    let config = ThroughputConfig { concurrency: 2, limit: Limit::Requests(7) };

    let report = scenario::throughput::run(&endpoint, &sender, Scenario::Send, &config).await.expect("runs");

    assert_eq!(report.messages, 7);
    assert_eq!(visible_messages(&emulator, &queue_url), 7);
    emulator.shutdown().await.expect("stops");
}

#[tokio::test]
async fn fifo_drain_deletes_every_message_with_fewer_groups_than_connections() {
    let (emulator, endpoint) = start_emulator().await;
    let (queue_url, sender) = sender(&endpoint, "drain.fifo", fifo(2), Protocol::Json).await;
    let config = DrainConfig { concurrency: 4, messages: 205, timeout: Duration::from_secs(30) };

    let report = scenario::drain::run(&endpoint, &queue_url, &sender, &config).await.expect("run succeeds");

    assert_eq!((report.messages, report.errors), (205, 0));
    assert_eq!(visible_messages(&emulator, &queue_url), 0);
    emulator.shutdown().await.expect("stops");
}

#[tokio::test]
async fn the_pipeline_deletes_everything_it_sends_and_measures_each_message_after_the_warmup() {
    use sqskit_bench::scenario::pipeline::PipelineConfig;
    let (emulator, endpoint) = start_emulator().await;
    let queue_url = scenario::create_queue(&endpoint, "pipeline.fifo", fifo(3)).await.expect("created");
    let config = PipelineConfig {
        producers: 2,
        consumers: 2,
        rate: 400.0,
        warmup: Duration::from_millis(200),
        duration: Duration::from_millis(800),
        body_bytes: 64,
        kind: fifo(3),
        timeout: Duration::from_secs(30),
    };

    let report = scenario::pipeline::run(&endpoint, &queue_url, &config).await.expect("run succeeds");

    // About 320 messages fall in the measured window at 400 msg/s; every one sent is deleted.
    assert!((200..=400).contains(&report.messages), "measured {} messages", report.messages);
    assert_eq!(report.errors, 0);
    assert!(report.p50_us > 0.0 && report.p99_us >= report.p50_us, "{report:?}");
    assert_eq!(visible_messages(&emulator, &queue_url), 0);
    emulator.shutdown().await.expect("stops");
}
