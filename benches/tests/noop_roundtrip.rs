//! End-to-end: the load generator's scenarios against the no-op server on an ephemeral loopback port.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sqskit_bench::Error;
use sqskit_bench::conn::Connection;
use sqskit_bench::endpoint::Endpoint;
use sqskit_bench::scenario::drain::DrainConfig;
use sqskit_bench::scenario::throughput::{Limit, ThroughputConfig};
use sqskit_bench::scenario::{self, Scenario};
use sqskit_bench::send::{QueueKind, Sender};
use sqskit_bench::wire::{Action, Protocol};

async fn start_noop_server() -> Endpoint {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind an ephemeral port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(listener, sqskit_bench::noop::router(addr.to_string())).await.expect("noop server runs");
    });
    Endpoint::resolve(&format!("http://{addr}")).await.expect("valid endpoint")
}

fn requests(count: u64) -> ThroughputConfig {
    ThroughputConfig { concurrency: 4, limit: Limit::Requests(count) }
}

/// Creates standard queue `queue` and returns its URL with a JSON sender of `body_bytes`-byte messages to it.
async fn json_sender(endpoint: &Endpoint, queue: &str, body_bytes: usize) -> (String, Arc<Sender>) {
    let queue_url = scenario::create_queue(endpoint, queue, QueueKind::Standard).await.expect("created");
    let sender = Arc::new(Sender::new(Protocol::Json, &queue_url, QueueKind::Standard, body_bytes));
    (queue_url, sender)
}

#[tokio::test]
async fn create_queue_returns_a_url_on_the_request_host() {
    let endpoint = start_noop_server().await;

    let url = scenario::create_queue(&endpoint, "orders", QueueKind::Standard).await.expect("created");

    assert_eq!(url, format!("http://{}/000000000000/orders", endpoint.addr));
}

#[tokio::test]
async fn send_scenario_counts_every_request_once() {
    let endpoint = start_noop_server().await;
    let (_, sender) = json_sender(&endpoint, "send", 64).await;

    let report =
        scenario::throughput::run(&endpoint, &sender, Scenario::Send, &requests(200)).await.expect("run succeeds");

    assert_eq!(report.scenario, "send");
    assert_eq!(report.requests, 200);
    assert_eq!(report.messages, 200);
    assert_eq!(report.errors, 0);
    assert!(report.p50_us > 0.0 && report.p50_us <= report.p99_us && report.p99_us <= report.max_us);
}

#[tokio::test]
async fn send_batch_scenario_counts_ten_messages_per_request() {
    let endpoint = start_noop_server().await;
    let (_, sender) = json_sender(&endpoint, "batch", 64).await;

    let report =
        scenario::throughput::run(&endpoint, &sender, Scenario::SendBatch, &requests(50)).await.expect("run succeeds");

    assert_eq!(report.requests, 50);
    assert_eq!(report.messages, 500);
    assert_eq!(report.errors, 0);
}

#[tokio::test]
async fn duration_limited_run_stops_after_warmup_plus_duration() {
    let endpoint = start_noop_server().await;
    let (_, sender) = json_sender(&endpoint, "timed", 16).await;
    let config = ThroughputConfig {
        concurrency: 2,
        limit: Limit::Duration { warmup: Duration::from_millis(100), measure: Duration::from_millis(300) },
    };

    let report = scenario::throughput::run(&endpoint, &sender, Scenario::Send, &config).await.expect("run succeeds");

    assert!(report.requests > 0);
    assert!(report.elapsed_secs >= 0.3 && report.elapsed_secs < 1.0, "{report}");
}

#[tokio::test]
async fn non_200_response_fails_with_status_and_body() {
    let endpoint = start_noop_server().await;
    let mut conn = Connection::open(&endpoint).await.expect("connected");

    let outcome = conn.call(Action::SendMessage, Bytes::from_static(b"not json")).await;

    let Err(Error::Status { status, body, .. }) = outcome else {
        panic!("expected a status error, got {outcome:?}");
    };
    assert_eq!(status, 400);
    assert!(body.contains("SerializationException"), "{body}");
}

#[tokio::test]
async fn drain_against_a_server_that_stores_nothing_times_out_loudly() {
    let endpoint = start_noop_server().await;
    let (queue_url, sender) = json_sender(&endpoint, "drain", 16).await;
    let config = DrainConfig { concurrency: 2, messages: 25, timeout: Duration::from_millis(300) };

    let outcome = scenario::drain::run(&endpoint, &queue_url, &sender, &config).await;

    let Err(Error::Scenario(message)) = outcome else {
        panic!("expected a scenario error, got {outcome:?}");
    };
    assert!(message.contains("0 of 25"), "{message}");
}

#[tokio::test]
async fn fifo_send_batch_creates_a_fifo_queue_and_sends_groups() {
    let endpoint = start_noop_server().await;
    let kind = QueueKind::Fifo { groups: std::num::NonZeroU64::new(10).expect("non-zero") };
    let queue_url = scenario::create_queue(&endpoint, "orders.fifo", kind).await.expect("created");
    let sender = Arc::new(Sender::new(Protocol::Json, &queue_url, kind, 64));

    let report =
        scenario::throughput::run(&endpoint, &sender, Scenario::SendBatch, &requests(20)).await.expect("run succeeds");

    assert!(queue_url.ends_with("/orders.fifo"), "{queue_url}");
    assert_eq!(report.messages, 200);
}
