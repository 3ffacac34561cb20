//! The three batch actions: per-entry results and failures, and the whole-request errors (empty, too many,
//! duplicate or malformed ids, total size) of SPEC §14, which apply nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use sqskit::ServiceErrorCode;
use sqskit::backend::{DeleteEntry, SendEntry, VisibilityEntry};
use sqskit::types::MessageAttribute;
use sqskit::{Error, ReceiptHandle};

use super::common::{assert_service_error, assert_uuid, counts, delayed, in_flight_handles, receive};
use super::drain;
use crate::support::TestContext;

fn delete_entry(id: &str, handle: &ReceiptHandle) -> DeleteEntry {
    DeleteEntry { id: id.to_owned(), receipt_handle: handle.clone() }
}

fn visibility_entry(id: &str, handle: &ReceiptHandle, secs: u64) -> VisibilityEntry {
    VisibilityEntry { id: id.to_owned(), receipt_handle: handle.clone(), visibility_timeout: Duration::from_secs(secs) }
}

/// The three batch requests with the given ids, all against one in-flight message; each must fail as a whole.
async fn all_three_fail(ctx: &TestContext, url: &str, handle: &ReceiptHandle, ids: &[String]) -> [Error; 3] {
    let sends: Vec<SendEntry> = ids.iter().map(|id| SendEntry::new(id.clone(), "x")).collect();
    let deletes: Vec<DeleteEntry> = ids.iter().map(|id| delete_entry(id, handle)).collect();
    let changes: Vec<VisibilityEntry> = ids.iter().map(|id| visibility_entry(id, handle, 0)).collect();
    [
        ctx.backend.send_message_batch(url, &sends).await.expect_err("send batch fails as a whole"),
        ctx.backend.delete_message_batch(url, &deletes).await.expect_err("delete batch fails as a whole"),
        ctx.backend.change_message_visibility_batch(url, &changes).await.expect_err("change batch fails as a whole"),
    ]
}

/// Asserts `failure` is a sender-fault entry failure of `id` with `code`.
fn assert_entry_failure(failure: &sqskit::backend::BatchEntryFailure, id: &str, code: &ServiceErrorCode) {
    assert_eq!(failure.id, id, "{failure:?}");
    assert_service_error(&failure.error, code, "");
}

pub async fn send_batch_stores_every_entry_with_verified_digests(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let with_attrs = SendEntry {
        attributes: [("OrderId".to_owned(), MessageAttribute::string("A-1001"))].into_iter().collect(),
        trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".to_owned()),
        ..SendEntry::new("with-attrs", "Hello from sqskit")
    };
    let entries = [SendEntry::new("a", "alpha"), SendEntry::new("b_2", "beta"), with_attrs];

    // Every backend checks the body, attribute and system-attribute digests of each entry against its own.
    let outcome = ctx.backend.send_message_batch(&url, &entries).await.expect("send batch");

    assert!(outcome.failed.is_empty(), "{outcome:?}");
    let ids: BTreeSet<&str> = outcome.successful.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, BTreeSet::from(["a", "b_2", "with-attrs"]));
    for (_, sent) in &outcome.successful {
        assert_uuid(sent.message_id.as_str());
        assert_eq!(sent.sequence_number, None);
    }
    let received = drain(ctx, &url).await;
    let bodies: BTreeSet<&str> = received.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, BTreeSet::from(["alpha", "beta", "Hello from sqskit"]));
    let spec = received.iter().find(|m| m.body == "Hello from sqskit").expect("the entry with attributes");
    assert_eq!(spec.md5_of_body.as_deref(), Some("09077c1cb05a9e73a1620c07e4bea548"));
    assert_eq!(spec.md5_of_message_attributes.as_deref(), Some("7cc2e4344147578b847411f21bade715"));
}

