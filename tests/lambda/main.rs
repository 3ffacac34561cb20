//! The Lambda adapter (feature `lambda`), without AWS: events are AWS's documented samples or are built from
//! messages really received from the emulator (their bodies, attributes, MD5s and receive counts), the adapter
//! is invoked directly, and its partial batch responses are applied to the emulator's queue the way Lambda
//! applies them (delete the successes; the failures come back, here at once instead of after the visibility
//! timeout), so redelivery, receive counts and redrive to the dead-letter queue are real.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod metrics;
#[allow(dead_code)]
#[path = "../../examples/orders/mod.rs"]
mod orders;
mod orders_flow;
mod readme;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqskit::backend::{
    DeleteEntry, EmbeddedBackend, ReceiveRequest, ReceivedMessage, SendEntry, SqsBackend, VisibilityEntry,
};
use sqskit::consumer::{Delivery, InMemoryIdempotencyStore, Outcome, Payload, PayloadCodec, Router};
use sqskit::envelope::{Envelope, MESSAGE_TYPE_ATTRIBUTE, SnsEncoder};
use sqskit::lambda::{FifoFailure, RecordFailure, SqsBatchResponse, SqsEvent, SqsLambda, batch_response, sqs_event};
use sqskit::types::{QueueAttributeName, QueueAttributes};
use sqskit::{MessageAttribute, Producer, SendOptions};

fn fixture(name: &str) -> SqsEvent {
    let path = format!("{}/tests/fixtures/lambda/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    serde_json::from_str(&text).expect("a Lambda SQS event")
}

fn failures(response: &SqsBatchResponse) -> BTreeSet<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u32,
    group: String,
}

/// The handler calls, in order: (order id, receive count).
type Calls = Arc<Mutex<Vec<(u32, u32)>>>;

#[tokio::test]
async fn the_documented_standard_event_is_processed_and_its_digests_checked() {
    let seen: Arc<Mutex<Vec<Delivery<Payload>>>> = Arc::default();
    let log = seen.clone();
    let function = SqsLambda::builder_with_codec(
        move |delivery: Delivery<Payload>| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(delivery);
                Outcome::Ack
            }
        },
        PayloadCodec,
    )
    .build();
    let event = fixture("sqs-event-standard.json");
    let response = function.handle(event.clone()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let first = seen.iter().find(|d| d.message_id().as_str() == "059f36b4-87a3-44ab-83d2-661975830a7d").unwrap();
    assert_eq!(first.as_str(), "Test message.");
    assert_eq!(first.receive_count(), 1);
    assert_eq!(first.meta().sent_at, Some(UNIX_EPOCH + Duration::from_millis(1_545_082_649_183)));
    assert_eq!(first.meta().attributes.get("myAttribute"), Some(&MessageAttribute::string("myValue")));

    // The same event with one body changed in transit: that record fails its MD5 check (poison).
    let mut damaged = event;
    damaged.records[1].body = Some("Test message!".to_owned());
    let results = function.process(damaged, None).await;
    assert_eq!(results[0].1, None);
    match &results[1].1 {
        Some(RecordFailure::Poison(reason)) => assert!(reason.contains("mismatch"), "{reason}"),
        other => panic!("expected poison, got {other:?}"),
    }
}

#[tokio::test]
async fn the_documented_fifo_event_carries_its_group() {
    type Groups = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;
    let groups: Groups = Arc::default();
    let log = groups.clone();
    let function = SqsLambda::builder_with_codec(
        move |delivery: Delivery<Payload>| {
            let log = log.clone();
            async move {
                let meta = delivery.meta();
                log.lock().unwrap().push((meta.group_id.clone(), meta.sequence_number.clone()));
                Outcome::Ack
            }
        },
        PayloadCodec,
    )
    .build();
    let response = function.handle(fixture("sqs-event-fifo.json")).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(*groups.lock().unwrap(), [(Some("1".to_owned()), Some("18849496460467696128".to_owned()))]);
}

/// A queue (and its ARN) on a fresh emulator; FIFO when the name ends in `.fifo`.
async fn queue(backend: &Arc<dyn SqsBackend>, name: &str, attributes: QueueAttributes) -> (String, String) {
    let attributes = if name.ends_with(".fifo") {
        attributes
            .with(QueueAttributeName::FifoQueue, "true")
            .with(QueueAttributeName::ContentBasedDeduplication, "true")
    } else {
        attributes
    };
    let url = backend.create_queue(name, &attributes, &Default::default()).await.unwrap();
    let arn = backend.get_queue_attributes(&url, &[QueueAttributeName::QueueArn]).await.unwrap();
    (url, arn.queue_arn().unwrap().to_owned())
}

