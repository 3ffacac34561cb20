//! Resetting between tests (`POST /_sqskit/reset` and `RunningEmulator::reset`), the switch that turns off the
//! 60-second `QueueDeletedRecently` rule, and the health probes, through the real `aws-sdk-sqs` (JSON 1.0).
//! The Query protocol's side is in `tests/protocols/relaxations.rs`.

use crate::common::{TestEnv, raw_request, sdk_client, start_emulator, stop_emulator};
use aws_sdk_sqs::error::ProvideErrorMetadata;
use serde_json::{Value, json};
use sqskit_emulator::config::QueueDeclaration;
use sqskit_emulator::{Emulator, ManualClock, ResetScope};

/// AWS's words for a name used again within 60 s of its deletion
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteQueue.html>: "When you
/// delete a queue, you must wait at least 60 seconds before creating a queue with the same name").
const DELETED_RECENTLY: &str =
    "You must wait 60 seconds after deleting a queue before you can create another with the same name.";

fn declared() -> Vec<QueueDeclaration> {
    let queue = |name: &str, dlq: Option<&str>| QueueDeclaration {
        name: name.to_owned(),
        attributes: Default::default(),
        tags: Default::default(),
        dead_letter_queue: dlq.map(str::to_owned),
        max_receive_count: dlq.map(|_| 3),
        region: None,
    };
    vec![queue("orders-dlq", None), queue("orders", Some("orders-dlq"))]
}

async fn post_reset(endpoint: &str, body: Value) -> (u16, Value) {
    let body = if body.is_null() { Vec::new() } else { serde_json::to_vec(&body).unwrap() };
    let response = raw_request(endpoint, "POST", "/_sqskit/reset", &[("content-type", "application/json")], body).await;
    (response.status, response.json())
}

async fn queue_names(client: &aws_sdk_sqs::Client) -> Vec<String> {
    let listed = client.list_queues().send().await.unwrap();
    let mut names: Vec<String> =
        listed.queue_urls().iter().map(|url| url.rsplit('/').next().unwrap().to_owned()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn reset_over_http_deletes_everything_and_declares_the_configured_queues_again() {
    let clock = ManualClock::new();
    let emu = start_emulator(Emulator::builder().clock(clock.clone()).declare_queues(declared(), "test.toml")).await;
    let client = sdk_client(&emu.endpoint()).await;
    let orders = client.get_queue_url().queue_name("orders").send().await.unwrap().queue_url.unwrap();
    client.send_message().queue_url(&orders).message_body("stale").send().await.unwrap();
    let scratch = client.create_queue().queue_name("scratch").send().await.unwrap().queue_url.unwrap();
    client.send_message().queue_url(&scratch).message_body("stale").send().await.unwrap();
    // A deleted name is blocked as on AWS (the rule is on by default) ...
    client.create_queue().queue_name("recreated").send().await.unwrap();
    client.delete_queue().queue_url(format!("{}/000000000000/recreated", emu.endpoint())).send().await.unwrap();
    let refused = client.create_queue().queue_name("recreated").send().await.unwrap_err();
    // The SDK reports the legacy Query code the emulator sends in `x-amzn-query-error`, as AWS does.
    assert_eq!(refused.code(), Some("AWS.SimpleQueueService.QueueDeletedRecently"));
    assert_eq!(refused.message(), Some(DELETED_RECENTLY));

    let (status, report) = post_reset(&emu.endpoint(), Value::Null).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report, json!({ "deleted_queues": 3, "declared_queues": 2 }));
    assert_eq!(queue_names(&client).await, ["orders", "orders-dlq"]);
    // The declared queues are back, empty, with their redrive policy.
    let attributes = client
        .get_queue_attributes()
        .queue_url(&orders)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes().unwrap();
    assert_eq!(attributes[&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages], "0");
    assert!(attributes[&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy].contains("orders-dlq"));
    // ... and a reset lifts the block at once.
    client.create_queue().queue_name("recreated").send().await.unwrap();
    client.create_queue().queue_name("scratch").send().await.unwrap();
    let received = client.receive_message().queue_url(&scratch).send().await.unwrap();
    assert!(received.messages().is_empty(), "a reset queue starts empty");

    // Bad bodies are refused with a reason; nothing is reset.
    let (status, body) = post_reset(&emu.endpoint(), json!({ "account": "12" })).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post_reset(&emu.endpoint(), json!({ "acount": "000000000000" })).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("unknown field"), "{body}");
    assert_eq!(queue_names(&client).await, ["orders", "orders-dlq", "recreated", "scratch"]);
    stop_emulator(emu).await;
}

