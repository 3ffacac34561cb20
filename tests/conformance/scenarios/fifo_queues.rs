//! FIFO queue names and attributes, FIFO send validation, and MessageGroupId on standard (fair) queues
//! (issue 4, SPEC §6, §11).

use sqskit::ServiceErrorCode;
use sqskit::types::{QueueAttributeName, QueueAttributes, SystemAttributeName};

use super::common::{
    assert_service_error, attributes, bodies, counts, create_fifo, delayed, fifo_entry, queue_attributes, receive,
    receive_one, send_entry,
};
use crate::support::TestContext;

async fn create_error(ctx: &TestContext, name: &str, pairs: &[(&str, &str)]) -> sqskit::Error {
    let result = ctx.backend.create_queue(name, &queue_attributes(pairs), &Default::default()).await;
    result.expect_err("create queue should fail")
}

fn get<'a>(attributes: &'a QueueAttributes, name: &str) -> Option<&'a str> {
    attributes.get(&QueueAttributeName::parse(name))
}

pub async fn a_fifo_suffix_without_the_fifo_queue_attribute_is_rejected(ctx: &TestContext) {
    let error = create_error(ctx, "orders.fifo", &[]).await;

    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "");
}

pub async fn the_fifo_queue_attribute_without_a_fifo_suffix_is_rejected(ctx: &TestContext) {
    let error = create_error(ctx, "orders", &[("FifoQueue", "true")]).await;

    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "");
}

pub async fn fifo_queue_false_on_a_standard_queue_is_accepted(ctx: &TestContext) {
    let url = ctx.create_queue_with("orders", queue_attributes(&[("FifoQueue", "false")])).await;

    let attributes = attributes(ctx, &url).await;
    assert_eq!(get(&attributes, "FifoQueue"), None, "a standard queue does not report FifoQueue: {attributes:?}");
}

pub async fn a_fresh_fifo_queue_reports_the_fifo_attribute_defaults(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;

    let attributes = attributes(ctx, &url).await;
    assert_eq!(get(&attributes, "FifoQueue"), Some("true"));
    assert_eq!(get(&attributes, "ContentBasedDeduplication"), Some("false"));
    assert_eq!(get(&attributes, "DeduplicationScope"), Some("queue"));
    assert_eq!(get(&attributes, "FifoThroughputLimit"), Some("perQueue"));
}

pub async fn fifo_only_attributes_on_a_standard_queue_are_unknown(ctx: &TestContext) {
    for (name, value) in
        [("ContentBasedDeduplication", "true"), ("DeduplicationScope", "queue"), ("FifoThroughputLimit", "perQueue")]
    {
        let error = create_error(ctx, "plain", &[(name, value)]).await;

        // SPEC §6 CreateQueue [obs]: an unknown attribute for this queue type.
        assert_service_error(&error, &ServiceErrorCode::InvalidAttributeName, name);
    }
    let url = ctx.create_queue("plain").await;
    let update = queue_attributes(&[("ContentBasedDeduplication", "true")]);
    let error = ctx.backend.set_queue_attributes(&url, &update).await.expect_err("FIFO-only attribute");
    assert_service_error(&error, &ServiceErrorCode::InvalidAttributeName, "ContentBasedDeduplication");
}

pub async fn per_message_group_throughput_requires_message_group_deduplication_scope(ctx: &TestContext) {
    let error =
        create_error(ctx, "bad.fifo", &[("FifoQueue", "true"), ("FifoThroughputLimit", "perMessageGroupId")]).await;
    assert_service_error(&error, &ServiceErrorCode::InvalidAttributeValue, "FifoThroughputLimit");

    let extra = [("FifoThroughputLimit", "perMessageGroupId"), ("DeduplicationScope", "messageGroup")];
    let url = create_fifo(ctx, "fast.fifo", &extra).await;

    let attributes = attributes(ctx, &url).await;
    assert_eq!(get(&attributes, "FifoThroughputLimit"), Some("perMessageGroupId"));
    assert_eq!(get(&attributes, "DeduplicationScope"), Some("messageGroup"));
}

