//! Time-dependent behaviour through `aws-sdk-sqs` on a `ManualClock`: visibility timeouts, receipt handles,
//! delays, retention, PurgeQueue and long polling (SPEC §6, §10). SQS time only moves by `advance`; real time is
//! used only to bound how fast a long poll wakes and to see that one is still pending.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityError;
use aws_sdk_sqs::operation::delete_message::DeleteMessageError;
use aws_sdk_sqs::operation::purge_queue::PurgeQueueError;
use aws_sdk_sqs::operation::receive_message::ReceiveMessageOutput;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use common::{TestEnv, expect_service_error};
use tokio::task::JoinHandle;

/// Real time within which a woken long poll must answer.
const WAKE_BOUND: Duration = Duration::from_secs(2);
/// Real time for which a long poll that should still wait is watched.
const PENDING_PROBE: Duration = Duration::from_millis(150);

fn receive_count(msg: &Message) -> String {
    msg.attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .cloned()
        .unwrap_or_else(|| panic!("no ApproximateReceiveCount on {msg:?}"))
}

/// Spawns a ReceiveMessage with the given wait (None = queue default) and max 1 message.
fn spawn_receive(env: &TestEnv, url: &str, wait: Option<i32>) -> JoinHandle<ReceiveMessageOutput> {
    let client = env.client.clone();
    let url = url.to_owned();
    tokio::spawn(async move {
        client
            .receive_message()
            .queue_url(url)
            .set_wait_time_seconds(wait)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("long poll")
    })
}

/// Asserts the spawned receive has not answered within [`PENDING_PROBE`] of real time.
async fn assert_pending(handle: &mut JoinHandle<ReceiveMessageOutput>) {
    let res = tokio::time::timeout(PENDING_PROBE, &mut *handle).await;
    assert!(res.is_err(), "long poll answered early: {res:?}");
}

/// Awaits the spawned receive within [`WAKE_BOUND`] of real time.
async fn finish(handle: JoinHandle<ReceiveMessageOutput>) -> Vec<Message> {
    tokio::time::timeout(WAKE_BOUND, handle)
        .await
        .expect("long poll should have answered")
        .expect("task")
        .messages
        .unwrap_or_default()
}

async fn change_visibility(env: &TestEnv, url: &str, handle: &str, secs: i32) {
    env.client
        .change_message_visibility()
        .queue_url(url)
        .receipt_handle(handle)
        .visibility_timeout(secs)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn received_message_is_hidden_until_visibility_timeout_then_redelivered_with_new_handle() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let id = env.send(&url, "x").await.message_id.unwrap();
    let first = env.receive_one(&url).await;
    assert_eq!(receive_count(&first), "1");

    env.advance(29);
    assert!(env.receive(&url, 10).await.is_empty(), "visible before 30 s");
    assert_eq!(env.counts(&url).await, (0, 1, 0));
    env.advance(2);
    let second = env.receive_one(&url).await;

    assert_eq!(second.message_id(), Some(id.as_str()));
    assert_eq!(receive_count(&second), "2");
    assert_ne!(second.receipt_handle(), first.receipt_handle());
    let first_receive = |m: &Message| {
        m.attributes().and_then(|a| a.get(&MessageSystemAttributeName::ApproximateFirstReceiveTimestamp)).cloned()
    };
    assert!(first_receive(&first).is_some());
    assert_eq!(first_receive(&second), first_receive(&first));
    env.shutdown().await;
}

#[tokio::test]
async fn queue_visibility_timeout_attribute_is_the_default_for_receives() {
    let env = TestEnv::start().await;
    let url = env.create_queue_with("orders", &[("VisibilityTimeout", "10")]).await;
    env.send(&url, "x").await;
    env.receive_one(&url).await;

    env.advance(9);
    assert!(env.receive(&url, 1).await.is_empty());
    env.advance(2);

    env.receive_one(&url).await;
    env.shutdown().await;
}

