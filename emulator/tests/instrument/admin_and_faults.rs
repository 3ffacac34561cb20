//! The emulator as a test instrument: virtual time moved over HTTP, injected faults as clients see them,
//! the FIFO quota, side-effect-free peeking, and the admin token.

use std::time::{Duration, Instant};

use crate::common::{TestEnv, raw_request, sdk_client_in, start_emulator, status_of};
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};
use serde_json::{Value, json};
use sqskit_emulator::{Emulator, ManualClock};

async fn admin(env: &TestEnv, method: &str, path: &str, body: Value) -> (u16, Value) {
    let body = if body.is_null() { Vec::new() } else { serde_json::to_vec(&body).expect("json") };
    let response =
        raw_request(&env.endpoint, method, &format!("/_sqskit{path}"), &[("content-type", "application/json")], body)
            .await;
    let json = if response.body.is_empty() { Value::Null } else { response.json() };
    (response.status, json)
}

async fn add_rule(env: &TestEnv, rule: Value) -> u64 {
    let (status, body) = admin(env, "POST", "/faults", rule).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_u64().expect("id")
}

async fn advance_over_http(env: &TestEnv, seconds: u64) {
    let (status, body) = admin(env, "POST", "/clock/advance", json!({ "seconds": seconds })).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn days_of_sqs_time_pass_in_under_a_second_through_the_admin_api() {
    let env = TestEnv::start().await;
    let started = Instant::now();
    let url =
        env.create_queue_with("slow", &[("MessageRetentionPeriod", "1209600"), ("VisibilityTimeout", "43200")]).await;
    let fifo =
        env.create_queue_with("slow.fifo", &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]).await;

    // 12-hour visibility timeout.
    env.send(&url, "held").await;
    assert_eq!(env.receive(&url, 1).await.len(), 1);
    advance_over_http(&env, 43_199).await;
    assert!(env.receive(&url, 1).await.is_empty(), "still in flight after 11:59:59");
    advance_over_http(&env, 1).await;
    let again = env.receive(&url, 1).await;
    assert_eq!(again.len(), 1, "visible again after 12 h");
    // A delayed message.
    env.client.send_message().queue_url(&url).message_body("later").delay_seconds(900).send().await.expect("send");
    advance_over_http(&env, 899).await;
    assert_eq!(env.counts(&url).await.2, 1);
    advance_over_http(&env, 1).await;
    assert_eq!(env.counts(&url).await.2, 0);
    // The 5-minute deduplication window.
    let send = || env.client.send_message().queue_url(&fifo).message_body("same").message_group_id("g").send();
    let first = send().await.expect("send");
    advance_over_http(&env, 299).await;
    assert_eq!(send().await.expect("dup").message_id(), first.message_id());
    advance_over_http(&env, 1).await;
    assert_ne!(send().await.expect("new").message_id(), first.message_id());
    // 14-day retention.
    advance_over_http(&env, 1_209_600).await;
    assert_eq!(env.counts(&url).await, (0, 0, 0), "everything expired after 14 days");

    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    let (_, clock) = admin(&env, "GET", "/clock", Value::Null).await;
    assert_eq!(clock["manual"], true);
    env.shutdown().await;
}

#[tokio::test]
async fn throttling_faults_arrive_as_the_sdks_typed_errors() {
    let env = TestEnv::start().await;
    let url = env.create_queue("throttled").await;
    add_rule(&env, json!({ "queue": "throttled", "action": "SendMessage", "kind": "throttle" })).await;

    let error = env.client.send_message().queue_url(&url).message_body("x").send().await.expect_err("throttled");

    assert_eq!(status_of(&error), 403);
    let service = error.into_service_error();
    assert!(service.is_request_throttled(), "{service:?}");
    admin(&env, "POST", "/faults/reset", Value::Null).await;
    add_rule(&env, json!({ "action": "Send*", "kind": "throttle", "error": "ThrottlingException" })).await;
    let error = env.client.send_message().queue_url(&url).message_body("x").send().await.expect_err("throttled");
    assert_eq!(status_of(&error), 400);
    assert_eq!(error.code(), Some("ThrottlingException"));
    assert_eq!(env.counts(&url).await.0, 0, "throttled sends are not applied");
    env.shutdown().await;
}

