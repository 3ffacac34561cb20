//! The three batch actions through `aws-sdk-sqs`: per-entry results and failures, and the whole-request errors
//! (empty, too many, duplicate or malformed ids, total size) of SPEC §14.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use aws_sdk_sqs::operation::change_message_visibility_batch::ChangeMessageVisibilityBatchError;
use aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchError;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchError;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, MessageSystemAttributeNameForSends,
    MessageSystemAttributeValue, SendMessageBatchRequestEntry,
};
use common::{TestEnv, Val, expect_service_error, md5_hex, md5_of_attributes, str_attr};

fn entry(id: &str, body: &str) -> SendMessageBatchRequestEntry {
    SendMessageBatchRequestEntry::builder().id(id).message_body(body).build().unwrap()
}

fn delete_entry(id: &str, handle: &str) -> DeleteMessageBatchRequestEntry {
    DeleteMessageBatchRequestEntry::builder().id(id).receipt_handle(handle).build().unwrap()
}

fn visibility_entry(id: &str, handle: &str, secs: i32) -> ChangeMessageVisibilityBatchRequestEntry {
    ChangeMessageVisibilityBatchRequestEntry::builder()
        .id(id)
        .receipt_handle(handle)
        .visibility_timeout(secs)
        .build()
        .unwrap()
}

/// Sends `n` messages and receives them all; returns their receipt handles.
async fn in_flight_handles(env: &TestEnv, url: &str, n: usize) -> Vec<String> {
    for i in 0..n {
        env.send(url, &format!("m{i}")).await;
    }
    let msgs = env.drain(url).await;
    assert_eq!(msgs.len(), n);
    msgs.into_iter().map(|m| m.receipt_handle.unwrap()).collect()
}

#[tokio::test]
async fn send_message_batch_enqueues_every_entry_and_reports_md5s_per_entry() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let with_attrs = SendMessageBatchRequestEntry::builder()
        .id("with-attrs")
        .message_body("Hello from sqskit")
        .message_attributes("OrderId", str_attr("String", "A-1001"))
        .message_system_attributes(
            MessageSystemAttributeNameForSends::AwsTraceHeader,
            MessageSystemAttributeValue::builder()
                .data_type("String")
                .string_value("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();

    let out = env
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("a", "alpha"))
        .entries(entry("b_2", "beta"))
        .entries(with_attrs)
        .send()
        .await
        .unwrap();

    assert!(out.failed().is_empty(), "{out:?}");
    let ids: BTreeSet<&str> = out.successful().iter().map(|e| e.id()).collect();
    assert_eq!(ids, BTreeSet::from(["a", "b_2", "with-attrs"]));
    for e in out.successful() {
        uuid::Uuid::parse_str(e.message_id()).unwrap();
        let (body, attrs_md5, system_md5) = match e.id() {
            "a" => ("alpha", None, None),
            "b_2" => ("beta", None, None),
            _ => (
                "Hello from sqskit",
                Some(md5_of_attributes(&[("OrderId", "String", Val::Text("A-1001"))])),
                Some("5f48eef650c1d0207456969c85af2fdd"),
            ),
        };
        assert_eq!(e.md5_of_message_body(), md5_hex(body.as_bytes()), "{e:?}");
        assert_eq!(e.md5_of_message_attributes(), attrs_md5.as_deref(), "{e:?}");
        assert_eq!(e.md5_of_message_system_attributes(), system_md5, "{e:?}");
    }
    let bodies: BTreeSet<String> = env.drain(&url).await.into_iter().map(|m| m.body.unwrap()).collect();
    assert_eq!(bodies, BTreeSet::from(["alpha".to_owned(), "beta".to_owned(), "Hello from sqskit".to_owned()]));
    env.shutdown().await;
}

