//! FIFO queues through `aws-sdk-sqs` (issue 4, SPEC §6, §11, §12): name and attribute validation, MessageGroupId
//! and deduplication rules, strict order and group blocking, fair service of groups, the 5-minute deduplication
//! window on the virtual clock, content-based and per-group deduplication, SequenceNumber, ReceiveRequestAttemptId,
//! expired receipt handles, and MessageGroupId on standard (fair) queues.

use std::collections::{BTreeSet, HashMap};

use crate::common::{TestEnv, expect_service_error, str_attr};
use aws_sdk_sqs::operation::create_queue::CreateQueueError;
use aws_sdk_sqs::operation::send_message::SendMessageOutput;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry};

/// SHA-256 of `Hello from sqskit` (SPEC §9): the content-based deduplication id of that body.
const HELLO_SHA256: &str = "f99f1452be243d809bfbd536c5ddbe55cf474381703708bc6c5ebd0d19f578a3";

/// Creates `name` (which must end in `.fifo`) with FifoQueue=true plus `extra` attributes.
async fn create_fifo(env: &TestEnv, name: &str, extra: &[(&str, &str)]) -> String {
    let mut attrs = vec![("FifoQueue", "true")];
    attrs.extend_from_slice(extra);
    env.create_queue_with(name, &attrs).await
}

/// Sends a FIFO message with a group and an optional explicit deduplication id.
async fn send_fifo(env: &TestEnv, url: &str, body: &str, group: &str, dedup: Option<&str>) -> SendMessageOutput {
    env.client
        .send_message()
        .queue_url(url)
        .message_body(body)
        .message_group_id(group)
        .set_message_deduplication_id(dedup.map(str::to_owned))
        .send()
        .await
        .unwrap_or_else(|e| panic!("send {body:?} to group {group:?}: {e:?}"))
}

/// Sends `body` in `group` with the body as its deduplication id.
async fn send_in_group(env: &TestEnv, url: &str, body: &str, group: &str) -> SendMessageOutput {
    send_fifo(env, url, body, group, Some(body)).await
}

/// A system attribute of a received message.
fn sys(msg: &Message, name: MessageSystemAttributeName) -> Option<String> {
    msg.attributes().and_then(|a| a.get(&name)).cloned()
}

fn body(msg: &Message) -> &str {
    msg.body().unwrap()
}

fn bodies(msgs: &[Message]) -> Vec<&str> {
    msgs.iter().map(body).collect()
}

async fn delete(env: &TestEnv, url: &str, msg: &Message) {
    env.client
        .delete_message()
        .queue_url(url)
        .receipt_handle(msg.receipt_handle().unwrap())
        .send()
        .await
        .unwrap_or_else(|e| panic!("delete {:?}: {e:?}", msg.body()));
}

/// Receives up to `max` with a given visibility timeout and an optional ReceiveRequestAttemptId.
async fn receive_with(env: &TestEnv, url: &str, max: i32, visibility: i32, attempt: Option<&str>) -> Vec<Message> {
    env.client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .visibility_timeout(visibility)
        .wait_time_seconds(0)
        .set_receive_request_attempt_id(attempt.map(str::to_owned))
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default()
}

async fn create_err(
    env: &TestEnv,
    name: &str,
    attrs: &[(&str, &str)],
) -> aws_sdk_sqs::error::SdkError<CreateQueueError> {
    let mut req = env.client.create_queue().queue_name(name);
    for (k, v) in attrs {
        req = req.attributes(QueueAttributeName::from(*k), *v);
    }
    req.send().await.expect_err("create queue should fail")
}

