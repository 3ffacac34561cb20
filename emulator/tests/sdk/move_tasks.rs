//! Message move tasks (DLQ redrive) through `aws-sdk-sqs` (issue 4, SPEC §6, §13): StartMessageMoveTask errors,
//! redrive back to the original source at MaxNumberOfMessagesPerSecond on the virtual clock, redrive to an explicit
//! destination, one active task per source, cancellation, and ListMessageMoveTasks (newest first, TaskHandle only
//! while RUNNING). Tasks run in the background on the emulator's clock: tests advance virtual time and then poll
//! ListMessageMoveTasks for a bounded real time (10 ms between polls, at most 2 s) while the task catches up.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::{TestEnv, expect_service_error};
use aws_sdk_sqs::types::{ListMessageMoveTasksResultEntry, Message, MessageSystemAttributeName};
use sqskit_emulator::Clock as _;

const POLL_EVERY: Duration = Duration::from_millis(10);
const POLL_FOR: Duration = Duration::from_secs(2);
/// Real time given to a freshly started background task to take its first step before virtual time moves.
const TASK_START: Duration = Duration::from_millis(50);

fn redrive(target: &str, max_receive_count: u32) -> String {
    format!(r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":{max_receive_count}}}"#, TestEnv::arn_of(target))
}

fn sys(msg: &Message, name: MessageSystemAttributeName) -> Option<String> {
    msg.attributes().and_then(|a| a.get(&name)).cloned()
}

/// A source `source` with maxReceiveCount 1 into `dlq`, and `n` messages (`m0`..) moved there by receives.
/// Returns (source URL, DLQ URL, the original MessageIds).
async fn dead_lettered(env: &TestEnv, n: usize) -> (String, String, BTreeSet<String>) {
    let dlq = env.create_queue("dlq").await;
    let source = env.create_queue_with("source", &[("RedrivePolicy", &redrive("dlq", 1))]).await;
    let ids = dead_letter_more(env, &source, &dlq, 0..n).await;
    (source, dlq, ids)
}

/// Sends `m{i}` for each i to `source` and moves them into `dlq` (maxReceiveCount 1) by two receives.
async fn dead_letter_more(env: &TestEnv, source: &str, dlq: &str, range: std::ops::Range<usize>) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for i in range.clone() {
        ids.insert(env.send(source, &format!("m{i}")).await.message_id().unwrap().to_owned());
    }
    let before = env.counts(dlq).await.0;
    let first = receive_vt(env, source, 0).await;
    assert_eq!(first.len(), range.len(), "every message delivered once");
    assert!(receive_vt(env, source, 0).await.is_empty(), "the second receive moves them");
    assert_eq!(env.counts(dlq).await.0, before + range.len() as u64);
    ids
}

async fn receive_vt(env: &TestEnv, url: &str, visibility: i32) -> Vec<Message> {
    env.client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .visibility_timeout(visibility)
        .wait_time_seconds(0)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default()
}

async fn list_tasks(env: &TestEnv, source_arn: &str, max: Option<i32>) -> Vec<ListMessageMoveTasksResultEntry> {
    env.client
        .list_message_move_tasks()
        .source_arn(source_arn)
        .set_max_results(max)
        .send()
        .await
        .expect("list message move tasks")
        .results
        .unwrap_or_default()
}

/// The newest task of `source_arn`.
async fn newest(env: &TestEnv, source_arn: &str) -> ListMessageMoveTasksResultEntry {
    list_tasks(env, source_arn, None).await.into_iter().next().expect("a task is listed")
}

/// Polls the newest task until `done` holds, for at most [`POLL_FOR`] of real time.
async fn wait_for(
    env: &TestEnv,
    source_arn: &str,
    what: &str,
    done: impl Fn(&ListMessageMoveTasksResultEntry) -> bool,
) -> ListMessageMoveTasksResultEntry {
    let deadline = Instant::now() + POLL_FOR;
    loop {
        let task = newest(env, source_arn).await;
        if done(&task) {
            return task;
        }
        assert!(Instant::now() < deadline, "task never reached {what}: {task:?}");
        tokio::time::sleep(POLL_EVERY).await;
    }
}

async fn start(env: &TestEnv, source: &str, destination: Option<&str>, rate: Option<i32>) -> String {
    env.client
        .start_message_move_task()
        .source_arn(TestEnv::arn_of(source))
        .set_destination_arn(destination.map(TestEnv::arn_of))
        .set_max_number_of_messages_per_second(rate)
        .send()
        .await
        .expect("start message move task")
        .task_handle()
        .expect("TaskHandle")
        .to_owned()
}

