//! FIFO delivery (SPEC §6, §11, §12): strict order and group blocking, fair service of groups, SequenceNumber,
//! batches in request order, ReceiveRequestAttemptId, expired receipt handles and a delayed head.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use sqskit::ServiceErrorCode;
use sqskit::backend::{ReceivedMessage, SendEntry};

use super::common::{
    assert_service_error, bodies, change_visibility, counts, create_fifo, delayed, delete, fifo_entry,
    queue_attributes, receive, receive_attempt, receive_one, send_fifo, send_in_group,
};
use crate::support::TestContext;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

async fn delete_message(ctx: &TestContext, url: &str, message: &ReceivedMessage) {
    delete(ctx, url, &message.receipt_handle).await.unwrap_or_else(|e| panic!("delete {:?}: {e:?}", message.body));
}

pub async fn the_next_message_of_a_group_comes_only_after_the_previous_one_is_deleted(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    for body in ["m1", "m2", "m3"] {
        send_in_group(ctx, &url, body, "g").await;
    }

    let first = receive_one(ctx, &url).await;
    assert_eq!(first.body, "m1");
    assert!(receive(ctx, &url, 10).await.is_empty(), "group must be blocked while m1 is in flight");

    delete_message(ctx, &url, &first).await;
    let second = receive_one(ctx, &url).await;
    assert_eq!(second.body, "m2");
    assert!(receive(ctx, &url, 10).await.is_empty());
    delete_message(ctx, &url, &second).await;
    assert_eq!(receive_one(ctx, &url).await.body, "m3");
}

pub async fn a_group_stays_blocked_until_visibility_expires_then_redelivers_the_same_head(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    for body in ["m1", "m2"] {
        send_in_group(ctx, &url, body, "g").await;
    }

    let first = receive_attempt(ctx, &url, 1, 30, None).await;
    assert_eq!(bodies(&first), ["m1"]);
    ctx.advance(secs(29));
    assert!(receive(ctx, &url, 10).await.is_empty(), "still in flight at 29 s");

    ctx.advance(secs(1));
    let again = receive_attempt(ctx, &url, 1, 30, None).await;
    assert_eq!(bodies(&again), ["m1"], "the oldest message of the group comes back first, never m2");
    assert_eq!(again[0].receive_count(), Some(2));
}

pub async fn one_receive_returns_a_groups_messages_in_send_order(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    let sent: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
    for body in &sent {
        send_in_group(ctx, &url, body, "g").await;
    }

    let got = receive(ctx, &url, 10).await;

    // AWS may return fewer, but whatever it returns of one group is a prefix in send order.
    assert!(!got.is_empty());
    assert_eq!(bodies(&got), sent[..got.len()].iter().map(String::as_str).collect::<Vec<_>>());
}

pub async fn every_group_is_served_while_the_others_are_blocked(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    for (body, group) in [("a1", "a"), ("b1", "b"), ("a2", "a"), ("c1", "c"), ("b2", "b")] {
        send_in_group(ctx, &url, body, group).await;
    }

    let mut heads = BTreeSet::new();
    for _ in 0..3 {
        heads.insert(receive_one(ctx, &url).await.body);
    }

    assert_eq!(heads, BTreeSet::from(["a1".to_owned(), "b1".to_owned(), "c1".to_owned()]));
    assert!(receive(ctx, &url, 10).await.is_empty());
}

pub async fn a_hot_group_does_not_starve_a_later_group(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    for i in 0..30 {
        send_in_group(ctx, &url, &format!("hot-{i}"), "hot").await;
    }
    send_in_group(ctx, &url, "cold-0", "cold").await;

    let mut order = Vec::new();
    for _ in 0..5 {
        let message = receive_one(ctx, &url).await;
        delete_message(ctx, &url, &message).await;
        order.push(message.body);
    }

    assert!(order.iter().any(|b| b == "cold-0"), "cold group starved behind the hot one: {order:?}");
    let hot: Vec<&String> = order.iter().filter(|b| b.starts_with("hot-")).collect();
    let expected: Vec<String> = (0..hot.len()).map(|i| format!("hot-{i}")).collect();
    assert_eq!(hot, expected.iter().collect::<Vec<_>>());
}

pub async fn sequence_numbers_are_long_increasing_and_repeated_on_receive(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;

    let mut sent = Vec::new();
    for (body, group) in [("a1", "a"), ("b1", "b"), ("a2", "a")] {
        sent.push(send_in_group(ctx, &url, body, group).await.sequence_number.expect("a sequence number"));
    }

    for sequence in &sent {
        assert!(sequence.len() >= 20 && sequence.bytes().all(|c| c.is_ascii_digit()), "SequenceNumber {sequence:?}");
    }
    let numbers: Vec<u128> = sent.iter().map(|s| s.parse().expect("digits")).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "increasing: {sent:?}");
    let received = receive(ctx, &url, 10).await;
    let by_body: HashMap<&str, Option<&str>> =
        received.iter().map(|m| (m.body.as_str(), m.sequence_number())).collect();
    assert_eq!(by_body.get("a1"), Some(&Some(sent[0].as_str())));
    assert_eq!(by_body.get("b1"), Some(&Some(sent[1].as_str())));
    assert_eq!(by_body.get("a2"), Some(&Some(sent[2].as_str())));
}

