//! Visibility timeouts and receipt handles on the virtual clock (SPEC §6, §10): the queue default, per-receive
//! overrides, changes counted from now, the 12-hour cap, stale and foreign handles.

use std::time::Duration;

use sqskit::ServiceErrorCode;
use sqskit::types::SystemAttributeName;

use super::common::{
    assert_service_error, change_visibility, counts, delete, queue_attributes, receive, receive_hidden_for,
    receive_one, send,
};
use crate::support::TestContext;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub async fn received_message_is_hidden_until_its_timeout_then_redelivered_with_a_new_handle(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let id = send(ctx, &url, "x").await.message_id;
    let first = receive_one(ctx, &url).await;
    assert_eq!(first.receive_count(), Some(1));

    ctx.advance(secs(29));
    assert!(receive(ctx, &url, 10).await.is_empty(), "visible before 30 s");
    assert_eq!(counts(ctx, &url).await, (0, 1, 0));
    ctx.advance(secs(2));
    let second = receive_one(ctx, &url).await;

    assert_eq!(second.message_id, id);
    assert_eq!(second.receive_count(), Some(2));
    assert_ne!(second.receipt_handle, first.receipt_handle);
    let first_receive = |m: &sqskit::backend::ReceivedMessage| {
        m.system_attributes.get(&SystemAttributeName::ApproximateFirstReceiveTimestamp).cloned()
    };
    assert!(first_receive(&first).is_some());
    assert_eq!(first_receive(&second), first_receive(&first));
}

pub async fn queue_visibility_timeout_is_the_default_for_receives(ctx: &TestContext) {
    let url = ctx.create_queue_with("orders", queue_attributes(&[("VisibilityTimeout", "10")])).await;
    send(ctx, &url, "x").await;
    receive_one(ctx, &url).await;

    ctx.advance(secs(9));
    assert!(receive(ctx, &url, 1).await.is_empty());
    ctx.advance(secs(2));

    receive_one(ctx, &url).await;
}

pub async fn receive_visibility_timeout_overrides_the_queue_default(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "short").await;
    send(ctx, &url, "long").await;
    let short = receive_hidden_for(ctx, &url, 1, 5).await;
    let long = receive_hidden_for(ctx, &url, 1, 100).await;
    assert_eq!((short.len(), long.len()), (1, 1));

    ctx.advance(secs(6));
    let again = receive_one(ctx, &url).await;
    assert_eq!(again.message_id, short[0].message_id);
    ctx.advance(secs(31));

    assert!(
        receive(ctx, &url, 10).await.iter().all(|m| m.message_id != long[0].message_id),
        "message received with VisibilityTimeout=100 reappeared after 37 s"
    );
}

pub async fn receive_with_visibility_timeout_zero_leaves_the_message_visible(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "x").await;

    let first = receive_hidden_for(ctx, &url, 10, 0).await;
    let second = receive_one(ctx, &url).await;

    assert_eq!(first[0].message_id, second.message_id);
    assert_eq!(second.receive_count(), Some(2));
}

pub async fn change_visibility_to_zero_makes_the_message_visible_at_once(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "x").await;
    let message = receive_one(ctx, &url).await;

    change_visibility(ctx, &url, &message.receipt_handle, 0).await.expect("change visibility");

    let again = receive_one(ctx, &url).await;
    assert_eq!(again.message_id, message.message_id);
}

pub async fn change_visibility_counts_from_now_and_keeps_the_message_hidden(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "x").await;
    let message = receive_one(ctx, &url).await;
    ctx.advance(secs(20));

    change_visibility(ctx, &url, &message.receipt_handle, 60).await.expect("change visibility");

    ctx.advance(secs(20));
    assert!(receive(ctx, &url, 1).await.is_empty(), "visible 40 s after receive");
    ctx.advance(secs(39));
    assert!(receive(ctx, &url, 1).await.is_empty(), "visible 59 s after the change");
    ctx.advance(secs(2));
    receive_one(ctx, &url).await;
}

