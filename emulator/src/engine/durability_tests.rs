//! Atomicity of the changes that span queues, checked at every point where durable storage may commit.
//!
//! The storage writer commits "everything appended so far", except that it never commits past the start of
//! an open atomic group ([`EventSink::hold`]). [`CutRecorder`] is a sink that records every event and every
//! point where such a writer could end a transaction; a crash right after any of those commits leaves on disk
//! exactly the events before the cut. The tests replay each prefix and check that no message is lost or doubled
//! there: without the atomic groups, a cut between a dead-letter move's removal and its insertion (or a move
//! task step's) loses a message whose send was acknowledged.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{
    Clock, Engine, EngineConfig, EventSink, ManualClock, QueueEvent, ReceiveMessageInput, SendMessageInput,
    StorageEvent,
};

#[derive(Debug, Default)]
struct Recorded {
    events: Vec<StorageEvent>,
    /// Event counts at which the writer may end a transaction.
    cuts: Vec<usize>,
    holds: BTreeMap<u64, ()>,
    next_hold: u64,
}

/// A sink that records events and the commit points a group-committing writer could choose.
#[derive(Debug, Default)]
struct CutRecorder(Mutex<Recorded>);

impl EventSink for CutRecorder {
    fn append(&self, events: Vec<StorageEvent>) {
        let mut recorded = self.0.lock().expect("lock");
        recorded.events.extend(events);
        if recorded.holds.is_empty() {
            let at = recorded.events.len();
            recorded.cuts.push(at);
        }
    }

    fn durable(&self) -> super::Durable {
        Box::pin(async { Ok(()) })
    }

    fn hold(&self) -> u64 {
        let mut recorded = self.0.lock().expect("lock");
        // The writer may still commit everything before the group.
        if recorded.holds.is_empty() {
            let at = recorded.events.len();
            recorded.cuts.push(at);
        }
        let id = recorded.next_hold;
        recorded.next_hold += 1;
        recorded.holds.insert(id, ());
        id
    }

    fn release(&self, hold: u64) {
        let mut recorded = self.0.lock().expect("lock");
        recorded.holds.remove(&hold);
        if recorded.holds.is_empty() {
            let at = recorded.events.len();
            recorded.cuts.push(at);
        }
    }

    fn failure(&self) -> Option<String> {
        None
    }
}

/// What the disk holds after the first `cut` events: message bodies by (queue, sequence), and the moved
/// counter of each move task.
fn replay(events: &[StorageEvent]) -> (HashMap<(u64, u64), String>, HashMap<String, u64>) {
    let mut messages = HashMap::new();
    let mut moved = HashMap::new();
    for event in events {
        match event {
            StorageEvent::Queue { uid, event: QueueEvent::MessageStored { sequence, message } } => {
                messages.insert((*uid, *sequence), message.body.to_string());
            }
            StorageEvent::Queue { uid, event: QueueEvent::MessageRemoved { sequence } } => {
                messages.remove(&(*uid, *sequence));
            }
            StorageEvent::Queue { uid, event: QueueEvent::Purged } | StorageEvent::QueueDeleted { uid } => {
                messages.retain(|(queue, _), _| queue != uid);
            }
            StorageEvent::MoveTaskChanged { handle, info } => {
                moved.insert(handle.clone(), info.approximate_number_of_messages_moved);
            }
            _ => {}
        }
    }
    (messages, moved)
}

/// Every body in `expected` is on disk exactly once at every cut; returns how many cuts were checked.
fn assert_no_cut_loses_or_doubles(recorder: &CutRecorder, expected: &[String], from: usize) -> usize {
    let recorded = recorder.0.lock().expect("lock");
    let mut checked = 0;
    for &cut in recorded.cuts.iter().filter(|&&cut| cut >= from) {
        let (messages, _) = replay(&recorded.events[..cut]);
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for body in messages.values() {
            *counts.entry(body.as_str()).or_default() += 1;
        }
        for body in expected {
            assert_eq!(counts.get(body.as_str()).copied().unwrap_or(0), 1, "{body} after a crash at event {cut}");
        }
        checked += 1;
    }
    checked
}

fn engine_with_recorder() -> (Engine, Arc<CutRecorder>, ManualClock) {
    let recorder = Arc::new(CutRecorder::default());
    let clock = ManualClock::new();
    let sink: Arc<dyn EventSink> = Arc::clone(&recorder) as Arc<dyn EventSink>;
    let engine = Engine::with_sink(EngineConfig::default(), Arc::new(clock.clone()), Some(sink));
    (engine, recorder, clock)
}

const MESSAGES: usize = 30;