pub async fn a_fifo_receive_reports_group_deduplication_id_and_sequence_number(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    let sent = send_fifo(ctx, &url, "payload", "tenant-7", Some("dedup-42")).await;

    let message = receive_one(ctx, &url).await;

    assert_eq!(message.message_id, sent.message_id);
    assert_eq!(message.group_id(), Some("tenant-7"));
    assert_eq!(message.deduplication_id(), Some("dedup-42"));
    assert_eq!(message.sequence_number(), sent.sequence_number.as_deref());
}

pub async fn a_fifo_send_batch_enqueues_entries_in_request_order(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    let entries: Vec<SendEntry> = (0..5)
        .map(|i| SendEntry { id: format!("e{i}"), ..fifo_entry(&format!("m{i}"), "g", Some(&format!("d{i}"))) })
        .collect();

    let outcome = ctx.backend.send_message_batch(&url, &entries).await.expect("send batch");

    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    let sequences: HashMap<&str, u128> = outcome
        .successful
        .iter()
        .map(|(id, sent)| (id.as_str(), sent.sequence_number.as_deref().expect("sequence").parse().expect("digits")))
        .collect();
    assert!((1..5).all(|i| sequences[format!("e{}", i - 1).as_str()] < sequences[format!("e{i}").as_str()]));
    let mut got = Vec::new();
    while got.len() < 5 {
        let messages = receive(ctx, &url, 10).await;
        assert!(!messages.is_empty(), "queue ran dry after {got:?}");
        for message in messages {
            delete_message(ctx, &url, &message).await;
            got.push(message.body);
        }
    }
    assert_eq!(got, ["m0", "m1", "m2", "m3", "m4"]);
}

pub async fn a_fifo_batch_entry_with_a_delay_fails_alone(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[("ContentBasedDeduplication", "true")]).await;
    let in_group = |entry: SendEntry| SendEntry { group_id: Some("g".to_owned()), ..entry };
    let entries = [in_group(delayed("late", "late", 5)), in_group(delayed("now", "now", 0))];

    let outcome = ctx.backend.send_message_batch(&url, &entries).await.expect("request accepted");

    assert_eq!(outcome.successful.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["now"]);
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(outcome.failed[0].id, "late");
    let text = "The request include parameter that is not valid for this queue type";
    assert_service_error(&outcome.failed[0].error, &ServiceErrorCode::InvalidParameterValue, text);
}

pub async fn a_retried_receive_attempt_returns_the_same_messages_and_handles(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    for (body, group) in [("a1", "a"), ("a2", "a"), ("b1", "b")] {
        send_in_group(ctx, &url, body, group).await;
    }

    let first = receive_attempt(ctx, &url, 2, 60, Some("attempt-1")).await;
    ctx.advance(secs(10));
    let retry = receive_attempt(ctx, &url, 2, 60, Some("attempt-1")).await;

    assert!(!first.is_empty());
    let ids = |messages: &[ReceivedMessage]| -> Vec<(String, String)> {
        messages.iter().map(|m| (m.message_id.as_str().to_owned(), m.receipt_handle.as_str().to_owned())).collect()
    };
    assert_eq!(ids(&retry), ids(&first), "same messages and the same receipt handles");
    for message in &first {
        delete_message(ctx, &url, message).await;
    }
}

pub async fn a_receive_attempt_after_a_delete_performs_a_new_receive(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    for body in ["m1", "m2"] {
        send_in_group(ctx, &url, body, "g").await;
    }
    let first = receive_attempt(ctx, &url, 1, 60, Some("attempt-1")).await;
    assert_eq!(bodies(&first), ["m1"]);

    delete_message(ctx, &url, &first[0]).await;
    let retry = receive_attempt(ctx, &url, 1, 60, Some("attempt-1")).await;

    assert_eq!(bodies(&retry), ["m2"]);
}

pub async fn a_retried_receive_attempt_resets_the_visibility_timeout(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    send_in_group(ctx, &url, "m1", "g").await;
    receive_attempt(ctx, &url, 1, 30, Some("attempt-1")).await;

    ctx.advance(secs(20));
    assert_eq!(receive_attempt(ctx, &url, 1, 30, Some("attempt-1")).await.len(), 1);

    // At 40 s (past the first timeout, inside the renewed one) the message is still in flight.
    ctx.advance(secs(20));
    assert_eq!(counts(ctx, &url).await, (0, 1, 0));
    ctx.advance(secs(10));
    assert_eq!(counts(ctx, &url).await, (1, 0, 0));
}