#[tokio::test]
async fn reset_in_process_and_of_one_account_leaves_the_other_accounts_alone() {
    let emu = start_emulator(Emulator::builder().declare_queues(declared(), "test.toml")).await;
    emu.engine().create_queue_in("111122223333", "theirs", &[], &[]).unwrap();
    emu.engine().create_queue("mine", &[], &[]).unwrap();

    let report = emu.reset(&ResetScope::account("111122223333")).await.unwrap();
    assert_eq!((report.deleted_queues, report.declared_queues), (1, 0));
    assert!(emu.engine().get_queue_url_in("111122223333", "theirs", None).is_err());
    assert!(emu.engine().get_queue_url("mine", None).is_ok());

    emu.engine().create_queue_in("111122223333", "theirs", &[], &[]).unwrap();
    let (status, report) = post_reset(&emu.endpoint(), json!({ "account": "000000000000" })).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report, json!({ "deleted_queues": 3, "declared_queues": 2 }));
    assert!(emu.engine().get_queue_url("mine", None).is_err());
    assert!(emu.engine().get_queue_url_in("111122223333", "theirs", None).is_ok());

    let report = emu.reset(&ResetScope::everything()).await.unwrap();
    assert_eq!((report.deleted_queues, report.declared_queues), (3, 2));
    stop_emulator(emu).await;
}

#[test]
fn the_switch_is_read_from_the_configuration_file() {
    let file = sqskit_emulator::config::ConfigFile::parse("queue_deleted_recently = false", "test.toml").unwrap();
    assert_eq!(file.queue_deleted_recently, Some(false));
    assert_eq!(sqskit_emulator::config::ConfigFile::default().queue_deleted_recently, None);
}

#[tokio::test]
async fn reset_of_one_region_leaves_the_other_regions_and_redeclares_only_its_queues() {
    let mut declarations = declared();
    declarations.push(QueueDeclaration { region: Some("eu-west-1".to_owned()), ..declarations[0].clone() });
    let emu = start_emulator(Emulator::builder().declare_queues(declarations, "test.toml")).await;
    let ireland = emu.engine().in_region("eu-west-1");
    ireland.create_queue("scratch", &[], &[]).unwrap();
    emu.engine().create_queue("scratch", &[], &[]).unwrap();

    let (status, report) = post_reset(&emu.endpoint(), json!({ "region": "eu-west-1" })).await;

    assert_eq!(status, 200, "{report}");
    // eu-west-1 had its declared orders-dlq and scratch; only orders-dlq is declared there.
    assert_eq!(report, json!({ "deleted_queues": 2, "declared_queues": 1 }));
    assert!(ireland.get_queue_url("scratch", None).is_err());
    assert!(ireland.get_queue_url("orders-dlq", None).is_ok());
    assert!(emu.engine().get_queue_url("scratch", None).is_ok(), "us-east-1 untouched");
    let (status, body) = post_reset(&emu.endpoint(), json!({ "region": "Not A Region" })).await;
    assert_eq!(status, 400, "{body}");
    stop_emulator(emu).await;
}

#[tokio::test]
async fn with_the_rule_off_a_deleted_name_is_free_at_once() {
    let clock = ManualClock::new();
    let emu = start_emulator(Emulator::builder().clock(clock).queue_deleted_recently(false)).await;
    let client = sdk_client(&emu.endpoint()).await;
    for round in 0..3 {
        let url = client.create_queue().queue_name("again").send().await.unwrap().queue_url.unwrap();
        client.send_message().queue_url(&url).message_body(format!("round {round}")).send().await.unwrap();
        let received = client.receive_message().queue_url(&url).send().await.unwrap();
        assert_eq!(received.messages().len(), 1, "only this round's message: the old queue's are gone");
        assert_eq!(received.messages()[0].body(), Some(format!("round {round}").as_str()));
        client.delete_queue().queue_url(&url).send().await.unwrap();
    }
    stop_emulator(emu).await;
}

