//! The router: messages of several types on one queue reach the handler of their type; unknown types follow
//! the router's policy; undecodable payloads are dead-lettered with the reason; FIFO group order holds across
//! types; SNS and EventBridge envelopes name the type themselves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqskit::backend::{EmbeddedBackend, ReceiveRequest, SendEntry, SqsBackend};
use sqskit::codec::{Encode, JsonCodec};
use sqskit::consumer::{DEAD_LETTER_REASON_ATTRIBUTE, Delivery, Discriminator, Outcome, Router, UnknownType};
use sqskit::envelope::{Envelope, EventBridgeEncoder, MESSAGE_TYPE_ATTRIBUTE, SnsEncoder};
use sqskit::producer::SendOptions;
use sqskit::types::{QueueAttributeName, QueueAttributes};
use sqskit::{MessageAttribute, Producer};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Placed {
    id: u32,
    group: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Cancelled {
    id: u32,
    group: String,
    reason: String,
}

/// What the handlers saw, in the order they saw it.
type Log = Arc<Mutex<Vec<(String, u32, String)>>>;

fn router(log: &Log) -> Router {
    let placed_log = log.clone();
    let cancelled_log = log.clone();
    Router::new()
        .route("OrderPlaced", move |placed: Delivery<Placed>| {
            let log = placed_log.clone();
            async move {
                // Uneven handler times, so that a broken group order would show.
                tokio::time::sleep(Duration::from_millis(u64::from(placed.id % 3) * 3)).await;
                log.lock().unwrap().push(("placed".into(), placed.id, placed.group.clone()));
                Outcome::Ack
            }
        })
        .route("OrderCancelled", move |cancelled: Delivery<Cancelled>| {
            let log = cancelled_log.clone();
            async move {
                assert!(!cancelled.reason.is_empty());
                log.lock().unwrap().push(("cancelled".into(), cancelled.id, cancelled.group.clone()));
                Outcome::Ack
            }
        })
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn typed(message_type: &str, body: serde_json::Value) -> SendEntry {
    let mut entry = SendEntry::new(uuid::Uuid::new_v4().simple().to_string(), body.to_string());
    entry.attributes.insert(MESSAGE_TYPE_ATTRIBUTE, MessageAttribute::string(message_type));
    entry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_batch_reaches_each_types_handler_and_unknown_types_are_dead_lettered() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("mixed", &Default::default(), &Default::default()).await.unwrap();
    let dlq = backend.create_queue("mixed-dlq", &Default::default(), &Default::default()).await.unwrap();
    let entries = vec![
        typed("OrderPlaced", json!({"id": 1, "group": "a"})),
        typed("OrderCancelled", json!({"id": 2, "group": "a", "reason": "changed mind"})),
        typed("OrderPlaced", json!({"id": 3, "group": "b"})),
        typed("Refund", json!({"id": 4})),
        SendEntry::new("untyped", json!({"id": 5}).to_string()),
        typed("OrderCancelled", json!({"id": 6, "group": "b"})), // no reason: not a Cancelled
        typed("OrderCancelled", json!({"id": 7, "group": "c", "reason": "late"})),
    ];
    backend.send_message_batch(&queue, &entries).await.unwrap();

    let log = Log::default();
    let router = router(&log).name("mixed");
    let stats = router.stats();
    let consumer = Router::consumer(backend.clone(), &queue)
        .dead_letter_queue(&dlq)
        .wait_time(Duration::from_millis(100))
        .build()
        .await
        .unwrap();
    let running = consumer.start(router);
    wait_for("every message settled", || stats.routed() + stats.unknown() + stats.undecodable() == 7).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.completed, 4);

    let mut seen = log.lock().unwrap().clone();
    seen.sort_by_key(|(_, id, _)| *id);
    let seen: Vec<(&str, u32)> = seen.iter().map(|(kind, id, _)| (kind.as_str(), *id)).collect();
    assert_eq!(seen, [("placed", 1), ("cancelled", 2), ("placed", 3), ("cancelled", 7)]);
    assert_eq!((stats.routed(), stats.unknown(), stats.undecodable()), (4, 2, 1));

    let dead = backend.receive_message(&dlq, &ReceiveRequest::new().max_messages(10).all_attributes()).await.unwrap();
    let mut reasons: Vec<String> = dead
        .iter()
        .map(|m| m.attributes.get(DEAD_LETTER_REASON_ATTRIBUTE).and_then(|a| a.as_text()).unwrap().to_owned())
        .collect();
    reasons.sort();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].starts_with("could not decode a `OrderCancelled` message"), "{reasons:?}");
    assert!(reasons[0].contains("missing field `reason`"), "{reasons:?}");
    assert_eq!(reasons[1], "no handler for message type `Refund`");
    assert_eq!(reasons[2], "no handler for no message type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_types_are_released_or_acknowledged_as_configured() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("unknown", &Default::default(), &Default::default()).await.unwrap();

    // Release: the message comes straight back, again and again, with a growing receive count.
    backend.send_message_batch(&queue, &[typed("Refund", json!({"id": 1}))]).await.unwrap();
    let released = Router::new().on_unknown(UnknownType::Release);
    let stats = released.stats();
    let running = Router::consumer(backend.clone(), &queue)
        .wait_time(Duration::from_millis(50))
        .build()
        .await
        .unwrap()
        .start(released);
    wait_for("three releases", || stats.unknown() >= 3).await;
    running.shutdown(Duration::from_secs(5)).await;
    let attributes =
        backend.get_queue_attributes(&queue, &[QueueAttributeName::ApproximateNumberOfMessages]).await.unwrap();
    assert_eq!(attributes.approximate_number_of_messages(), Some(1), "released, not deleted");

    // Ack: the same message is dropped once and counted.
    let acked = Router::new().on_unknown(UnknownType::Ack);
    let stats = acked.stats();
    let running = Router::consumer(backend.clone(), &queue)
        .wait_time(Duration::from_millis(50))
        .build()
        .await
        .unwrap()
        .start(acked);
    wait_for("the ack", || stats.unknown() == 1).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.completed, 1);
    let left = backend.receive_message(&queue, &ReceiveRequest::new().max_messages(10)).await.unwrap();
    assert!(left.is_empty(), "an acknowledged unknown message is gone");
    assert_eq!(stats.unknown(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_groups_keep_their_order_across_types() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let attributes = QueueAttributes::new()
        .with(QueueAttributeName::FifoQueue, "true")
        .with(QueueAttributeName::ContentBasedDeduplication, "true");
    let queue = backend.create_queue("orders.fifo", &attributes, &Default::default()).await.unwrap();
    // 4 groups x 25 messages, types alternating irregularly within each group.
    let messages: Vec<(String, serde_json::Value)> = (0..100u32)
        .map(|i| {
            let group = format!("g{}", i % 4);
            if i % 3 == 0 {
                ("OrderCancelled".to_owned(), json!({"id": i, "group": group, "reason": "r"}))
            } else {
                ("OrderPlaced".to_owned(), json!({"id": i, "group": group}))
            }
        })
        .collect();
    let producer = Producer::<(String, serde_json::Value)>::builder(backend.clone(), &queue)
        .codec(PairBody)
        .build()
        .await
        .unwrap();
    let report = producer
        .send_all_with(messages, |(message_type, body)| {
            SendOptions::new().group_id(body["group"].as_str().unwrap_or_default()).message_type(message_type.clone())
        })
        .await;
    assert_eq!(report.sent.len(), 100);
    producer.close().await;

    let log = Log::default();
    let router = router(&log);
    let stats = router.stats();
    let running = Router::consumer(backend.clone(), &queue)
        .concurrency(16)
        .wait_time(Duration::from_millis(50))
        .build()
        .await
        .unwrap()
        .start(router);
    wait_for("all 100", || stats.routed() == 100).await;
    running.shutdown(Duration::from_secs(5)).await;

    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 100);
    for group in ["g0", "g1", "g2", "g3"] {
        let ids: Vec<u32> = seen.iter().filter(|(_, _, g)| g == group).map(|(_, id, _)| *id).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted, "group {group} out of order across types");
        assert_eq!(ids.len(), 25);
    }
    let kinds: std::collections::BTreeSet<&str> = seen.iter().map(|(kind, _, _)| kind.as_str()).collect();
    assert_eq!(kinds.len(), 2, "both types were routed");
}