pub async fn a_receive_attempt_is_not_replayed_after_a_visibility_change(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    send_in_group(ctx, &url, "m1", "g").await;
    let first = receive_attempt(ctx, &url, 1, 30, Some("attempt-1")).await.remove(0);
    change_visibility(ctx, &url, &first.receipt_handle, 120).await.expect("change visibility");

    let mut request = super::common::short_poll(10);
    request.receive_request_attempt_id = Some("attempt-1".to_owned());
    let retry = ctx.backend.receive_message(&url, &request).await;

    // "It is possible to retry ... if none of the messages have been modified (deleted or had their visibility
    // changes)" (ReceiveMessage API reference): the modified message is not handed out again.
    if let Ok(messages) = retry {
        assert!(messages.iter().all(|m| m.receipt_handle != first.receipt_handle), "replayed: {messages:?}");
    }
}

pub async fn a_fifo_delete_with_an_expired_receipt_handle_is_rejected(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    send_in_group(ctx, &url, "m1", "g").await;
    let message = receive_attempt(ctx, &url, 1, 10, None).await.remove(0);

    ctx.advance(secs(11));
    let error = delete(ctx, &url, &message.receipt_handle).await.expect_err("expired handle");

    let handle = message.receipt_handle.as_str();
    let text =
        format!("Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.");
    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, &text);
    assert_eq!(counts(ctx, &url).await, (1, 0, 0));
}

pub async fn a_fifo_handle_superseded_by_a_later_receive_is_rejected_as_expired(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    send_in_group(ctx, &url, "m1", "g").await;
    let first = receive_attempt(ctx, &url, 1, 10, None).await.remove(0);
    ctx.advance(secs(11));
    let second = receive_attempt(ctx, &url, 1, 60, None).await.remove(0);
    assert_eq!(second.message_id, first.message_id);

    let error = delete(ctx, &url, &first.receipt_handle).await.expect_err("superseded handle");

    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "The receipt handle has expired");
    assert_eq!(counts(ctx, &url).await, (0, 1, 0));
    delete_message(ctx, &url, &second).await;
}

pub async fn a_fifo_delete_after_the_original_timeout_works_when_visibility_was_extended(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    send_in_group(ctx, &url, "m1", "g").await;
    let message = receive_attempt(ctx, &url, 1, 10, None).await.remove(0);

    ctx.advance(secs(5));
    change_visibility(ctx, &url, &message.receipt_handle, 60).await.expect("extend");
    ctx.advance(secs(15));
    delete_message(ctx, &url, &message).await;

    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}

pub async fn a_delayed_head_message_blocks_its_group(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[("DelaySeconds", "10")]).await;
    send_in_group(ctx, &url, "m1", "g").await;
    ctx.backend.set_queue_attributes(&url, &queue_attributes(&[("DelaySeconds", "0")])).await.expect("no delay");
    send_in_group(ctx, &url, "m2", "g").await;
    send_in_group(ctx, &url, "other", "h").await;

    // While m1 is delayed m2 is not delivered; other groups are.
    assert_eq!(bodies(&receive(ctx, &url, 10).await), ["other"]);

    ctx.advance(secs(10));
    assert_eq!(bodies(&receive(ctx, &url, 10).await)[0], "m1");
}

pub async fn a_fifo_visibility_change_with_an_expired_handle_is_rejected_as_expired(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    send_in_group(ctx, &url, "m1", "g").await;
    let first = receive_attempt(ctx, &url, 1, 10, None).await.remove(0);
    ctx.advance(secs(11));

    // Timed out, not received again: FIFO handles die with their visibility timeout (SPEC §5.3).
    let error = change_visibility(ctx, &url, &first.receipt_handle, 30).await.expect_err("expired handle");
    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "The receipt handle has expired");
    assert_eq!(counts(ctx, &url).await, (1, 0, 0));

    // Superseded by a later receive: expired too, and the message stays in flight for the new handle.
    let second = receive_attempt(ctx, &url, 1, 60, None).await.remove(0);
    let error = change_visibility(ctx, &url, &first.receipt_handle, 0).await.expect_err("superseded handle");
    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "The receipt handle has expired");
    assert_eq!(counts(ctx, &url).await, (0, 1, 0));
    delete_message(ctx, &url, &second).await;
}

pub async fn ending_a_fifo_visibility_timeout_early_makes_the_group_receivable_again(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    for body in ["m1", "m2"] {
        send_in_group(ctx, &url, body, "g").await;
    }
    let head = receive_attempt(ctx, &url, 1, 60, None).await;
    assert_eq!(bodies(&head), ["m1"]);
    assert!(receive(ctx, &url, 10).await.is_empty(), "the group is blocked behind its in-flight head");

    change_visibility(ctx, &url, &head[0].receipt_handle, 0).await.expect("end the timeout now");

    // The head is visible again at once, so the group delivers from it, in order.
    let again = receive_attempt(ctx, &url, 10, 60, None).await;
    assert_eq!(bodies(&again), ["m1", "m2"]);
    assert_eq!(again[0].message_id, head[0].message_id);
}