#[tokio::test]
async fn receive_visibility_timeout_overrides_the_queue_default() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "short").await;
    env.send(&url, "long").await;
    let short =
        env.client.receive_message().queue_url(&url).visibility_timeout(5).send().await.unwrap().messages.unwrap();
    let long =
        env.client.receive_message().queue_url(&url).visibility_timeout(100).send().await.unwrap().messages.unwrap();
    assert_eq!((short.len(), long.len()), (1, 1));

    env.advance(6);
    let again = env.receive_one(&url).await;
    assert_eq!(again.message_id(), short[0].message_id());
    env.advance(31);

    assert!(
        env.receive(&url, 10).await.iter().all(|m| m.message_id() != long[0].message_id()),
        "message received with VisibilityTimeout=100 reappeared after 37 s"
    );
    env.shutdown().await;
}

#[tokio::test]
async fn receive_with_visibility_timeout_zero_leaves_message_visible() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;

    let first =
        env.client.receive_message().queue_url(&url).visibility_timeout(0).send().await.unwrap().messages.unwrap();
    let second = env.receive_one(&url).await;

    assert_eq!(first[0].message_id(), second.message_id());
    assert_eq!(receive_count(&second), "2");
    env.shutdown().await;
}

#[tokio::test]
async fn change_visibility_to_zero_makes_message_visible_at_once() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;
    let msg = env.receive_one(&url).await;

    change_visibility(&env, &url, msg.receipt_handle().unwrap(), 0).await;

    let again = env.receive_one(&url).await;
    assert_eq!(again.message_id(), msg.message_id());
    env.shutdown().await;
}

#[tokio::test]
async fn change_visibility_extension_counts_from_now_and_keeps_message_hidden() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;
    let msg = env.receive_one(&url).await;
    env.advance(20);

    change_visibility(&env, &url, msg.receipt_handle().unwrap(), 60).await;

    env.advance(20);
    assert!(env.receive(&url, 1).await.is_empty(), "visible 40 s after receive");
    env.advance(39);
    assert!(env.receive(&url, 1).await.is_empty(), "visible 59 s after the change");
    env.advance(2);
    env.receive_one(&url).await;
    env.shutdown().await;
}

#[tokio::test]
async fn change_visibility_beyond_12_hours_since_receive_fails_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;
    let msgs =
        env.client.receive_message().queue_url(&url).visibility_timeout(3_600).send().await.unwrap().messages.unwrap();
    let handle = msgs[0].receipt_handle().unwrap();
    env.advance(100);

    let err = env
        .client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(handle)
        .visibility_timeout(43_200)
        .send()
        .await
        .unwrap_err();

    expect_service_error(err, 400, "InvalidParameterValue", "VisibilityTimeout");
    change_visibility(&env, &url, handle, 43_100).await;
    env.shutdown().await;
}

#[tokio::test]
async fn change_visibility_above_43200_fails_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;
    let msg = env.receive_one(&url).await;

    let err = env
        .client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(msg.receipt_handle().unwrap())
        .visibility_timeout(43_201)
        .send()
        .await
        .unwrap_err();

    expect_service_error(err, 400, "InvalidParameterValue", "VisibilityTimeout");
    env.shutdown().await;
}