#[tokio::test]
async fn server_errors_and_latency_are_injected_per_rule() {
    let env = TestEnv::start().await;
    let url = env.create_queue("flaky").await;
    let id = add_rule(&env, json!({ "kind": "server_error", "action": "GetQueueAttributes" })).await;
    let error = env.client.get_queue_attributes().queue_url(&url).send().await.expect_err("500");
    assert_eq!((status_of(&error), error.code()), (500, Some("InternalError")));
    admin(&env, "DELETE", &format!("/faults/{id}"), Value::Null).await;
    add_rule(&env, json!({ "kind": "server_error", "error": "ServiceUnavailable", "max_injections": 1 })).await;
    let error = env.client.get_queue_attributes().queue_url(&url).send().await.expect_err("503");
    assert_eq!((status_of(&error), error.code()), (503, Some("ServiceUnavailable")));
    assert!(env.client.get_queue_attributes().queue_url(&url).send().await.is_ok(), "max_injections reached");
    add_rule(&env, json!({ "kind": "latency", "millis": 200, "action": "ListQueues" })).await;

    let started = Instant::now();
    env.client.list_queues().send().await.expect("slow but fine");

    assert!(started.elapsed() >= Duration::from_millis(200));
    let (_, faults) = admin(&env, "GET", "/faults", Value::Null).await;
    let injected: Vec<u64> =
        faults["rules"].as_array().expect("rules").iter().map(|r| r["injected"].as_u64().expect("count")).collect();
    assert_eq!(injected, vec![1, 1]);
    env.shutdown().await;
}

#[tokio::test]
async fn partial_batch_failures_leave_exactly_the_failed_entries_unapplied() {
    let env = TestEnv::start().await;
    let url = env.create_queue("partial").await;
    add_rule(&env, json!({ "kind": "partial_batch_failure", "entry_probability": 0.5, "retryable": true })).await;
    let entries: Vec<SendMessageBatchRequestEntry> = (0..10)
        .map(|i| {
            SendMessageBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .message_body(format!("body {i}"))
                .build()
                .expect("entry")
        })
        .collect();

    let output = env.client.send_message_batch().queue_url(&url).set_entries(Some(entries)).send().await.expect("200");

    assert_eq!(output.successful().len() + output.failed().len(), 10);
    assert!(!output.failed().is_empty() && !output.successful().is_empty(), "p=0.5 over 10 entries: {output:?}");
    for failed in output.failed() {
        assert_eq!(failed.code(), "InternalError");
        assert!(!failed.sender_fault(), "retryable failures are the service's fault");
    }
    let stored: Vec<String> = env.drain(&url).await.into_iter().filter_map(|m| m.body).collect();
    let mut expected: Vec<String> = output.successful().iter().map(|s| format!("body {}", &s.id()[1..])).collect();
    let mut stored_sorted = stored.clone();
    stored_sorted.sort();
    expected.sort();
    assert_eq!(stored_sorted, expected, "only the successful entries were applied");
    env.shutdown().await;
}

#[tokio::test]
async fn a_lost_response_leaves_the_message_stored_and_a_reset_does_not() {
    let env = TestEnv::start().await;
    let url = env.create_queue("lossy").await;
    let lost = add_rule(&env, json!({ "kind": "response_lost", "action": "SendMessage", "max_injections": 1 })).await;

    let error = env.client.send_message().queue_url(&url).message_body("applied").send().await.expect_err("lost");

    assert_eq!(status_of(&error), 500);
    assert_eq!(env.counts(&url).await.0, 1, "the send took effect although its answer was lost");
    admin(&env, "DELETE", &format!("/faults/{lost}"), Value::Null).await;
    add_rule(&env, json!({ "kind": "response_lost", "reset": true, "action": "SendMessage", "max_injections": 1 }))
        .await;
    let error = env.client.send_message().queue_url(&url).message_body("applied too").send().await.expect_err("reset");
    assert!(error.raw_response().is_none_or(|raw| raw.status().as_u16() == 200), "{error:?}");
    assert_eq!(env.counts(&url).await.0, 2, "applied before the connection dropped");
    add_rule(&env, json!({ "kind": "connection_reset", "action": "SendMessage", "max_injections": 1 })).await;
    env.client.send_message().queue_url(&url).message_body("never").send().await.expect_err("reset");
    assert_eq!(env.counts(&url).await.0, 2, "a reset request is not applied");
    env.shutdown().await;
}

#[tokio::test]
async fn the_fifo_quota_holds_an_unbatched_sender_at_300_calls_per_second() {
    let env = TestEnv::start().await;
    let url =
        env.create_queue_with("quota.fifo", &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]).await;
    let (status, _) = admin(&env, "PUT", "/quotas", json!({ "fifo": true })).await;
    assert_eq!(status, 200);
    let mut accepted = 0;
    let mut throttled = 0;

    // 1,000 calls in each of two virtual seconds.
    for second in 0..2 {
        for i in 0..1000 {
            let body = format!("{second}-{i}");
            match env.client.send_message().queue_url(&url).message_body(body).message_group_id("g").send().await {
                Ok(_) => accepted += 1,
                Err(error) => {
                    assert_eq!(error.code(), Some("ThrottlingException"));
                    throttled += 1;
                }
            }
        }
        env.advance(1);
    }

    assert_eq!(accepted, 600, "300 per second");
    assert_eq!(throttled, 1400);
    env.shutdown().await;
}

