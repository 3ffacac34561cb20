//! Queue attributes through `aws-sdk-sqs`: defaults of a fresh queue, validation on CreateQueue and
//! SetQueueAttributes, LastModifiedTimestamp, the ApproximateNumberOf* counters and RedrivePolicy storage
//! (SPEC §6, §7).

use std::collections::BTreeSet;

use crate::common::{TestEnv, expect_service_error, now_ms};
use aws_sdk_sqs::operation::create_queue::CreateQueueError;
use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesError;
use aws_sdk_sqs::operation::set_queue_attributes::SetQueueAttributesError;
use aws_sdk_sqs::types::QueueAttributeName;

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

#[tokio::test]
async fn get_queue_attributes_all_on_fresh_queue_returns_exactly_the_standard_set_with_defaults() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let attrs = env.attributes(&url).await;

    let keys: BTreeSet<&str> = attrs.keys().map(String::as_str).collect();
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
    for (k, v) in [
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
        assert_eq!(attrs[k], v, "{k}");
    }
    assert_eq!(attrs["QueueArn"], "arn:aws:sqs:us-east-1:000000000000:orders");
    let now_s = now_ms() / 1000;
    for k in ["CreatedTimestamp", "LastModifiedTimestamp"] {
        let secs: u64 = attrs[k].parse().unwrap_or_else(|_| panic!("{k} = {}", attrs[k]));
        assert!(secs.abs_diff(now_s) < 120, "{k} = {secs} should be epoch seconds near {now_s}");
    }
    env.shutdown().await;
}

#[tokio::test]
async fn get_queue_attributes_returns_only_the_requested_names() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let out = env
        .client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::VisibilityTimeout)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();

    let attrs = out.attributes().unwrap();
    assert_eq!(attrs.len(), 2, "{attrs:?}");
    assert_eq!(attrs[&QueueAttributeName::VisibilityTimeout], "30");
    assert_eq!(attrs[&QueueAttributeName::QueueArn], TestEnv::arn_of("orders"));
    env.shutdown().await;
}

#[tokio::test]
async fn get_queue_attributes_without_names_returns_no_attributes() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let out = env.client.get_queue_attributes().queue_url(&url).send().await.unwrap();

    assert!(out.attributes().is_none_or(|a| a.is_empty()), "{out:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn get_queue_attributes_with_unknown_name_fails_with_invalid_attribute_name() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let err = env
        .client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::from("Bogus"))
        .send()
        .await
        .unwrap_err();

    let se = expect_service_error(err, 400, "InvalidAttributeName", "Bogus");
    assert!(matches!(se, GetQueueAttributesError::InvalidAttributeName(_)), "{se:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn create_queue_accepts_boundary_attribute_values() {
    let env = TestEnv::start().await;
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

    let low_url = env.create_queue_with("low", &low).await;
    let high_url = env.create_queue_with("high", &high).await;

    let low_attrs = env.attributes(&low_url).await;
    let high_attrs = env.attributes(&high_url).await;
    for (k, v) in low {
        assert_eq!(low_attrs[k], v, "{k}");
    }
    for (k, v) in high {
        assert_eq!(high_attrs[k], v, "{k}");
    }
    env.shutdown().await;
}

#[tokio::test]
async fn create_queue_with_out_of_range_attribute_fails_with_invalid_attribute_value() {
    let env = TestEnv::start().await;

    for (name, value) in OUT_OF_RANGE {
        let err = env
            .client
            .create_queue()
            .queue_name("orders")
            .attributes(QueueAttributeName::from(*name), *value)
            .send()
            .await
            .expect_err(&format!("{name}={value}"));

        let se = expect_service_error(err, 400, "InvalidAttributeValue", name);
        assert!(matches!(se, CreateQueueError::InvalidAttributeValue(_)), "{name}={value}: {se:?}");
    }
    let listed = env.client.list_queues().send().await.unwrap();
    assert!(listed.queue_urls().is_empty(), "{listed:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn set_queue_attributes_with_out_of_range_value_fails_and_keeps_old_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    for (name, value) in OUT_OF_RANGE {
        let err = env
            .client
            .set_queue_attributes()
            .queue_url(&url)
            .attributes(QueueAttributeName::from(*name), *value)
            .send()
            .await
            .expect_err(&format!("{name}={value}"));

        let se = expect_service_error(err, 400, "InvalidAttributeValue", name);
        assert!(matches!(se, SetQueueAttributesError::InvalidAttributeValue(_)), "{name}={value}: {se:?}");
    }
    let attrs = env.attributes(&url).await;
    assert_eq!(attrs["DelaySeconds"], "0");
    assert_eq!(attrs["MaximumMessageSize"], "1048576");
    assert_eq!(attrs["MessageRetentionPeriod"], "345600");
    assert_eq!(attrs["ReceiveMessageWaitTimeSeconds"], "0");
    assert_eq!(attrs["VisibilityTimeout"], "30");
    env.shutdown().await;
}

