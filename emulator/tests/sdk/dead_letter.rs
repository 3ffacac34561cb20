//! Dead-letter queues through `aws-sdk-sqs` (issue 4, SPEC §7, §13): RedrivePolicy and RedriveAllowPolicy
//! validation, the move on the receive that would exceed maxReceiveCount (identity, body, attributes, receive count,
//! DeadLetterQueueSourceArn), retention counted from the original send on a standard dead-letter queue, FIFO
//! dead-letter queues, and ListDeadLetterSourceQueues with pagination. Virtual time only.

use std::collections::BTreeSet;

use crate::common::{TestEnv, expect_service_error, str_attr};
use aws_sdk_sqs::error::SdkError;
use aws_sdk_sqs::operation::set_queue_attributes::SetQueueAttributesError;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};

fn redrive(target: &str, max_receive_count: u32) -> String {
    format!(r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":{max_receive_count}}}"#, TestEnv::arn_of(target))
}

fn sys(msg: &Message, name: MessageSystemAttributeName) -> Option<String> {
    msg.attributes().and_then(|a| a.get(&name)).cloned()
}

async fn set_err(env: &TestEnv, url: &str, name: &str, value: &str) -> SdkError<SetQueueAttributesError> {
    env.client
        .set_queue_attributes()
        .queue_url(url)
        .attributes(QueueAttributeName::from(name), value)
        .send()
        .await
        .expect_err("set queue attributes should fail")
}

/// Receives up to 10 with the given visibility timeout and every attribute.
async fn receive_vt(env: &TestEnv, url: &str, visibility: i32) -> Vec<Message> {
    env.client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(visibility)
        .wait_time_seconds(0)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------------------------
// RedrivePolicy validation
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn max_receive_count_must_be_between_1_and_1000() {
    let env = TestEnv::start().await;
    env.create_queue("dlq").await;
    let source = env.create_queue("source").await;

    for bad in [0, 1001] {
        // when maxReceiveCount is out of range
        let err = set_err(&env, &source, "RedrivePolicy", &redrive("dlq", bad)).await;

        // then it is rejected and no policy is set
        expect_service_error(err, 400, "InvalidParameterValue", "maxReceiveCount");
        assert_eq!(env.attributes(&source).await.get("RedrivePolicy"), None);
    }
    for good in [1, 1000] {
        env.set_attrs(&source, &[("RedrivePolicy", &redrive("dlq", good))]).await;
    }
    env.shutdown().await;
}

#[tokio::test]
async fn redrive_policy_is_reported_with_a_numeric_max_receive_count() {
    let env = TestEnv::start().await;
    env.create_queue("dlq").await;
    let source = env.create_queue("source").await;

    // maxReceiveCount may arrive as a string
    let policy = format!(r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"5"}}"#, TestEnv::arn_of("dlq"));
    env.set_attrs(&source, &[("RedrivePolicy", &policy)]).await;

    let text = env.attributes(&source).await.remove("RedrivePolicy").expect("RedrivePolicy reported");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["deadLetterTargetArn"], TestEnv::arn_of("dlq"));
    assert_eq!(json["maxReceiveCount"], 5, "returned as a number: {text}");
    env.shutdown().await;
}

#[tokio::test]
async fn redrive_policy_naming_a_missing_queue_is_rejected() {
    let env = TestEnv::start().await;
    let source = env.create_queue("source").await;

    let err = set_err(&env, &source, "RedrivePolicy", &redrive("no-such-dlq", 3)).await;

    expect_service_error(err, 400, "InvalidParameterValue", "RedrivePolicy");
    assert_eq!(env.attributes(&source).await.get("RedrivePolicy"), None);
    env.shutdown().await;
}