#[tokio::test]
async fn send_message_batch_with_one_invalid_body_fails_only_that_entry() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let out = env
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("ok1", "fine"))
        .entries(entry("bad", "nul\u{0}here"))
        .entries(entry("ok2", "also fine"))
        .send()
        .await
        .unwrap();

    let ok: BTreeSet<&str> = out.successful().iter().map(|e| e.id()).collect();
    assert_eq!(ok, BTreeSet::from(["ok1", "ok2"]));
    assert_eq!(out.failed().len(), 1, "{out:?}");
    let failed = &out.failed()[0];
    assert_eq!(failed.id(), "bad");
    assert!(failed.sender_fault());
    assert_eq!(failed.code(), "InvalidMessageContents");
    let bodies: BTreeSet<String> = env.drain(&url).await.into_iter().map(|m| m.body.unwrap()).collect();
    assert_eq!(bodies, BTreeSet::from(["fine".to_owned(), "also fine".to_owned()]));
    env.shutdown().await;
}

#[tokio::test]
async fn send_message_batch_with_one_invalid_delay_fails_only_that_entry() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let late = SendMessageBatchRequestEntry::builder().id("late").message_body("x").delay_seconds(901).build().unwrap();

    let out = env
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("ok", "fine"))
        .entries(late)
        .send()
        .await
        .unwrap();

    assert_eq!(out.successful().len(), 1, "{out:?}");
    assert_eq!(out.successful()[0].id(), "ok");
    assert_eq!(out.failed().len(), 1, "{out:?}");
    assert_eq!(out.failed()[0].id(), "late");
    assert!(out.failed()[0].sender_fault());
    assert_eq!(out.failed()[0].code(), "InvalidParameterValue");
    assert_eq!(env.counts(&url).await, (1, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn empty_batches_fail_with_empty_batch_request() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let send = env.client.send_message_batch().queue_url(&url).set_entries(Some(Vec::new())).send().await.unwrap_err();
    let delete =
        env.client.delete_message_batch().queue_url(&url).set_entries(Some(Vec::new())).send().await.unwrap_err();
    let change = env
        .client
        .change_message_visibility_batch()
        .queue_url(&url)
        .set_entries(Some(Vec::new()))
        .send()
        .await
        .unwrap_err();

    let code = "AWS.SimpleQueueService.EmptyBatchRequest";
    let se = expect_service_error(
        send,
        400,
        code,
        "There should be at least one SendMessageBatchRequestEntry in the request.",
    );
    assert!(matches!(se, SendMessageBatchError::EmptyBatchRequest(_)), "{se:?}");
    let se = expect_service_error(
        delete,
        400,
        code,
        "There should be at least one DeleteMessageBatchRequestEntry in the request.",
    );
    assert!(matches!(se, DeleteMessageBatchError::EmptyBatchRequest(_)), "{se:?}");
    let se = expect_service_error(
        change,
        400,
        code,
        "There should be at least one ChangeMessageVisibilityBatchRequestEntry in the request.",
    );
    assert!(matches!(se, ChangeMessageVisibilityBatchError::EmptyBatchRequest(_)), "{se:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn batches_of_eleven_entries_fail_with_too_many_entries_and_apply_nothing() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let handles = in_flight_handles(&env, &url, 1).await;
    let ids: Vec<String> = (0..11).map(|i| format!("e{i}")).collect();

    let send = env
        .client
        .send_message_batch()
        .queue_url(&url)
        .set_entries(Some(ids.iter().map(|id| entry(id, "x")).collect()))
        .send()
        .await
        .unwrap_err();
    let delete = env
        .client
        .delete_message_batch()
        .queue_url(&url)
        .set_entries(Some(ids.iter().map(|id| delete_entry(id, &handles[0])).collect()))
        .send()
        .await
        .unwrap_err();
    let change = env
        .client
        .change_message_visibility_batch()
        .queue_url(&url)
        .set_entries(Some(ids.iter().map(|id| visibility_entry(id, &handles[0], 0)).collect()))
        .send()
        .await
        .unwrap_err();

    let code = "AWS.SimpleQueueService.TooManyEntriesInBatchRequest";
    let text = "Maximum number of entries per request are 10. You have sent 11.";
    let se = expect_service_error(send, 400, code, text);
    assert!(matches!(se, SendMessageBatchError::TooManyEntriesInBatchRequest(_)), "{se:?}");
    let se = expect_service_error(delete, 400, code, text);
    assert!(matches!(se, DeleteMessageBatchError::TooManyEntriesInBatchRequest(_)), "{se:?}");
    let se = expect_service_error(change, 400, code, text);
    assert!(matches!(se, ChangeMessageVisibilityBatchError::TooManyEntriesInBatchRequest(_)), "{se:?}");
    assert_eq!(env.counts(&url).await, (0, 1, 0), "nothing sent, deleted or made visible");
    env.shutdown().await;
}

#[tokio::test]
async fn batches_with_duplicate_ids_fail_with_batch_entry_ids_not_distinct() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let handles = in_flight_handles(&env, &url, 1).await;
    let h = handles[0].as_str();

    let send = env
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("a", "x"))
        .entries(entry("id_2", "y"))
        .entries(entry("b", "z"))
        .entries(entry("id_2", "w"))
        .send()
        .await
        .unwrap_err();
    let delete = env
        .client
        .delete_message_batch()
        .queue_url(&url)
        .entries(delete_entry("id_2", h))
        .entries(delete_entry("id_2", h))
        .send()
        .await
        .unwrap_err();
    let change = env
        .client
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(visibility_entry("id_2", h, 0))
        .entries(visibility_entry("id_2", h, 0))
        .send()
        .await
        .unwrap_err();

    let code = "AWS.SimpleQueueService.BatchEntryIdsNotDistinct";
    let se = expect_service_error(send, 400, code, "Id id_2 repeated.");
    assert!(matches!(se, SendMessageBatchError::BatchEntryIdsNotDistinct(_)), "{se:?}");
    let se = expect_service_error(delete, 400, code, "Id id_2 repeated.");
    assert!(matches!(se, DeleteMessageBatchError::BatchEntryIdsNotDistinct(_)), "{se:?}");
    let se = expect_service_error(change, 400, code, "Id id_2 repeated.");
    assert!(matches!(se, ChangeMessageVisibilityBatchError::BatchEntryIdsNotDistinct(_)), "{se:?}");
    assert_eq!(env.counts(&url).await, (0, 1, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn batches_with_malformed_ids_fail_with_invalid_batch_entry_id() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let handles = in_flight_handles(&env, &url, 1).await;
    let text = "A batch entry id can only contain alphanumeric characters, hyphens and underscores. \
                It can be at most 80 letters long.";
    let code = "AWS.SimpleQueueService.InvalidBatchEntryId";

    for bad in ["bad id", "dot.id", "", &"x".repeat(81)] {
        let send = env
            .client
            .send_message_batch()
            .queue_url(&url)
            .entries(entry("ok", "x"))
            .entries(entry(bad, "y"))
            .send()
            .await
            .expect_err(bad);
        let delete = env
            .client
            .delete_message_batch()
            .queue_url(&url)
            .entries(delete_entry(bad, &handles[0]))
            .send()
            .await
            .expect_err(bad);
        let change = env
            .client
            .change_message_visibility_batch()
            .queue_url(&url)
            .entries(visibility_entry(bad, &handles[0], 0))
            .send()
            .await
            .expect_err(bad);

        let se = expect_service_error(send, 400, code, text);
        assert!(matches!(se, SendMessageBatchError::InvalidBatchEntryId(_)), "{bad}: {se:?}");
        let se = expect_service_error(delete, 400, code, text);
        assert!(matches!(se, DeleteMessageBatchError::InvalidBatchEntryId(_)), "{bad}: {se:?}");
        let se = expect_service_error(change, 400, code, text);
        assert!(matches!(se, ChangeMessageVisibilityBatchError::InvalidBatchEntryId(_)), "{bad}: {se:?}");
    }
    assert_eq!(env.counts(&url).await, (0, 1, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn batch_entry_id_of_80_characters_is_accepted() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let id = format!("{}-_{}", "A".repeat(39), "9z".repeat(19) + "q");
    assert_eq!(id.len(), 80);

    let out = env.client.send_message_batch().queue_url(&url).entries(entry(&id, "x")).send().await.unwrap();

    assert_eq!(out.successful().len(), 1, "{out:?}");
    assert_eq!(out.successful()[0].id(), id);
    env.shutdown().await;
}

#[tokio::test]
async fn send_batch_totalling_1048577_bytes_fails_with_batch_request_too_long() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let err = env
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("a", &"a".repeat(524_288)))
        .entries(entry("b", &"b".repeat(524_289)))
        .send()
        .await
        .unwrap_err();

    let se = expect_service_error(
        err,
        400,
        "AWS.SimpleQueueService.BatchRequestTooLong",
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes.",
    );
    assert!(matches!(se, SendMessageBatchError::BatchRequestTooLong(_)), "{se:?}");
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn send_batch_totalling_exactly_1_mib_is_accepted() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let out = env
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("a", &"a".repeat(524_288)))
        .entries(entry("b", &"b".repeat(524_288)))
        .send()
        .await
        .unwrap();

    assert_eq!(out.successful().len(), 2, "{out:?}");
    assert!(out.failed().is_empty());
    assert_eq!(env.counts(&url).await, (2, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn delete_message_batch_deletes_valid_entries_and_fails_an_invalid_handle_per_entry() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let handles = in_flight_handles(&env, &url, 2).await;

    let out = env
        .client
        .delete_message_batch()
        .queue_url(&url)
        .entries(delete_entry("first", &handles[0]))
        .entries(delete_entry("garbage", "not-a-handle"))
        .entries(delete_entry("second", &handles[1]))
        .send()
        .await
        .unwrap();

    let ok: BTreeSet<&str> = out.successful().iter().map(|e| e.id()).collect();
    assert_eq!(ok, BTreeSet::from(["first", "second"]));
    assert_eq!(out.failed().len(), 1, "{out:?}");
    assert_eq!(out.failed()[0].id(), "garbage");
    assert!(out.failed()[0].sender_fault());
    assert_eq!(out.failed()[0].code(), "ReceiptHandleIsInvalid");
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.advance(31);
    assert!(env.receive(&url, 10).await.is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn change_message_visibility_batch_changes_valid_entries_and_fails_an_invalid_handle_per_entry() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let handles = in_flight_handles(&env, &url, 2).await;

    let out = env
        .client
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(visibility_entry("first", &handles[0], 0))
        .entries(visibility_entry("garbage", "not-a-handle", 0))
        .entries(visibility_entry("second", &handles[1], 0))
        .send()
        .await
        .unwrap();

    let ok: BTreeSet<&str> = out.successful().iter().map(|e| e.id()).collect();
    assert_eq!(ok, BTreeSet::from(["first", "second"]));
    assert_eq!(out.failed().len(), 1, "{out:?}");
    assert_eq!(out.failed()[0].id(), "garbage");
    assert!(out.failed()[0].sender_fault());
    assert_eq!(out.failed()[0].code(), "ReceiptHandleIsInvalid");
    assert_eq!(env.receive(&url, 10).await.len(), 2);
    env.shutdown().await;
}

#[tokio::test]
async fn change_message_visibility_batch_extends_visibility() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let handles = in_flight_handles(&env, &url, 1).await;

    let out = env
        .client
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(visibility_entry("only", &handles[0], 120))
        .send()
        .await
        .unwrap();

    assert_eq!(out.successful().len(), 1, "{out:?}");
    env.advance(119);
    assert!(env.receive(&url, 10).await.is_empty());
    env.advance(2);
    assert_eq!(env.receive(&url, 10).await.len(), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn message_attributes_count_toward_the_batch_size_limit() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let with_attr = SendMessageBatchRequestEntry::builder()
        .id("b")
        .message_body("b".repeat(524_288))
        .message_attributes("k", str_attr("String", "v"))
        .build()
        .unwrap();

    let err = env
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("a", &"a".repeat(524_288)))
        .entries(with_attr)
        .send()
        .await
        .unwrap_err();

    // 2 * 524288 body bytes + "k" + "String" + "v" = 1048584 bytes (SPEC §8: attributes count).
    let se = expect_service_error(
        err,
        400,
        "AWS.SimpleQueueService.BatchRequestTooLong",
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1048584 bytes.",
    );
    assert!(matches!(se, SendMessageBatchError::BatchRequestTooLong(_)), "{se:?}");
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}
