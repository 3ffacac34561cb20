//! Errors as `aws-sdk-sqs` sees them: QueueDoesNotExist from every queue action as the typed variant (which the
//! SDK derives from the `x-amzn-query-error` header, SPEC §3.3), and MissingParameter for absent required input.

use crate::common::{TestEnv, expect_service_error};
use crate::support::{delete_batch_entry, expect_no_such_queue, send_batch_entry, visibility_batch_entry};
use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityError;
use aws_sdk_sqs::operation::change_message_visibility_batch::ChangeMessageVisibilityBatchError;
use aws_sdk_sqs::operation::delete_message::DeleteMessageError;
use aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchError;
use aws_sdk_sqs::operation::delete_queue::DeleteQueueError;
use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError;
use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError;
use aws_sdk_sqs::operation::list_queue_tags::ListQueueTagsError;
use aws_sdk_sqs::operation::purge_queue::PurgeQueueError;
use aws_sdk_sqs::operation::receive_message::ReceiveMessageError;
use aws_sdk_sqs::operation::send_message::SendMessageError;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchError;
use aws_sdk_sqs::operation::set_queue_attributes::SetQueueAttributesError;
use aws_sdk_sqs::operation::tag_queue::TagQueueError;
use aws_sdk_sqs::operation::untag_queue::UntagQueueError;
use aws_sdk_sqs::types::QueueAttributeName;

/// Generates one test per row: the call on a queue that does not exist fails with the typed QueueDoesNotExist
/// variant, HTTP 400, the legacy code, AWS's JSON message and the `Sender` fault.
macro_rules! missing_queue_tests {
    ($($name:ident: $variant:path, |$client:ident, $url:ident| $call:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let env = TestEnv::start().await;
            env.create_queue("some-other-queue").await;
            let $client = &env.client;
            let $url = env.missing_queue_url();

            let err = $call.send().await.expect_err("call on a missing queue must fail");

            let se = expect_no_such_queue(err);
            assert!(matches!(se, $variant(_)), "{se:?}");
            env.shutdown().await;
        }
    )*};
}

missing_queue_tests! {
    get_queue_url_of_missing_queue_fails_with_queue_does_not_exist:
        GetQueueUrlError::QueueDoesNotExist,
        |client, _url| client.get_queue_url().queue_name("no-such-queue");
    delete_queue_of_missing_queue_fails_with_queue_does_not_exist:
        DeleteQueueError::QueueDoesNotExist,
        |client, url| client.delete_queue().queue_url(url);
    purge_queue_of_missing_queue_fails_with_queue_does_not_exist:
        PurgeQueueError::QueueDoesNotExist,
        |client, url| client.purge_queue().queue_url(url);
    get_queue_attributes_of_missing_queue_fails_with_queue_does_not_exist:
        GetQueueAttributesError::QueueDoesNotExist,
        |client, url| client.get_queue_attributes().queue_url(url).attribute_names(QueueAttributeName::All);
    set_queue_attributes_of_missing_queue_fails_with_queue_does_not_exist:
        SetQueueAttributesError::QueueDoesNotExist,
        |client, url| client.set_queue_attributes()
            .queue_url(url).attributes(QueueAttributeName::VisibilityTimeout, "10");
    send_message_to_missing_queue_fails_with_queue_does_not_exist:
        SendMessageError::QueueDoesNotExist,
        |client, url| client.send_message().queue_url(url).message_body("x");
    send_message_batch_to_missing_queue_fails_with_queue_does_not_exist:
        SendMessageBatchError::QueueDoesNotExist,
        |client, url| client.send_message_batch().queue_url(url).entries(send_batch_entry());
    receive_message_from_missing_queue_fails_with_queue_does_not_exist:
        ReceiveMessageError::QueueDoesNotExist,
        |client, url| client.receive_message().queue_url(url);
    long_poll_on_missing_queue_fails_at_once_with_queue_does_not_exist:
        ReceiveMessageError::QueueDoesNotExist,
        |client, url| client.receive_message().queue_url(url).wait_time_seconds(20);
    delete_message_on_missing_queue_fails_with_queue_does_not_exist:
        DeleteMessageError::QueueDoesNotExist,
        |client, url| client.delete_message().queue_url(url).receipt_handle("h");
    delete_message_batch_on_missing_queue_fails_with_queue_does_not_exist:
        DeleteMessageBatchError::QueueDoesNotExist,
        |client, url| client.delete_message_batch().queue_url(url).entries(delete_batch_entry());
    change_message_visibility_on_missing_queue_fails_with_queue_does_not_exist:
        ChangeMessageVisibilityError::QueueDoesNotExist,
        |client, url| client.change_message_visibility().queue_url(url).receipt_handle("h").visibility_timeout(0);
    change_message_visibility_batch_on_missing_queue_fails_with_queue_does_not_exist:
        ChangeMessageVisibilityBatchError::QueueDoesNotExist,
        |client, url| client.change_message_visibility_batch().queue_url(url).entries(visibility_batch_entry());
    tag_queue_on_missing_queue_fails_with_queue_does_not_exist:
        TagQueueError::QueueDoesNotExist,
        |client, url| client.tag_queue().queue_url(url).tags("k", "v");
    untag_queue_on_missing_queue_fails_with_queue_does_not_exist:
        UntagQueueError::QueueDoesNotExist,
        |client, url| client.untag_queue().queue_url(url).tag_keys("k");
    list_queue_tags_on_missing_queue_fails_with_queue_does_not_exist:
        ListQueueTagsError::QueueDoesNotExist,
        |client, url| client.list_queue_tags().queue_url(url);
}