pub async fn change_visibility_beyond_12_hours_since_receive_is_invalid(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "x").await;
    let handle = receive_hidden_for(ctx, &url, 1, 3_600).await.remove(0).receipt_handle;
    ctx.advance(secs(100));

    let error = change_visibility(ctx, &url, &handle, 43_200).await.expect_err("beyond 12 h since the receive");

    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "VisibilityTimeout");
    change_visibility(ctx, &url, &handle, 43_100).await.expect("within 12 h since the receive");
}

pub async fn change_visibility_above_43200_is_invalid(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "x").await;
    let message = receive_one(ctx, &url).await;

    let error = change_visibility(ctx, &url, &message.receipt_handle, 43_201).await.expect_err("above 12 h");

    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "VisibilityTimeout");
}

pub async fn change_visibility_of_a_message_no_longer_in_flight_succeeds_and_changes_nothing(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "x").await;
    let message = receive_one(ctx, &url).await;
    ctx.advance(secs(31));

    // AWS answers OK and does nothing (LocalStack's AWS-validated fix,
    // https://github.com/localstack/localstack/pull/9632; docs/aws-behaviour.md).
    change_visibility(ctx, &url, &message.receipt_handle, 60).await.expect("accepted, no effect");

    assert_eq!(counts(ctx, &url).await, (1, 0, 0));
    assert_eq!(receive_one(ctx, &url).await.message_id, message.message_id);
}

pub async fn change_visibility_of_a_deleted_message_is_invalid(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "x").await;
    let message = receive_one(ctx, &url).await;
    delete(ctx, &url, &message.receipt_handle).await.expect("delete");

    let error = change_visibility(ctx, &url, &message.receipt_handle, 60).await.expect_err("deleted");

    // SPEC §5.3: the text AWS returns for a message that no longer exists.
    let text = "Message does not exist or is not available for visibility timeout change.";
    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, text);
}

pub async fn an_older_receipt_handle_deletes_and_changes_visibility_on_a_standard_queue(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "x").await;
    send(ctx, &url, "y").await;
    let first = receive(ctx, &url, 10).await;
    assert_eq!(first.len(), 2);
    ctx.advance(secs(31));
    let second = receive(ctx, &url, 10).await;
    assert_eq!(second.len(), 2);
    let older = |id: &sqskit::types::MessageId| {
        first.iter().find(|m| &m.message_id == id).expect("received before").receipt_handle.clone()
    };

    // Old handles stay usable on standard queues (moto's AWS-verified
    // https://github.com/getmoto/moto/pull/4655; docs/aws-behaviour.md): one deletes, one makes its message visible.
    delete(ctx, &url, &older(&second[0].message_id)).await.expect("delete with an older handle");
    change_visibility(ctx, &url, &older(&second[1].message_id), 0).await.expect("change with an older handle");

    assert_eq!(counts(ctx, &url).await, (1, 0, 0));
    delete(ctx, &url, &second[0].receipt_handle).await.expect("deleting a deleted message succeeds");
    assert_eq!(receive_one(ctx, &url).await.message_id, second[1].message_id);
}

pub async fn deleting_an_already_deleted_message_succeeds(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "x").await;
    let message = receive_one(ctx, &url).await;
    delete(ctx, &url, &message.receipt_handle).await.expect("delete");

    let again = delete(ctx, &url, &message.receipt_handle).await;

    assert!(again.is_ok(), "{again:?}");
}

pub async fn a_receipt_handle_of_another_queue_is_invalid(ctx: &TestContext) {
    let a = ctx.create_queue("a").await;
    let b = ctx.create_queue("b").await;
    send(ctx, &a, "x").await;
    send(ctx, &b, "y").await;
    let from_a = receive_one(ctx, &a).await;

    let error = delete(ctx, &b, &from_a.receipt_handle).await.expect_err("a handle of queue a on queue b");

    assert_service_error(&error, &ServiceErrorCode::ReceiptHandleIsInvalid, "");
    assert_eq!(counts(ctx, &a).await, (0, 1, 0));
    assert_eq!(counts(ctx, &b).await, (1, 0, 0));
}
