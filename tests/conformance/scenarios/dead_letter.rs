//! Dead-letter queues (issue 4, SPEC §7, §13): RedrivePolicy and RedriveAllowPolicy validation on create and
//! set, the move on the receive that would exceed maxReceiveCount (identity, body, attributes, receive count,
//! DeadLetterQueueSourceArn), retention after a move on standard and FIFO dead-letter queues. Virtual time only.

use std::time::Duration;

use serde_json::Value;
use sqskit::backend::{ReceivedMessage, SendEntry};
use sqskit::integrity::{md5_of_attributes, md5_of_body};
use sqskit::types::{MessageAttribute, MessageAttributes, QueueAttributeName, SystemAttributeName};
use sqskit::{Error, ServiceErrorCode};

use super::common::{
    assert_service_error, attributes, bodies, counts, fifo_entry, queue_attributes, receive, receive_hidden_for, send,
    send_entry,
};
use crate::support::TestContext;

/// The queue's ARN, as it reports it.
async fn arn(ctx: &TestContext, url: &str) -> String {
    attributes(ctx, url).await.queue_arn().expect("QueueArn").to_owned()
}

/// The ARN a queue called `name` would have, next to the queue at `url`.
async fn arn_beside(ctx: &TestContext, url: &str, name: &str) -> String {
    let existing = arn(ctx, url).await;
    let (prefix, _) = existing.rsplit_once(':').expect("an ARN");
    format!("{prefix}:{name}")
}

fn redrive(target_arn: &str, max_receive_count: u32) -> String {
    format!(r#"{{"deadLetterTargetArn":"{target_arn}","maxReceiveCount":{max_receive_count}}}"#)
}

async fn set(ctx: &TestContext, url: &str, name: &str, value: &str) -> Result<(), Error> {
    ctx.backend.set_queue_attributes(url, &queue_attributes(&[(name, value)])).await
}

async fn reported(ctx: &TestContext, url: &str, name: &str) -> Option<Value> {
    let attributes = attributes(ctx, url).await;
    attributes.get(&QueueAttributeName::parse(name)).map(|text| serde_json::from_str(text).expect("a JSON document"))
}

/// The one message a receive returned.
fn only(messages: &[ReceivedMessage]) -> &ReceivedMessage {
    assert_eq!(messages.len(), 1, "{messages:?}");
    &messages[0]
}

fn assert_parameter_or_attribute_error(error: &Error, what: &str) {
    // AWS's exact code for a bad document is unverified (SPEC §7): either 400 attribute/parameter error.
    let Error::Service { code, fault, .. } = error else { panic!("{what}: not a service error: {error:?}") };
    let allowed = [ServiceErrorCode::InvalidParameterValue, ServiceErrorCode::InvalidAttributeValue];
    assert!(allowed.contains(code), "{what}: {error:?}");
    assert_eq!(*fault, Some(sqskit::Fault::Sender), "{what}: {error:?}");
}

pub async fn max_receive_count_must_be_between_1_and_1000(ctx: &TestContext) {
    let dlq = ctx.create_queue("dlq").await;
    let dlq_arn = arn(ctx, &dlq).await;
    let source = ctx.create_queue("source").await;

    for bad in [0, 1001] {
        let error = set(ctx, &source, "RedrivePolicy", &redrive(&dlq_arn, bad)).await.expect_err("out of range");

        // SPEC §13: redrive policy violations are InvalidParameterValue on AWS.
        assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "RedrivePolicy");
        assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "maxReceiveCount");
        assert_eq!(reported(ctx, &source, "RedrivePolicy").await, None);
    }
    for good in [1, 1000] {
        set(ctx, &source, "RedrivePolicy", &redrive(&dlq_arn, good)).await.expect("in range");
        assert_eq!(reported(ctx, &source, "RedrivePolicy").await.expect("set")["maxReceiveCount"], good);
    }
}

pub async fn redrive_policy_is_reported_with_a_numeric_max_receive_count(ctx: &TestContext) {
    let dlq = ctx.create_queue("dlq").await;
    let dlq_arn = arn(ctx, &dlq).await;
    // maxReceiveCount may arrive as a string, on create and on set.
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"5"}}"#);
    let created = ctx.create_queue_with("created", queue_attributes(&[("RedrivePolicy", &policy)])).await;
    let updated = ctx.create_queue("updated").await;
    set(ctx, &updated, "RedrivePolicy", &policy).await.expect("set");

    for url in [created, updated] {
        let stored = reported(ctx, &url, "RedrivePolicy").await.expect("RedrivePolicy in All");
        assert_eq!(stored["deadLetterTargetArn"], dlq_arn.as_str());
        assert_eq!(stored["maxReceiveCount"], 5, "returned as a number: {stored}");
    }
}

