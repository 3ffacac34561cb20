//! Queue lifecycle (SPEC §6): CreateQueue idempotency and name rules, recently deleted names, GetQueueUrl,
//! ListQueues by prefix, DeleteQueue, and how a queue URL selects its queue (the path, not the host).

use std::collections::BTreeSet;
use std::time::Duration;

use sqskit::ServiceErrorCode;
use sqskit::types::QueueAttributeName;

use super::common::{assert_service_error, attributes, counts, queue_attributes, receive, send, send_entry};
use crate::support::TestContext;

fn visibility_timeout(attributes: &sqskit::types::QueueAttributes) -> Option<&str> {
    attributes.get(&QueueAttributeName::VisibilityTimeout)
}

async fn create_error(ctx: &TestContext, name: &str, pairs: &[(&str, &str)]) -> sqskit::Error {
    ctx.backend.create_queue(name, &queue_attributes(pairs), &Default::default()).await.expect_err(name)
}

pub async fn get_queue_url_returns_the_url_of_an_existing_queue(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;

    assert_eq!(ctx.backend.get_queue_url("orders").await.expect("get queue url"), url);
}

pub async fn get_queue_url_matches_names_case_sensitively(ctx: &TestContext) {
    ctx.create_queue("orders").await;

    let error = ctx.backend.get_queue_url("Orders").await.expect_err("no queue Orders");

    // The text's ending is the protocol's ("." over JSON, " for this wsdl version." over Query): the sdk binary
    // pins the JSON one.
    assert_service_error(&error, &ServiceErrorCode::QueueDoesNotExist, "The specified queue does not exist");
}

pub async fn create_queue_with_the_same_attributes_returns_the_same_url(ctx: &TestContext) {
    let pairs = [("VisibilityTimeout", "60"), ("DelaySeconds", "5")];
    let first = ctx.create_queue_with("orders", queue_attributes(&pairs)).await;

    let second = ctx.create_queue_with("orders", queue_attributes(&pairs)).await;

    assert_eq!(first, second);
    assert_eq!(visibility_timeout(&attributes(ctx, &first).await), Some("60"));
}

pub async fn create_queue_without_attributes_on_an_existing_queue_returns_it_unchanged(ctx: &TestContext) {
    let first = ctx.create_queue_with("orders", queue_attributes(&[("VisibilityTimeout", "60")])).await;

    let second = ctx.create_queue("orders").await;

    assert_eq!(first, second);
    assert_eq!(visibility_timeout(&attributes(ctx, &first).await), Some("60"));
}

pub async fn create_queue_with_a_differing_attribute_fails_with_queue_name_exists(ctx: &TestContext) {
    let url = ctx.create_queue_with("orders", queue_attributes(&[("VisibilityTimeout", "60")])).await;

    let error = create_error(ctx, "orders", &[("VisibilityTimeout", "61")]).await;

    assert_service_error(&error, &ServiceErrorCode::QueueNameExists, "");
    assert_eq!(visibility_timeout(&attributes(ctx, &url).await), Some("60"));
}

pub async fn a_queue_name_of_80_characters_is_accepted(ctx: &TestContext) {
    let name = format!("{}-_{}", "a".repeat(40), "Z9".repeat(19));
    assert_eq!(name.len(), 80);

    let url = ctx.create_queue(&name).await;

    assert!(url.ends_with(&format!("/000000000000/{name}")), "{url}");
}

pub async fn invalid_queue_names_are_rejected(ctx: &TestContext) {
    let too_long = "a".repeat(81);
    for name in [too_long.as_str(), "bad name", "bad!name", "bad.name", "bad/name", "bäd", "colon:name"] {
        let error = create_error(ctx, name, &[]).await;

        assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "");
    }
    assert!(ctx.backend.list_queues(None).await.expect("list").is_empty());
}

pub async fn delete_queue_makes_the_queue_unreachable(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;

    ctx.backend.delete_queue(&url).await.expect("delete queue");

    let error = ctx.backend.get_queue_url("orders").await.expect_err("queue still resolvable after delete");
    assert_eq!(error.code(), Some(&ServiceErrorCode::QueueDoesNotExist), "{error:?}");
    assert!(ctx.backend.list_queues(None).await.expect("list").is_empty());
}

pub async fn recreating_a_queue_within_60_seconds_of_deletion_fails_with_queue_deleted_recently(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    ctx.backend.delete_queue(&url).await.expect("delete queue");
    ctx.advance(Duration::from_secs(59));

    let error = create_error(ctx, "orders", &[]).await;

    assert_service_error(&error, &ServiceErrorCode::QueueDeletedRecently, "");
}

pub async fn recreating_a_queue_61_seconds_after_deletion_succeeds_without_old_messages(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "from the old queue").await;
    ctx.backend.delete_queue(&url).await.expect("delete queue");
    ctx.advance(Duration::from_secs(61));

    let again = ctx.create_queue("orders").await;

    assert_eq!(again, url);
    assert!(receive(ctx, &again, 10).await.is_empty());
    assert_eq!(counts(ctx, &again).await, (0, 0, 0));
}

pub async fn list_queues_filters_by_a_case_sensitive_prefix(ctx: &TestContext) {
    assert!(ctx.backend.list_queues(None).await.expect("list").is_empty(), "no queues yet");
    let a = ctx.create_queue("orders-a").await;
    let b = ctx.create_queue("orders-b").await;
    ctx.create_queue("Orders-c").await;
    ctx.create_queue("payments").await;

    let listed = ctx.backend.list_queues(Some("orders")).await.expect("list");

    let got: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    assert_eq!(got, BTreeSet::from([a.as_str(), b.as_str()]));
}

pub async fn a_queue_url_selects_its_queue_by_path_not_host(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let elsewhere = "https://sqs.us-east-1.amazonaws.com/000000000000/orders";
    let other_account = url.replace("/000000000000/", "/123456789012/");

    send_entry(ctx, elsewhere, sqskit::backend::SendEntry::new("m", "x")).await.expect("another host, same path");
    // SPEC §2: AWS accepts a bare queue name in QueueUrl [obs].
    send_entry(ctx, "orders", sqskit::backend::SendEntry::new("m", "y")).await.expect("a bare queue name");
    let error = send_entry(ctx, &other_account, sqskit::backend::SendEntry::new("m", "z")).await;

    assert_service_error(&error.expect_err("another account"), &ServiceErrorCode::QueueDoesNotExist, "does not exist");
    assert_eq!(counts(ctx, &url).await, (2, 0, 0));
}