// ---------------------------------------------------------------------------------------------------------------
// Names and attributes
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn fifo_suffix_without_fifo_queue_attribute_is_rejected() {
    // given no FifoQueue attribute
    let env = TestEnv::start().await;

    // when a queue named *.fifo is created
    let err = create_err(&env, "orders.fifo", &[]).await;

    // then AWS rejects the name for a standard queue
    expect_service_error(err, 400, "InvalidParameterValue", "");
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_queue_attribute_without_fifo_suffix_is_rejected() {
    let env = TestEnv::start().await;

    let err = create_err(&env, "orders", &[("FifoQueue", "true")]).await;

    expect_service_error(err, 400, "InvalidParameterValue", "");
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_queue_false_on_a_standard_queue_is_accepted() {
    let env = TestEnv::start().await;

    let url = env.create_queue_with("orders", &[("FifoQueue", "false")]).await;

    let attrs = env.attributes(&url).await;
    assert_eq!(attrs.get("FifoQueue"), None, "a standard queue does not report FifoQueue: {attrs:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn fresh_fifo_queue_reports_fifo_attribute_defaults() {
    let env = TestEnv::start().await;

    let url = create_fifo(&env, "orders.fifo", &[]).await;

    let attrs = env.attributes(&url).await;
    assert_eq!(attrs.get("FifoQueue").map(String::as_str), Some("true"));
    assert_eq!(attrs.get("ContentBasedDeduplication").map(String::as_str), Some("false"));
    assert_eq!(attrs.get("DeduplicationScope").map(String::as_str), Some("queue"));
    assert_eq!(attrs.get("FifoThroughputLimit").map(String::as_str), Some("perQueue"));
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_only_attributes_on_a_standard_queue_are_rejected_as_unknown() {
    let env = TestEnv::start().await;

    for (name, value) in
        [("ContentBasedDeduplication", "true"), ("DeduplicationScope", "queue"), ("FifoThroughputLimit", "perQueue")]
    {
        // when a standard queue is created with a FIFO-only attribute
        let err = create_err(&env, "plain", &[(name, value)]).await;

        // then it is an unknown attribute for this queue type (SPEC §6 CreateQueue [obs])
        expect_service_error(err, 400, "InvalidAttributeName", name);
    }
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_only_attribute_set_on_an_existing_standard_queue_is_rejected() {
    let env = TestEnv::start().await;
    let url = env.create_queue("plain").await;

    let err = env
        .client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::ContentBasedDeduplication, "true")
        .send()
        .await
        .unwrap_err();

    expect_service_error(err, 400, "InvalidAttributeName", "ContentBasedDeduplication");
    env.shutdown().await;
}

#[tokio::test]
async fn per_message_group_throughput_requires_message_group_deduplication_scope() {
    let env = TestEnv::start().await;

    // when high throughput is asked for with the default (queue) deduplication scope
    let err =
        create_err(&env, "bad.fifo", &[("FifoQueue", "true"), ("FifoThroughputLimit", "perMessageGroupId")]).await;

    // then the combination is invalid (the model's CreateQueue error for a bad attribute value)
    expect_service_error(err, 400, "InvalidAttributeValue", "FifoThroughputLimit");

    // and with DeduplicationScope=messageGroup it is accepted and reported
    let url = create_fifo(
        &env,
        "fast.fifo",
        &[("FifoThroughputLimit", "perMessageGroupId"), ("DeduplicationScope", "messageGroup")],
    )
    .await;
    let attrs = env.attributes(&url).await;
    assert_eq!(attrs.get("FifoThroughputLimit").map(String::as_str), Some("perMessageGroupId"));
    assert_eq!(attrs.get("DeduplicationScope").map(String::as_str), Some("messageGroup"));
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_queue_attribute_cannot_change_after_creation() {
    let env = TestEnv::start().await;
    let fifo = create_fifo(&env, "orders.fifo", &[]).await;
    let standard = env.create_queue("plain").await;

    for (url, value) in [(&fifo, "false"), (&standard, "true")] {
        // when FifoQueue is flipped by SetQueueAttributes
        let err = env
            .client
            .set_queue_attributes()
            .queue_url(url)
            .attributes(QueueAttributeName::FifoQueue, value)
            .send()
            .await
            .unwrap_err();

        // then it is rejected (SPEC §6 SetQueueAttributes [obs])
        expect_service_error(err, 400, "InvalidAttributeValue", "FifoQueue");
    }
    assert_eq!(env.attributes(&fifo).await.get("FifoQueue").map(String::as_str), Some("true"));
    assert_eq!(env.attributes(&standard).await.get("FifoQueue"), None);
    env.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Send validation
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn fifo_send_without_message_group_id_is_missing_parameter() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[("ContentBasedDeduplication", "true")]).await;

    let err = env.client.send_message().queue_url(&url).message_body("x").send().await.unwrap_err();

    expect_service_error(err, 400, "MissingParameter", "The request must contain the parameter MessageGroupId.");
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_send_without_deduplication_id_needs_content_based_deduplication() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;

    let err =
        env.client.send_message().queue_url(&url).message_body("x").message_group_id("g").send().await.unwrap_err();

    expect_service_error(
        err,
        400,
        "InvalidParameterValue",
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
    );
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_send_rejects_positive_per_message_delay_and_accepts_zero() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[("ContentBasedDeduplication", "true")]).await;
    let send = |body: &'static str, delay: i32| {
        env.client.send_message().queue_url(&url).message_body(body).message_group_id("g").delay_seconds(delay).send()
    };

    expect_service_error(
        send("late", 5).await.unwrap_err(),
        400,
        "InvalidParameterValue",
        "Value 5 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for \
         this queue type.",
    );
    let accepted = send("now", 0).await;

    assert!(accepted.is_ok(), "DelaySeconds=0 is accepted on FIFO: {accepted:?}");
    let msgs = env.receive(&url, 10).await;
    assert_eq!(bodies(&msgs), ["now"]);
    env.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Order, group blocking, fairness
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn next_message_of_a_group_is_delivered_only_after_the_previous_one_is_deleted() {
    // given three messages in one group
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    for b in ["m1", "m2", "m3"] {
        send_in_group(&env, &url, b, "g").await;
    }

    // when the head is received and still in flight
    let first = env.receive_one(&url).await;
    assert_eq!(body(&first), "m1");

    // then the group is blocked
    assert!(env.receive(&url, 10).await.is_empty(), "group must be blocked while m1 is in flight");

    // and after the delete the next one comes, in order
    delete(&env, &url, &first).await;
    let second = env.receive_one(&url).await;
    assert_eq!(body(&second), "m2");
    assert!(env.receive(&url, 10).await.is_empty());
    delete(&env, &url, &second).await;
    assert_eq!(body(&env.receive_one(&url).await), "m3");
    env.shutdown().await;
}

#[tokio::test]
async fn group_stays_blocked_until_visibility_expires_then_redelivers_the_same_head() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    for b in ["m1", "m2"] {
        send_in_group(&env, &url, b, "g").await;
    }

    let first = receive_with(&env, &url, 1, 30, None).await;
    assert_eq!(bodies(&first), ["m1"]);

    env.advance(29);
    assert!(env.receive(&url, 10).await.is_empty(), "still in flight at 29 s");

    env.advance(1);
    let again = receive_with(&env, &url, 1, 30, None).await;
    assert_eq!(bodies(&again), ["m1"], "the oldest message of the group comes back first, never m2");
    assert_eq!(sys(&again[0], MessageSystemAttributeName::ApproximateReceiveCount).as_deref(), Some("2"));
    env.shutdown().await;
}

#[tokio::test]
async fn one_receive_returns_a_groups_messages_in_send_order() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    let sent: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
    for b in &sent {
        send_in_group(&env, &url, b, "g").await;
    }

    let got = env.receive(&url, 10).await;

    // AWS may return fewer, but whatever it returns of one group is a prefix in send order
    assert!(!got.is_empty());
    assert_eq!(bodies(&got), sent[..got.len()].iter().map(String::as_str).collect::<Vec<_>>());
    env.shutdown().await;
}

#[tokio::test]
async fn every_group_is_served_while_the_others_are_blocked() {
    // given three groups, interleaved
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    for (b, g) in [("a1", "a"), ("b1", "b"), ("a2", "a"), ("c1", "c"), ("b2", "b")] {
        send_in_group(&env, &url, b, g).await;
    }

    // when consumers receive one message at a time without deleting
    let mut heads = BTreeSet::new();
    for _ in 0..3 {
        let msg = env.receive_one(&url).await;
        heads.insert(body(&msg).to_owned());
    }

    // then each group delivered its head and nothing else is available
    assert_eq!(heads, BTreeSet::from(["a1".to_owned(), "b1".to_owned(), "c1".to_owned()]));
    assert!(env.receive(&url, 10).await.is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn a_hot_group_does_not_starve_a_later_group() {
    // given a hot group with a long backlog, then one message of another group
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    for i in 0..30 {
        send_in_group(&env, &url, &format!("hot-{i}"), "hot").await;
    }
    send_in_group(&env, &url, "cold-0", "cold").await;

    // when one consumer receives one message at a time and deletes it at once
    let mut order = Vec::new();
    for _ in 0..5 {
        let msg = env.receive_one(&url).await;
        order.push(body(&msg).to_owned());
        delete(&env, &url, &msg).await;
    }

    // then the cold group is served within the first few receives, and the hot group keeps its order
    assert!(order.iter().any(|b| b == "cold-0"), "cold group starved behind the hot one: {order:?}");
    let hot: Vec<&String> = order.iter().filter(|b| b.starts_with("hot-")).collect();
    let expected: Vec<String> = (0..hot.len()).map(|i| format!("hot-{i}")).collect();
    assert_eq!(hot, expected.iter().collect::<Vec<_>>());
    env.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Deduplication
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn duplicate_inside_the_window_returns_the_original_id_and_enqueues_nothing() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    let original = send_fifo(&env, &url, "first", "g", Some("d-1")).await;

    env.advance(299);
    let duplicate = send_fifo(&env, &url, "second body", "g", Some("d-1")).await;

    assert_eq!(duplicate.message_id(), original.message_id());
    assert_eq!(duplicate.sequence_number(), original.sequence_number());
    assert_eq!(env.counts(&url).await, (1, 0, 0));
    let msgs = env.receive(&url, 10).await;
    assert_eq!(bodies(&msgs), ["first"]);
    env.shutdown().await;
}

#[tokio::test]
async fn window_is_not_extended_by_duplicates_and_a_send_after_it_enqueues_again() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    let original = send_fifo(&env, &url, "first", "g", Some("d-1")).await;

    // a duplicate at 200 s does not restart the 5-minute window
    env.advance(200);
    assert_eq!(send_fifo(&env, &url, "dup", "g", Some("d-1")).await.message_id(), original.message_id());

    // at 301 s after the first send the same id is accepted as a new message
    env.advance(101);
    let again = send_fifo(&env, &url, "again", "g", Some("d-1")).await;

    assert_ne!(again.message_id(), original.message_id());
    assert!(
        again.sequence_number().unwrap().parse::<u128>().unwrap()
            > original.sequence_number().unwrap().parse().unwrap()
    );
    assert_eq!(env.counts(&url).await, (2, 0, 0));
    let msgs = env.receive(&url, 10).await;
    assert_eq!(bodies(&msgs), ["first", "again"]);
    env.shutdown().await;
}

#[tokio::test]
async fn deduplication_survives_receive_and_delete_of_the_original() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    let original = send_fifo(&env, &url, "first", "g", Some("d-1")).await;
    let msg = env.receive_one(&url).await;
    delete(&env, &url, &msg).await;

    let duplicate = send_fifo(&env, &url, "first", "g", Some("d-1")).await;

    assert_eq!(duplicate.message_id(), original.message_id());
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn content_based_deduplication_uses_the_sha256_of_the_body_only() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[("ContentBasedDeduplication", "true")]).await;

    // when the same body is sent twice, the second time with a message attribute
    let first = send_fifo(&env, &url, "Hello from sqskit", "g", None).await;
    let second = env
        .client
        .send_message()
        .queue_url(&url)
        .message_body("Hello from sqskit")
        .message_group_id("g")
        .message_attributes("Extra", str_attr("String", "x"))
        .send()
        .await
        .unwrap();
    let other = send_fifo(&env, &url, "Hello from sqskit!", "g", None).await;

    // then attributes do not take part: one message, and a different body is a new message
    assert_eq!(second.message_id(), first.message_id());
    assert_ne!(other.message_id(), first.message_id());
    let msgs = env.receive(&url, 10).await;
    assert_eq!(bodies(&msgs), ["Hello from sqskit", "Hello from sqskit!"]);
    assert_eq!(sys(&msgs[0], MessageSystemAttributeName::MessageDeduplicationId).as_deref(), Some(HELLO_SHA256));
    env.shutdown().await;
}