#[tokio::test]
async fn redrive_policy_without_a_target_is_rejected() {
    let env = TestEnv::start().await;
    let source = env.create_queue("source").await;

    let err = set_err(&env, &source, "RedrivePolicy", r#"{"maxReceiveCount":3}"#).await;

    // the document is malformed: AWS answers with a 400 naming RedrivePolicy
    assert_eq!(crate::common::status_of(&err), 400);
    let se = err.into_service_error();
    let code = aws_sdk_sqs::error::ProvideErrorMetadata::code(&se).unwrap_or_default().to_owned();
    assert!(["InvalidParameterValue", "InvalidAttributeValue"].contains(&code.as_str()), "code {code} of {se:?}");
    assert_eq!(env.attributes(&source).await.get("RedrivePolicy"), None);
    env.shutdown().await;
}

#[tokio::test]
async fn dead_letter_queue_must_be_the_same_queue_type_as_its_source() {
    let env = TestEnv::start().await;
    env.create_queue("standard-dlq").await;
    env.create_queue_with("fifo-dlq.fifo", &[("FifoQueue", "true")]).await;
    let fifo_source = env.create_queue_with("source.fifo", &[("FifoQueue", "true")]).await;
    let standard_source = env.create_queue("source").await;

    // FIFO → standard
    let err = set_err(&env, &fifo_source, "RedrivePolicy", &redrive("standard-dlq", 3)).await;
    expect_service_error(err, 400, "InvalidParameterValue", "RedrivePolicy");
    // standard → FIFO
    let err = set_err(&env, &standard_source, "RedrivePolicy", &redrive("fifo-dlq.fifo", 3)).await;
    expect_service_error(err, 400, "InvalidParameterValue", "RedrivePolicy");
    // FIFO → FIFO is fine
    env.set_attrs(&fifo_source, &[("RedrivePolicy", &redrive("fifo-dlq.fifo", 3))]).await;
    env.shutdown().await;
}

#[tokio::test]
async fn redrive_allow_policy_deny_all_refuses_every_source() {
    let env = TestEnv::start().await;
    env.create_queue_with("dlq", &[("RedriveAllowPolicy", r#"{"redrivePermission":"denyAll"}"#)]).await;
    let source = env.create_queue("source").await;

    let err = set_err(&env, &source, "RedrivePolicy", &redrive("dlq", 3)).await;

    expect_service_error(err, 400, "InvalidParameterValue", "RedrivePolicy");
    assert_eq!(env.attributes(&source).await.get("RedrivePolicy"), None);
    env.shutdown().await;
}

#[tokio::test]
async fn redrive_allow_policy_by_queue_admits_only_the_listed_sources() {
    let env = TestEnv::start().await;
    let allow = format!(r#"{{"redrivePermission":"byQueue","sourceQueueArns":["{}"]}}"#, TestEnv::arn_of("allowed"));
    let dlq = env.create_queue_with("dlq", &[("RedriveAllowPolicy", &allow)]).await;
    let allowed = env.create_queue("allowed").await;
    let other = env.create_queue("other").await;

    // the listed source may use the DLQ
    env.set_attrs(&allowed, &[("RedrivePolicy", &redrive("dlq", 3))]).await;
    // another may not
    let err = set_err(&env, &other, "RedrivePolicy", &redrive("dlq", 3)).await;
    expect_service_error(err, 400, "InvalidParameterValue", "RedrivePolicy");

    let reported: serde_json::Value =
        serde_json::from_str(env.attributes(&dlq).await.get("RedriveAllowPolicy").expect("reported")).unwrap();
    assert_eq!(reported["redrivePermission"], "byQueue");
    assert_eq!(reported["sourceQueueArns"], serde_json::json!([TestEnv::arn_of("allowed")]));
    env.shutdown().await;
}

#[tokio::test]
async fn redrive_allow_policy_also_applies_when_the_source_is_created() {
    let env = TestEnv::start().await;
    env.create_queue_with("dlq", &[("RedriveAllowPolicy", r#"{"redrivePermission":"denyAll"}"#)]).await;

    let err = env
        .client
        .create_queue()
        .queue_name("source")
        .attributes(QueueAttributeName::RedrivePolicy, redrive("dlq", 3))
        .send()
        .await
        .unwrap_err();

    expect_service_error(err, 400, "InvalidParameterValue", "RedrivePolicy");
    let listed = env.client.list_queues().send().await.unwrap();
    assert_eq!(listed.queue_urls(), [env.url_of("dlq")]);
    env.shutdown().await;
}

#[tokio::test]
async fn malformed_redrive_allow_policies_are_rejected() {
    let env = TestEnv::start().await;
    let dlq = env.create_queue("dlq").await;
    let eleven: Vec<String> = (0..11).map(|i| format!("\"{}\"", TestEnv::arn_of(&format!("s{i}")))).collect();
    let cases = [
        r#"{"redrivePermission":"byQueue"}"#.to_owned(),
        format!(r#"{{"redrivePermission":"byQueue","sourceQueueArns":[{}]}}"#, eleven.join(",")),
        format!(r#"{{"redrivePermission":"denyAll","sourceQueueArns":["{}"]}}"#, TestEnv::arn_of("s0")),
        r#"{"redrivePermission":"sometimes"}"#.to_owned(),
    ];

    for policy in &cases {
        let err = set_err(&env, &dlq, "RedriveAllowPolicy", policy).await;

        // AWS's exact code for a bad document is unverified (SPEC §7): either 400 attribute/parameter error
        assert_eq!(crate::common::status_of(&err), 400, "{policy}");
        let se = err.into_service_error();
        let code = aws_sdk_sqs::error::ProvideErrorMetadata::code(&se).unwrap_or_default().to_owned();
        assert!(["InvalidParameterValue", "InvalidAttributeValue"].contains(&code.as_str()), "{policy}: {se:?}");
    }
    assert_eq!(env.attributes(&dlq).await.get("RedriveAllowPolicy"), None);
    env.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// The move
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn message_moves_to_the_dead_letter_queue_on_the_receive_after_max_receive_count() {
    // given a source with maxReceiveCount 3 and a message with an attribute
    let env = TestEnv::start().await;
    let dlq = env.create_queue("dlq").await;
    let source = env.create_queue_with("source", &[("RedrivePolicy", &redrive("dlq", 3))]).await;
    let sent = env
        .client
        .send_message()
        .queue_url(&source)
        .message_body("poison")
        .message_attributes("Kind", str_attr("String", "order"))
        .send()
        .await
        .unwrap();

    // when it is received three times without being deleted
    for n in 1..=3 {
        let got = receive_vt(&env, &source, 0).await;
        assert_eq!(got.len(), 1, "receive {n} delivers the message");
        assert_eq!(sys(&got[0], MessageSystemAttributeName::ApproximateReceiveCount), Some(n.to_string()));
    }

    // then the fourth receive returns nothing from the source
    assert!(receive_vt(&env, &source, 30).await.is_empty());
    assert_eq!(env.counts(&source).await, (0, 0, 0));

    // and the dead-letter queue has it, unchanged, with its source recorded
    assert_eq!(env.counts(&dlq).await, (1, 0, 0));
    let moved = receive_vt(&env, &dlq, 30).await;
    assert_eq!(moved.len(), 1);
    let m = &moved[0];
    assert_eq!(m.message_id(), sent.message_id());
    assert_eq!(m.body(), Some("poison"));
    assert_eq!(m.md5_of_body(), sent.md5_of_message_body());
    assert_eq!(m.message_attributes().unwrap()["Kind"].string_value(), Some("order"));
    assert_eq!(m.md5_of_message_attributes(), sent.md5_of_message_attributes());
    assert_eq!(sys(m, MessageSystemAttributeName::DeadLetterQueueSourceArn), Some(TestEnv::arn_of("source")));
    // three receives on the source carried over, plus this one: "received across all queues" (API reference)
    assert_eq!(sys(m, MessageSystemAttributeName::ApproximateReceiveCount).as_deref(), Some("4"));
    env.shutdown().await;
}

#[tokio::test]
async fn moved_message_keeps_its_sent_timestamp() {
    let env = TestEnv::start().await;
    let dlq = env.create_queue("dlq").await;
    let source = env.create_queue_with("source", &[("RedrivePolicy", &redrive("dlq", 1))]).await;
    env.send(&source, "poison").await;
    let first = receive_vt(&env, &source, 0).await.remove(0);
    let sent_at = sys(&first, MessageSystemAttributeName::SentTimestamp).unwrap();

    env.advance(7);
    assert!(receive_vt(&env, &source, 0).await.is_empty());
    let moved = receive_vt(&env, &dlq, 30).await.remove(0);

    assert_eq!(sys(&moved, MessageSystemAttributeName::SentTimestamp), Some(sent_at));
    env.shutdown().await;
}

#[tokio::test]
async fn message_moves_after_its_visibility_timeouts_expire_on_the_virtual_clock() {
    let env = TestEnv::start().await;
    let dlq = env.create_queue("dlq").await;
    let source =
        env.create_queue_with("source", &[("RedrivePolicy", &redrive("dlq", 2)), ("VisibilityTimeout", "30")]).await;
    env.send(&source, "poison").await;

    // two deliveries, each left to time out
    for _ in 0..2 {
        assert_eq!(env.receive(&source, 1).await.len(), 1);
        assert!(env.receive(&source, 1).await.is_empty(), "hidden while in flight");
        env.advance(30);
    }

    // the third receive moves it instead of delivering it
    assert!(env.receive(&source, 1).await.is_empty());
    assert_eq!(env.counts(&dlq).await, (1, 0, 0));
    assert_eq!(env.counts(&source).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn messages_below_max_receive_count_stay_in_the_source() {
    let env = TestEnv::start().await;
    let dlq = env.create_queue("dlq").await;
    let source = env.create_queue_with("source", &[("RedrivePolicy", &redrive("dlq", 2))]).await;
    env.send(&source, "fine").await;

    receive_vt(&env, &source, 0).await;
    let second = receive_vt(&env, &source, 0).await;

    assert_eq!(second.len(), 1, "a second delivery is allowed with maxReceiveCount 2");
    assert_eq!(env.counts(&dlq).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn standard_dead_letter_queue_retention_counts_from_the_original_send() {
    // given a DLQ keeping messages 60 s and a message sent at t=0
    let env = TestEnv::start().await;
    let dlq = env.create_queue_with("dlq", &[("MessageRetentionPeriod", "60")]).await;
    let source = env.create_queue_with("source", &[("RedrivePolicy", &redrive("dlq", 1))]).await;
    env.send(&source, "old").await;
    assert_eq!(receive_vt(&env, &source, 0).await.len(), 1);

    // when it moves at t=50
    env.advance(50);
    assert!(receive_vt(&env, &source, 0).await.is_empty());
    assert_eq!(env.counts(&dlq).await, (1, 0, 0));

    // then it expires at t=60, ten seconds after the move, not sixty
    env.advance(9);
    assert_eq!(env.counts(&dlq).await, (1, 0, 0), "still retained at t=59");
    env.advance(1);
    assert_eq!(env.counts(&dlq).await, (0, 0, 0), "expired at t=60 (original send + 60 s)");
    assert!(receive_vt(&env, &dlq, 30).await.is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_message_moves_to_a_fifo_dead_letter_queue_keeping_id_and_group() {
    let env = TestEnv::start().await;
    let dlq = env.create_queue_with("dlq.fifo", &[("FifoQueue", "true")]).await;
    let source = env
        .create_queue_with("source.fifo", &[("FifoQueue", "true"), ("RedrivePolicy", &redrive("dlq.fifo", 1))])
        .await;
    let sent = env
        .client
        .send_message()
        .queue_url(&source)
        .message_body("poison")
        .message_group_id("g")
        .message_deduplication_id("d-1")
        .send()
        .await
        .unwrap();
    env.client
        .send_message()
        .queue_url(&source)
        .message_body("next")
        .message_group_id("g")
        .message_deduplication_id("d-2")
        .send()
        .await
        .unwrap();

    // the head is delivered once, then moved: the group is unblocked and the next message follows
    let first = env
        .client
        .receive_message()
        .queue_url(&source)
        .max_number_of_messages(1)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(first.iter().map(|m| m.body().unwrap()).collect::<Vec<_>>(), ["poison"]);
    let after = receive_vt(&env, &source, 30).await;
    assert_eq!(after.iter().map(|m| m.body().unwrap()).collect::<Vec<_>>(), ["next"]);

    let moved = receive_vt(&env, &dlq, 30).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].message_id(), sent.message_id());
    assert_eq!(sys(&moved[0], MessageSystemAttributeName::MessageGroupId).as_deref(), Some("g"));
    assert_eq!(
        sys(&moved[0], MessageSystemAttributeName::DeadLetterQueueSourceArn),
        Some(TestEnv::arn_of("source.fifo"))
    );
    assert!(sys(&moved[0], MessageSystemAttributeName::SequenceNumber).is_some());
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_dead_letter_queue_retention_restarts_at_the_move() {
    // given a FIFO DLQ keeping messages 60 s and a message sent at t=0
    let env = TestEnv::start().await;
    let dlq = env.create_queue_with("dlq.fifo", &[("FifoQueue", "true"), ("MessageRetentionPeriod", "60")]).await;
    let source = env
        .create_queue_with("source.fifo", &[("FifoQueue", "true"), ("RedrivePolicy", &redrive("dlq.fifo", 1))])
        .await;
    env.client
        .send_message()
        .queue_url(&source)
        .message_body("old")
        .message_group_id("g")
        .message_deduplication_id("d")
        .send()
        .await
        .unwrap();
    assert_eq!(receive_vt(&env, &source, 0).await.len(), 1);

    // when it moves at t=50
    env.advance(50);
    assert!(receive_vt(&env, &source, 0).await.is_empty());

    // then "for FIFO queues, the enqueue timestamp resets" (Developer Guide, dead-letter queue retention):
    // retained at t=100, expired at t=110
    env.advance(50);
    assert_eq!(env.counts(&dlq).await, (1, 0, 0), "retained 50 s after the move");
    env.advance(10);
    assert_eq!(env.counts(&dlq).await, (0, 0, 0), "expired 60 s after the move");
    env.shutdown().await;
}

#[tokio::test]
async fn removing_the_redrive_policy_stops_dead_lettering() {
    let env = TestEnv::start().await;
    let dlq = env.create_queue("dlq").await;
    let source = env.create_queue_with("source", &[("RedrivePolicy", &redrive("dlq", 1))]).await;
    env.send(&source, "m").await;
    receive_vt(&env, &source, 0).await;

    env.set_attrs(&source, &[("RedrivePolicy", "")]).await;

    assert_eq!(env.attributes(&source).await.get("RedrivePolicy"), None);
    assert_eq!(receive_vt(&env, &source, 0).await.len(), 1, "delivered again, no longer moved");
    assert_eq!(env.counts(&dlq).await, (0, 0, 0));
    env.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// ListDeadLetterSourceQueues
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_dead_letter_source_queues_pages_through_three_sources() {
    // given three sources of one DLQ, and a queue with another DLQ
    let env = TestEnv::start().await;
    let dlq = env.create_queue("dlq").await;
    env.create_queue("other-dlq").await;
    let mut expected = BTreeSet::new();
    for name in ["src-a", "src-b", "src-c"] {
        expected.insert(env.create_queue_with(name, &[("RedrivePolicy", &redrive("dlq", 3))]).await);
    }
    env.create_queue_with("unrelated", &[("RedrivePolicy", &redrive("other-dlq", 3))]).await;

    // when listed two at a time
    let page1 = env.client.list_dead_letter_source_queues().queue_url(&dlq).max_results(2).send().await.unwrap();
    let token = page1.next_token().expect("NextToken after a full page").to_owned();
    let page2 = env
        .client
        .list_dead_letter_source_queues()
        .queue_url(&dlq)
        .max_results(2)
        .next_token(token)
        .send()
        .await
        .unwrap();

    // then the pages hold the three sources once each, and the last page has no token
    assert_eq!(page1.queue_urls().len(), 2);
    assert_eq!(page2.queue_urls().len(), 1);
    assert_eq!(page2.next_token(), None);
    let got: BTreeSet<String> = page1.queue_urls().iter().chain(page2.queue_urls()).cloned().collect();
    assert_eq!(got, expected);

    // and without MaxResults all three come at once
    let all = env.client.list_dead_letter_source_queues().queue_url(&dlq).send().await.unwrap();
    assert_eq!(all.queue_urls().iter().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(all.next_token(), None);
    env.shutdown().await;
}

#[tokio::test]
async fn list_dead_letter_source_queues_of_a_queue_nobody_targets_is_empty() {
    let env = TestEnv::start().await;
    let lonely = env.create_queue("lonely").await;

    let out = env.client.list_dead_letter_source_queues().queue_url(&lonely).send().await.unwrap();

    assert!(out.queue_urls().is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn list_dead_letter_source_queues_of_a_missing_queue_is_queue_does_not_exist() {
    let env = TestEnv::start().await;

    let err = env.client.list_dead_letter_source_queues().queue_url(env.missing_queue_url()).send().await.unwrap_err();

    expect_service_error(err, 400, "AWS.SimpleQueueService.NonExistentQueue", crate::common::NO_QUEUE_MESSAGE);
    env.shutdown().await;
}
