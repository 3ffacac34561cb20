//! Sending through the typed producer, receiving, deleting and visibility, on every backend.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use sqskit::backend::{DeleteEntry, ReceiveRequest, SendEntry, VisibilityEntry};
use sqskit::types::{AttributeValue, MessageAttribute, MessageAttributes, SystemAttributeName};
use sqskit::{Error, Fault, Producer, ReceiptHandle, SendOptions, ServiceErrorCode};

use super::{Order, drain};
use crate::support::TestContext;

fn short_poll() -> ReceiveRequest {
    ReceiveRequest::new().wait_time(Duration::ZERO).all_attributes()
}

pub async fn producer_round_trip_send_receive_delete(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let producer = Producer::<Order>::builder(Arc::clone(&ctx.backend), &url).build().await.expect("producer");
    let order = Order::new(7);

    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
    let options = SendOptions::new()
        .attribute("kind", MessageAttribute::string("order.created"))
        .attribute("blob", MessageAttribute::binary(vec![0, 1, 2, 255]))
        .attribute("total", MessageAttribute::with_type("Number.cents", AttributeValue::Text("1250".to_owned())))
        .trace_header(trace);

    // The send's three digests (body, attributes, system attributes) are verified by the backend.
    let receipt = producer.send_with(&order, options).await.expect("send");
    let received = ctx.backend.receive_message(&url, &short_poll()).await.expect("receive");

    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(message.message_id, receipt.message_id);
    assert_eq!(receipt.attempts, 1);
    assert_eq!(serde_json::from_str::<Order>(&message.body).expect("json body"), order);
    assert_eq!(message.attributes.get("kind"), Some(&MessageAttribute::string("order.created")));
    assert_eq!(message.attributes.get("blob"), Some(&MessageAttribute::binary(vec![0, 1, 2, 255])));
    assert_eq!(message.attributes.get("total").and_then(MessageAttribute::as_text), Some("1250"));
    assert_eq!(message.attributes.len(), 3);
    assert_eq!(message.system_attributes.get(&SystemAttributeName::AwsTraceHeader).map(String::as_str), Some(trace));
    assert_eq!(message.receive_count(), Some(1));
    assert!(message.sent_at().is_some());
    message.check_integrity().expect("digests verified");

    let entries = [DeleteEntry { id: "d1".to_owned(), receipt_handle: message.receipt_handle.clone() }];
    let outcome = ctx.backend.delete_message_batch(&url, &entries).await.expect("delete");
    assert!(outcome.is_complete_success());
    ctx.advance(Duration::from_secs(3600));
    assert!(drain(ctx, &url).await.is_empty(), "deleted messages never come back");
    producer.close().await;
}

pub async fn concurrent_sends_use_about_one_request_per_ten_messages(ctx: &TestContext) {
    const N: u32 = 200;
    let url = ctx.create_queue("busy").await;
    let producer = Producer::<Order>::builder(Arc::clone(&ctx.backend), &url)
        .linger(Duration::from_millis(20))
        .build()
        .await
        .expect("producer");

    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let producer = producer.clone();
            tokio::spawn(async move { producer.send(&Order::new(i)).await })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        ids.insert(task.await.expect("task").expect("send").message_id);
    }
    producer.close().await;

    let calls = ctx.calls().send_message_batch;
    assert_eq!(ids.len(), N as usize);
    assert!(calls >= u64::from(N / 10) && calls <= u64::from(N / 10) + 5, "{calls} SendMessageBatch calls for {N}");
    let received = drain(ctx, &url).await;
    let bodies: HashSet<String> = received.iter().map(|m| m.body.clone()).collect();
    assert_eq!(bodies.len(), N as usize, "every message stored exactly once");
    assert_eq!(received.len(), N as usize);
}

pub async fn batches_are_split_to_stay_within_one_mib(ctx: &TestContext) {
    let url = ctx.create_queue("large").await;
    let producer = Producer::<String>::builder(Arc::clone(&ctx.backend), &url).build().await.expect("producer");
    // Four 300 KiB messages: 1.2 MiB together, so no single batch may carry all of them.
    let payloads: Vec<String> = (0..4).map(|i| format!("{i}").repeat(300 * 1024)).collect();

    let report = producer.send_all(payloads.clone()).await;
    producer.close().await;

    assert!(report.is_complete_success(), "{:?}", report.failed);
    let calls = ctx.calls();
    assert!((2..=4).contains(&calls.send_message_batch), "{calls:?}");
    assert_eq!(calls.send_entries, 4, "nothing was re-sent: {calls:?}");
    let received: HashSet<String> = drain(ctx, &url)
        .await
        .into_iter()
        .map(|m| serde_json::from_str::<String>(&m.body).expect("json string"))
        .collect();
    assert_eq!(received, payloads.into_iter().collect::<HashSet<_>>());
}