/// Receives up to 10 messages with every attribute, as the event source mapping does.
async fn receive(backend: &Arc<dyn SqsBackend>, url: &str) -> Vec<ReceivedMessage> {
    let request = ReceiveRequest::new().max_messages(10).all_attributes().visibility_timeout(Duration::from_secs(30));
    backend.receive_message(url, &request).await.unwrap()
}

/// What Lambda does with a partial batch response: deletes the messages not reported; the reported ones become
/// visible again (at once here).
async fn apply(backend: &Arc<dyn SqsBackend>, url: &str, received: &[ReceivedMessage], response: &SqsBatchResponse) {
    let failed = failures(response);
    let (retry, done): (Vec<_>, Vec<_>) = received.iter().partition(|m| failed.contains(m.message_id.as_str()));
    let deletes: Vec<DeleteEntry> = done
        .iter()
        .enumerate()
        .map(|(i, m)| DeleteEntry { id: i.to_string(), receipt_handle: m.receipt_handle.clone() })
        .collect();
    if !deletes.is_empty() {
        assert!(backend.delete_message_batch(url, &deletes).await.unwrap().is_complete_success());
    }
    let releases: Vec<VisibilityEntry> = retry
        .iter()
        .enumerate()
        .map(|(i, m)| VisibilityEntry {
            id: i.to_string(),
            receipt_handle: m.receipt_handle.clone(),
            visibility_timeout: Duration::ZERO,
        })
        .collect();
    if !releases.is_empty() {
        assert!(backend.change_message_visibility_batch(url, &releases).await.unwrap().is_complete_success());
    }
}

fn order_handler(calls: &Calls, fail: impl Fn(u32, u32) -> bool + Send + Sync + 'static) -> SqsLambda<Order> {
    let calls = calls.clone();
    let fail = Arc::new(fail);
    SqsLambda::builder(move |order: Delivery<Order>| {
        let calls = calls.clone();
        let fail = fail.clone();
        async move {
            // Uneven handler times, so that concurrent records finish out of order.
            tokio::time::sleep(Duration::from_millis(u64::from(order.id % 4) * 5)).await;
            calls.lock().unwrap().push((order.id, order.receive_count()));
            if fail(order.id, order.receive_count()) { Outcome::Retry } else { Outcome::Ack }
        }
    })
    .build()
}