pub async fn send_batch_with_one_invalid_body_fails_only_that_entry(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let entries = [SendEntry::new("ok1", "fine"), SendEntry::new("bad", "nul\u{0}here"), SendEntry::new("ok2", "also")];

    let outcome = ctx.backend.send_message_batch(&url, &entries).await.expect("request accepted");

    let ok: BTreeSet<&str> = outcome.successful.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ok, BTreeSet::from(["ok1", "ok2"]));
    assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
    assert_entry_failure(&outcome.failed[0], "bad", &ServiceErrorCode::InvalidMessageContents);
    let bodies: BTreeSet<String> = drain(ctx, &url).await.into_iter().map(|m| m.body).collect();
    assert_eq!(bodies, BTreeSet::from(["fine".to_owned(), "also".to_owned()]));
}

pub async fn send_batch_with_one_invalid_delay_fails_only_that_entry(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let entries = [SendEntry::new("ok", "fine"), delayed("late", "x", 901)];

    let outcome = ctx.backend.send_message_batch(&url, &entries).await.expect("request accepted");

    assert_eq!(outcome.successful.len(), 1, "{outcome:?}");
    assert_eq!(outcome.successful[0].0, "ok");
    assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
    assert_entry_failure(&outcome.failed[0], "late", &ServiceErrorCode::InvalidParameterValue);
    assert_eq!(counts(ctx, &url).await, (1, 0, 0));
}

pub async fn empty_batches_fail_with_empty_batch_request(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;

    let send = ctx.backend.send_message_batch(&url, &[]).await.expect_err("empty send batch");
    let delete = ctx.backend.delete_message_batch(&url, &[]).await.expect_err("empty delete batch");
    let change = ctx.backend.change_message_visibility_batch(&url, &[]).await.expect_err("empty change batch");

    for (error, entry) in [
        (send, "SendMessageBatchRequestEntry"),
        (delete, "DeleteMessageBatchRequestEntry"),
        (change, "ChangeMessageVisibilityBatchRequestEntry"),
    ] {
        let text = format!("There should be at least one {entry} in the request.");
        assert_service_error(&error, &ServiceErrorCode::EmptyBatchRequest, &text);
    }
}

pub async fn batches_of_eleven_entries_fail_with_too_many_entries_and_apply_nothing(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let handles = in_flight_handles(ctx, &url, 1).await;
    let ids: Vec<String> = (0..11).map(|i| format!("e{i}")).collect();

    for error in all_three_fail(ctx, &url, &handles[0], &ids).await {
        let text = "Maximum number of entries per request are 10. You have sent 11.";
        assert_service_error(&error, &ServiceErrorCode::TooManyEntriesInBatchRequest, text);
    }
    assert_eq!(counts(ctx, &url).await, (0, 1, 0), "nothing sent, deleted or made visible");
}

pub async fn batches_with_duplicate_ids_fail_with_batch_entry_ids_not_distinct(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let handles = in_flight_handles(ctx, &url, 1).await;
    let ids = ["a", "id_2", "b", "id_2"].map(str::to_owned);

    for error in all_three_fail(ctx, &url, &handles[0], &ids).await {
        assert_service_error(&error, &ServiceErrorCode::BatchEntryIdsNotDistinct, "Id id_2 repeated.");
    }
    assert_eq!(counts(ctx, &url).await, (0, 1, 0));
}

pub async fn batches_with_malformed_ids_fail_with_invalid_batch_entry_id(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let handles = in_flight_handles(ctx, &url, 1).await;
    let text = "A batch entry id can only contain alphanumeric characters, hyphens and underscores. \
                It can be at most 80 letters long.";

    for bad in ["bad id", "dot.id", "", &"x".repeat(81)] {
        for error in all_three_fail(ctx, &url, &handles[0], &["ok".to_owned(), bad.to_owned()]).await {
            assert_service_error(&error, &ServiceErrorCode::InvalidBatchEntryId, text);
        }
    }
    assert_eq!(counts(ctx, &url).await, (0, 1, 0));
}

pub async fn batch_entry_id_of_80_characters_is_accepted(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let id = format!("{}-_{}", "A".repeat(39), "9z".repeat(19) + "q");
    assert_eq!(id.len(), 80);

    let outcome = ctx.backend.send_message_batch(&url, &[SendEntry::new(id.clone(), "x")]).await.expect("send");

    assert_eq!(outcome.successful.len(), 1, "{outcome:?}");
    assert_eq!(outcome.successful[0].0, id);
}