pub async fn redrive_policy_naming_a_missing_queue_is_rejected(ctx: &TestContext) {
    let source = ctx.create_queue("source").await;
    let missing = redrive(&arn_beside(ctx, &source, "no-such-dlq").await, 3);

    let on_set = set(ctx, &source, "RedrivePolicy", &missing).await.expect_err("missing target");
    let on_create = ctx
        .backend
        .create_queue("orders", &queue_attributes(&[("RedrivePolicy", &missing)]), &Default::default())
        .await
        .expect_err("missing target");

    assert_service_error(&on_set, &ServiceErrorCode::InvalidParameterValue, "RedrivePolicy");
    assert_eq!(reported(ctx, &source, "RedrivePolicy").await, None);
    // AWS: "Value ... for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist."
    assert_service_error(&on_create, &ServiceErrorCode::InvalidParameterValue, "Dead letter target does not exist");
    assert_eq!(ctx.backend.list_queues(None).await.expect("list"), [source]);
}

pub async fn redrive_policy_without_a_target_is_rejected(ctx: &TestContext) {
    let source = ctx.create_queue("source").await;

    let error = set(ctx, &source, "RedrivePolicy", r#"{"maxReceiveCount":3}"#).await.expect_err("no target");

    assert_parameter_or_attribute_error(&error, "RedrivePolicy without a target");
    assert!(error.to_string().contains("RedrivePolicy"), "{error}");
    assert_eq!(reported(ctx, &source, "RedrivePolicy").await, None);
}

pub async fn a_dead_letter_queue_must_be_the_same_queue_type_as_its_source(ctx: &TestContext) {
    let fifo = queue_attributes(&[("FifoQueue", "true")]);
    let standard_dlq = arn(ctx, &ctx.create_queue("standard-dlq").await).await;
    let fifo_dlq = arn(ctx, &ctx.create_queue_with("fifo-dlq.fifo", fifo.clone()).await).await;
    let fifo_source = ctx.create_queue_with("source.fifo", fifo).await;
    let standard_source = ctx.create_queue("source").await;

    let fifo_to_standard = set(ctx, &fifo_source, "RedrivePolicy", &redrive(&standard_dlq, 3)).await;
    let standard_to_fifo = set(ctx, &standard_source, "RedrivePolicy", &redrive(&fifo_dlq, 3)).await;

    for error in [fifo_to_standard.expect_err("FIFO → standard"), standard_to_fifo.expect_err("standard → FIFO")] {
        assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "RedrivePolicy");
    }
    set(ctx, &fifo_source, "RedrivePolicy", &redrive(&fifo_dlq, 3)).await.expect("FIFO → FIFO is fine");
}