#[tokio::test]
async fn explicit_deduplication_id_takes_precedence_over_content() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[("ContentBasedDeduplication", "true")]).await;

    let a = send_fifo(&env, &url, "same", "g", Some("id-a")).await;
    let b = send_fifo(&env, &url, "same", "g", Some("id-b")).await;

    assert_ne!(a.message_id(), b.message_id());
    let msgs = env.receive(&url, 10).await;
    assert_eq!(msgs.len(), 2);
    assert_eq!(sys(&msgs[0], MessageSystemAttributeName::MessageDeduplicationId).as_deref(), Some("id-a"));
    assert_eq!(sys(&msgs[1], MessageSystemAttributeName::MessageDeduplicationId).as_deref(), Some("id-b"));
    env.shutdown().await;
}

#[tokio::test]
async fn message_group_deduplication_scope_keeps_the_same_id_apart_in_two_groups() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[("DeduplicationScope", "messageGroup")]).await;

    let in_a = send_fifo(&env, &url, "a", "group-a", Some("same-id")).await;
    let in_b = send_fifo(&env, &url, "b", "group-b", Some("same-id")).await;
    let again_in_a = send_fifo(&env, &url, "a again", "group-a", Some("same-id")).await;

    assert_ne!(in_a.message_id(), in_b.message_id(), "same id in two groups gives two messages");
    assert_eq!(again_in_a.message_id(), in_a.message_id(), "same id in the same group is a duplicate");
    assert_eq!(env.counts(&url).await, (2, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn queue_deduplication_scope_dedups_across_groups() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;

    let in_a = send_fifo(&env, &url, "a", "group-a", Some("same-id")).await;
    let in_b = send_fifo(&env, &url, "b", "group-b", Some("same-id")).await;

    assert_eq!(in_b.message_id(), in_a.message_id());
    assert_eq!(env.counts(&url).await, (1, 0, 0));
    env.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// SequenceNumber and system attributes
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn sequence_numbers_are_long_increasing_and_repeated_on_receive() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;

    let mut sent = Vec::new();
    for (b, g) in [("a1", "a"), ("b1", "b"), ("a2", "a")] {
        sent.push(send_in_group(&env, &url, b, g).await.sequence_number().unwrap().to_owned());
    }

    for seq in &sent {
        assert!(seq.len() >= 20 && seq.bytes().all(|c| c.is_ascii_digit()), "SequenceNumber {seq:?}");
    }
    let numbers: Vec<u128> = sent.iter().map(|s| s.parse().unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "increasing: {sent:?}");
    let by_body: HashMap<String, String> = env
        .receive(&url, 10)
        .await
        .iter()
        .map(|m| (body(m).to_owned(), sys(m, MessageSystemAttributeName::SequenceNumber).unwrap()))
        .collect();
    assert_eq!(by_body.get("a1"), Some(&sent[0]));
    assert_eq!(by_body.get("b1"), Some(&sent[1]));
    assert_eq!(by_body.get("a2"), Some(&sent[2]));
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_receive_reports_group_deduplication_id_and_sequence_number() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    let sent = send_fifo(&env, &url, "payload", "tenant-7", Some("dedup-42")).await;

    let msg = env.receive_one(&url).await;

    assert_eq!(msg.message_id(), sent.message_id());
    assert_eq!(sys(&msg, MessageSystemAttributeName::MessageGroupId).as_deref(), Some("tenant-7"));
    assert_eq!(sys(&msg, MessageSystemAttributeName::MessageDeduplicationId).as_deref(), Some("dedup-42"));
    assert_eq!(sys(&msg, MessageSystemAttributeName::SequenceNumber).as_deref(), sent.sequence_number());
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_send_batch_enqueues_entries_in_request_order() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    let entries: Vec<SendMessageBatchRequestEntry> = (0..5)
        .map(|i| {
            SendMessageBatchRequestEntry::builder()
                .id(format!("e{i}"))
                .message_body(format!("m{i}"))
                .message_group_id("g")
                .message_deduplication_id(format!("d{i}"))
                .build()
                .unwrap()
        })
        .collect();

    let out = env.client.send_message_batch().queue_url(&url).set_entries(Some(entries)).send().await.unwrap();

    assert!(out.failed().is_empty(), "{:?}", out.failed());
    let seqs: HashMap<&str, u128> =
        out.successful().iter().map(|s| (s.id(), s.sequence_number().unwrap().parse().unwrap())).collect();
    assert!((1..5).all(|i| seqs[format!("e{}", i - 1).as_str()] < seqs[format!("e{i}").as_str()]), "{seqs:?}");
    let mut got = Vec::new();
    while got.len() < 5 {
        let msgs = env.receive(&url, 10).await;
        assert!(!msgs.is_empty(), "queue ran dry after {got:?}");
        for m in &msgs {
            got.push(body(m).to_owned());
            delete(&env, &url, m).await;
        }
    }
    assert_eq!(got, ["m0", "m1", "m2", "m3", "m4"]);
    env.shutdown().await;
}

#[tokio::test]
async fn a_duplicate_inside_one_batch_answers_with_the_first_entry_id() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    let entry = |id: &str, body: &str| {
        SendMessageBatchRequestEntry::builder()
            .id(id)
            .message_body(body)
            .message_group_id("g")
            .message_deduplication_id("same")
            .build()
            .unwrap()
    };

    let out = env
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("first", "one"))
        .entries(entry("second", "two"))
        .send()
        .await
        .unwrap();

    assert!(out.failed().is_empty(), "{:?}", out.failed());
    let ids: HashMap<&str, &str> = out.successful().iter().map(|s| (s.id(), s.message_id())).collect();
    assert_eq!(ids["second"], ids["first"]);
    assert_eq!(env.counts(&url).await, (1, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_batch_entry_with_a_delay_fails_alone() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[("ContentBasedDeduplication", "true")]).await;
    let entry = |id: &str, delay: i32| {
        SendMessageBatchRequestEntry::builder()
            .id(id)
            .message_body(id)
            .message_group_id("g")
            .delay_seconds(delay)
            .build()
            .unwrap()
    };

    let out = env
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("late", 5))
        .entries(entry("now", 0))
        .send()
        .await
        .unwrap();

    assert_eq!(out.successful().iter().map(|s| s.id()).collect::<Vec<_>>(), ["now"]);
    assert_eq!(out.failed().len(), 1);
    let failed = &out.failed()[0];
    assert_eq!(failed.id(), "late");
    assert_eq!(failed.code(), "InvalidParameterValue");
    assert!(failed.sender_fault());
    assert!(
        failed
            .message()
            .unwrap_or_default()
            .contains("The request include parameter that is not valid for this queue type"),
        "{failed:?}"
    );
    env.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// ReceiveRequestAttemptId
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn retried_receive_request_attempt_returns_the_same_messages_and_handles() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    for (b, g) in [("a1", "a"), ("a2", "a"), ("b1", "b")] {
        send_in_group(&env, &url, b, g).await;
    }

    let first = receive_with(&env, &url, 2, 60, Some("attempt-1")).await;
    env.advance(10);
    let retry = receive_with(&env, &url, 2, 60, Some("attempt-1")).await;

    assert!(!first.is_empty());
    let ids = |ms: &[Message]| -> Vec<(String, String)> {
        ms.iter().map(|m| (m.message_id().unwrap().to_owned(), m.receipt_handle().unwrap().to_owned())).collect()
    };
    assert_eq!(ids(&retry), ids(&first), "same messages and the same receipt handles");
    // the original handles still work
    for m in &first {
        delete(&env, &url, m).await;
    }
    env.shutdown().await;
}