pub async fn send_batch_totalling_1048577_bytes_fails_with_batch_request_too_long(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let entries = [SendEntry::new("a", "a".repeat(524_288)), SendEntry::new("b", "b".repeat(524_289))];

    let error = ctx.backend.send_message_batch(&url, &entries).await.expect_err("too long");

    let text = "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes.";
    assert_service_error(&error, &ServiceErrorCode::BatchRequestTooLong, text);
    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}

pub async fn send_batch_totalling_exactly_1_mib_is_accepted(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let entries = [SendEntry::new("a", "a".repeat(524_288)), SendEntry::new("b", "b".repeat(524_288))];

    let outcome = ctx.backend.send_message_batch(&url, &entries).await.expect("exactly 1 MiB");

    assert_eq!(outcome.successful.len(), 2, "{outcome:?}");
    assert!(outcome.failed.is_empty());
    assert_eq!(counts(ctx, &url).await, (2, 0, 0));
}

pub async fn message_attributes_count_toward_the_batch_size_limit(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let with_attr = SendEntry {
        attributes: [("k".to_owned(), MessageAttribute::string("v"))].into_iter().collect(),
        ..SendEntry::new("b", "b".repeat(524_288))
    };
    let entries = [SendEntry::new("a", "a".repeat(524_288)), with_attr];

    let error = ctx.backend.send_message_batch(&url, &entries).await.expect_err("too long");

    // 2 * 524288 body bytes + "k" + "String" + "v" = 1048584 bytes (SPEC §8: attributes count).
    let text = "Batch requests cannot be longer than 1048576 bytes. You have sent 1048584 bytes.";
    assert_service_error(&error, &ServiceErrorCode::BatchRequestTooLong, text);
    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}

pub async fn delete_batch_deletes_valid_entries_and_fails_an_invalid_handle_per_entry(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let handles = in_flight_handles(ctx, &url, 2).await;
    let garbage = ReceiptHandle::new("not-a-handle");
    let entries =
        [delete_entry("first", &handles[0]), delete_entry("garbage", &garbage), delete_entry("second", &handles[1])];

    let outcome = ctx.backend.delete_message_batch(&url, &entries).await.expect("request accepted");

    let ok: BTreeSet<&str> = outcome.successful.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ok, BTreeSet::from(["first", "second"]));
    assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
    assert_entry_failure(&outcome.failed[0], "garbage", &ServiceErrorCode::ReceiptHandleIsInvalid);
    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
    ctx.advance(Duration::from_secs(31));
    assert!(receive(ctx, &url, 10).await.is_empty());
}

pub async fn change_visibility_batch_changes_valid_entries_and_fails_an_invalid_handle_per_entry(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let handles = in_flight_handles(ctx, &url, 2).await;
    let garbage = ReceiptHandle::new("not-a-handle");
    let entries = [
        visibility_entry("first", &handles[0], 0),
        visibility_entry("garbage", &garbage, 0),
        visibility_entry("second", &handles[1], 0),
    ];

    let outcome = ctx.backend.change_message_visibility_batch(&url, &entries).await.expect("request accepted");

    let ok: BTreeSet<&str> = outcome.successful.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ok, BTreeSet::from(["first", "second"]));
    assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
    assert_entry_failure(&outcome.failed[0], "garbage", &ServiceErrorCode::ReceiptHandleIsInvalid);
    assert_eq!(receive(ctx, &url, 10).await.len(), 2);
}

pub async fn change_visibility_batch_extends_visibility(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let handles = in_flight_handles(ctx, &url, 1).await;

    let outcome = ctx
        .backend
        .change_message_visibility_batch(&url, &[visibility_entry("only", &handles[0], 120)])
        .await
        .expect("change visibility");

    assert_eq!(outcome.successful.len(), 1, "{outcome:?}");
    ctx.advance(Duration::from_secs(119));
    assert!(receive(ctx, &url, 10).await.is_empty());
    ctx.advance(Duration::from_secs(2));
    assert_eq!(receive(ctx, &url, 10).await.len(), 1);
}
