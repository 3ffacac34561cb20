//! Receipt handles and long polls as only `aws-sdk-sqs` sees them: the single-message actions' 404 and typed
//! variant for a garbage handle, a negative `WaitTimeSeconds`, and long polls ended by the emulator's shutdown.
//! Visibility, delays, retention, purge and long polling themselves are conformance scenarios
//! (`tests/conformance/scenarios/{visibility,delays,long_polling}.rs`).

use std::time::Duration;

use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityError;
use aws_sdk_sqs::operation::delete_message::DeleteMessageError;
use aws_sdk_sqs::operation::receive_message::ReceiveMessageOutput;
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