// ---------------------------------------------------------------------------------------------------------------
// Start errors
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn starting_on_a_queue_that_is_not_a_dead_letter_queue_is_rejected() {
    let env = TestEnv::start().await;
    env.create_queue("plain").await;

    let err = env.client.start_message_move_task().source_arn(TestEnv::arn_of("plain")).send().await.unwrap_err();

    expect_service_error(err, 400, "InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.");
    assert!(list_tasks(&env, &TestEnv::arn_of("plain"), Some(10)).await.is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn starting_on_an_unknown_source_is_resource_not_found() {
    let env = TestEnv::start().await;

    let err =
        env.client.start_message_move_task().source_arn(TestEnv::arn_of("no-such-queue")).send().await.unwrap_err();

    expect_service_error(
        err,
        404,
        "ResourceNotFoundException",
        "The resource that you specified for the SourceArn parameter doesn't exist.",
    );
    env.shutdown().await;
}

#[tokio::test]
async fn listing_tasks_of_an_unknown_source_is_resource_not_found() {
    let env = TestEnv::start().await;

    let err =
        env.client.list_message_move_tasks().source_arn(TestEnv::arn_of("no-such-queue")).send().await.unwrap_err();

    expect_service_error(err, 404, "ResourceNotFoundException", "");
    env.shutdown().await;
}

#[tokio::test]
async fn starting_towards_an_unknown_destination_is_resource_not_found() {
    let env = TestEnv::start().await;
    let (_, dlq, _) = dead_lettered(&env, 1).await;

    let err = env
        .client
        .start_message_move_task()
        .source_arn(TestEnv::arn_of("dlq"))
        .destination_arn(TestEnv::arn_of("nowhere"))
        .send()
        .await
        .unwrap_err();

    expect_service_error(err, 404, "ResourceNotFoundException", "");
    assert_eq!(env.counts(&dlq).await, (1, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn starting_towards_a_destination_of_the_other_queue_type_is_rejected() {
    let env = TestEnv::start().await;
    dead_lettered(&env, 1).await;
    env.create_queue_with("elsewhere.fifo", &[("FifoQueue", "true")]).await;

    let err = env
        .client
        .start_message_move_task()
        .source_arn(TestEnv::arn_of("dlq"))
        .destination_arn(TestEnv::arn_of("elsewhere.fifo"))
        .send()
        .await
        .unwrap_err();

    expect_service_error(err, 400, "InvalidParameterValue", "");
    env.shutdown().await;
}

#[tokio::test]
async fn rate_outside_1_to_500_is_rejected() {
    let env = TestEnv::start().await;
    dead_lettered(&env, 1).await;

    for rate in [0, 501] {
        let err = env
            .client
            .start_message_move_task()
            .source_arn(TestEnv::arn_of("dlq"))
            .max_number_of_messages_per_second(rate)
            .send()
            .await
            .unwrap_err();
        expect_service_error(err, 400, "InvalidParameterValue", "MaxNumberOfMessagesPerSecond");
    }
    assert!(list_tasks(&env, &TestEnv::arn_of("dlq"), Some(10)).await.is_empty());
    env.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Running tasks
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn redrive_to_the_original_source_moves_at_the_requested_rate_then_completes() {
    // given five messages in the DLQ
    let env = TestEnv::start().await;
    let (source, dlq, original_ids) = dead_lettered(&env, 5).await;
    let dlq_arn = TestEnv::arn_of("dlq");

    // when a task starts with 2 messages per second and no destination
    let started_at = env.clock.now().as_millis();
    let handle = start(&env, "dlq", None, Some(2)).await;

    // then it is listed as RUNNING with its handle and counters, and nothing moves before time passes
    let task = newest(&env, &dlq_arn).await;
    assert_eq!(task.status(), Some("RUNNING"));
    assert_eq!(task.task_handle(), Some(handle.as_str()));
    assert_eq!(task.source_arn(), Some(dlq_arn.as_str()));
    assert_eq!(task.destination_arn(), None);
    assert_eq!(task.max_number_of_messages_per_second(), Some(2));
    assert_eq!(task.approximate_number_of_messages_to_move(), Some(5));
    assert_eq!(task.approximate_number_of_messages_moved(), 0);
    assert_eq!(task.started_timestamp(), started_at as i64, "epoch ms of the start");
    tokio::time::sleep(TASK_START).await;
    assert_eq!(newest(&env, &dlq_arn).await.approximate_number_of_messages_moved(), 0, "no virtual time passed");

    // and each virtual second moves two more
    for (second, expected) in [(1, 2), (2, 4)] {
        env.advance(1);
        let task =
            wait_for(&env, &dlq_arn, "the next step", |t| t.approximate_number_of_messages_moved() >= expected).await;
        assert_eq!(task.approximate_number_of_messages_moved(), expected, "after {second} s");
        assert_eq!(task.status(), Some("RUNNING"));
        tokio::time::sleep(TASK_START).await;
        assert_eq!(newest(&env, &dlq_arn).await.approximate_number_of_messages_moved(), expected, "rate exceeded");
        assert_eq!(env.counts(&source).await.0, expected as u64);
        assert_eq!(env.counts(&dlq).await.0, 5 - expected as u64);
    }

    // until the last one moves and the task completes, without a handle
    env.advance(1);
    let done = wait_for(&env, &dlq_arn, "COMPLETED", |t| t.status() == Some("COMPLETED")).await;
    assert_eq!(done.approximate_number_of_messages_moved(), 5);
    assert_eq!(done.task_handle(), None);
    assert_eq!(env.counts(&dlq).await, (0, 0, 0));

    // the redriven messages are new messages in the source
    let back = receive_vt(&env, &source, 30).await;
    assert_eq!(back.len(), 5);
    let bodies: BTreeSet<&str> = back.iter().map(|m| m.body().unwrap()).collect();
    assert_eq!(bodies, BTreeSet::from(["m0", "m1", "m2", "m3", "m4"]));
    for m in &back {
        assert!(!original_ids.contains(m.message_id().unwrap()), "redriven message kept its id: {m:?}");
        assert_eq!(sys(m, MessageSystemAttributeName::ApproximateReceiveCount).as_deref(), Some("1"));
        assert_eq!(sys(m, MessageSystemAttributeName::DeadLetterQueueSourceArn), None);
    }
    env.shutdown().await;
}

#[tokio::test]
async fn redriven_messages_restart_their_retention() {
    // given a source keeping messages 60 s, and a message dead-lettered at t=50
    let env = TestEnv::start().await;
    env.create_queue("dlq").await;
    let source = env
        .create_queue_with("source", &[("RedrivePolicy", &redrive("dlq", 1)), ("MessageRetentionPeriod", "60")])
        .await;
    env.send(&source, "m").await;
    receive_vt(&env, &source, 0).await;
    env.advance(50);
    assert!(receive_vt(&env, &source, 0).await.is_empty());

    // when it is redriven at t=50
    start(&env, "dlq", None, None).await;
    tokio::time::sleep(TASK_START).await;
    env.advance(1);
    wait_for(&env, &TestEnv::arn_of("dlq"), "COMPLETED", |t| t.status() == Some("COMPLETED")).await;

    // then it is a new message: still there at t=70, past the original send + 60 s
    env.advance(19);
    assert_eq!(env.counts(&source).await, (1, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn redrive_to_an_explicit_destination_moves_everything_there() {
    let env = TestEnv::start().await;
    let (source, dlq, _) = dead_lettered(&env, 3).await;
    let replay = env.create_queue("replay").await;
    let dlq_arn = TestEnv::arn_of("dlq");

    start(&env, "dlq", Some("replay"), None).await;
    tokio::time::sleep(TASK_START).await;
    env.advance(1);
    let done = wait_for(&env, &dlq_arn, "COMPLETED", |t| t.status() == Some("COMPLETED")).await;

    assert_eq!(done.destination_arn(), Some(TestEnv::arn_of("replay").as_str()));
    assert_eq!(done.max_number_of_messages_per_second(), None);
    assert_eq!(done.approximate_number_of_messages_moved(), 3);
    assert_eq!(env.counts(&dlq).await, (0, 0, 0));
    assert_eq!(env.counts(&source).await, (0, 0, 0));
    let bodies: BTreeSet<String> =
        receive_vt(&env, &replay, 30).await.iter().map(|m| m.body().unwrap().to_owned()).collect();
    assert_eq!(bodies, BTreeSet::from(["m0".to_owned(), "m1".to_owned(), "m2".to_owned()]));
    env.shutdown().await;
}

#[tokio::test]
async fn a_second_start_while_a_task_runs_is_rejected() {
    let env = TestEnv::start().await;
    dead_lettered(&env, 3).await;
    let dlq_arn = TestEnv::arn_of("dlq");
    start(&env, "dlq", None, Some(1)).await;

    let err = env.client.start_message_move_task().source_arn(&dlq_arn).send().await.unwrap_err();

    expect_service_error(
        err,
        400,
        "InvalidParameterValue",
        "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
    );
    assert_eq!(list_tasks(&env, &dlq_arn, Some(10)).await.len(), 1);

    // once it has completed, a new task may start
    tokio::time::sleep(TASK_START).await;
    env.advance(3);
    wait_for(&env, &dlq_arn, "COMPLETED", |t| t.status() == Some("COMPLETED")).await;
    start(&env, "dlq", None, None).await;
    assert_eq!(list_tasks(&env, &dlq_arn, Some(10)).await.len(), 2);
    env.shutdown().await;
}

#[tokio::test]
async fn cancelling_stops_the_task_and_leaves_the_rest_in_the_dead_letter_queue() {
    // given a task moving one message per second over five
    let env = TestEnv::start().await;
    let (source, dlq, _) = dead_lettered(&env, 5).await;
    let dlq_arn = TestEnv::arn_of("dlq");
    let handle = start(&env, "dlq", None, Some(1)).await;
    tokio::time::sleep(TASK_START).await;
    env.advance(1);
    wait_for(&env, &dlq_arn, "one moved", |t| t.approximate_number_of_messages_moved() >= 1).await;

    // when it is cancelled
    let out = env.client.cancel_message_move_task().task_handle(&handle).send().await.unwrap();

    // then it reports what it moved, goes through CANCELLING to CANCELLED, and moves nothing more
    assert_eq!(out.approximate_number_of_messages_moved(), 1);
    let status = newest(&env, &dlq_arn).await;
    assert!(matches!(status.status(), Some("CANCELLING" | "CANCELLED")), "{status:?}");
    assert_eq!(status.task_handle(), None, "TaskHandle only while RUNNING");
    let cancelled = wait_for(&env, &dlq_arn, "CANCELLED", |t| t.status() == Some("CANCELLED")).await;
    env.advance(10);
    tokio::time::sleep(TASK_START).await;
    let later = newest(&env, &dlq_arn).await;
    assert_eq!(later.status(), Some("CANCELLED"));
    assert_eq!(later.approximate_number_of_messages_moved(), 1);
    assert_eq!(cancelled.approximate_number_of_messages_moved(), 1);
    assert_eq!(env.counts(&dlq).await, (4, 0, 0));
    assert_eq!(env.counts(&source).await, (1, 0, 0));
    env.shutdown().await;
}

/// `CancelMessageMoveTask` refusals, in the codes and words AWS uses (docs/aws-behaviour.md, "Move-task
/// handles"): a handle that is not one, a handle whose source queue does not exist, an unknown task of an
/// existing queue.
#[tokio::test]
async fn cancelling_refuses_bad_handles_missing_sources_and_unknown_tasks() {
    use base64::Engine as _;
    let env = TestEnv::start().await;
    env.create_queue("dlq").await;
    let handle = |task_id: &str, source: &str| {
        let raw = format!(r#"{{"taskId":"{task_id}","sourceArn":"{}"}}"#, TestEnv::arn_of(source));
        base64::engine::general_purpose::STANDARD.encode(raw)
    };
    let cancel = |handle: String| env.client.cancel_message_move_task().task_handle(handle).send();

    // base64 of "no-such-task": not a handle at all
    let err = cancel("bm8tc3VjaC10YXNr".to_owned()).await.unwrap_err();
    expect_service_error(err, 400, "InvalidParameterValue", "Value for parameter TaskHandle is invalid.");
    let err = cancel("not base64!".to_owned()).await.unwrap_err();
    expect_service_error(err, 400, "InvalidParameterValue", "Value for parameter TaskHandle is invalid.");

    let err = cancel(handle("4e5e7c1e-2b6a-4a1e-9a53-0d5f6c1f2b3a", "gone")).await.unwrap_err();
    let source_text = "The resource that you specified for the SourceArn parameter doesn't exist.";
    expect_service_error(err, 404, "ResourceNotFoundException", source_text);

    let err = cancel(handle("4e5e7c1e-2b6a-4a1e-9a53-0d5f6c1f2b3a", "dlq")).await.unwrap_err();
    expect_service_error(err, 404, "ResourceNotFoundException", "Task does not exist.");
    env.shutdown().await;
}

#[tokio::test]
async fn list_message_move_tasks_is_newest_first_with_a_handle_only_while_running() {
    // given a completed task towards "replay", then a running one back to the source
    let env = TestEnv::start().await;
    let (source, dlq, _) = dead_lettered(&env, 2).await;
    env.create_queue("replay").await;
    let dlq_arn = TestEnv::arn_of("dlq");
    let first = start(&env, "dlq", Some("replay"), None).await;
    tokio::time::sleep(TASK_START).await;
    env.advance(1);
    wait_for(&env, &dlq_arn, "COMPLETED", |t| t.status() == Some("COMPLETED")).await;
    dead_letter_more(&env, &source, &dlq, 2..4).await;
    let second = start(&env, "dlq", None, Some(1)).await;
    assert_ne!(first, second);

    // when listed
    let all = list_tasks(&env, &dlq_arn, Some(10)).await;
    let default = list_tasks(&env, &dlq_arn, None).await;

    // then the newest comes first, and only the running one has a handle
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0].status(), Some("RUNNING"));
    assert_eq!(all[0].task_handle(), Some(second.as_str()));
    assert_eq!(all[0].destination_arn(), None);
    assert_eq!(all[0].approximate_number_of_messages_to_move(), Some(2));
    assert_eq!(all[1].status(), Some("COMPLETED"));
    assert_eq!(all[1].task_handle(), None);
    assert_eq!(all[1].destination_arn(), Some(TestEnv::arn_of("replay").as_str()));
    assert_eq!(all[1].approximate_number_of_messages_moved(), 2);
    assert!(all[0].started_timestamp() >= all[1].started_timestamp());
    // MaxResults defaults to 1
    assert_eq!(default.len(), 1);
    assert_eq!(default[0].task_handle(), Some(second.as_str()));
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_redrive_returns_a_groups_messages_to_the_source_in_order() {
    // given three messages of one group dead-lettered from a FIFO source
    let env = TestEnv::start().await;
    let dlq = env.create_queue_with("dlq.fifo", &[("FifoQueue", "true")]).await;
    let source = env
        .create_queue_with("source.fifo", &[("FifoQueue", "true"), ("RedrivePolicy", &redrive("dlq.fifo", 1))])
        .await;
    for i in 0..3 {
        env.client
            .send_message()
            .queue_url(&source)
            .message_body(format!("m{i}"))
            .message_group_id("g")
            .message_deduplication_id(format!("d{i}"))
            .send()
            .await
            .unwrap();
    }
    let mut delivered = 0;
    while delivered < 3 {
        let got = env
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
        assert_eq!(got.len(), 1);
        delivered += 1;
    }
    assert!(receive_vt(&env, &source, 0).await.is_empty());
    assert_eq!(env.counts(&dlq).await.0, 3);

    // when redriven back
    start(&env, "dlq.fifo", None, None).await;
    tokio::time::sleep(TASK_START).await;
    env.advance(1);
    wait_for(&env, &TestEnv::arn_of("dlq.fifo"), "COMPLETED", |t| t.status() == Some("COMPLETED")).await;

    // then the source delivers them again in send order, as FIFO messages of the same group
    let mut order = Vec::new();
    for _ in 0..3 {
        let got = receive_vt(&env, &source, 30).await;
        assert!(!got.is_empty(), "source ran dry after {order:?}");
        for m in &got {
            assert_eq!(sys(m, MessageSystemAttributeName::MessageGroupId).as_deref(), Some("g"));
            assert!(sys(m, MessageSystemAttributeName::SequenceNumber).is_some());
            order.push(m.body().unwrap().to_owned());
            env.client
                .delete_message()
                .queue_url(&source)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        if order.len() == 3 {
            break;
        }
    }
    assert_eq!(order, ["m0", "m1", "m2"]);
    env.shutdown().await;
}

#[tokio::test]
async fn redrive_to_a_source_that_no_longer_exists_fails_and_keeps_the_messages() {
    // given a DLQ serving two sources, one of which dead-lettered a message and was then deleted
    let env = TestEnv::start().await;
    let (source, dlq, _) = dead_lettered(&env, 1).await;
    env.create_queue_with("second-source", &[("RedrivePolicy", &redrive("dlq", 1))]).await;
    env.client.delete_queue().queue_url(&source).send().await.unwrap();

    // when the DLQ is redriven back to the messages' sources
    start(&env, "dlq", None, None).await;
    tokio::time::sleep(TASK_START).await;
    env.advance(1);

    // then the task fails with a reason, and the message is still in the DLQ
    let failed = wait_for(&env, &TestEnv::arn_of("dlq"), "FAILED", |t| t.status() == Some("FAILED")).await;
    assert!(failed.failure_reason().is_some_and(|r| !r.is_empty()), "{failed:?}");
    assert_eq!(failed.task_handle(), None);
    assert_eq!(env.counts(&dlq).await, (1, 0, 0));
    env.shutdown().await;
}
