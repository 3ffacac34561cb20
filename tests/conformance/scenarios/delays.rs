//! Time-driven message lifecycle on the virtual clock (SPEC §6, §10): per-message and queue delays, retention,
//! and PurgeQueue with its 60-second rule.

use std::time::Duration;

use sqskit::ServiceErrorCode;
use sqskit::backend::SendEntry;

use super::common::{
    assert_service_error, bodies, counts, delayed, delete, queue_attributes, receive, receive_hidden_for, receive_one,
    send, send_entry,
};
use super::drain;
use crate::support::TestContext;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub async fn per_message_delay_hides_the_message_until_it_passes(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send_entry(ctx, &url, delayed("d", "x", 10)).await.expect("send delayed");

    assert!(receive(ctx, &url, 1).await.is_empty());
    assert_eq!(counts(ctx, &url).await, (0, 0, 1));
    ctx.advance(secs(9));
    assert!(receive(ctx, &url, 1).await.is_empty());
    ctx.advance(secs(2));

    receive_one(ctx, &url).await;
    assert_eq!(counts(ctx, &url).await, (0, 1, 0));
}

pub async fn queue_delay_applies_to_messages_without_their_own_delay(ctx: &TestContext) {
    let attributes = queue_attributes(&[("DelaySeconds", "30"), ("VisibilityTimeout", "300")]);
    let url = ctx.create_queue_with("orders", attributes).await;
    send(ctx, &url, "queue-delayed").await;
    send_entry(ctx, &url, delayed("now", "immediate", 0)).await.expect("send with DelaySeconds=0");

    let now = receive(ctx, &url, 10).await;
    assert_eq!(counts(ctx, &url).await, (0, 1, 1));
    ctx.advance(secs(31));
    let later = receive(ctx, &url, 10).await;

    assert_eq!(bodies(&now), ["immediate"]);
    assert_eq!(bodies(&later), ["queue-delayed"]);
}

pub async fn delay_above_900_seconds_is_invalid(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;

    let error = send_entry(ctx, &url, delayed("late", "x", 901)).await.expect_err("DelaySeconds=901");

    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "DelaySeconds");
    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}

pub async fn changing_the_queue_delay_affects_only_later_messages(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "before").await;

    ctx.backend.set_queue_attributes(&url, &queue_attributes(&[("DelaySeconds", "60")])).await.expect("set delay");
    send(ctx, &url, "after").await;

    assert_eq!(counts(ctx, &url).await, (1, 0, 1));
    let before = receive_one(ctx, &url).await;
    assert_eq!(before.body, "before");
    delete(ctx, &url, &before.receipt_handle).await.expect("delete");
    ctx.advance(secs(61));
    assert_eq!(receive_one(ctx, &url).await.body, "after");
}

pub async fn a_message_older_than_the_retention_period_disappears_even_in_flight(ctx: &TestContext) {
    let url = ctx.create_queue_with("orders", queue_attributes(&[("MessageRetentionPeriod", "60")])).await;
    send(ctx, &url, "old-visible").await;
    send(ctx, &url, "old-in-flight").await;
    let in_flight = receive_hidden_for(ctx, &url, 1, 300).await;
    assert_eq!(in_flight.len(), 1);
    ctx.advance(secs(30));
    send(ctx, &url, "young").await;

    ctx.advance(secs(31));

    assert_eq!(counts(ctx, &url).await, (1, 0, 0));
    assert_eq!(bodies(&drain(ctx, &url).await), ["young"]);
}

pub async fn purge_removes_visible_in_flight_and_delayed_messages(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    send(ctx, &url, "visible").await;
    send(ctx, &url, "in-flight").await;
    send_entry(ctx, &url, delayed("d", "delayed", 10)).await.expect("send delayed");
    receive_one(ctx, &url).await;
    assert_eq!(counts(ctx, &url).await, (1, 1, 1));

    ctx.backend.purge_queue(&url).await.expect("purge");

    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
    ctx.advance(secs(61));
    assert!(receive(ctx, &url, 10).await.is_empty());
    send_entry(ctx, &url, SendEntry::new("a", "after the purge")).await.expect("send");
    assert_eq!(receive_one(ctx, &url).await.body, "after the purge");
}

pub async fn a_second_purge_within_60_seconds_fails_with_purge_queue_in_progress(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    ctx.backend.purge_queue(&url).await.expect("purge");
    ctx.advance(secs(59));

    let error = ctx.backend.purge_queue(&url).await.expect_err("purge within 60 s");

    assert_service_error(&error, &ServiceErrorCode::PurgeQueueInProgress, "");
    ctx.advance(secs(2));
    ctx.backend.purge_queue(&url).await.expect("purge after 60 s");
}