#[tokio::test]
async fn peeking_changes_nothing_a_client_can_see() {
    let env = TestEnv::start().await;
    let url = env.create_queue("peeked").await;
    env.send(&url, "first").await;
    env.send(&url, "second").await;
    let held = env.receive(&url, 1).await;
    assert_eq!(held.len(), 1);

    let (status, peeked) = admin(&env, "GET", "/queues/peeked/messages?limit=10", Value::Null).await;
    let again = admin(&env, "GET", "/queues/peeked/messages", Value::Null).await.1;

    assert_eq!(status, 200);
    assert_eq!(peeked, again, "peeking twice shows the same");
    let states: Vec<&str> =
        peeked["messages"].as_array().expect("list").iter().map(|m| m["state"].as_str().expect("state")).collect();
    assert_eq!(states, ["in_flight", "visible"]);
    assert_eq!(peeked["messages"][0]["receive_count"], 1);
    let received = env
        .client
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .expect("receive")
        .messages
        .expect("one");
    assert_eq!(received[0].body(), Some("second"));
    assert_eq!(
        received[0]
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .map(String::as_str),
        Some("1"),
        "peeking did not count as a receive"
    );
    let (missing, _) = admin(&env, "GET", "/queues/nope/messages", Value::Null).await;
    assert_eq!(missing, 404);
    env.shutdown().await;
}

#[tokio::test]
async fn the_admin_api_requires_its_token_when_one_is_set() {
    let emulator = start_emulator(Emulator::builder().clock(ManualClock::new()).admin_token("s3cret")).await;
    let endpoint = emulator.endpoint();

    let without = raw_request(&endpoint, "GET", "/_sqskit/clock", &[], Vec::new()).await;
    let wrong = raw_request(&endpoint, "GET", "/_sqskit/clock", &[("x-sqskit-admin-token", "guess")], Vec::new()).await;
    let right =
        raw_request(&endpoint, "GET", "/_sqskit/clock", &[("x-sqskit-admin-token", "s3cret")], Vec::new()).await;

    assert_eq!((without.status, wrong.status, right.status), (401, 401, 200));
    let system = start_emulator(Emulator::builder()).await;
    let refused = raw_request(
        &system.endpoint(),
        "POST",
        "/_sqskit/clock/advance",
        &[("content-type", "application/json")],
        br#"{"seconds":1}"#.to_vec(),
    )
    .await;
    assert_eq!(refused.status, 409, "a system clock cannot be moved");
    emulator.shutdown().await.expect("shutdown");
    system.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn fault_rules_and_quotas_come_from_the_configuration_file() {
    let config = sqskit_emulator::config::ConfigFile::parse(
        r#"
        fault_seed = 9
        fifo_quotas = true
        [[fault]]
        queue = "orders*"
        action = "ReceiveMessage"
        kind = "throttle"
        probability = 0.25
        "#,
        "faults.toml",
    )
    .expect("valid");

    let emulator = Emulator::builder()
        .port(0)
        .fault_seed(config.fault_seed.expect("seed"))
        .fault_rules(config.faults)
        .fifo_quotas(config.fifo_quotas.expect("quotas"))
        .start()
        .await
        .expect("start");

    let (seed, rules) = emulator.faults().list();
    assert_eq!(seed, 9);
    assert_eq!(rules.len(), 1);
    assert!(emulator.faults().quotas());
    emulator.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn peeking_names_the_region_and_account_of_the_queue() {
    let env = TestEnv::start().await;
    let ireland = sdk_client_in(&env.endpoint, "eu-west-1").await;
    let url = env.url_of("regional");
    ireland.create_queue().queue_name("regional").send().await.expect("create in Ireland");
    ireland.send_message().queue_url(&url).message_body("in Ireland").send().await.expect("send");

    let (status, _) = admin(&env, "GET", "/queues/regional/messages", Value::Null).await;
    assert_eq!(status, 404, "not a queue of the default region");
    let (status, peeked) = admin(&env, "GET", "/queues/regional/messages?region=eu-west-1", Value::Null).await;
    assert_eq!(status, 200, "{peeked}");
    assert_eq!((peeked["region"].as_str(), peeked["account"].as_str()), (Some("eu-west-1"), Some("000000000000")));
    assert_eq!(peeked["messages"][0]["body"], "in Ireland");
    let (status, _) =
        admin(&env, "GET", "/queues/regional/messages?region=eu-west-1&account=111122223333", Value::Null).await;
    assert_eq!(status, 404, "another account has no such queue");
    let (status, _) = admin(&env, "GET", "/queues/regional/messages?region=EU", Value::Null).await;
    assert_eq!(status, 400);
    env.shutdown().await;
}
