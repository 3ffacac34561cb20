//! Queue attributes (SPEC §6, §7): the defaults of a fresh queue, validation on CreateQueue and
//! SetQueueAttributes (nothing of a failed request applies), LastModifiedTimestamp, and the
//! ApproximateNumberOf* counters.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqskit::ServiceErrorCode;
use sqskit::types::{QueueAttributeName, QueueAttributes};

use super::common::{
    assert_service_error, attributes, counts, delayed, delete, queue_attributes, receive, send, send_entry,
};
use crate::support::TestContext;

/// Out-of-range values for each numeric attribute (SPEC §7 ranges).
const OUT_OF_RANGE: &[(&str, &str)] = &[
    ("DelaySeconds", "901"),
    ("DelaySeconds", "-1"),
    ("MaximumMessageSize", "1023"),
    ("MaximumMessageSize", "1048577"),
    ("MessageRetentionPeriod", "59"),
    ("MessageRetentionPeriod", "1209601"),
    ("ReceiveMessageWaitTimeSeconds", "21"),
    ("VisibilityTimeout", "43201"),
    ("VisibilityTimeout", "abc"),
];

fn get<'a>(attributes: &'a QueueAttributes, name: &str) -> &'a str {
    attributes.get(&QueueAttributeName::parse(name)).unwrap_or_else(|| panic!("{name} missing from {attributes:?}"))
}

fn epoch_seconds(attributes: &QueueAttributes, name: &str) -> u64 {
    get(attributes, name).parse().unwrap_or_else(|_| panic!("{name} is not epoch seconds: {attributes:?}"))
}

pub async fn a_fresh_queue_reports_exactly_the_standard_set_with_defaults(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;

    let attributes = attributes(ctx, &url).await;

    let keys: BTreeSet<&str> = attributes.iter().map(|(name, _)| name.as_str()).collect();
    let expected_keys = BTreeSet::from([
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateNumberOfMessagesNotVisible",
        "CreatedTimestamp",
        "DelaySeconds",
        "LastModifiedTimestamp",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "QueueArn",
        "ReceiveMessageWaitTimeSeconds",
        "SqsManagedSseEnabled",
        "VisibilityTimeout",
    ]);
    assert_eq!(keys, expected_keys);
    for (name, value) in [
        ("ApproximateNumberOfMessages", "0"),
        ("ApproximateNumberOfMessagesDelayed", "0"),
        ("ApproximateNumberOfMessagesNotVisible", "0"),
        ("DelaySeconds", "0"),
        ("MaximumMessageSize", "1048576"),
        ("MessageRetentionPeriod", "345600"),
        ("ReceiveMessageWaitTimeSeconds", "0"),
        ("SqsManagedSseEnabled", "true"),
        ("VisibilityTimeout", "30"),
    ] {
        assert_eq!(get(&attributes, name), value, "{name}");
    }
    assert_eq!(get(&attributes, "QueueArn"), "arn:aws:sqs:us-east-1:000000000000:orders");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("after the epoch").as_secs();
    for name in ["CreatedTimestamp", "LastModifiedTimestamp"] {
        let secs = epoch_seconds(&attributes, name);
        assert!(secs.abs_diff(now) < 120, "{name} = {secs} should be epoch seconds near {now}");
    }
}

pub async fn get_queue_attributes_returns_only_the_requested_names(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let names = [QueueAttributeName::VisibilityTimeout, QueueAttributeName::QueueArn];

    let attributes = ctx.backend.get_queue_attributes(&url, &names).await.expect("get queue attributes");

    assert_eq!(attributes.len(), 2, "{attributes:?}");
    assert_eq!(get(&attributes, "VisibilityTimeout"), "30");
    assert_eq!(get(&attributes, "QueueArn"), "arn:aws:sqs:us-east-1:000000000000:orders");
}

pub async fn get_queue_attributes_without_names_returns_no_attributes(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;

    let attributes = ctx.backend.get_queue_attributes(&url, &[]).await.expect("get queue attributes");

    assert!(attributes.is_empty(), "{attributes:?}");
}

pub async fn get_queue_attributes_with_an_unknown_name_is_invalid(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;

    let error = ctx.backend.get_queue_attributes(&url, &[QueueAttributeName::parse("Bogus")]).await.expect_err("Bogus");

    assert_service_error(&error, &ServiceErrorCode::InvalidAttributeName, "Bogus");
}