/// A source queue with a dead-letter queue (`maxReceiveCount` 1) and `MESSAGES` messages in the source.
fn queues_with_messages(engine: &Engine) -> Vec<String> {
    engine.create_queue("dlq", &[], &[]).expect("dlq");
    let policy = format!(r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":1}}"#, engine.queue_arn("dlq"));
    engine.create_queue("source", &[("RedrivePolicy".to_owned(), policy)], &[]).expect("source");
    let bodies: Vec<String> = (0..MESSAGES).map(|i| format!("m{i}")).collect();
    for body in &bodies {
        engine.send_message("source", SendMessageInput::with_body(body.clone())).expect("send");
    }
    bodies
}

/// Receives with visibility 0 until every message went to the dead-letter queue.
async fn dead_letter_all(engine: &Engine) {
    let input = || ReceiveMessageInput {
        max_number_of_messages: Some(10),
        visibility_timeout: Some(0),
        ..ReceiveMessageInput::default()
    };
    for _ in 0..100 {
        engine.receive_message("source", input()).await.expect("receive");
        if engine.queue("dlq").expect("dlq").lock().counts().visible == MESSAGES {
            return;
        }
    }
    panic!("the messages never reached the dead-letter queue");
}

#[tokio::test]
async fn a_crash_at_any_commit_point_of_dead_letter_moves_keeps_every_message_once() {
    let (engine, recorder, _clock) = engine_with_recorder();
    let bodies = queues_with_messages(&engine);
    let from = recorder.0.lock().expect("lock").events.len();
    dead_letter_all(&engine).await;
    assert_eq!(engine.queue("dlq").expect("dlq").lock().counts().visible, MESSAGES);
    let checked = assert_no_cut_loses_or_doubles(&recorder, &bodies, from);
    assert!(checked >= 3, "only {checked} commit points were checked");
}

#[tokio::test]
async fn a_crash_at_any_commit_point_of_a_move_task_keeps_every_message_once_and_the_count_exact() {
    let (engine, recorder, clock) = engine_with_recorder();
    let bodies = queues_with_messages(&engine);
    dead_letter_all(&engine).await;
    let from = recorder.0.lock().expect("lock").events.len();
    let handle = engine.start_message_move_task(&engine.queue_arn("dlq"), None, Some(7)).expect("start");
    for _ in 0..200 {
        clock.advance(Duration::from_millis(500));
        tokio::time::sleep(Duration::from_millis(2)).await;
        if engine.queue("source").expect("source").lock().counts().visible == MESSAGES {
            break;
        }
    }
    assert_eq!(engine.queue("source").expect("source").lock().counts().visible, MESSAGES);
    let checked = assert_no_cut_loses_or_doubles(&recorder, &bodies, from);
    assert!(checked >= 5, "only {checked} commit points were checked");
    // At every commit point the task's counter matches the messages that reached the source.
    let recorded = recorder.0.lock().expect("lock");
    let source_uid = engine.queue("source").expect("source").uid;
    for &cut in recorded.cuts.iter().filter(|&&cut| cut >= from) {
        let (messages, moved) = replay(&recorded.events[..cut]);
        let in_source = messages.keys().filter(|(queue, _)| *queue == source_uid).count() as u64;
        assert_eq!(moved.get(&handle).copied().unwrap_or(0), in_source, "task counter after a crash at event {cut}");
    }
}

#[tokio::test]
async fn a_send_that_found_the_queue_before_delete_queue_writes_no_row_after_the_deletion() {
    let (engine, recorder, clock) = engine_with_recorder();
    engine.create_queue("doomed", &[], &[]).expect("create");
    engine.send_message("doomed", SendMessageInput::with_body("before")).expect("send");
    // The send resolved the queue, then DeleteQueue ran, then the send takes the queue's lock.
    let queue = engine.queue("doomed").expect("queue");
    engine.delete_queue("doomed").expect("delete");
    let message = super::StoredMessage::new(
        super::MessageBody::new("racing".to_owned()),
        super::Md5Digest::of(b"racing"),
        super::MessageAttributes::default(),
        super::MessageExtra::default(),
        Arc::from("000000000000"),
        clock.now(),
    );
    queue.lock().enqueue(Box::new(message), Duration::ZERO, clock.now());
    drop(queue);
    let recorded = recorder.0.lock().expect("lock");
    let (messages, _) = replay(&recorded.events);
    assert!(messages.is_empty(), "rows left behind: {messages:?}");
    let deleted = recorded
        .events
        .iter()
        .position(|event| matches!(event, StorageEvent::QueueDeleted { .. }))
        .expect("the deletion is recorded");
    assert_eq!(
        deleted,
        recorded.events.len() - 1,
        "events written after the deletion: {:?}",
        &recorded.events[deleted..]
    );
}

/// A sink that accepts everything until it is told to fail; then it reports a failure as storage does while a
/// commit keeps failing.
#[derive(Debug, Default)]
struct FailingSink {
    failing: std::sync::atomic::AtomicBool,
}

impl EventSink for FailingSink {
    fn append(&self, _events: Vec<StorageEvent>) {}

    fn durable(&self) -> super::Durable {
        Box::pin(async { Ok(()) })
    }

    fn hold(&self) -> u64 {
        0
    }

    fn release(&self, _hold: u64) {}

    fn failure(&self) -> Option<String> {
        self.failing.load(std::sync::atomic::Ordering::SeqCst).then(|| "disk I/O error".to_owned())
    }
}

/// Fail-stop holds for direct engine calls too (in-process use without HTTP): while storage fails, every durable
/// write is refused with `ServiceUnavailable` before anything is applied, and reads and receives go on.
#[tokio::test]
async fn while_storage_fails_the_engine_itself_refuses_every_durable_write_and_applies_nothing() {
    use super::BatchEntry;
    use crate::error::ErrorCode;

    let sink = Arc::new(FailingSink::default());
    let clock = ManualClock::new();
    let engine = Engine::with_sink(
        EngineConfig::default(),
        Arc::new(clock.clone()),
        Some(Arc::clone(&sink) as Arc<dyn EventSink>),
    );
    engine.create_queue("dlq", &[], &[]).expect("dlq");
    engine.create_queue("q", &[], &[]).expect("q");
    engine.send_message("q", SendMessageInput::with_body("kept")).expect("send");
    let one = || ReceiveMessageInput { visibility_timeout: Some(0), ..ReceiveMessageInput::default() };
    let received = engine.receive_message("q", one()).await.expect("receive");
    let handle = received.first().expect("a message").receipt_handle.clone();
    let pair = |key: &str, value: &str| vec![(key.to_owned(), value.to_owned())];

    sink.failing.store(true, std::sync::atomic::Ordering::SeqCst);

    let refusals: Vec<(&str, Result<(), crate::error::SqsError>)> = vec![
        ("CreateQueue", engine.create_queue("other", &[], &[])),
        ("SendMessage", engine.send_message("q", SendMessageInput::with_body("refused")).map(drop)),
        (
            "SendMessageBatch",
            engine
                .send_message_batch(
                    "q",
                    vec![BatchEntry { id: "a".to_owned(), input: SendMessageInput::with_body("refused") }],
                )
                .map(drop),
        ),
        ("DeleteMessage", engine.delete_message("q", &handle)),
        (
            "DeleteMessageBatch",
            engine
                .delete_message_batch("q", vec![BatchEntry { id: "a".to_owned(), input: Some(handle.clone()) }])
                .map(drop),
        ),
        ("SetQueueAttributes", engine.set_queue_attributes("q", &pair("DelaySeconds", "5"))),
        ("PurgeQueue", engine.purge_queue("q")),
        ("TagQueue", engine.tag_queue("q", &pair("team", "a"))),
        ("UntagQueue", engine.untag_queue("q", &["team".to_owned()])),
        ("AddPermission", engine.add_permission("q", "l", &["111122223333".to_owned()], &["SendMessage".to_owned()])),
        ("RemovePermission", engine.remove_permission("q", "l")),
        ("StartMessageMoveTask", engine.start_message_move_task(&engine.queue_arn("dlq"), None, None).map(drop)),
        ("CancelMessageMoveTask", engine.cancel_message_move_task("no-such-task").map(drop)),
        ("DeleteQueue", engine.delete_queue("q")),
    ];
    for (action, result) in refusals {
        let error = result.expect_err(action);
        assert_eq!(error.code, ErrorCode::ServiceUnavailable, "{action}: {}", error.message);
    }

    assert!(engine.queue("other").is_err(), "a refused CreateQueue created the queue");
    let state = engine.queue("q").expect("a refused DeleteQueue deleted the queue");
    let counts = state.lock().counts();
    assert_eq!(counts.visible + counts.in_flight + counts.delayed, 1, "the message is still there, no send added one");
    drop(state);
    let received = engine.receive_message("q", one()).await.expect("receives go on while storage fails");
    assert_eq!(received.len(), 1);

    sink.failing.store(false, std::sync::atomic::Ordering::SeqCst);
    engine.send_message("q", SendMessageInput::with_body("after")).expect("writes resume once storage recovers");
}
