//! Body and attribute validation (SPEC §8) on every backend: each rejected message fails with the AWS code,
//! nothing is stored, and the limits' boundary values are accepted.

use sqskit::ServiceErrorCode;
use sqskit::backend::SendEntry;
use sqskit::types::{AttributeValue, MessageAttribute, MessageAttributes};

use super::common::{assert_service_error, counts, queue_attributes, receive_one, send, send_entry};
use crate::support::TestContext;

fn with_attributes(body: &str, attributes: MessageAttributes) -> SendEntry {
    SendEntry { attributes, ..SendEntry::new("m", body) }
}

fn one_attribute(name: &str, attribute: MessageAttribute) -> SendEntry {
    with_attributes("x", MessageAttributes::new().with(name, attribute))
}

fn typed(data_type: &str, value: &str) -> MessageAttribute {
    MessageAttribute::with_type(data_type, AttributeValue::Text(value.to_owned()))
}

/// Sends `entry` and expects it to fail with `InvalidParameterValue` and a message containing `message_part`.
async fn assert_rejected(ctx: &TestContext, url: &str, entry: SendEntry, message_part: &str) {
    let what = format!("{entry:?}");
    let error = send_entry(ctx, url, entry).await.expect_err(&what);
    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, message_part);
}

pub async fn bodies_with_characters_outside_the_xml_char_range_are_invalid_message_contents(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;

    for body in ["a\u{0}b", "\u{1}", "bell\u{7}", "x\u{FFFF}", "\u{FFFE}"] {
        let error = send_entry(ctx, &url, SendEntry::new("m", body)).await.expect_err(&format!("{body:?}"));

        assert_service_error(&error, &ServiceErrorCode::InvalidMessageContents, "");
    }
    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}

pub async fn a_body_larger_than_the_queue_maximum_message_size_is_invalid(ctx: &TestContext) {
    let url = ctx.create_queue_with("small", queue_attributes(&[("MaximumMessageSize", "1024")])).await;

    assert_rejected(ctx, &url, SendEntry::new("m", "x".repeat(1025)), "1024").await;
    send(ctx, &url, &"y".repeat(1024)).await;

    assert_eq!(counts(ctx, &url).await, (1, 0, 0));
}

pub async fn message_attributes_count_toward_the_maximum_message_size(ctx: &TestContext) {
    let url = ctx.create_queue_with("small", queue_attributes(&[("MaximumMessageSize", "1024")])).await;
    let attributes = MessageAttributes::new().with("a", MessageAttribute::string("v".repeat(20)));

    // 1000 (body) + 1 (name) + 6 ("String") + 20 (value) = 1027 bytes > 1024.
    assert_rejected(ctx, &url, with_attributes(&"x".repeat(1000), attributes), "1024").await;

    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}

pub async fn more_than_ten_message_attributes_are_invalid(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let attributes =
        |n: usize| -> MessageAttributes { (0..n).map(|i| (format!("a{i}"), MessageAttribute::string("v"))).collect() };

    send_entry(ctx, &url, with_attributes("x", attributes(10))).await.expect("10 attributes are accepted");
    assert_rejected(ctx, &url, with_attributes("x", attributes(11)), "").await;

    assert_eq!(counts(ctx, &url).await, (1, 0, 0));
}

pub async fn message_attributes_with_invalid_names_are_invalid(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;

    for name in
        ["AWS.thing", "aws.thing", "Amazon.thing", "amazon.x", "a..b", ".lead", "trail.", "bad name", "bad!", "😀"]
    {
        assert_rejected(ctx, &url, one_attribute(name, MessageAttribute::string("v")), "").await;
    }
    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}

pub async fn message_attributes_with_valid_unusual_names_are_accepted(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let attributes = MessageAttributes::new()
        .with("a.b-c_D9", MessageAttribute::string("v"))
        .with("AWSish", MessageAttribute::string("v"))
        .with("n".repeat(256), MessageAttribute::string("v"))
        // Letters and digits of any script (docs/aws-behaviour.md).
        .with("ü", MessageAttribute::string("v"))
        .with("注文.id", MessageAttribute::string("v"));

    send_entry(ctx, &url, with_attributes("x", attributes)).await.expect("send");

    assert_eq!(receive_one(ctx, &url).await.attributes.len(), 5);
}

pub async fn message_attributes_with_invalid_data_types_are_invalid(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;

    for data_type in ["Integer", "string", "STRING", "Strings", "Bin"] {
        assert_rejected(ctx, &url, one_attribute("attr", typed(data_type, "1")), "").await;
    }
    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}

pub async fn message_attributes_with_empty_values_are_invalid(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;

    for value in [typed("String", ""), typed("Number", ""), MessageAttribute::binary(Vec::new())] {
        assert_rejected(ctx, &url, one_attribute("attr", value), "").await;
    }
    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}

pub async fn a_number_attribute_with_a_non_numeric_value_is_invalid(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;

    assert_rejected(ctx, &url, one_attribute("n", typed("Number", "twelve")), "").await;

    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}

pub async fn a_deduplication_id_on_a_standard_queue_is_invalid(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let entry = SendEntry { deduplication_id: Some("d-1".to_owned()), ..SendEntry::new("m", "x") };

    let text = "for parameter MessageDeduplicationId is invalid. Reason: The request include parameter that is not \
                valid for this queue type";
    assert_rejected(ctx, &url, entry, text).await;

    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}

pub async fn an_empty_body_is_a_missing_parameter(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;

    let error = send_entry(ctx, &url, SendEntry::new("m", "")).await.expect_err("empty body");

    assert_service_error(&error, &ServiceErrorCode::MissingParameter, "MessageBody");
    assert_eq!(counts(ctx, &url).await, (0, 0, 0));
}