#[tokio::test]
async fn create_queue_with_unknown_attribute_name_fails_with_invalid_attribute_name() {
    let env = TestEnv::start().await;

    let err = env
        .client
        .create_queue()
        .queue_name("orders")
        .attributes(QueueAttributeName::from("Colour"), "blue")
        .send()
        .await
        .unwrap_err();

    let se = expect_service_error(err, 400, "InvalidAttributeName", "Colour");
    assert!(matches!(se, CreateQueueError::InvalidAttributeName(_)), "{se:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn set_queue_attributes_with_unknown_attribute_name_fails_with_invalid_attribute_name() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let err = env
        .client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::from("Colour"), "blue")
        .send()
        .await
        .unwrap_err();

    let se = expect_service_error(err, 400, "InvalidAttributeName", "Colour");
    assert!(matches!(se, SetQueueAttributesError::InvalidAttributeName(_)), "{se:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn set_queue_attributes_updates_values_and_last_modified_timestamp() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let before = env.attributes(&url).await;
    env.advance(10);

    env.set_attrs(&url, &[("VisibilityTimeout", "45"), ("DelaySeconds", "3")]).await;

    let after = env.attributes(&url).await;
    assert_eq!(after["VisibilityTimeout"], "45");
    assert_eq!(after["DelaySeconds"], "3");
    assert_eq!(after["CreatedTimestamp"], before["CreatedTimestamp"]);
    let created: u64 = before["CreatedTimestamp"].parse().unwrap();
    let modified: u64 = after["LastModifiedTimestamp"].parse().unwrap();
    assert!(
        modified >= created + 10,
        "LastModifiedTimestamp {modified} should be >= CreatedTimestamp {created} + 10 (virtual)"
    );
    env.shutdown().await;
}

#[tokio::test]
async fn approximate_counters_track_sent_received_deleted_and_delayed_messages() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    for body in ["a", "b", "c"] {
        env.send(&url, body).await;
    }
    env.client.send_message().queue_url(&url).message_body("later").delay_seconds(60).send().await.unwrap();
    assert_eq!(env.counts(&url).await, (3, 0, 1));

    let received = env.receive(&url, 2).await;
    assert_eq!(received.len(), 2);
    assert_eq!(env.counts(&url).await, (1, 2, 1));

    env.client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(received[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(env.counts(&url).await, (1, 1, 1));

    env.advance(61);
    assert_eq!(env.counts(&url).await, (3, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn redrive_policy_is_stored_and_returned_with_numeric_max_receive_count() {
    let env = TestEnv::start().await;
    env.create_queue("orders-dlq").await;
    let dlq_arn = TestEnv::arn_of("orders-dlq");
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"5"}}"#);

    let url = env.create_queue_with("orders", &[("RedrivePolicy", policy.as_str())]).await;

    let attrs = env.attributes(&url).await;
    let stored: serde_json::Value =
        serde_json::from_str(attrs.get("RedrivePolicy").expect("RedrivePolicy in All")).unwrap();
    assert_eq!(stored["deadLetterTargetArn"], dlq_arn.as_str());
    assert_eq!(stored["maxReceiveCount"], 5);
    env.shutdown().await;
}

#[tokio::test]
async fn redrive_policy_set_to_empty_string_is_removed() {
    let env = TestEnv::start().await;
    env.create_queue("orders-dlq").await;
    let policy = format!(r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":3}}"#, TestEnv::arn_of("orders-dlq"));
    let url = env.create_queue_with("orders", &[("RedrivePolicy", policy.as_str())]).await;

    env.set_attrs(&url, &[("RedrivePolicy", "")]).await;

    let attrs = env.attributes(&url).await;
    assert!(!attrs.contains_key("RedrivePolicy"), "{attrs:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn redrive_policy_with_max_receive_count_out_of_range_is_rejected() {
    let env = TestEnv::start().await;
    env.create_queue("orders-dlq").await;
    let url = env.create_queue("orders").await;

    for count in [0, 1001] {
        let policy =
            format!(r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":{count}}}"#, TestEnv::arn_of("orders-dlq"));
        let err = env
            .client
            .set_queue_attributes()
            .queue_url(&url)
            .attributes(QueueAttributeName::RedrivePolicy, policy)
            .send()
            .await
            .expect_err("maxReceiveCount out of range");

        // SPEC §13: redrive policy violations are InvalidParameterValue on AWS.
        expect_service_error(err, 400, "InvalidParameterValue", "RedrivePolicy");
    }
    assert!(!env.attributes(&url).await.contains_key("RedrivePolicy"));
    env.shutdown().await;
}

#[tokio::test]
async fn redrive_policy_accepts_max_receive_count_bounds() {
    let env = TestEnv::start().await;
    env.create_queue("orders-dlq").await;
    let url = env.create_queue("orders").await;

    for count in [1, 1000] {
        let policy =
            format!(r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":{count}}}"#, TestEnv::arn_of("orders-dlq"));
        env.set_attrs(&url, &[("RedrivePolicy", policy.as_str())]).await;

        let stored: serde_json::Value = serde_json::from_str(&env.attributes(&url).await["RedrivePolicy"]).unwrap();
        assert_eq!(stored["maxReceiveCount"], count);
    }
    env.shutdown().await;
}

#[tokio::test]
async fn redrive_policy_naming_a_missing_queue_is_rejected() {
    let env = TestEnv::start().await;
    let policy = format!(r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":3}}"#, TestEnv::arn_of("no-such-dlq"));

    let err = env
        .client
        .create_queue()
        .queue_name("orders")
        .attributes(QueueAttributeName::RedrivePolicy, policy)
        .send()
        .await
        .unwrap_err();

    // AWS: "Value ... for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist."
    expect_service_error(err, 400, "InvalidParameterValue", "Dead letter target does not exist");
    let listed = env.client.list_queues().send().await.unwrap();
    assert!(listed.queue_urls().is_empty(), "{listed:?}");
    env.shutdown().await;
}
