//! FIFO deduplication (SPEC §11, §12): the 5-minute window on the virtual clock, content-based deduplication
//! by the body's SHA-256, explicit ids first, per-queue and per-group scope, and duplicates inside one batch.

use std::collections::HashMap;
use std::time::Duration;

use sqskit::backend::SendEntry;
use sqskit::types::MessageAttribute;

use super::common::{bodies, counts, create_fifo, delete, fifo_entry, receive, receive_one, send_entry, send_fifo};
use crate::support::TestContext;

/// SHA-256 of `Hello from sqskit` (SPEC §9): the content-based deduplication id of that body.
const HELLO_SHA256: &str = "f99f1452be243d809bfbd536c5ddbe55cf474381703708bc6c5ebd0d19f578a3";

fn sequence(sent: &sqskit::backend::SentMessage) -> u128 {
    sent.sequence_number.as_deref().expect("a sequence number").parse().expect("digits")
}

pub async fn a_duplicate_inside_the_window_returns_the_original_id_and_enqueues_nothing(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    let original = send_fifo(ctx, &url, "first", "g", Some("d-1")).await;

    ctx.advance(Duration::from_secs(299));
    let duplicate = send_fifo(ctx, &url, "second body", "g", Some("d-1")).await;

    assert_eq!(duplicate.message_id, original.message_id);
    assert_eq!(duplicate.sequence_number, original.sequence_number);
    assert_eq!(counts(ctx, &url).await, (1, 0, 0));
    assert_eq!(bodies(&receive(ctx, &url, 10).await), ["first"]);
}

pub async fn duplicates_do_not_extend_the_window_and_a_send_after_it_enqueues_again(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    let original = send_fifo(ctx, &url, "first", "g", Some("d-1")).await;

    // A duplicate at 200 s does not restart the 5-minute window.
    ctx.advance(Duration::from_secs(200));
    assert_eq!(send_fifo(ctx, &url, "dup", "g", Some("d-1")).await.message_id, original.message_id);

    // At 301 s after the first send the same id is accepted as a new message.
    ctx.advance(Duration::from_secs(101));
    let again = send_fifo(ctx, &url, "again", "g", Some("d-1")).await;

    assert_ne!(again.message_id, original.message_id);
    assert!(sequence(&again) > sequence(&original));
    assert_eq!(counts(ctx, &url).await, (2, 0, 0));
    assert_eq!(bodies(&receive(ctx, &url, 10).await), ["first", "again"]);
}

pub async fn deduplication_survives_receive_and_delete_of_the_original(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    let original = send_fifo(ctx, &url, "first", "g", Some("d-1")).await;
    let message = receive_one(ctx, &url).await;
    delete(ctx, &url, &message.receipt_handle).await.expect("delete");

    let duplicate = send_fifo(ctx, &url, "first", "g", Some("d-1")).await;

    assert_eq!(duplicate.message_id, original.message_id);
    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}

pub async fn content_based_deduplication_uses_the_sha256_of_the_body_only(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[("ContentBasedDeduplication", "true")]).await;
    let with_attribute = SendEntry {
        attributes: [("Extra".to_owned(), MessageAttribute::string("x"))].into_iter().collect(),
        ..fifo_entry("Hello from sqskit", "g", None)
    };

    let first = send_fifo(ctx, &url, "Hello from sqskit", "g", None).await;
    let second = send_entry(ctx, &url, with_attribute).await.expect("send with an attribute");
    let other = send_fifo(ctx, &url, "Hello from sqskit!", "g", None).await;

    // Attributes do not take part: one message, and a different body is a new message.
    assert_eq!(second.message_id, first.message_id);
    assert_ne!(other.message_id, first.message_id);
    let messages = receive(ctx, &url, 10).await;
    assert_eq!(bodies(&messages), ["Hello from sqskit", "Hello from sqskit!"]);
    assert_eq!(messages[0].deduplication_id(), Some(HELLO_SHA256));
}

pub async fn an_explicit_deduplication_id_takes_precedence_over_content(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[("ContentBasedDeduplication", "true")]).await;

    let a = send_fifo(ctx, &url, "same", "g", Some("id-a")).await;
    let b = send_fifo(ctx, &url, "same", "g", Some("id-b")).await;

    assert_ne!(a.message_id, b.message_id);
    let messages = receive(ctx, &url, 10).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].deduplication_id(), Some("id-a"));
    assert_eq!(messages[1].deduplication_id(), Some("id-b"));
}

pub async fn message_group_scope_keeps_the_same_id_apart_in_two_groups(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[("DeduplicationScope", "messageGroup")]).await;

    let in_a = send_fifo(ctx, &url, "a", "group-a", Some("same-id")).await;
    let in_b = send_fifo(ctx, &url, "b", "group-b", Some("same-id")).await;
    let again_in_a = send_fifo(ctx, &url, "a again", "group-a", Some("same-id")).await;

    assert_ne!(in_a.message_id, in_b.message_id, "same id in two groups gives two messages");
    assert_eq!(again_in_a.message_id, in_a.message_id, "same id in the same group is a duplicate");
    assert_eq!(counts(ctx, &url).await, (2, 0, 0));
}

pub async fn queue_scope_deduplicates_across_groups(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;

    let in_a = send_fifo(ctx, &url, "a", "group-a", Some("same-id")).await;
    let in_b = send_fifo(ctx, &url, "b", "group-b", Some("same-id")).await;

    assert_eq!(in_b.message_id, in_a.message_id);
    assert_eq!(counts(ctx, &url).await, (1, 0, 0));
}

pub async fn a_duplicate_inside_one_batch_answers_with_the_first_entrys_id(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;
    let entries = [
        SendEntry { id: "first".to_owned(), ..fifo_entry("one", "g", Some("same")) },
        SendEntry { id: "second".to_owned(), ..fifo_entry("two", "g", Some("same")) },
    ];

    let outcome = ctx.backend.send_message_batch(&url, &entries).await.expect("send batch");

    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    let ids: HashMap<&str, &sqskit::MessageId> =
        outcome.successful.iter().map(|(id, sent)| (id.as_str(), &sent.message_id)).collect();
    assert_eq!(ids["second"], ids["first"]);
    assert_eq!(counts(ctx, &url).await, (1, 0, 0));
}