#[tokio::test]
async fn liveness_and_readiness_are_answered_apart() {
    let env = TestEnv::start().await;
    let live = raw_request(&env.endpoint, "GET", "/health/live", &[], Vec::new()).await;
    assert_eq!((live.status, &live.body[..]), (200, &b"live"[..]));
    let ready = raw_request(&env.endpoint, "GET", "/health/ready", &[], Vec::new()).await;
    assert_eq!(ready.status, 200);
    assert_eq!(
        ready.json(),
        json!({ "ready": true, "phase": "ready", "storage": "memory", "declared_queues": 0, "queues_declared": true })
    );
    let summary = raw_request(&env.endpoint, "GET", "/health", &[], Vec::new()).await;
    assert_eq!((summary.status, &summary.body[..]), (200, &b"ok"[..]));
    env.shutdown().await;

    // A durable emulator with declared queues reports them restored and created.
    let dir = tempfile::tempdir().unwrap();
    let emu = start_emulator(Emulator::builder().data_dir(dir.path()).declare_queues(declared(), "test.toml")).await;
    let ready = raw_request(&emu.endpoint(), "GET", "/health/ready", &[], Vec::new()).await;
    assert_eq!(ready.status, 200);
    assert_eq!(
        ready.json(),
        json!({ "ready": true, "phase": "ready", "storage": "restored", "declared_queues": 2, "queues_declared": true })
    );
    stop_emulator(emu).await;
}

/// One GET that tolerates a server not listening yet: `None` when the connection fails.
async fn try_get(endpoint: &str, path: &str, headers: &[(&str, &str)]) -> Option<(u16, String)> {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let mut request = hyper::Request::get(format!("{endpoint}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(http_body_util::Full::new(bytes::Bytes::new())).unwrap();
    let response = tokio::time::timeout(std::time::Duration::from_secs(5), client.request(request)).await.ok()?.ok()?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.ok()?.to_bytes();
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_are_answered_while_durable_storage_is_restored() {
    // A data directory with enough messages that restoring them takes a moment.
    let dir = tempfile::tempdir().unwrap();
    let first = start_emulator(Emulator::builder().data_dir(dir.path())).await;
    first.engine().create_queue("big", &[], &[]).unwrap();
    for n in 0..50_000 {
        first
            .engine()
            .send_message("big", sqskit_emulator::engine::SendMessageInput::with_body(format!("m{n}")))
            .unwrap();
    }
    first.engine().sync().await.unwrap();
    stop_emulator(first).await;

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let builder = Emulator::builder().port(port).data_dir(dir.path()).declare_queues(declared(), "test.toml");
    let starting = tokio::spawn(builder.start());
    let mut not_ready = Vec::new();
    let mut sqs_during_start = None;
    loop {
        if let Some((status, body)) = try_get(&endpoint, "/health/ready", &[]).await {
            if status == 200 {
                break;
            }
            assert_eq!(status, 503, "{body}");
            let live = try_get(&endpoint, "/health/live", &[]).await;
            assert_eq!(live.map(|(status, _)| status), Some(200), "alive while not ready");
            let detail: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(detail["ready"], false);
            not_ready.push(detail["phase"].as_str().unwrap().to_owned());
            if sqs_during_start.is_none() {
                let json = [("content-type", "application/x-amz-json-1.0"), ("x-amz-target", "AmazonSQS.ListQueues")];
                sqs_during_start = try_get(&endpoint, "/", &json).await;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let emu = starting.await.unwrap().unwrap();
    eprintln!(
        "{} answers before ready: {:?}",
        not_ready.len(),
        not_ready.iter().collect::<std::collections::BTreeSet<_>>()
    );
    assert!(!not_ready.is_empty(), "no probe landed before the emulator was ready");
    assert!(not_ready.iter().all(|phase| phase == "restoring_storage" || phase == "declaring_queues"), "{not_ready:?}");
    if let Some((status, body)) = sqs_during_start {
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("ServiceUnavailable"), "{body}");
    }
    let client = sdk_client(&emu.endpoint()).await;
    assert_eq!(queue_names(&client).await, ["big", "orders", "orders-dlq"]);
    stop_emulator(emu).await;
}
