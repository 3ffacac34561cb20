//! Receipt handles and long polls as only `aws-sdk-sqs` sees them: the single-message actions' 404 and typed
//! variant for a garbage handle, a negative `WaitTimeSeconds`, and long polls ended by the emulator's shutdown.
//! Visibility, delays, retention, purge and long polling themselves are conformance scenarios
//! (`tests/conformance/scenarios/{visibility,delays,long_polling}.rs`).

use std::time::Duration;

use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityError;
use aws_sdk_sqs::operation::delete_message::DeleteMessageError;
use aws_sdk_sqs::operation::receive_message::ReceiveMessageOutput;
use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry};
use tokio::task::JoinHandle;

use crate::common::{TestEnv, expect_service_error};

/// Real time within which a woken long poll must answer.
const WAKE_BOUND: Duration = Duration::from_secs(2);
/// Real time for which a long poll that should still wait is watched.
const PENDING_PROBE: Duration = Duration::from_millis(150);

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

/// A ReceiveMessage with a 20 s wait, returning the raw result (shutdown may close the connection).
fn spawn_receive_result(env: &TestEnv, url: &str) -> JoinHandle<Result<ReceiveMessageOutput, String>> {
    let client = env.client.clone();
    let url = url.to_owned();
    tokio::spawn(async move {
        client.receive_message().queue_url(url).wait_time_seconds(20).send().await.map_err(|e| format!("{e:?}"))
    })
}

/// The single-message actions and their batches with older and timed-out handles (docs/aws-behaviour.md):
/// on a standard queue an older handle of a message received again still deletes it or changes its visibility,
/// and a handle whose timeout ran out is accepted without effect; on a FIFO queue both are expired handles.
#[tokio::test]
async fn older_and_timed_out_handles_in_single_and_batch_actions() {
    let env = TestEnv::start().await;
    let url = env.create_queue_with("orders", &[("VisibilityTimeout", "10")]).await;
    for body in ["a", "b", "c"] {
        env.send(&url, body).await;
    }
    let first = env.receive(&url, 10).await;
    env.advance(11);
    let second = env.receive(&url, 10).await;
    assert_eq!(second.len(), 3);
    let older = |m: &aws_sdk_sqs::types::Message| {
        first.iter().find(|f| f.message_id == m.message_id).and_then(|f| f.receipt_handle.clone()).unwrap()
    };

    env.client.delete_message().queue_url(&url).receipt_handle(older(&second[0])).send().await.unwrap();
    let batch = env
        .client
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("b")
                .receipt_handle(older(&second[1]))
                .visibility_timeout(0)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(batch.successful().len(), 1, "{batch:?}");
    assert_eq!(env.counts(&url).await, (1, 1, 0), "one deleted, one visible again, one still in flight");

    // The third message's timeout runs out: its handle is accepted and changes nothing.
    env.advance(11);
    let third = second[2].receipt_handle.clone().unwrap();
    env.client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&third)
        .visibility_timeout(60)
        .send()
        .await
        .unwrap();
    assert_eq!(env.counts(&url).await, (2, 0, 0));

    let fifo = env
        .create_queue_with(
            "orders.fifo",
            &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true"), ("VisibilityTimeout", "10")],
        )
        .await;
    env.client.send_message().queue_url(&fifo).message_body("f").message_group_id("g").send().await.unwrap();
    let held = env.receive(&fifo, 1).await[0].receipt_handle.clone().unwrap();
    env.advance(11);
    let err = env
        .client
        .change_message_visibility()
        .queue_url(&fifo)
        .receipt_handle(&held)
        .visibility_timeout(5)
        .send()
        .await;
    expect_service_error(err.unwrap_err(), 400, "InvalidParameterValue", "The receipt handle has expired.");
    let batch = env
        .client
        .delete_message_batch()
        .queue_url(&fifo)
        .entries(DeleteMessageBatchRequestEntry::builder().id("f").receipt_handle(&held).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(batch.failed().len(), 1, "{batch:?}");
    assert!(batch.failed()[0].message().unwrap_or_default().contains("The receipt handle has expired"), "{batch:?}");
    assert_eq!(env.counts(&fifo).await, (1, 0, 0));
    env.shutdown().await;
}

/// The in-flight quota (AWS: 120,000 per queue; here lowered to 3 through the builder): a short-polling receive
/// of a standard queue at the quota fails with `OverLimit`, a long poll waits and gets a message once a delete
/// frees room, and a FIFO queue never errors, it just delivers nothing more
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html>,
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-fifo.html>).
#[tokio::test]
async fn the_in_flight_quota_answers_short_polls_with_over_limit() {
    use sqskit_emulator::{Emulator, ManualClock};
    let emu =
        crate::common::start_emulator(Emulator::builder().clock(ManualClock::new()).max_in_flight_messages(3)).await;
    let client = crate::common::sdk_client(&emu.endpoint()).await;
    let url = client.create_queue().queue_name("busy").send().await.unwrap().queue_url.unwrap();
    for body in ["1", "2", "3", "4"] {
        client.send_message().queue_url(&url).message_body(body).send().await.unwrap();
    }
    let first = client.receive_message().queue_url(&url).max_number_of_messages(10).send().await.unwrap();
    assert_eq!(first.messages().len(), 3, "no more than the quota goes in flight");

    let err = client.receive_message().queue_url(&url).send().await.unwrap_err();
    expect_service_error(err, 403, "OverLimit", "in flight messages");

    let waiting = {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move { client.receive_message().queue_url(&url).wait_time_seconds(20).send().await })
    };
    tokio::time::sleep(PENDING_PROBE).await;
    assert!(!waiting.is_finished(), "a long poll at the quota waits instead of failing");
    let handle = first.messages()[0].receipt_handle().unwrap();
    client.delete_message().queue_url(&url).receipt_handle(handle).send().await.unwrap();
    let woken = tokio::time::timeout(WAKE_BOUND, waiting).await.expect("woken by the delete").unwrap().unwrap();
    assert_eq!(woken.messages()[0].body(), Some("4"));

    let fifo = client
        .create_queue()
        .queue_name("busy.fifo")
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .attributes(aws_sdk_sqs::types::QueueAttributeName::ContentBasedDeduplication, "true")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for body in ["a", "b", "c", "d"] {
        client.send_message().queue_url(&fifo).message_body(body).message_group_id(body).send().await.unwrap();
    }
    let taken = client.receive_message().queue_url(&fifo).max_number_of_messages(10).send().await.unwrap();
    assert_eq!(taken.messages().len(), 3);
    let more = client.receive_message().queue_url(&fifo).send().await.unwrap();
    assert!(more.messages().is_empty(), "FIFO: no error, no message");
    crate::common::stop_emulator(emu).await;
}