pub async fn create_queue_accepts_boundary_attribute_values(ctx: &TestContext) {
    let low = [
        ("DelaySeconds", "0"),
        ("MaximumMessageSize", "1024"),
        ("MessageRetentionPeriod", "60"),
        ("ReceiveMessageWaitTimeSeconds", "0"),
        ("VisibilityTimeout", "0"),
    ];
    let high = [
        ("DelaySeconds", "900"),
        ("MaximumMessageSize", "1048576"),
        ("MessageRetentionPeriod", "1209600"),
        ("ReceiveMessageWaitTimeSeconds", "20"),
        ("VisibilityTimeout", "43200"),
    ];

    for (name, pairs) in [("low", low), ("high", high)] {
        let url = ctx.create_queue_with(name, queue_attributes(&pairs)).await;

        let attributes = attributes(ctx, &url).await;
        for (attribute, value) in pairs {
            assert_eq!(get(&attributes, attribute), value, "{name}: {attribute}");
        }
    }
}

pub async fn create_queue_with_an_out_of_range_attribute_is_invalid(ctx: &TestContext) {
    for (name, value) in OUT_OF_RANGE {
        let attributes = queue_attributes(&[(name, value)]);
        let error = ctx.backend.create_queue("orders", &attributes, &Default::default()).await;

        assert_service_error(&error.expect_err(name), &ServiceErrorCode::InvalidAttributeValue, name);
    }
    assert!(ctx.backend.list_queues(None).await.expect("list").is_empty());
}

pub async fn set_queue_attributes_with_an_out_of_range_value_fails_and_keeps_the_old_value(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;

    for (name, value) in OUT_OF_RANGE {
        let error = ctx.backend.set_queue_attributes(&url, &queue_attributes(&[(name, value)])).await;

        assert_service_error(&error.expect_err(name), &ServiceErrorCode::InvalidAttributeValue, name);
    }
    let attributes = attributes(ctx, &url).await;
    assert_eq!(get(&attributes, "DelaySeconds"), "0");
    assert_eq!(get(&attributes, "MaximumMessageSize"), "1048576");
    assert_eq!(get(&attributes, "MessageRetentionPeriod"), "345600");
    assert_eq!(get(&attributes, "ReceiveMessageWaitTimeSeconds"), "0");
    assert_eq!(get(&attributes, "VisibilityTimeout"), "30");
}

pub async fn a_failed_set_queue_attributes_applies_none_of_its_valid_attributes(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let update = queue_attributes(&[("DelaySeconds", "5"), ("VisibilityTimeout", "99999")]);

    let error = ctx.backend.set_queue_attributes(&url, &update).await.expect_err("VisibilityTimeout out of range");

    assert_eq!(error.code(), Some(&ServiceErrorCode::InvalidAttributeValue), "{error:?}");
    assert_eq!(get(&attributes(ctx, &url).await, "DelaySeconds"), "0");
}

pub async fn an_unknown_attribute_name_is_invalid_on_create_and_set(ctx: &TestContext) {
    let colour = queue_attributes(&[("Colour", "blue")]);
    let on_create = ctx.backend.create_queue("orders", &colour, &Default::default()).await.expect_err("Colour");
    let url = ctx.create_queue("orders").await;
    let on_set = ctx.backend.set_queue_attributes(&url, &colour).await.expect_err("Colour");

    for error in [on_create, on_set] {
        assert_service_error(&error, &ServiceErrorCode::InvalidAttributeName, "Colour");
    }
}

pub async fn set_queue_attributes_updates_values_and_the_last_modified_timestamp(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    let before = attributes(ctx, &url).await;
    ctx.advance(Duration::from_secs(10));

    let update = queue_attributes(&[("VisibilityTimeout", "45"), ("DelaySeconds", "3")]);
    ctx.backend.set_queue_attributes(&url, &update).await.expect("set queue attributes");

    let after = attributes(ctx, &url).await;
    assert_eq!(get(&after, "VisibilityTimeout"), "45");
    assert_eq!(get(&after, "DelaySeconds"), "3");
    assert_eq!(get(&after, "CreatedTimestamp"), get(&before, "CreatedTimestamp"));
    let created = epoch_seconds(&before, "CreatedTimestamp");
    let modified = epoch_seconds(&after, "LastModifiedTimestamp");
    assert!(modified >= created + 10, "LastModifiedTimestamp {modified} should be >= {created} + 10 (virtual)");
}

pub async fn approximate_counters_track_sent_received_deleted_and_delayed_messages(ctx: &TestContext) {
    let url = ctx.create_queue("orders").await;
    for body in ["a", "b", "c"] {
        send(ctx, &url, body).await;
    }
    send_entry(ctx, &url, delayed("later", "later", 60)).await.expect("send delayed");
    assert_eq!(counts(ctx, &url).await, (3, 0, 1));

    let received = receive(ctx, &url, 2).await;
    assert_eq!(received.len(), 2);
    assert_eq!(counts(ctx, &url).await, (1, 2, 1));

    delete(ctx, &url, &received[0].receipt_handle).await.expect("delete");
    assert_eq!(counts(ctx, &url).await, (1, 1, 1));

    ctx.advance(Duration::from_secs(61));
    assert_eq!(counts(ctx, &url).await, (3, 0, 0));
}