fn ids_of(received: &[ReceivedMessage], wanted: impl Fn(u32) -> bool) -> BTreeSet<String> {
    received
        .iter()
        .filter(|m| wanted(serde_json::from_str::<Order>(&m.body).unwrap().id))
        .map(|m| m.message_id.as_str().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_partial_failures_are_reported_and_redelivered_with_their_receive_count() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let (url, arn) = queue(&backend, "orders", QueueAttributes::new()).await;
    let entries: Vec<SendEntry> = (0..10u32)
        .map(|id| {
            let mut entry = SendEntry::new(id.to_string(), json!({"id": id, "group": "g"}).to_string());
            entry.attributes.insert("channel", MessageAttribute::string("web"));
            entry.attributes.insert("blob", MessageAttribute::binary(vec![id as u8, 0xff]));
            entry
        })
        .collect();
    backend.send_message_batch(&url, &entries).await.unwrap();

    let calls = Calls::default();
    // Fails every third order on its first receive.
    let function = order_handler(&calls, |id, receive_count| id % 3 == 0 && receive_count == 1);
    let received = receive(&backend, &url).await;
    assert_eq!(received.len(), 10);
    assert!(received.iter().all(|m| m.md5_of_message_attributes.is_some()), "real attribute digests");
    // Through JSON, as Lambda delivers it (binary attributes as base64).
    let event: SqsEvent =
        serde_json::from_str(&serde_json::to_string(&sqs_event(&arn, "us-east-1", &received)).unwrap()).unwrap();
    let response = function.handle(event).await;
    assert_eq!(failures(&response), ids_of(&received, |id| id % 3 == 0));
    assert_eq!(calls.lock().unwrap().len(), 10, "every record ran");
    apply(&backend, &url, &received, &response).await;

    let again = receive(&backend, &url).await;
    assert_eq!(ids_of(&again, |_| true), ids_of(&received, |id| id % 3 == 0), "exactly the failures came back");
    let response = function.handle(sqs_event(&arn, "us-east-1", &again)).await;
    assert!(response.batch_item_failures.is_empty());
    apply(&backend, &url, &again, &response).await;
    let retried: BTreeSet<(u32, u32)> = calls.lock().unwrap()[10..].iter().copied().collect();
    assert_eq!(retried, [(0, 2), (3, 2), (6, 2), (9, 2)].into_iter().collect(), "second receive");
    assert!(receive(&backend, &url).await.is_empty());
}

async fn send_fifo(backend: &Arc<dyn SqsBackend>, url: &str, orders: &[(u32, &str)]) {
    let producer = Producer::<Order>::builder(backend.clone(), url).build().await.unwrap();
    let orders: Vec<Order> = orders.iter().map(|(id, group)| Order { id: *id, group: (*group).to_owned() }).collect();
    let report = producer.send_all_with(orders, |order| SendOptions::new().group_id(order.group.clone())).await;
    assert!(report.failed.is_empty());
    producer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_stops_a_group_at_its_first_failure_and_keeps_its_order_on_redelivery() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let (url, arn) = queue(&backend, "orders.fifo", QueueAttributes::new()).await;
    send_fifo(&backend, &url, &[(1, "a"), (10, "b"), (2, "a"), (11, "b"), (3, "a"), (12, "b"), (4, "a")]).await;

    let calls = Calls::default();
    let function = order_handler(&calls, |id, receive_count| id == 2 && receive_count == 1);
    let received = receive(&backend, &url).await;
    assert_eq!(received.len(), 7);
    let response = function.handle(sqs_event(&arn, "us-east-1", &received)).await;
    // Order 2 failed: 3 and 4 (group a) are reported without running; group b ran in full.
    assert_eq!(failures(&response), ids_of(&received, |id| [2, 3, 4].contains(&id)));
    let ran: Vec<u32> = calls.lock().unwrap().iter().map(|(id, _)| *id).collect();
    let group_a: Vec<u32> = ran.iter().copied().filter(|id| *id < 10).collect();
    let group_b: Vec<u32> = ran.iter().copied().filter(|id| *id >= 10).collect();
    assert_eq!((group_a, group_b), (vec![1, 2], vec![10, 11, 12]));
    apply(&backend, &url, &received, &response).await;

    // Redelivered in order, 2 first (its second receive).
    let again = receive(&backend, &url).await;
    let bodies: Vec<u32> = again.iter().map(|m| serde_json::from_str::<Order>(&m.body).unwrap().id).collect();
    assert_eq!(bodies, [2, 3, 4]);
    let response = function.handle(sqs_event(&arn, "us-east-1", &again)).await;
    assert!(response.batch_item_failures.is_empty());
    // 3 and 4 were in the first batch too (reported without running): this is their second receive.
    assert_eq!(calls.lock().unwrap()[5..], [(2, 2), (3, 2), (4, 2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_stop_batch_fails_everything_after_the_first_failure() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let (url, arn) = queue(&backend, "stop-batch.fifo", QueueAttributes::new()).await;
    send_fifo(&backend, &url, &[(1, "a"), (10, "b"), (2, "a"), (11, "b"), (3, "a")]).await;
    let calls = Calls::default();
    let calls_in = calls.clone();
    let function = SqsLambda::builder(move |order: Delivery<Order>| {
        let calls = calls_in.clone();
        async move {
            calls.lock().unwrap().push((order.id, order.receive_count()));
            if order.id == 2 { Outcome::Retry } else { Outcome::Ack }
        }
    })
    .fifo_failure(FifoFailure::StopBatch)
    .build();
    let received = receive(&backend, &url).await;
    let order: Vec<u32> = received.iter().map(|m| serde_json::from_str::<Order>(&m.body).unwrap().id).collect();
    let position = order.iter().position(|id| *id == 2).unwrap();
    let response = function.handle(sqs_event(&arn, "us-east-1", &received)).await;
    let expected: BTreeSet<String> = received[position..].iter().map(|m| m.message_id.as_str().to_owned()).collect();
    assert_eq!(failures(&response), expected);
    let ran: Vec<u32> = calls.lock().unwrap().iter().map(|(id, _)| *id).collect();
    assert_eq!(ran, order[..=position], "one record at a time, in the batch's order, up to the failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_reaches_the_dead_letter_queue_through_the_redrive_policy() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let (dlq, dlq_arn) = queue(&backend, "orders-dlq", QueueAttributes::new()).await;
    let redrive = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}).to_string();
    let (url, arn) =
        queue(&backend, "orders-src", QueueAttributes::new().with(QueueAttributeName::RedrivePolicy, redrive)).await;
    let entries = [
        SendEntry::new("good", json!({"id": 1, "group": "g"}).to_string()),
        SendEntry::new("bad-json", "{ not an order"),
        SendEntry::new("bad-sns", r#"{"Type":"Notification","TopicArn":"t"}"#),
    ];
    backend.send_message_batch(&url, &entries).await.unwrap();
    let calls = Calls::default();
    let calls_in = calls.clone();
    let function = SqsLambda::builder(move |order: Delivery<Order>| {
        let calls = calls_in.clone();
        async move {
            calls.lock().unwrap().push((order.id, order.receive_count()));
            Outcome::Ack
        }
    })
    .envelope(Envelope::Auto)
    .build();

    for round in 1..=2 {
        let received = receive(&backend, &url).await;
        let event = sqs_event(&arn, "us-east-1", &received);
        let results = function.process(event, None).await;
        let poison: Vec<&str> = results
            .iter()
            .filter_map(|(_, failure)| match failure {
                Some(RecordFailure::Poison(reason)) => Some(reason.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(poison.len(), 2, "round {round}: {results:?}");
        assert!(poison.iter().any(|r| r.contains("could not decode the message body")), "{poison:?}");
        assert!(poison.iter().any(|r| r.contains("missing field `MessageId`")), "{poison:?}");
        apply(&backend, &url, &received, &batch_response(&results)).await;
    }
    // The third receive passes maxReceiveCount: SQS moves both to the dead-letter queue.
    assert!(receive(&backend, &url).await.is_empty());
    let dead: BTreeSet<String> = receive(&backend, &dlq).await.into_iter().map(|m| m.body).collect();
    assert_eq!(dead, ["{ not an order".to_owned(), r#"{"Type":"Notification","TopicArn":"t"}"#.to_owned()].into());
    assert_eq!(*calls.lock().unwrap(), [(1, 1)], "the good order ran once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_duplicates_run_once() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let (url, arn) = queue(&backend, "dupes", QueueAttributes::new()).await;
    let producer = Producer::<Order>::builder(backend.clone(), &url).build().await.unwrap();
    let order = Order { id: 7, group: "g".into() };
    for _ in 0..2 {
        producer.send_with(&order, SendOptions::new().idempotency_key("order-7")).await.unwrap();
    }
    producer.close().await;
    let runs = Arc::new(AtomicU32::new(0));
    let runs_in = runs.clone();
    let function = SqsLambda::builder(move |_order: Delivery<Order>| {
        let runs = runs_in.clone();
        async move {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await; // both copies are in flight at once
            Outcome::Ack
        }
    })
    .idempotency(Arc::new(InMemoryIdempotencyStore::new()))
    .build();

    let received = receive(&backend, &url).await;
    assert_eq!(received.len(), 2);
    let results = function.process(sqs_event(&arn, "us-east-1", &received), None).await;
    let outcomes: Vec<_> = results.iter().map(|(_, failure)| failure.clone()).collect();
    assert!(outcomes.contains(&None) && outcomes.contains(&Some(RecordFailure::InProgress)), "{outcomes:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let response = batch_response(&results);
    apply(&backend, &url, &received, &response).await;

    // The copy that was in progress comes back: now a duplicate of a completed key, acknowledged unrun.
    let again = receive(&backend, &url).await;
    assert_eq!(again.len(), 1);
    let response = function.handle(sqs_event(&arn, "us-east-1", &again)).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the duplicate did not run again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_runs_in_lambda_with_sns_envelopes() {
    #[derive(Deserialize)]
    struct Cancelled {
        id: u32,
    }
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let (url, arn) = queue(&backend, "routed", QueueAttributes::new()).await;
    let topic = "arn:aws:sns:us-east-1:123456789012:orders";
    let typed = |message_type: &str| {
        SnsEncoder::new(sqskit::codec::JsonCodec, topic)
            .attribute(MESSAGE_TYPE_ATTRIBUTE, MessageAttribute::string(message_type))
    };
    use sqskit::codec::Encode;
    let entries = [
        SendEntry::new("1", typed("OrderPlaced").encode(&json!({"id": 1, "group": "g"})).unwrap()),
        SendEntry::new("2", typed("OrderCancelled").encode(&json!({"id": 2})).unwrap()),
        SendEntry::new("3", typed("Refund").encode(&json!({"id": 3})).unwrap()),
    ];
    backend.send_message_batch(&url, &entries).await.unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let (placed_log, cancelled_log) = (seen.clone(), seen.clone());
    let router = Router::new()
        .route("OrderPlaced", move |order: Delivery<Order>| {
            let log = placed_log.clone();
            async move {
                let topic = order.sns().map(|sns| sns.topic_arn.clone()).unwrap_or_default();
                log.lock().unwrap().push(format!("placed {} from {topic}", order.id));
                Outcome::Ack
            }
        })
        .route("OrderCancelled", move |cancelled: Delivery<Cancelled>| {
            let log = cancelled_log.clone();
            async move {
                log.lock().unwrap().push(format!("cancelled {}", cancelled.id));
                Outcome::Ack
            }
        });
    let function = SqsLambda::router(router).envelope(Envelope::Sns).build();
    let received = receive(&backend, &url).await;
    let results = function.process(sqs_event(&arn, "us-east-1", &received), None).await;
    let failed: Vec<&RecordFailure> = results.iter().filter_map(|(_, failure)| failure.as_ref()).collect();
    assert_eq!(
        failed,
        [&RecordFailure::Outcome(Outcome::DeadLetter("no handler for message type `Refund`".to_owned()))]
    );
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["cancelled 2".to_owned(), format!("placed 1 from {topic}")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_and_handlers_past_the_deadline_are_failures_and_the_answer_comes_in_time() {
    let event = fixture("sqs-event-standard.json");
    let ids: Vec<String> = event.records.iter().map(|r| r.message_id.clone().unwrap()).collect();
    let first = ids[0].clone();
    let function = SqsLambda::builder_with_codec(
        move |delivery: Delivery<Payload>| {
            let panics = delivery.message_id().as_str() == first;
            async move {
                if panics {
                    panic!("handler bug");
                }
                // Ignores its cancellation signal: hangs until dropped.
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Outcome::Ack
            }
        },
        PayloadCodec,
    )
    .deadline_margin(Duration::from_millis(400))
    .build();
    let started = Instant::now();
    let results = function.process(event, Some(SystemTime::now() + Duration::from_secs(1))).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(950), "answered before the deadline: {elapsed:?}");
    assert!(elapsed >= Duration::from_millis(700), "gave the handler until half the margin: {elapsed:?}");
    assert_eq!(results[0], (ids[0].clone(), Some(RecordFailure::Panicked("handler bug".to_owned()))));
    assert_eq!(results[1], (ids[1].clone(), Some(RecordFailure::Deadline)));
}

#[tokio::test]
async fn a_record_whose_attributes_were_changed_fails_its_digest_check() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let (url, arn) = queue(&backend, "tampered", QueueAttributes::new()).await;
    let mut entry = SendEntry::new("1", json!({"id": 1, "group": "g"}).to_string());
    entry.attributes.insert("tenant", MessageAttribute::string("acme"));
    backend.send_message_batch(&url, &[entry]).await.unwrap();
    let received = receive(&backend, &url).await;
    let calls = Calls::default();
    let function = order_handler(&calls, |_, _| false);
    let mut event = sqs_event(&arn, "us-east-1", &received);
    let untouched = function.process(event.clone(), None).await;
    assert_eq!(untouched[0].1, None);
    event.records[0].message_attributes.get_mut("tenant").unwrap().string_value = Some("evil".to_owned());
    let results = function.process(event, None).await;
    match &results[0].1 {
        Some(RecordFailure::Poison(reason)) => assert!(reason.contains("MD5OfMessageAttributes"), "{reason}"),
        other => panic!("expected poison, got {other:?}"),
    }
    assert_eq!(calls.lock().unwrap().len(), 1, "the tampered record never reached the handler");
}