#[tokio::test]
async fn delete_with_a_stale_receipt_handle_succeeds_on_a_standard_queue() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;
    let first = env.receive_one(&url).await;
    env.advance(31);
    let second = env.receive_one(&url).await;

    let stale =
        env.client.delete_message().queue_url(&url).receipt_handle(first.receipt_handle().unwrap()).send().await;
    env.client.delete_message().queue_url(&url).receipt_handle(second.receipt_handle().unwrap()).send().await.unwrap();

    assert!(stale.is_ok(), "stale handle delete failed: {stale:?}");
    env.advance(31);
    assert!(env.receive(&url, 10).await.is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn deleting_an_already_deleted_message_succeeds() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;
    let msg = env.receive_one(&url).await;
    let delete = || env.client.delete_message().queue_url(&url).receipt_handle(msg.receipt_handle().unwrap()).send();
    delete().await.unwrap();

    let again = delete().await;

    assert!(again.is_ok(), "{again:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn delete_with_a_garbage_receipt_handle_fails_with_receipt_handle_is_invalid() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;

    let err =
        env.client.delete_message().queue_url(&url).receipt_handle("not-a-receipt-handle").send().await.unwrap_err();

    let se = expect_service_error(err, 404, "ReceiptHandleIsInvalid", "");
    assert!(matches!(se, DeleteMessageError::ReceiptHandleIsInvalid(_)), "{se:?}");
    assert_eq!(env.counts(&url).await, (1, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn delete_with_a_receipt_handle_of_another_queue_fails_with_receipt_handle_is_invalid() {
    let env = TestEnv::start().await;
    let a = env.create_queue("a").await;
    let b = env.create_queue("b").await;
    env.send(&a, "x").await;
    env.send(&b, "y").await;
    let from_a = env.receive_one(&a).await;

    let err = env
        .client
        .delete_message()
        .queue_url(&b)
        .receipt_handle(from_a.receipt_handle().unwrap())
        .send()
        .await
        .unwrap_err();

    let se = expect_service_error(err, 404, "ReceiptHandleIsInvalid", "");
    assert!(matches!(se, DeleteMessageError::ReceiptHandleIsInvalid(_)), "{se:?}");
    assert_eq!(env.counts(&a).await, (0, 1, 0));
    assert_eq!(env.counts(&b).await, (1, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn change_visibility_with_a_garbage_receipt_handle_fails_with_receipt_handle_is_invalid() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let err = env
        .client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle("garbage")
        .visibility_timeout(10)
        .send()
        .await
        .unwrap_err();

    let se = expect_service_error(err, 404, "ReceiptHandleIsInvalid", "");
    assert!(matches!(se, ChangeMessageVisibilityError::ReceiptHandleIsInvalid(_)), "{se:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn per_message_delay_hides_message_until_the_delay_passes() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.client.send_message().queue_url(&url).message_body("x").delay_seconds(10).send().await.unwrap();

    assert!(env.receive(&url, 1).await.is_empty());
    assert_eq!(env.counts(&url).await, (0, 0, 1));
    env.advance(9);
    assert!(env.receive(&url, 1).await.is_empty());
    env.advance(2);

    env.receive_one(&url).await;
    assert_eq!(env.counts(&url).await, (0, 1, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn queue_delay_applies_to_messages_without_their_own_delay() {
    let env = TestEnv::start().await;
    let url = env.create_queue_with("orders", &[("DelaySeconds", "30"), ("VisibilityTimeout", "300")]).await;
    env.send(&url, "queue-delayed").await;
    env.client.send_message().queue_url(&url).message_body("immediate").delay_seconds(0).send().await.unwrap();

    let now = env.receive(&url, 10).await;
    assert_eq!(env.counts(&url).await, (0, 1, 1));
    env.advance(31);
    let later = env.receive(&url, 10).await;

    assert_eq!(now.iter().map(|m| m.body().unwrap()).collect::<Vec<_>>(), vec!["immediate"]);
    assert_eq!(later.iter().map(|m| m.body().unwrap()).collect::<Vec<_>>(), vec!["queue-delayed"]);
    env.shutdown().await;
}

#[tokio::test]
async fn delay_seconds_above_900_fails_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let err = env.client.send_message().queue_url(&url).message_body("x").delay_seconds(901).send().await.unwrap_err();

    expect_service_error(err, 400, "InvalidParameterValue", "DelaySeconds");
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn message_older_than_retention_period_disappears_even_in_flight() {
    let env = TestEnv::start().await;
    let url = env.create_queue_with("orders", &[("MessageRetentionPeriod", "60")]).await;
    env.send(&url, "old-visible").await;
    env.send(&url, "old-in-flight").await;
    let in_flight =
        env.client.receive_message().queue_url(&url).visibility_timeout(300).send().await.unwrap().messages.unwrap();
    assert_eq!(in_flight.len(), 1);
    env.advance(30);
    env.send(&url, "young").await;

    env.advance(31);

    assert_eq!(env.counts(&url).await, (1, 0, 0));
    let left = env.drain(&url).await;
    assert_eq!(left.iter().map(|m| m.body().unwrap()).collect::<Vec<_>>(), vec!["young"]);
    env.shutdown().await;
}

#[tokio::test]
async fn purge_queue_removes_visible_in_flight_and_delayed_messages() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "visible").await;
    env.send(&url, "in-flight").await;
    env.client.send_message().queue_url(&url).message_body("delayed").delay_seconds(10).send().await.unwrap();
    env.receive_one(&url).await;
    assert_eq!(env.counts(&url).await, (1, 1, 1));

    env.client.purge_queue().queue_url(&url).send().await.unwrap();

    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.advance(61);
    assert!(env.receive(&url, 10).await.is_empty());
    env.send(&url, "after the purge").await;
    assert_eq!(env.receive_one(&url).await.body(), Some("after the purge"));
    env.shutdown().await;
}

#[tokio::test]
async fn second_purge_within_60_seconds_fails_with_purge_queue_in_progress() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.client.purge_queue().queue_url(&url).send().await.unwrap();
    env.advance(59);

    let err = env.client.purge_queue().queue_url(&url).send().await.unwrap_err();

    let se = expect_service_error(err, 403, "AWS.SimpleQueueService.PurgeQueueInProgress", "");
    assert!(matches!(se, PurgeQueueError::PurgeQueueInProgress(_)), "{se:?}");
    env.advance(2);
    env.client.purge_queue().queue_url(&url).send().await.unwrap();
    env.shutdown().await;
}

#[tokio::test]
async fn long_poll_returns_as_soon_as_a_message_is_sent() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let mut poll = spawn_receive(&env, &url, Some(20));
    assert_pending(&mut poll).await;

    let id = env.send(&url, "wake up").await.message_id.unwrap();

    let got = finish(poll).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id(), Some(id.as_str()));
    env.shutdown().await;
}

#[tokio::test]
async fn long_poll_returns_empty_after_wait_time_of_virtual_time() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let mut poll = spawn_receive(&env, &url, Some(20));
    assert_pending(&mut poll).await;

    env.advance(19);
    assert_pending(&mut poll).await;
    env.advance(2);

    assert!(finish(poll).await.is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn queue_receive_message_wait_time_seconds_is_the_default_wait() {
    let env = TestEnv::start().await;
    let url = env.create_queue_with("orders", &[("ReceiveMessageWaitTimeSeconds", "20")]).await;
    let mut poll = spawn_receive(&env, &url, None);
    assert_pending(&mut poll).await;

    env.send(&url, "x").await;

    assert_eq!(finish(poll).await.len(), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn request_wait_time_zero_overrides_the_queue_default() {
    let env = TestEnv::start().await;
    let url = env.create_queue_with("orders", &[("ReceiveMessageWaitTimeSeconds", "20")]).await;

    let poll = spawn_receive(&env, &url, Some(0));

    assert!(finish(poll).await.is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn long_poll_wakes_when_a_visibility_timeout_expires() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;
    let msg =
        env.client.receive_message().queue_url(&url).visibility_timeout(10).send().await.unwrap().messages.unwrap();
    let mut poll = spawn_receive(&env, &url, Some(20));
    assert_pending(&mut poll).await;

    env.advance(11);

    let got = finish(poll).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id(), msg[0].message_id());
    env.shutdown().await;
}

#[tokio::test]
async fn long_poll_wakes_when_visibility_is_changed_to_zero() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;
    let msg = env.receive_one(&url).await;
    let mut poll = spawn_receive(&env, &url, Some(20));
    assert_pending(&mut poll).await;

    change_visibility(&env, &url, msg.receipt_handle().unwrap(), 0).await;

    assert_eq!(finish(poll).await.len(), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn long_poll_wakes_when_a_delay_ends() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.client.send_message().queue_url(&url).message_body("x").delay_seconds(5).send().await.unwrap();
    let mut poll = spawn_receive(&env, &url, Some(20));
    assert_pending(&mut poll).await;

    env.advance(6);

    assert_eq!(finish(poll).await.len(), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn twenty_concurrent_long_polls_receive_twenty_messages_exactly_once() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let mut polls: Vec<_> = (0..20).map(|_| spawn_receive(&env, &url, Some(20))).collect();
    assert_pending(&mut polls[0]).await;

    let mut sent = BTreeSet::new();
    for i in 0..20 {
        sent.insert(env.send(&url, &format!("m{i}")).await.message_id.unwrap());
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    for poll in polls {
        let out = tokio::time::timeout_at(deadline, poll)
            .await
            .expect("every long poll should get a message within 5 s")
            .unwrap();
        got.extend(out.messages.unwrap_or_default().into_iter().map(|m| m.message_id.unwrap()));
    }
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(got.len(), 20, "{got:?}");
    assert_eq!(unique, sent);
    env.shutdown().await;
}

#[tokio::test]
async fn max_number_of_messages_out_of_range_fails_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;

    for bad in [0, 11] {
        let err = env
            .client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(bad)
            .send()
            .await
            .expect_err("out of range MaxNumberOfMessages");

        expect_service_error(err, 400, "InvalidParameterValue", "MaxNumberOfMessages");
    }
    assert_eq!(env.counts(&url).await, (1, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn wait_time_seconds_out_of_range_fails_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    for bad in [21, -1] {
        let err = env
            .client
            .receive_message()
            .queue_url(&url)
            .wait_time_seconds(bad)
            .send()
            .await
            .expect_err("out of range WaitTimeSeconds");

        expect_service_error(err, 400, "InvalidParameterValue", "WaitTimeSeconds");
    }
    env.shutdown().await;
}

#[tokio::test]
async fn receive_visibility_timeout_out_of_range_fails_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;

    let err = env.client.receive_message().queue_url(&url).visibility_timeout(43_201).send().await.unwrap_err();

    expect_service_error(err, 400, "InvalidParameterValue", "VisibilityTimeout");
    assert_eq!(env.counts(&url).await, (1, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn change_visibility_of_a_message_no_longer_in_flight_fails_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;
    let msg = env.receive_one(&url).await;
    env.advance(31);

    let err = env
        .client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(msg.receipt_handle().unwrap())
        .visibility_timeout(60)
        .send()
        .await
        .unwrap_err();

    // SPEC §5.3 / §16: the text AWS was seen returning for a message that is not in flight.
    expect_service_error(
        err,
        400,
        "InvalidParameterValue",
        "Message does not exist or is not available for visibility timeout change.",
    );
    assert_eq!(env.counts(&url).await, (1, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn changing_queue_delay_affects_only_later_messages() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "before").await;

    env.set_attrs(&url, &[("DelaySeconds", "60")]).await;
    env.send(&url, "after").await;

    assert_eq!(env.counts(&url).await, (1, 0, 1));
    let before = env.receive_one(&url).await;
    assert_eq!(before.body(), Some("before"));
    env.client.delete_message().queue_url(&url).receipt_handle(before.receipt_handle().unwrap()).send().await.unwrap();
    env.advance(61);
    assert_eq!(env.receive_one(&url).await.body(), Some("after"));
    env.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_pending_long_polls() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let mut poll = spawn_receive_result(&env, &url);
    let res = tokio::time::timeout(PENDING_PROBE, &mut poll).await;
    assert!(res.is_err(), "long poll answered early: {res:?}");

    env.shutdown().await;

    let outcome = tokio::time::timeout(WAKE_BOUND, poll)
        .await
        .expect("long poll should end when the emulator shuts down")
        .expect("task");
    if let Ok(out) = outcome {
        assert!(out.messages().is_empty(), "{out:?}");
    }
}

/// Like [`spawn_receive`] with a 20 s wait, but returns the raw result (shutdown may close the connection).
fn spawn_receive_result(env: &TestEnv, url: &str) -> JoinHandle<Result<ReceiveMessageOutput, String>> {
    let client = env.client.clone();
    let url = url.to_owned();
    tokio::spawn(async move {
        client.receive_message().queue_url(url).wait_time_seconds(20).send().await.map_err(|e| format!("{e:?}"))
    })
}
