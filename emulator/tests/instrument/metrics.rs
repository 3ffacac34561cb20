//! `GET /metrics`: after a known workload through `aws-sdk-sqs`, the Prometheus text reports exact per-queue
//! counts (CloudWatch's meanings), queue depths and ages, request counts by action and outcome, latency
//! histograms and fault injections.

use std::collections::BTreeMap;

use crate::common::{ACCOUNT, REGION, TestEnv, raw_request, sdk_client_in};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use sqskit_emulator::faults::{FaultKind, FaultRule};

/// One sample line: metric name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The scraped exposition, parsed.
struct Scrape {
    text: String,
    samples: Vec<Sample>,
}

impl Scrape {
    /// The value of the sample with exactly these labels; panics when there is none.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels).unwrap_or_else(|| panic!("no sample {name}{labels:?} in:\n{}", self.text))
    }

    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> =
            labels.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect();
        self.samples.iter().find(|sample| sample.name == name && sample.labels == wanted).map(|sample| sample.value)
    }

    /// The value for one queue of the default region and account.
    fn queue(&self, name: &str, queue: &str) -> f64 {
        self.value(name, &[("region", REGION), ("account", ACCOUNT), ("queue", queue)])
    }
}

/// Parses `name{label="value",...} number` lines (label values here never hold quotes or escapes).
fn parse_sample(line: &str) -> Sample {
    let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("sample without a value: {line}"));
    let value = value.parse().unwrap_or_else(|_| panic!("not a number in {line}"));
    let (name, labels) = match series.split_once('{') {
        None => (series, BTreeMap::new()),
        Some((name, rest)) => {
            let inner = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels in {line}"));
            let labels = inner
                .split("\",")
                .map(|pair| {
                    let (key, value) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label in {line}"));
                    (key.to_owned(), value.trim_end_matches('"').to_owned())
                })
                .collect();
            (name, labels)
        }
    };
    Sample { name: name.to_owned(), labels, value }
}

async fn scrape(env: &TestEnv) -> Scrape {
    let response = raw_request(&env.endpoint, "GET", "/metrics", &[], Vec::new()).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    let text = String::from_utf8(response.body.to_vec()).expect("UTF-8 exposition");
    let mut typed = BTreeMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = rest.split_once(' ').expect("TYPE line names a family and a type");
            typed.insert(family.to_owned(), kind.to_owned());
        } else if !line.starts_with('#') && !line.is_empty() {
            let sample = parse_sample(line);
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    sample.name.strip_suffix(suffix).filter(|base| typed.get(*base).is_some_and(|k| k == "histogram"))
                })
                .unwrap_or(&sample.name);
            assert!(typed.contains_key(family), "{} has no TYPE line before it", sample.name);
            assert!(text.contains(&format!("# HELP {family} ")), "{family} has no HELP line");
            samples.push(sample);
        }
    }
    Scrape { text, samples }
}