/// The body of a `(type, body)` pair: just the body (the type travels in the attribute).
struct PairBody;

impl Encode<(String, serde_json::Value)> for PairBody {
    fn encode(&self, value: &(String, serde_json::Value)) -> sqskit::Result<String> {
        JsonCodec.encode(&value.1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_attributes_subjects_and_eventbridge_detail_types_name_the_type() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("enveloped", &Default::default(), &Default::default()).await.unwrap();
    let topic = "arn:aws:sns:us-east-1:123456789012:orders";
    let placed = Placed { id: 1, group: "a".into() };
    let cancelled = Cancelled { id: 2, group: "a".into(), reason: "r".into() };
    let bodies = [
        // The type in the notification's own message attributes.
        SnsEncoder::new(JsonCodec, topic)
            .attribute(MESSAGE_TYPE_ATTRIBUTE, MessageAttribute::string("OrderPlaced"))
            .encode(&placed)
            .unwrap(),
        // Only a subject: typed through the discriminator's SNS-subject fallback.
        SnsEncoder::new(JsonCodec, topic).subject("OrderCancelled").encode(&cancelled).unwrap(),
        // EventBridge: the detail-type.
        EventBridgeEncoder::new(JsonCodec, "shop", "OrderPlaced").encode(&Placed { id: 3, group: "b".into() }).unwrap(),
    ];
    let entries: Vec<SendEntry> = bodies.iter().enumerate().map(|(i, b)| SendEntry::new(i.to_string(), b)).collect();
    backend.send_message_batch(&queue, &entries).await.unwrap();

    let log = Log::default();
    let router = router(&log).discriminator(Discriminator::default().sns_subject());
    let stats = router.stats();
    let running = Router::consumer(backend.clone(), &queue)
        .envelope(Envelope::Auto)
        .wait_time(Duration::from_millis(50))
        .build()
        .await
        .unwrap()
        .start(router);
    wait_for("all three", || stats.routed() == 3).await;
    running.shutdown(Duration::from_secs(5)).await;
    let mut seen = log.lock().unwrap().clone();
    seen.sort_by_key(|(_, id, _)| *id);
    let seen: Vec<(&str, u32)> = seen.iter().map(|(kind, id, _)| (kind.as_str(), *id)).collect();
    assert_eq!(seen, [("placed", 1), ("cancelled", 2), ("placed", 3)]);
    assert_eq!(stats.unknown(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_names_each_messages_type_from_its_value() {
    #[derive(Serialize)]
    #[serde(untagged)]
    enum Event {
        Placed(Placed),
        Cancelled(Cancelled),
    }
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("typed", &Default::default(), &Default::default()).await.unwrap();
    let producer = Producer::<Event>::builder(backend.clone(), &queue)
        .message_type_fn(|event| {
            Some(match event {
                Event::Placed(_) => "OrderPlaced".to_owned(),
                Event::Cancelled(_) => "OrderCancelled".to_owned(),
            })
        })
        .build()
        .await
        .unwrap();
    let events = vec![
        Event::Placed(Placed { id: 1, group: "a".into() }),
        Event::Cancelled(Cancelled { id: 2, group: "a".into(), reason: "r".into() }),
    ];
    assert_eq!(producer.send_all(events).await.sent.len(), 2);
    // An explicit type on the send wins over the derived one: this one is unknown to the router.
    producer
        .send_with(&Event::Placed(Placed { id: 3, group: "a".into() }), SendOptions::new().message_type("Refund"))
        .await
        .unwrap();
    producer.close().await;

    let log = Log::default();
    let router = router(&log).on_unknown(UnknownType::Ack);
    let stats = router.stats();
    let running = Router::consumer(backend.clone(), &queue)
        .wait_time(Duration::from_millis(50))
        .build()
        .await
        .unwrap()
        .start(router);
    wait_for("all three", || stats.routed() + stats.unknown() == 3).await;
    running.shutdown(Duration::from_secs(5)).await;
    let mut seen = log.lock().unwrap().clone();
    seen.sort_by_key(|(_, id, _)| *id);
    let seen: Vec<(&str, u32)> = seen.iter().map(|(kind, id, _)| (kind.as_str(), *id)).collect();
    assert_eq!(seen, [("placed", 1), ("cancelled", 2)]);
    assert_eq!(stats.unknown(), 1);
}