pub async fn invalid_messages_fail_before_any_request(ctx: &TestContext) {
    let url = ctx.create_queue("strict").await;
    let producer = Producer::<String>::builder(Arc::clone(&ctx.backend), &url).build().await.expect("producer");
    let mut eleven = MessageAttributes::new();
    for i in 0..11 {
        eleven.insert(format!("a{i}"), MessageAttribute::string("v"));
    }

    let too_big = producer.send(&"x".repeat(1_048_576)).await.expect_err("over 1 MiB");
    let too_many = producer.send_with(&"ok".to_owned(), SendOptions::new().attributes(eleven)).await.expect_err("11");
    let reserved = producer
        .send_with(&"ok".to_owned(), SendOptions::new().attribute("AWS.reserved", MessageAttribute::string("v")))
        .await
        .expect_err("reserved name");
    let dedup_on_standard =
        producer.send_with(&"ok".to_owned(), SendOptions::new().deduplication_id("d")).await.expect_err("standard");

    for (error, expected) in [
        (too_big, "accepts at most 1048576 bytes"),
        (too_many, "11 attributes"),
        (reserved, "reserved by AWS"),
        (dedup_on_standard, "FIFO queues only"),
    ] {
        match &error {
            Error::InvalidMessage { reason } => assert!(reason.contains(expected), "{reason:?} lacks {expected:?}"),
            other => panic!("expected InvalidMessage, got {other:?}"),
        }
        assert!(!error.is_retryable());
    }
    assert_eq!(ctx.calls().send_message_batch, 0, "no request was made");
    producer.close().await;
}

pub async fn send_all_returns_failed_values_with_their_errors(ctx: &TestContext) {
    let url = ctx.create_queue("mixed").await;
    let producer = Producer::<String>::builder(Arc::clone(&ctx.backend), &url).build().await.expect("producer");
    let oversized = "y".repeat(1_048_577);
    let values = vec!["a".to_owned(), oversized.clone(), "b".to_owned(), "c".to_owned()];

    let report = producer.send_all(values).await;
    producer.close().await;

    let sent: Vec<&str> = report.sent.iter().map(|(value, _)| value.as_str()).collect();
    assert_eq!(sent, ["a", "b", "c"]);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, oversized, "the original value comes back");
    assert!(matches!(report.failed[0].1, Error::InvalidMessage { .. }));
    assert_eq!(drain(ctx, &url).await.len(), 3);
}

pub async fn entry_failures_carry_the_aws_code_and_fault(ctx: &TestContext) {
    let url = ctx.create_queue("entries").await;
    // The backend trait does no validation of its own: SQS judges each entry.
    let entries = [SendEntry::new("good", "fine"), SendEntry::new("bad", "control \u{1} character")];

    let outcome = ctx.backend.send_message_batch(&url, &entries).await.expect("request accepted");

    assert_eq!(outcome.successful.len(), 1);
    assert_eq!(outcome.successful[0].0, "good");
    assert_eq!(outcome.failed.len(), 1);
    let failure = &outcome.failed[0];
    assert_eq!(failure.id, "bad");
    match &failure.error {
        Error::Service { code, message, fault, .. } => {
            assert_eq!(code, &ServiceErrorCode::InvalidMessageContents);
            assert!(message.contains("Invalid characters"), "{message}");
            assert_eq!(*fault, Some(Fault::Sender));
        }
        other => panic!("expected a service error, got {other:?}"),
    }
    assert!(!failure.error.is_retryable());
}

pub async fn invalid_receipt_handles_fail_per_entry(ctx: &TestContext) {
    let url = ctx.create_queue("handles").await;
    ctx.backend.send_message_batch(&url, &[SendEntry::new("a", "x")]).await.expect("send");
    let received = ctx.backend.receive_message(&url, &short_poll()).await.expect("receive");
    let good = received[0].receipt_handle.clone();
    let bogus = ReceiptHandle::new("not-a-handle");

    let deleted = ctx
        .backend
        .delete_message_batch(
            &url,
            &[
                DeleteEntry { id: "good".to_owned(), receipt_handle: good },
                DeleteEntry { id: "bogus".to_owned(), receipt_handle: bogus.clone() },
            ],
        )
        .await
        .expect("request accepted");
    let changed = ctx
        .backend
        .change_message_visibility_batch(
            &url,
            &[VisibilityEntry { id: "bogus".to_owned(), receipt_handle: bogus, visibility_timeout: Duration::ZERO }],
        )
        .await
        .expect("request accepted");

    assert_eq!(deleted.successful.len(), 1);
    for outcome_failure in deleted.failed.iter().chain(&changed.failed) {
        assert_eq!(outcome_failure.id, "bogus");
        assert_eq!(outcome_failure.error.code(), Some(&ServiceErrorCode::ReceiptHandleIsInvalid));
    }
    assert_eq!(deleted.failed.len() + changed.failed.len(), 2);
}

pub async fn visibility_changes_and_timeouts_redeliver(ctx: &TestContext) {
    let url = ctx.create_queue("visibility").await;
    ctx.backend.send_message_batch(&url, &[SendEntry::new("a", "x")]).await.expect("send");
    let hidden_for_30s = short_poll().visibility_timeout(Duration::from_secs(30));

    let first = ctx.backend.receive_message(&url, &hidden_for_30s).await.expect("receive");
    let while_hidden = ctx.backend.receive_message(&url, &short_poll()).await.expect("receive");
    let release = VisibilityEntry {
        id: "r".to_owned(),
        receipt_handle: first[0].receipt_handle.clone(),
        visibility_timeout: Duration::ZERO,
    };
    let outcome = ctx.backend.change_message_visibility_batch(&url, &[release]).await.expect("change visibility");
    let second = ctx.backend.receive_message(&url, &hidden_for_30s).await.expect("receive");
    ctx.advance(Duration::from_secs(31));
    let third = ctx.backend.receive_message(&url, &short_poll()).await.expect("receive");

    assert_eq!(first.len(), 1);
    assert!(while_hidden.is_empty());
    assert!(outcome.is_complete_success());
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].receive_count(), Some(2));
    assert_eq!(third.len(), 1, "visible again after the timeout");
    assert_eq!(third[0].receive_count(), Some(3));
}