#[tokio::test]
async fn prometheus_output_counts_a_known_workload_exactly() {
    let env = TestEnv::start().await;
    let orders = env.create_queue_with("orders", &[("VisibilityTimeout", "300")]).await;
    let events =
        env.create_queue_with("events.fifo", &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]).await;
    let rule = FaultRule {
        queue: "*".to_owned(),
        action: "ListQueues".to_owned(),
        probability: 1.0,
        max_injections: Some(1),
        fault: FaultKind::Throttle { error: "RequestThrottled".to_owned() },
    };
    let rule_id = env.emu.faults().add(rule).expect("valid rule").to_string();

    // Sends: 3 single, a batch of 2, one delayed; two FIFO sends of the same body (the second is deduplicated).
    for body in ["a", "b", "c"] {
        env.send(&orders, body).await;
    }
    let entries = ["d", "e"]
        .map(|body| SendMessageBatchRequestEntry::builder().id(body).message_body(body).build().expect("entry"));
    env.client.send_message_batch().queue_url(&orders).set_entries(Some(entries.to_vec())).send().await.expect("batch");
    env.client.send_message().queue_url(&orders).message_body("later").delay_seconds(60).send().await.expect("send");
    for _ in 0..2 {
        env.client
            .send_message()
            .queue_url(&events)
            .message_body("same")
            .message_group_id("g")
            .send()
            .await
            .expect("send");
    }
    // Receives: one of 5 messages, then two that find nothing (the rest is in flight or delayed).
    let received = env.receive(&orders, 10).await;
    assert_eq!(received.len(), 5);
    assert!(env.receive(&orders, 10).await.is_empty());
    assert!(env.receive(&orders, 10).await.is_empty());
    // Deletes: two single, one batch of one.
    for message in &received[..2] {
        let handle = message.receipt_handle().expect("handle");
        env.client.delete_message().queue_url(&orders).receipt_handle(handle).send().await.expect("delete");
    }
    let entry = DeleteMessageBatchRequestEntry::builder()
        .id("x")
        .receipt_handle(received[2].receipt_handle().expect("handle"))
        .build()
        .expect("entry");
    env.client.delete_message_batch().queue_url(&orders).entries(entry).send().await.expect("delete batch");
    // Errors: a missing queue, and one throttled ListQueues (the rule fires once).
    assert!(env.client.get_queue_url().queue_name("missing").send().await.is_err());
    assert!(env.client.list_queues().send().await.is_err());
    env.client.list_queues().send().await.expect("second ListQueues passes");
    env.advance(30);

    let metrics = scrape(&env).await;

    assert_eq!(metrics.queue("sqs_number_of_messages_sent_total", "orders"), 6.0);
    assert_eq!(metrics.queue("sqs_number_of_messages_received_total", "orders"), 5.0);
    assert_eq!(metrics.queue("sqs_number_of_messages_deleted_total", "orders"), 3.0);
    assert_eq!(metrics.queue("sqs_number_of_empty_receives_total", "orders"), 2.0);
    assert_eq!(metrics.queue("sqs_approximate_number_of_messages_visible", "orders"), 0.0);
    assert_eq!(metrics.queue("sqs_approximate_number_of_messages_not_visible", "orders"), 2.0);
    assert_eq!(metrics.queue("sqs_approximate_number_of_messages_delayed", "orders"), 1.0);
    assert_eq!(metrics.queue("sqs_approximate_age_of_oldest_message_seconds", "orders"), 30.0);
    assert_eq!(metrics.queue("sqs_number_of_messages_sent_total", "events.fifo"), 1.0);
    assert_eq!(metrics.queue("sqs_number_of_messages_received_total", "events.fifo"), 0.0);
    assert_eq!(metrics.queue("sqs_approximate_number_of_messages_visible", "events.fifo"), 1.0);
    assert_eq!(metrics.queue("sqs_approximate_age_of_oldest_message_seconds", "events.fifo"), 30.0);

    let ok = |action: &str| metrics.value("sqskit_requests_total", &[("action", action), ("outcome", "ok")]);
    let error = |action: &str, code: &str| {
        metrics.value("sqskit_requests_total", &[("action", action), ("outcome", "error"), ("code", code)])
    };
    assert_eq!(ok("CreateQueue"), 2.0);
    assert_eq!(ok("SendMessage"), 6.0);
    assert_eq!(ok("SendMessageBatch"), 1.0);
    assert_eq!(ok("ReceiveMessage"), 3.0);
    assert_eq!(ok("DeleteMessage"), 2.0);
    assert_eq!(ok("DeleteMessageBatch"), 1.0);
    assert_eq!(ok("ListQueues"), 1.0);
    assert_eq!(ok("PurgeQueue"), 0.0);
    assert_eq!(error("GetQueueUrl", "QueueDoesNotExist"), 1.0);
    assert_eq!(error("ListQueues", "RequestThrottled"), 1.0);
    assert_eq!(metrics.find("sqskit_requests_total", &[("action", "SendMessage"), ("outcome", "error")]), None);

    let duration = "sqskit_request_duration_seconds";
    assert_eq!(metrics.value(&format!("{duration}_count"), &[("action", "SendMessage")]), 6.0);
    assert_eq!(metrics.value(&format!("{duration}_bucket"), &[("action", "SendMessage"), ("le", "+Inf")]), 6.0);
    assert!(metrics.value(&format!("{duration}_sum"), &[("action", "SendMessage")]) > 0.0);
    assert_eq!(metrics.value(&format!("{duration}_count"), &[("action", "ListQueues")]), 2.0);
    assert_eq!(metrics.find(&format!("{duration}_count"), &[("action", "PurgeQueue")]), None);

    let injected = metrics.value(
        "sqskit_faults_injected_total",
        &[("rule", &rule_id), ("kind", "throttle"), ("action", "ListQueues"), ("queue", "*")],
    );
    assert_eq!(injected, 1.0);
    env.shutdown().await;
}

#[tokio::test]
async fn latency_buckets_are_cumulative_and_end_at_the_count() {
    let env = TestEnv::start().await;
    let url = env.create_queue("latency").await;
    for _ in 0..4 {
        env.send(&url, "x").await;
    }

    let metrics = scrape(&env).await;

    let buckets: Vec<(f64, f64)> = metrics
        .samples
        .iter()
        .filter(|s| s.name == "sqskit_request_duration_seconds_bucket" && s.labels["action"] == "SendMessage")
        .map(|s| (s.labels["le"].parse::<f64>().expect("le is a number or +Inf"), s.value))
        .collect();
    assert!(buckets.len() > 10, "{buckets:?}");
    assert!(buckets.windows(2).all(|pair| pair[0].0 < pair[1].0 && pair[0].1 <= pair[1].1), "{buckets:?}");
    assert_eq!(buckets.last().copied(), Some((f64::INFINITY, 4.0)));
    env.shutdown().await;
}

#[tokio::test]
async fn a_deleted_queue_leaves_the_output_and_a_new_one_starts_from_zero() {
    let env = TestEnv::start().await;
    let url = env.create_queue("short-lived").await;
    env.send(&url, "x").await;
    env.client.delete_queue().queue_url(&url).send().await.expect("delete queue");
    let gone = scrape(&env).await;
    env.advance(61);
    env.create_queue("short-lived").await;

    let fresh = scrape(&env).await;

    assert_eq!(gone.find("sqs_number_of_messages_sent_total", &[("queue", "short-lived")]), None);
    assert_eq!(fresh.queue("sqs_number_of_messages_sent_total", "short-lived"), 0.0);
    assert_eq!(fresh.queue("sqs_approximate_age_of_oldest_message_seconds", "short-lived"), 0.0);
    env.shutdown().await;
}

#[tokio::test]
async fn queues_of_the_same_name_in_two_regions_are_two_series() {
    let env = TestEnv::start().await;
    let ireland = sdk_client_in(&env.endpoint, "eu-west-1").await;
    let here = env.create_queue("twin").await;
    ireland.create_queue().queue_name("twin").send().await.expect("create in Ireland");
    env.client.send_message().queue_url(&here).message_body("a").send().await.expect("send");
    for body in ["b", "c"] {
        ireland.send_message().queue_url(&here).message_body(body).send().await.expect("send in Ireland");
    }

    let metrics = scrape(&env).await;
    let sent = |region: &str| {
        metrics
            .value("sqs_number_of_messages_sent_total", &[("region", region), ("account", ACCOUNT), ("queue", "twin")])
    };
    assert_eq!(sent(REGION), 1.0);
    assert_eq!(sent("eu-west-1"), 2.0);
    env.shutdown().await;
}