#[tokio::test]
async fn receive_request_attempt_after_a_delete_performs_a_new_receive() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    for b in ["m1", "m2"] {
        send_in_group(&env, &url, b, "g").await;
    }
    let first = receive_with(&env, &url, 1, 60, Some("attempt-1")).await;
    assert_eq!(bodies(&first), ["m1"]);

    // when the received message is deleted and the attempt is retried
    delete(&env, &url, &first[0]).await;
    let retry = receive_with(&env, &url, 1, 60, Some("attempt-1")).await;

    // then the retry is a fresh receive
    assert_eq!(bodies(&retry), ["m2"]);
    env.shutdown().await;
}

#[tokio::test]
async fn retried_receive_request_attempt_resets_the_visibility_timeout() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    send_in_group(&env, &url, "m1", "g").await;
    receive_with(&env, &url, 1, 30, Some("attempt-1")).await;

    // retry at 20 s: the timeout starts again
    env.advance(20);
    assert_eq!(receive_with(&env, &url, 1, 30, Some("attempt-1")).await.len(), 1);

    // at 40 s (past the first timeout, inside the renewed one) the message is still in flight
    env.advance(20);
    assert_eq!(env.counts(&url).await, (0, 1, 0));
    env.advance(10);
    assert_eq!(env.counts(&url).await, (1, 0, 0));
    env.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Receipt handles
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn fifo_delete_with_an_expired_receipt_handle_is_rejected() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    send_in_group(&env, &url, "m1", "g").await;
    let msg = receive_with(&env, &url, 1, 10, None).await.remove(0);

    // when the visibility timeout has passed
    env.advance(11);
    let handle = msg.receipt_handle().unwrap();
    let err = env.client.delete_message().queue_url(&url).receipt_handle(handle).send().await.unwrap_err();

    // then the handle is expired and the message is still there
    expect_service_error(
        err,
        400,
        "InvalidParameterValue",
        &format!("Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."),
    );
    assert_eq!(env.counts(&url).await, (1, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_delete_with_a_handle_superseded_by_a_later_receive_is_rejected_as_expired() {
    // given a message received, left to time out, and received again
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    send_in_group(&env, &url, "m1", "g").await;
    let first = receive_with(&env, &url, 1, 10, None).await.remove(0);
    env.advance(11);
    let second = receive_with(&env, &url, 1, 60, None).await.remove(0);
    assert_eq!(second.message_id(), first.message_id());

    // when the first (expired) handle is used
    let handle = first.receipt_handle().unwrap();
    let err = env.client.delete_message().queue_url(&url).receipt_handle(handle).send().await.unwrap_err();

    // then FIFO rejects it as expired, and the message stays in flight for the second consumer
    expect_service_error(err, 400, "InvalidParameterValue", "The receipt handle has expired");
    assert_eq!(env.counts(&url).await, (0, 1, 0));
    delete(&env, &url, &second).await;
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_delete_after_the_original_timeout_works_when_visibility_was_extended() {
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    send_in_group(&env, &url, "m1", "g").await;
    let msg = receive_with(&env, &url, 1, 10, None).await.remove(0);

    env.advance(5);
    env.client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(msg.receipt_handle().unwrap())
        .visibility_timeout(60)
        .send()
        .await
        .unwrap();
    env.advance(15);
    delete(&env, &url, &msg).await;

    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn receive_request_attempt_is_not_replayed_after_a_visibility_change() {
    // given a receive with an attempt id whose message then had its visibility changed
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[]).await;
    send_in_group(&env, &url, "m1", "g").await;
    let first = receive_with(&env, &url, 1, 30, Some("attempt-1")).await.remove(0);
    env.client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(first.receipt_handle().unwrap())
        .visibility_timeout(120)
        .send()
        .await
        .unwrap();

    // when the attempt is retried
    let retry = env
        .client
        .receive_message()
        .queue_url(&url)
        .receive_request_attempt_id("attempt-1")
        .wait_time_seconds(0)
        .send()
        .await;

    // then AWS does not hand the modified message out again: "It is possible to retry ... if none of the messages
    // have been modified (deleted or had their visibility changes)" (ReceiveMessage API reference)
    if let Ok(out) = retry {
        let handles: Vec<&str> = out.messages().iter().filter_map(|m| m.receipt_handle()).collect();
        assert!(!handles.contains(&first.receipt_handle().unwrap()), "modified message replayed: {out:?}");
    }
    env.shutdown().await;
}

#[tokio::test]
async fn a_delayed_head_message_blocks_its_group() {
    // given a queue delay of 10 s for the head, then no delay for the next message of the group
    let env = TestEnv::start().await;
    let url = create_fifo(&env, "orders.fifo", &[("DelaySeconds", "10")]).await;
    send_in_group(&env, &url, "m1", "g").await;
    env.set_attrs(&url, &[("DelaySeconds", "0")]).await;
    send_in_group(&env, &url, "m2", "g").await;
    send_in_group(&env, &url, "other", "h").await;

    // then while m1 is delayed m2 is not delivered, other groups are
    let now = env.receive(&url, 10).await;
    assert_eq!(bodies(&now), ["other"]);

    env.advance(10);
    let later = env.receive(&url, 10).await;
    assert_eq!(bodies(&later)[0], "m1");
    env.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Standard (fair) queues
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn standard_queue_accepts_message_group_id_and_returns_it_without_sequence_number() {
    let env = TestEnv::start().await;
    let url = env.create_queue("tenants").await;

    let out = env
        .client
        .send_message()
        .queue_url(&url)
        .message_body("work")
        .message_group_id("tenant-1")
        .send()
        .await
        .unwrap();

    assert_eq!(out.sequence_number(), None);
    let msg = env.receive_one(&url).await;
    assert_eq!(sys(&msg, MessageSystemAttributeName::MessageGroupId).as_deref(), Some("tenant-1"));
    assert_eq!(sys(&msg, MessageSystemAttributeName::SequenceNumber), None);
    assert_eq!(sys(&msg, MessageSystemAttributeName::MessageDeduplicationId), None);
    env.shutdown().await;
}

#[tokio::test]
async fn standard_queue_does_not_block_a_message_group_while_in_flight() {
    let env = TestEnv::start().await;
    let url = env.create_queue("tenants").await;
    for b in ["w1", "w2"] {
        env.client.send_message().queue_url(&url).message_body(b).message_group_id("tenant-1").send().await.unwrap();
    }

    let first = env.receive_one(&url).await;
    let second = env.receive_one(&url).await;

    let got = BTreeSet::from([body(&first).to_owned(), body(&second).to_owned()]);
    assert_eq!(got, BTreeSet::from(["w1".to_owned(), "w2".to_owned()]), "fair queues process a group in parallel");
    env.shutdown().await;
}

#[tokio::test]
async fn standard_queue_rejects_message_deduplication_id() {
    let env = TestEnv::start().await;
    let url = env.create_queue("plain").await;

    let err = env
        .client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_deduplication_id("d-1")
        .send()
        .await
        .unwrap_err();

    expect_service_error(
        err,
        400,
        "InvalidParameterValue",
        "The request include parameter that is not valid for this queue type",
    );
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}
