//! Long polling on the virtual clock (SPEC §6, §10): a waiting receive answers as soon as a message becomes
//! visible (sent, delay ended, visibility expired or released) or empty when its wait passes; the queue's
//! `ReceiveMessageWaitTimeSeconds` is the default wait. Real time only bounds how fast a woken poll answers
//! and how long a poll that should still wait is watched; receive parameters out of range fail at once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sqskit::backend::{ReceiveRequest, ReceivedMessage};
use sqskit::{Result, ServiceErrorCode};
use tokio::task::JoinHandle;

use super::common::{
    assert_service_error, change_visibility, counts, delayed, queue_attributes, receive_hidden_for, receive_one, send,
    send_entry, short_poll,
};
use crate::support::TestContext;

/// Real time within which a woken long poll must answer.
const WAKE_BOUND: Duration = Duration::from_secs(2);
/// Real time for which a long poll that should still wait is watched.
const PENDING_PROBE: Duration = Duration::from_millis(150);

/// Spawns a receive of at most one message with the given wait (`None`: the queue's default).
fn spawn_receive(ctx: &TestContext, url: &str, wait_secs: Option<u64>) -> JoinHandle<Result<Vec<ReceivedMessage>>> {
    let backend = Arc::clone(&ctx.backend);
    let url = url.to_owned();
    let mut request = ReceiveRequest::new().max_messages(1).all_attributes();
    request.wait_time = wait_secs.map(Duration::from_secs);
    tokio::spawn(async move { backend.receive_message(&url, &request).await })
}

/// Asserts the spawned receive has not answered within [`PENDING_PROBE`] of real time.
async fn assert_pending(poll: &mut JoinHandle<Result<Vec<ReceivedMessage>>>) {
    let answer = tokio::time::timeout(PENDING_PROBE, &mut *poll).await;
    assert!(answer.is_err(), "long poll answered early: {answer:?}");
}

/// Awaits the spawned receive within [`WAKE_BOUND`] of real time.
async fn finish(poll: JoinHandle<Result<Vec<ReceivedMessage>>>) -> Vec<ReceivedMessage> {
    tokio::time::timeout(WAKE_BOUND, poll).await.expect("long poll should have answered").expect("task").expect("poll")
}

pub async fn long_poll_returns_as_soon_as_a_message_is_sent(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let mut poll = spawn_receive(ctx, &url, Some(20));
    assert_pending(&mut poll).await;

    let id = send(ctx, &url, "wake up").await.message_id;

    let got = finish(poll).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, id);
}

pub async fn long_poll_returns_empty_after_its_wait_of_virtual_time(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let mut poll = spawn_receive(ctx, &url, Some(20));
    assert_pending(&mut poll).await;

    ctx.advance(Duration::from_secs(19));
    assert_pending(&mut poll).await;
    ctx.advance(Duration::from_secs(2));

    assert!(finish(poll).await.is_empty());
}

pub async fn queue_receive_wait_time_is_the_default_wait(ctx: &TestContext) {
    let url = ctx.create_queue_with("orders", queue_attributes(&[("ReceiveMessageWaitTimeSeconds", "20")])).await;
    let mut poll = spawn_receive(ctx, &url, None);
    assert_pending(&mut poll).await;

    send(ctx, &url, "x").await;

    assert_eq!(finish(poll).await.len(), 1);
}

pub async fn request_wait_time_zero_overrides_the_queue_default(ctx: &TestContext) {
    let url = ctx.create_queue_with("orders", queue_attributes(&[("ReceiveMessageWaitTimeSeconds", "20")])).await;

    let poll = spawn_receive(ctx, &url, Some(0));

    assert!(finish(poll).await.is_empty());
}

pub async fn long_poll_wakes_when_a_visibility_timeout_expires(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "x").await;
    let hidden = receive_hidden_for(ctx, &url, 1, 10).await;
    let mut poll = spawn_receive(ctx, &url, Some(20));
    assert_pending(&mut poll).await;

    ctx.advance(Duration::from_secs(11));

    let got = finish(poll).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, hidden[0].message_id);
}

pub async fn long_poll_wakes_when_visibility_is_changed_to_zero(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "x").await;
    let message = receive_one(ctx, &url).await;
    let mut poll = spawn_receive(ctx, &url, Some(20));
    assert_pending(&mut poll).await;

    change_visibility(ctx, &url, &message.receipt_handle, 0).await.expect("release");

    assert_eq!(finish(poll).await.len(), 1);
}

pub async fn long_poll_wakes_when_a_delay_ends(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send_entry(ctx, &url, delayed("d", "x", 5)).await.expect("send delayed");
    let mut poll = spawn_receive(ctx, &url, Some(20));
    assert_pending(&mut poll).await;

    ctx.advance(Duration::from_secs(6));

    assert_eq!(finish(poll).await.len(), 1);
}

pub async fn twenty_concurrent_long_polls_receive_twenty_messages_exactly_once(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let mut polls: Vec<_> = (0..20).map(|_| spawn_receive(ctx, &url, Some(20))).collect();
    assert_pending(&mut polls[0]).await;

    let mut sent = BTreeSet::new();
    for i in 0..20 {
        sent.insert(send(ctx, &url, &format!("m{i}")).await.message_id);
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    for poll in polls {
        let answer = tokio::time::timeout_at(deadline, poll).await.expect("every long poll answers within 5 s");
        got.extend(answer.expect("task").expect("poll").into_iter().map(|m| m.message_id));
    }
    let unique: BTreeSet<_> = got.iter().cloned().collect();
    assert_eq!(got.len(), 20, "{got:?}");
    assert_eq!(unique, sent);
}

pub async fn max_number_of_messages_out_of_range_is_invalid(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "x").await;

    for bad in [0, 11] {
        let error = ctx.backend.receive_message(&url, &short_poll(bad)).await.expect_err("MaxNumberOfMessages");

        assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "MaxNumberOfMessages");
    }
    assert_eq!(counts(ctx, &url).await, (1, 0, 0));
}

pub async fn receive_visibility_timeout_out_of_range_is_invalid(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "x").await;

    let request = short_poll(1).visibility_timeout(Duration::from_secs(43_201));
    let error = ctx.backend.receive_message(&url, &request).await.expect_err("VisibilityTimeout=43201");

    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "VisibilityTimeout");
    assert_eq!(counts(ctx, &url).await, (1, 0, 0));
}