pub async fn redrive_allow_policy_deny_all_refuses_every_source(ctx: &TestContext) {
    let deny = queue_attributes(&[("RedriveAllowPolicy", r#"{"redrivePermission":"denyAll"}"#)]);
    let dlq_arn = arn(ctx, &ctx.create_queue_with("dlq", deny).await).await;
    let source = ctx.create_queue("source").await;

    let error = set(ctx, &source, "RedrivePolicy", &redrive(&dlq_arn, 3)).await.expect_err("denied");

    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "RedrivePolicy");
    assert_eq!(reported(ctx, &source, "RedrivePolicy").await, None);
}

pub async fn redrive_allow_policy_by_queue_admits_only_the_listed_sources(ctx: &TestContext) {
    let allowed = ctx.create_queue("allowed").await;
    let allowed_arn = arn(ctx, &allowed).await;
    let other = ctx.create_queue("other").await;
    let allow = format!(r#"{{"redrivePermission":"byQueue","sourceQueueArns":["{allowed_arn}"]}}"#);
    let dlq = ctx.create_queue_with("dlq", queue_attributes(&[("RedriveAllowPolicy", &allow)])).await;
    let dlq_arn = arn(ctx, &dlq).await;

    set(ctx, &allowed, "RedrivePolicy", &redrive(&dlq_arn, 3)).await.expect("the listed source");
    let error = set(ctx, &other, "RedrivePolicy", &redrive(&dlq_arn, 3)).await.expect_err("another source");

    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "RedrivePolicy");
    let stored = reported(ctx, &dlq, "RedriveAllowPolicy").await.expect("reported");
    assert_eq!(stored["redrivePermission"], "byQueue");
    assert_eq!(stored["sourceQueueArns"], serde_json::json!([allowed_arn]));
}

pub async fn redrive_allow_policy_also_applies_when_the_source_is_created(ctx: &TestContext) {
    let deny = queue_attributes(&[("RedriveAllowPolicy", r#"{"redrivePermission":"denyAll"}"#)]);
    let dlq = ctx.create_queue_with("dlq", deny).await;
    let policy = queue_attributes(&[("RedrivePolicy", &redrive(&arn(ctx, &dlq).await, 3))]);

    let error = ctx.backend.create_queue("source", &policy, &Default::default()).await.expect_err("denied");

    assert_service_error(&error, &ServiceErrorCode::InvalidParameterValue, "RedrivePolicy");
    assert_eq!(ctx.backend.list_queues(None).await.expect("list"), [dlq]);
}

pub async fn malformed_redrive_allow_policies_are_rejected(ctx: &TestContext) {
    let dlq = ctx.create_queue("dlq").await;
    let mut source_arns = Vec::new();
    for i in 0..11 {
        source_arns.push(format!("\"{}\"", arn_beside(ctx, &dlq, &format!("s{i}")).await));
    }
    let cases = [
        r#"{"redrivePermission":"byQueue"}"#.to_owned(),
        format!(r#"{{"redrivePermission":"byQueue","sourceQueueArns":[{}]}}"#, source_arns.join(",")),
        format!(r#"{{"redrivePermission":"denyAll","sourceQueueArns":[{}]}}"#, source_arns[0]),
        r#"{"redrivePermission":"sometimes"}"#.to_owned(),
    ];

    for policy in &cases {
        let error = set(ctx, &dlq, "RedriveAllowPolicy", policy).await.expect_err(policy);

        assert_parameter_or_attribute_error(&error, policy);
    }
    assert_eq!(reported(ctx, &dlq, "RedriveAllowPolicy").await, None);
}

pub async fn a_message_moves_on_the_receive_after_max_receive_count(ctx: &TestContext) {
    let dlq = ctx.create_queue("dlq").await;
    let policy = redrive(&arn(ctx, &dlq).await, 3);
    let source = ctx.create_queue_with("source", queue_attributes(&[("RedrivePolicy", &policy)])).await;
    let kind = MessageAttributes::new().with("Kind", MessageAttribute::string("order"));
    let sent = send_entry(ctx, &source, SendEntry { attributes: kind.clone(), ..SendEntry::new("m", "poison") })
        .await
        .expect("send");

    for n in 1..=3 {
        let got = receive_hidden_for(ctx, &source, 10, 0).await;
        assert_eq!(only(&got).receive_count(), Some(n), "receive {n} delivers the message");
    }

    // The fourth receive returns nothing from the source; the dead-letter queue has it, unchanged.
    assert!(receive_hidden_for(ctx, &source, 10, 30).await.is_empty());
    assert_eq!(counts(ctx, &source).await, (0, 0, 0));
    assert_eq!(counts(ctx, &dlq).await, (1, 0, 0));
    let moved = receive_hidden_for(ctx, &dlq, 10, 30).await;
    let moved = only(&moved);
    assert_eq!(moved.message_id, sent.message_id);
    assert_eq!(moved.body, "poison");
    assert_eq!(moved.md5_of_body, Some(md5_of_body("poison")));
    assert_eq!(moved.attributes, kind);
    assert_eq!(moved.md5_of_message_attributes, md5_of_attributes(&kind));
    let source_arn = moved.system_attributes.get(&SystemAttributeName::DeadLetterQueueSourceArn);
    assert_eq!(source_arn, Some(&arn(ctx, &source).await));
    // Three receives on the source carried over, plus this one: "received across all queues" (API reference).
    assert_eq!(moved.receive_count(), Some(4));
}

pub async fn a_moved_message_keeps_its_sent_timestamp(ctx: &TestContext) {
    let dlq = ctx.create_queue("dlq").await;
    let policy = redrive(&arn(ctx, &dlq).await, 1);
    let source = ctx.create_queue_with("source", queue_attributes(&[("RedrivePolicy", &policy)])).await;
    send(ctx, &source, "poison").await;
    let first = receive_hidden_for(ctx, &source, 10, 0).await.remove(0);

    ctx.advance(Duration::from_secs(7));
    assert!(receive_hidden_for(ctx, &source, 10, 0).await.is_empty());
    let moved = receive_hidden_for(ctx, &dlq, 10, 30).await.remove(0);

    assert!(first.sent_at().is_some());
    assert_eq!(moved.sent_at(), first.sent_at());
}

pub async fn a_message_moves_after_its_visibility_timeouts_expire(ctx: &TestContext) {
    let dlq = ctx.create_queue("dlq").await;
    let policy = redrive(&arn(ctx, &dlq).await, 2);
    let attributes = queue_attributes(&[("RedrivePolicy", &policy), ("VisibilityTimeout", "30")]);
    let source = ctx.create_queue_with("source", attributes).await;
    send(ctx, &source, "poison").await;

    for _ in 0..2 {
        assert_eq!(receive(ctx, &source, 1).await.len(), 1);
        assert!(receive(ctx, &source, 1).await.is_empty(), "hidden while in flight");
        ctx.advance(Duration::from_secs(30));
    }

    // The third receive moves it instead of delivering it.
    assert!(receive(ctx, &source, 1).await.is_empty());
    assert_eq!(counts(ctx, &dlq).await, (1, 0, 0));
    assert_eq!(counts(ctx, &source).await, (0, 0, 0));
}

pub async fn messages_below_max_receive_count_stay_in_the_source(ctx: &TestContext) {
    let dlq = ctx.create_queue("dlq").await;
    let policy = redrive(&arn(ctx, &dlq).await, 2);
    let source = ctx.create_queue_with("source", queue_attributes(&[("RedrivePolicy", &policy)])).await;
    send(ctx, &source, "fine").await;

    receive_hidden_for(ctx, &source, 10, 0).await;
    let second = receive_hidden_for(ctx, &source, 10, 0).await;

    assert_eq!(second.len(), 1, "a second delivery is allowed with maxReceiveCount 2");
    assert_eq!(counts(ctx, &dlq).await, (0, 0, 0));
}

pub async fn standard_dead_letter_retention_counts_from_the_original_send(ctx: &TestContext) {
    let dlq = ctx.create_queue_with("dlq", queue_attributes(&[("MessageRetentionPeriod", "60")])).await;
    let policy = redrive(&arn(ctx, &dlq).await, 1);
    let source = ctx.create_queue_with("source", queue_attributes(&[("RedrivePolicy", &policy)])).await;
    send(ctx, &source, "old").await;
    assert_eq!(receive_hidden_for(ctx, &source, 10, 0).await.len(), 1);

    // It moves at t=50 ...
    ctx.advance(Duration::from_secs(50));
    assert!(receive_hidden_for(ctx, &source, 10, 0).await.is_empty());
    assert_eq!(counts(ctx, &dlq).await, (1, 0, 0));

    // ... and expires at t=60, ten seconds after the move, not sixty.
    ctx.advance(Duration::from_secs(9));
    assert_eq!(counts(ctx, &dlq).await, (1, 0, 0), "still retained at t=59");
    ctx.advance(Duration::from_secs(1));
    assert_eq!(counts(ctx, &dlq).await, (0, 0, 0), "expired at t=60 (original send + 60 s)");
    assert!(receive_hidden_for(ctx, &dlq, 10, 30).await.is_empty());
}

pub async fn a_fifo_message_moves_to_a_fifo_dead_letter_queue_keeping_id_and_group(ctx: &TestContext) {
    let dlq = ctx.create_queue_with("dlq.fifo", queue_attributes(&[("FifoQueue", "true")])).await;
    let policy = redrive(&arn(ctx, &dlq).await, 1);
    let attributes = queue_attributes(&[("FifoQueue", "true"), ("RedrivePolicy", &policy)]);
    let source = ctx.create_queue_with("source.fifo", attributes).await;
    let sent = send_entry(ctx, &source, fifo_entry("poison", "g", Some("d-1"))).await.expect("send");
    send_entry(ctx, &source, fifo_entry("next", "g", Some("d-2"))).await.expect("send");

    // The head is delivered once, then moved: the group is unblocked and the next message follows.
    assert_eq!(bodies(&receive_hidden_for(ctx, &source, 1, 0).await), ["poison"]);
    assert_eq!(bodies(&receive_hidden_for(ctx, &source, 10, 30).await), ["next"]);

    let moved = receive_hidden_for(ctx, &dlq, 10, 30).await;
    let moved = only(&moved);
    assert_eq!(moved.message_id, sent.message_id);
    assert_eq!(moved.group_id(), Some("g"));
    let source_arn = moved.system_attributes.get(&SystemAttributeName::DeadLetterQueueSourceArn);
    assert_eq!(source_arn, Some(&arn(ctx, &source).await));
    assert!(moved.sequence_number().is_some());
}

pub async fn fifo_dead_letter_retention_restarts_at_the_move(ctx: &TestContext) {
    let attributes = queue_attributes(&[("FifoQueue", "true"), ("MessageRetentionPeriod", "60")]);
    let dlq = ctx.create_queue_with("dlq.fifo", attributes).await;
    let policy = redrive(&arn(ctx, &dlq).await, 1);
    let attributes = queue_attributes(&[("FifoQueue", "true"), ("RedrivePolicy", &policy)]);
    let source = ctx.create_queue_with("source.fifo", attributes).await;
    send_entry(ctx, &source, fifo_entry("old", "g", Some("d"))).await.expect("send");
    assert_eq!(receive_hidden_for(ctx, &source, 10, 0).await.len(), 1);

    // It moves at t=50 ...
    ctx.advance(Duration::from_secs(50));
    assert!(receive_hidden_for(ctx, &source, 10, 0).await.is_empty());

    // ... and "for FIFO queues, the enqueue timestamp resets" (Developer Guide): retained at t=100, gone at t=110.
    ctx.advance(Duration::from_secs(50));
    assert_eq!(counts(ctx, &dlq).await, (1, 0, 0), "retained 50 s after the move");
    ctx.advance(Duration::from_secs(10));
    assert_eq!(counts(ctx, &dlq).await, (0, 0, 0), "expired 60 s after the move");
}

pub async fn removing_the_redrive_policy_stops_dead_lettering(ctx: &TestContext) {
    let dlq = ctx.create_queue("dlq").await;
    let policy = redrive(&arn(ctx, &dlq).await, 1);
    let source = ctx.create_queue_with("source", queue_attributes(&[("RedrivePolicy", &policy)])).await;
    send(ctx, &source, "m").await;
    receive_hidden_for(ctx, &source, 10, 0).await;

    set(ctx, &source, "RedrivePolicy", "").await.expect("an empty policy removes it");

    assert_eq!(reported(ctx, &source, "RedrivePolicy").await, None);
    assert_eq!(receive_hidden_for(ctx, &source, 10, 0).await.len(), 1, "delivered again, no longer moved");
    assert_eq!(counts(ctx, &dlq).await, (0, 0, 0));
}

pub async fn a_fifo_message_whose_dead_letter_queue_was_deleted_stays_at_the_head_of_its_group(ctx: &TestContext) {
    let dlq = ctx.create_queue_with("dlq.fifo", queue_attributes(&[("FifoQueue", "true")])).await;
    let policy = redrive(&arn(ctx, &dlq).await, 1);
    let attributes = queue_attributes(&[("FifoQueue", "true"), ("RedrivePolicy", &policy)]);
    let source = ctx.create_queue_with("source.fifo", attributes).await;
    for (body, dedup) in [("first", "d-1"), ("second", "d-2"), ("third", "d-3")] {
        send_entry(ctx, &source, fifo_entry(body, "g", Some(dedup))).await.expect("send");
    }
    assert_eq!(bodies(&receive_hidden_for(ctx, &source, 1, 0).await), ["first"]);

    ctx.backend.delete_queue(&dlq).await.expect("delete the dead-letter queue");

    // Nothing to move it to: "first" is not sent to the back of its group (which would hand "second" out
    // before it), it stays where it is and is delivered again, ahead of the others.
    assert_eq!(bodies(&receive_hidden_for(ctx, &source, 10, 0).await), ["first", "second", "third"]);
    assert_eq!(counts(ctx, &source).await, (3, 0, 0));
}

pub async fn a_dead_letter_queue_that_stops_admitting_a_source_receives_nothing_more_from_it(ctx: &TestContext) {
    let dlq = ctx.create_queue("dlq").await;
    let policy = redrive(&arn(ctx, &dlq).await, 1);
    let source = ctx.create_queue_with("source", queue_attributes(&[("RedrivePolicy", &policy)])).await;
    send(ctx, &source, "m").await;
    assert_eq!(receive_hidden_for(ctx, &source, 10, 0).await.len(), 1);

    // The policy was admitted when set; the dead-letter queue now denies every source.
    set(ctx, &dlq, "RedriveAllowPolicy", r#"{"redrivePermission":"denyAll"}"#).await.expect("deny all");

    assert_eq!(bodies(&receive_hidden_for(ctx, &source, 10, 0).await), ["m"], "delivered again, not moved");
    assert_eq!(counts(ctx, &dlq).await, (0, 0, 0));

    // Admitting it again lets the next receive past maxReceiveCount move it.
    set(ctx, &dlq, "RedriveAllowPolicy", r#"{"redrivePermission":"allowAll"}"#).await.expect("allow all");
    assert!(receive_hidden_for(ctx, &source, 10, 0).await.is_empty());
    assert_eq!(counts(ctx, &dlq).await, (1, 0, 0));
}