#[tokio::test]
async fn send_message_without_body_fails_with_missing_parameter() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let err = env.client.send_message().queue_url(&url).send().await.unwrap_err();

    expect_service_error(err, 400, "MissingParameter", "The request must contain the parameter MessageBody.");
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn create_queue_without_name_fails_with_missing_parameter() {
    let env = TestEnv::start().await;

    let err = env.client.create_queue().send().await.unwrap_err();

    expect_service_error(err, 400, "MissingParameter", "QueueName");
    env.shutdown().await;
}

#[tokio::test]
async fn actions_without_queue_url_fail_with_missing_parameter() {
    let env = TestEnv::start().await;

    let receive = env.client.receive_message().send().await.unwrap_err();
    let purge = env.client.purge_queue().send().await.unwrap_err();

    expect_service_error(receive, 400, "MissingParameter", "QueueUrl");
    expect_service_error(purge, 400, "MissingParameter", "QueueUrl");
    env.shutdown().await;
}

#[tokio::test]
async fn delete_message_without_receipt_handle_fails_with_missing_parameter() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let err = env.client.delete_message().queue_url(&url).send().await.unwrap_err();

    expect_service_error(err, 400, "MissingParameter", "ReceiptHandle");
    env.shutdown().await;
}

#[tokio::test]
async fn change_visibility_without_timeout_fails_with_missing_parameter() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;
    let msg = env.receive_one(&url).await;

    let err = env
        .client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(msg.receipt_handle().unwrap())
        .send()
        .await
        .unwrap_err();

    expect_service_error(err, 400, "MissingParameter", "VisibilityTimeout");
    assert_eq!(env.counts(&url).await, (0, 1, 0));
    env.shutdown().await;
}

/// Out-of-range numbers answered in AWS's words, which differ by parameter (real AWS responses quoted in
/// aws/aws-sdk-java#197, awsdocs/aws-doc-sdk-examples#645 and aws-samples/amazon-sqs-dlq-replay-backoff#8; the
/// wording lives in `SqsError::out_of_range`).
#[tokio::test]
async fn out_of_range_numbers_are_worded_as_aws_words_them() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let err = env.client.receive_message().queue_url(&url).max_number_of_messages(11).send().await.unwrap_err();
    expect_service_error(
        err,
        400,
        "InvalidParameterValue",
        "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.",
    );
    let err = env.client.receive_message().queue_url(&url).wait_time_seconds(21).send().await.unwrap_err();
    expect_service_error(
        err,
        400,
        "InvalidParameterValue",
        "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.",
    );
    let err = env.client.send_message().queue_url(&url).message_body("x").delay_seconds(901).send().await.unwrap_err();
    expect_service_error(
        err,
        400,
        "InvalidParameterValue",
        "Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.",
    );
    env.shutdown().await;
}