pub async fn the_fifo_queue_attribute_cannot_change_after_creation(ctx: &TestContext) {
    let fifo = create_fifo(ctx, "orders.fifo", &[]).await;
    let standard = ctx.create_queue("plain").await;

    for (url, value) in [(&fifo, "false"), (&standard, "true")] {
        let update = queue_attributes(&[("FifoQueue", value)]);
        let error = ctx.backend.set_queue_attributes(url, &update).await.expect_err("FifoQueue flipped");

        // SPEC §6 SetQueueAttributes [obs].
        assert_service_error(&error, &ServiceErrorCode::InvalidAttributeValue, "FifoQueue");
    }
    assert_eq!(get(&attributes(ctx, &fifo).await, "FifoQueue"), Some("true"));
    assert_eq!(get(&attributes(ctx, &standard).await, "FifoQueue"), None);
}

pub async fn a_fifo_send_without_a_group_id_is_refused(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[("ContentBasedDeduplication", "true")]).await;

    let error = send_entry(ctx, &url, sqskit::backend::SendEntry::new("m", "x")).await.expect_err("no group");

    // The backends send through SendMessageBatch, where AWS fails the whole request with InvalidParameterValue
    // (SendMessage alone says MissingParameter; docs/aws-behaviour.md).
    let text = "The request must contain the parameter MessageGroupId.";
    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, text);
    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}

pub async fn a_fifo_send_without_a_deduplication_id_needs_content_based_deduplication(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[]).await;

    let error = send_entry(ctx, &url, fifo_entry("x", "g", None)).await.expect_err("no deduplication id");

    let text = "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided \
                explicitly";
    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, text);
    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}

pub async fn a_fifo_send_rejects_a_positive_per_message_delay_and_accepts_zero(ctx: &TestContext) {
    let url = create_fifo(ctx, "orders.fifo", &[("ContentBasedDeduplication", "true")]).await;
    let in_group =
        |entry: sqskit::backend::SendEntry| sqskit::backend::SendEntry { group_id: Some("g".to_owned()), ..entry };

    let late = send_entry(ctx, &url, in_group(delayed("late", "late", 5))).await.expect_err("DelaySeconds=5");
    let accepted = send_entry(ctx, &url, in_group(delayed("now", "now", 0))).await;

    let text = "Value 5 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not \
                valid for this queue type.";
    assert_service_error(&late, &ServiceErrorCode::InvalidParameterValue, text);
    assert!(accepted.is_ok(), "DelaySeconds=0 is accepted on FIFO: {accepted:?}");
    assert_eq!(bodies(&receive(ctx, &url, 10).await), ["now"]);
}

pub async fn a_standard_queue_accepts_a_group_id_and_returns_it_without_a_sequence_number(ctx: &TestContext) {
    let url = ctx.create_queue("tenants").await;

    let sent = send_entry(ctx, &url, fifo_entry("work", "tenant-1", None)).await.expect("send");

    assert_eq!(sent.sequence_number, None);
    let message = receive_one(ctx, &url).await;
    assert_eq!(message.group_id(), Some("tenant-1"));
    assert_eq!(message.system_attributes.get(&SystemAttributeName::SequenceNumber), None);
    assert_eq!(message.deduplication_id(), None);
}

pub async fn a_standard_queue_does_not_block_a_message_group_while_in_flight(ctx: &TestContext) {
    let url = ctx.create_queue("tenants").await;
    for body in ["w1", "w2"] {
        send_entry(ctx, &url, fifo_entry(body, "tenant-1", None)).await.expect("send");
    }

    let first = receive_one(ctx, &url).await;
    let second = receive_one(ctx, &url).await;

    let got = std::collections::BTreeSet::from([first.body, second.body]);
    let expected = std::collections::BTreeSet::from(["w1".to_owned(), "w2".to_owned()]);
    assert_eq!(got, expected, "fair queues process a group in parallel");
}
