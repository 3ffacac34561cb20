//! Envelopes: AWS's documented SNS and EventBridge samples decode as documented, malformed envelopes are
//! poison with a clear reason, and a consumer configured for an envelope hands its handler the decoded
//! payload with the envelope's metadata on the `Delivery` (end to end on the embedded emulator).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod order_demo_sns;
#[allow(dead_code)]
#[path = "../../examples/orders/mod.rs"]
mod orders;
mod readme;
mod router;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sqskit::backend::{EmbeddedBackend, ReceiveRequest, SendEntry, SqsBackend};
use sqskit::codec::JsonCodec;
use sqskit::consumer::{Consumer, DEAD_LETTER_REASON_ATTRIBUTE, Delivery, Outcome};
use sqskit::envelope::{Envelope, EnvelopeMeta, EventBridgeEncoder, SnsEncoder};
use sqskit::{MessageAttribute, Producer};
use tokio::sync::mpsc;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/envelopes/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u32,
    item: String,
}

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:orders";

#[test]
fn documented_sns_notification_decodes_every_field() {
    let body = fixture("sns-notification.json");
    for envelope in [Envelope::Sns, Envelope::Auto] {
        let opened = envelope.open(&body).expect("the documented sample is valid");
        assert_eq!(opened.payload, "Hello world!");
        let sns = opened.meta.sns().expect("SNS metadata");
        assert_eq!(sns.message_id, "63a3f6b6-d533-4a47-aef9-fcf5cf758c76");
        assert_eq!(sns.topic_arn, "arn:aws:sns:us-west-2:123456789012:MyTopic");
        assert_eq!(sns.subject.as_deref(), Some("Testing publish to subscribed queues"));
        assert_eq!(sns.timestamp, UNIX_EPOCH + Duration::from_millis(1_332_997_936_901));
        assert_eq!(sns.signature_version.as_deref(), Some("1"));
        assert_eq!(sns.signature.as_deref(), Some("EXAMPLEnTrFPa3..."));
        assert!(sns.signing_cert_url.as_deref().is_some_and(|url| url.ends_with(".pem")));
        assert!(sns.unsubscribe_url.as_deref().is_some_and(|url| url.contains("Action=Unsubscribe")));
        assert!(sns.attributes.is_empty());
    }
    // The same document, raw: the body is the payload.
    assert_eq!(Envelope::Raw.open(&body).expect("raw").payload, body);
}

#[test]
fn documented_eventbridge_event_decodes_detail_and_metadata() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct StateChange {
        #[serde(rename = "instance-id")]
        instance_id: String,
        state: String,
    }
    let body = fixture("eventbridge-ec2-state-change.json");
    for envelope in [Envelope::EventBridge, Envelope::Auto] {
        let opened = envelope.open(&body).expect("the documented sample is valid");
        let detail: StateChange = serde_json::from_str(&opened.payload).expect("detail");
        // The documented sample's values, including its stray spaces.
        assert_eq!(detail, StateChange { instance_id: " i-1234567890abcdef0".into(), state: "terminated".into() });
        let event = opened.meta.eventbridge().expect("EventBridge metadata");
        assert_eq!(event.version, "0");
        assert_eq!(event.id, "6a7e8feb-b491-4cf7-a9f1-bf3703467718");
        assert_eq!(event.detail_type, "EC2 Instance State-change Notification");
        assert_eq!(event.source, "aws.ec2");
        assert_eq!(event.account, "111122223333");
        assert_eq!(event.region, "us-west-1");
        assert_eq!(event.time, UNIX_EPOCH + Duration::from_secs(1_513_968_228));
        assert_eq!(event.resources, ["arn:aws:ec2:us-west-1:123456789012:instance/ i-1234567890abcdef0"]);
        assert_eq!(event.replay_name, None);
    }
}

#[test]
fn auto_detect_passes_other_bodies_through_raw() {
    for body in ["plain text", r#"{"id":1,"item":"tea"}"#, "[1,2,3]", r#"{"Type":"OrderPlaced"}"#] {
        let opened = Envelope::Auto.open(body).expect("raw");
        assert_eq!(opened.payload, body);
        assert_eq!(opened.meta, EnvelopeMeta::Raw);
    }
}

#[test]
fn malformed_envelopes_are_errors_naming_the_problem() {
    let sns = fixture("sns-notification.json");
    let eventbridge = fixture("eventbridge-ec2-state-change.json");
    let cases: Vec<(Envelope, String, &str)> = vec![
        (Envelope::Sns, "Hello world!".into(), "not a valid SNS notification"),
        (Envelope::Sns, sns.replace(r#""Message" : "Hello world!","#, ""), "missing field `Message`"),
        (Envelope::Sns, sns.replace(r#""TopicArn" :"#, r#""Topic" :"#), "missing field `TopicArn`"),
        (Envelope::Sns, sns.replace("\"Notification\"", "\"UnsubscribeConfirmation\""), "UnsubscribeConfirmation"),
        (Envelope::Sns, sns.replace("2012-03-29T05:12:16.901Z", "29/03/2012"), "not an RFC 3339 timestamp"),
        (Envelope::Sns, sns.replace(r#""Message" : "Hello world!""#, r#""Message" : 42"#), "invalid type"),
        // Auto: a body that looks like SNS must be valid SNS, not passed on raw.
        (Envelope::Auto, sns.replace(r#""MessageId" :"#, r#""Id" :"#), "missing field `MessageId`"),
        (Envelope::EventBridge, "{}".into(), "not a valid EventBridge event"),
        (Envelope::EventBridge, eventbridge.replace(r#""account": "111122223333","#, ""), "missing field `account`"),
        (Envelope::Auto, eventbridge.replace(r#""time": "2017-12-22T18:43:48Z","#, ""), "missing field `time`"),
        (Envelope::EventBridge, eventbridge.replace(r#""resources": ["#, r#""resources": 7, "x": ["#), "invalid type"),
    ];
    for (envelope, body, expected) in cases {
        match envelope.open(&body) {
            Ok(opened) => panic!("{envelope:?} opened a malformed body: {opened:?}"),
            Err(error) => {
                assert!(error.to_string().contains(expected), "{envelope:?}: `{error}` does not say `{expected}`");
                // The consumer turns it into a decoding error: poison, with the envelope's reason.
                let error: sqskit::Error = error.into();
                assert!(matches!(error, sqskit::Error::Decode { .. }));
                assert!(error.to_string().contains(expected));
            }
        }
    }
}

/// A queue and its dead-letter queue on a fresh embedded emulator.
async fn queues(name: &str) -> (Arc<dyn SqsBackend>, String, String) {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue(name, &Default::default(), &Default::default()).await.unwrap();
    let dlq = backend.create_queue(&format!("{name}-dlq"), &Default::default(), &Default::default()).await.unwrap();
    (backend, queue, dlq)
}

/// Runs a consumer of `Order`s with `envelope` until `expected` deliveries arrived; returns them.
async fn consume(
    backend: &Arc<dyn SqsBackend>,
    queue: &str,
    dlq: &str,
    envelope: Envelope,
    expected: usize,
) -> Vec<Delivery<Order>> {
    let (seen, mut deliveries) = mpsc::unbounded_channel();
    let consumer = Consumer::<Order>::builder(backend.clone(), queue)
        .envelope(envelope)
        .dead_letter_queue(dlq)
        .wait_time(Duration::from_millis(100))
        .build()
        .await
        .unwrap();
    let running = consumer.start(move |delivery: Delivery<Order>| {
        let seen = seen.clone();
        async move {
            let _ = seen.send(delivery);
            Outcome::Ack
        }
    });
    let mut out = Vec::new();
    while out.len() < expected {
        let next = tokio::time::timeout(Duration::from_secs(10), deliveries.recv()).await;
        out.push(next.expect("deliveries in time").expect("consumer alive"));
    }
    // Let the poison settle (dead-lettering happens on the consumer's tasks).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.stats.poison, 1, "exactly the malformed message is poison");
    out.sort_by_key(|delivery| delivery.id);
    out
}

async fn dead_letters(backend: &Arc<dyn SqsBackend>, dlq: &str) -> Vec<(String, String)> {
    let received =
        backend.receive_message(dlq, &ReceiveRequest::new().max_messages(10).all_attributes()).await.unwrap();
    received
        .into_iter()
        .map(|message| {
            let reason = message.attributes.get(DEAD_LETTER_REASON_ATTRIBUTE).and_then(|a| a.as_text()).unwrap();
            (message.body, reason.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sns_consumer_decodes_the_message_and_exposes_the_notification() {
    let (backend, queue, dlq) = queues("sns-orders").await;
    let producer = Producer::<Order>::builder(backend.clone(), &queue)
        .codec(
            SnsEncoder::new(JsonCodec, TOPIC)
                .subject("new order")
                .attribute("channel", MessageAttribute::string("web"))
                .attribute("signature-blob", MessageAttribute::binary(vec![0, 255, 7])),
        )
        .build()
        .await
        .unwrap();
    let report = producer.send_all((1..=3).map(|id| Order { id, item: format!("item-{id}") })).await;
    assert_eq!(report.sent.len(), 3);
    producer.close().await;
    // A body that is not an SNS notification (a raw order sent by mistake to an SNS-fed queue).
    backend.send_message_batch(&queue, &[SendEntry::new("raw", r#"{"id":9,"item":"raw"}"#)]).await.unwrap();

    let deliveries = consume(&backend, &queue, &dlq, Envelope::Sns, 3).await;
    for (delivery, id) in deliveries.iter().zip(1..) {
        assert_eq!(**delivery, Order { id, item: format!("item-{id}") });
        let sns = delivery.sns().expect("SNS metadata on the delivery");
        assert_eq!(sns.topic_arn, TOPIC);
        assert_eq!(sns.subject.as_deref(), Some("new order"));
        assert_eq!(sns.attributes.get("channel"), Some(&MessageAttribute::string("web")));
        assert_eq!(sns.attributes.get("signature-blob"), Some(&MessageAttribute::binary(vec![0, 255, 7])));
        assert!(uuid::Uuid::parse_str(&sns.message_id).is_ok());
        assert!(sns.timestamp.elapsed().unwrap() < Duration::from_secs(60));
        assert!(delivery.eventbridge().is_none());
    }
    let mut ids: Vec<&str> = deliveries.iter().map(|d| d.sns().unwrap().message_id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "each notification has its own SNS message id");

    let dead = dead_letters(&backend, &dlq).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, r#"{"id":9,"item":"raw"}"#, "the poison keeps its body");
    assert!(dead[0].1.contains("not a valid SNS notification"), "reason: {}", dead[0].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eventbridge_consumer_decodes_detail_and_exposes_the_event() {
    let (backend, queue, dlq) = queues("eb-orders").await;
    let producer = Producer::<Order>::builder(backend.clone(), &queue)
        .codec(
            EventBridgeEncoder::new(JsonCodec, "com.example.shop", "OrderPlaced")
                .account("123456789012")
                .region("eu-west-1")
                .resource("arn:aws:dynamodb:eu-west-1:123456789012:table/orders"),
        )
        .build()
        .await
        .unwrap();
    assert_eq!(producer.send_all((1..=2).map(|id| Order { id, item: format!("item-{id}") })).await.sent.len(), 2);
    producer.close().await;
    // An event whose detail is a string: not a valid EventBridge event.
    let broken = r#"{"version":"0","id":"x","detail-type":"OrderPlaced","source":"s","account":"1","time":"2024-01-01T00:00:00Z","region":"r","resources":[],"detail":"oops"}"#;
    backend.send_message_batch(&queue, &[SendEntry::new("broken", broken)]).await.unwrap();

    let deliveries = consume(&backend, &queue, &dlq, Envelope::EventBridge, 2).await;
    for (delivery, id) in deliveries.iter().zip(1..) {
        assert_eq!(delivery.id, id);
        let event = delivery.eventbridge().expect("EventBridge metadata");
        assert_eq!(event.detail_type, "OrderPlaced");
        assert_eq!(event.source, "com.example.shop");
        assert_eq!(event.account, "123456789012");
        assert_eq!(event.region, "eu-west-1");
        assert_eq!(event.resources, ["arn:aws:dynamodb:eu-west-1:123456789012:table/orders"]);
        assert!(delivery.sns().is_none());
    }
    let dead = dead_letters(&backend, &dlq).await;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].1.contains("`detail` must be a JSON object"), "reason: {}", dead[0].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_consumer_takes_raw_sns_and_eventbridge_bodies_on_one_queue() {
    let (backend, queue, dlq) = queues("mixed-orders").await;
    let order = |id: u32| Order { id, item: format!("item-{id}") };
    let sns = sqskit::codec::Encode::encode(&SnsEncoder::new(JsonCodec, TOPIC), &order(1)).unwrap();
    let eventbridge =
        sqskit::codec::Encode::encode(&EventBridgeEncoder::new(JsonCodec, "shop", "OrderPlaced"), &order(2)).unwrap();
    let raw = serde_json::to_string(&order(3)).unwrap();
    let broken_sns = r#"{"Type":"Notification","TopicArn":"t","Message":"{}"}"#;
    let entries = [
        SendEntry::new("sns", sns),
        SendEntry::new("eb", eventbridge),
        SendEntry::new("raw", raw),
        SendEntry::new("broken", broken_sns),
    ];
    backend.send_message_batch(&queue, &entries).await.unwrap();

    let deliveries = consume(&backend, &queue, &dlq, Envelope::Auto, 3).await;
    let kinds: Vec<(u32, &str)> = deliveries.iter().map(|d| (d.id, d.meta().envelope.kind())).collect();
    assert_eq!(kinds, [(1, "sns"), (2, "eventbridge"), (3, "raw")]);
    let dead = dead_letters(&backend, &dlq).await;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].1.contains("missing field `MessageId`"), "reason: {}", dead[0].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_and_eventbridge_redeliveries_of_one_publish_run_once_with_an_idempotency_store() {
    use std::sync::atomic::{AtomicU32, Ordering};

    use sqskit::codec::Encode;
    use sqskit::consumer::InMemoryIdempotencyStore;

    let (backend, queue, _dlq) = queues("redelivered").await;
    let order = |id: u32| Order { id, item: format!("item-{id}") };
    let sns = SnsEncoder::new(JsonCodec, TOPIC);
    let once = sns.encode(&order(1)).unwrap();
    let event = EventBridgeEncoder::new(JsonCodec, "shop", "OrderPlaced").encode(&order(2)).unwrap();
    // One SNS publish delivered twice (same SNS MessageId), one event delivered twice (same event id), and a
    // second publish of an equal order (a new MessageId: a new message).
    let entries = [
        SendEntry::new("a", once.clone()),
        SendEntry::new("b", once),
        SendEntry::new("c", event.clone()),
        SendEntry::new("d", event),
        SendEntry::new("e", sns.encode(&order(1)).unwrap()),
    ];
    backend.send_message_batch(&queue, &entries).await.unwrap();
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let consumer = Consumer::<Order>::builder(backend.clone(), &queue)
        .envelope(Envelope::Auto)
        .idempotency(Arc::new(InMemoryIdempotencyStore::new()))
        .wait_time(Duration::from_millis(50))
        .build()
        .await
        .unwrap();
    let running = consumer.start(move |_order: Delivery<Order>| {
        let runs = counted.clone();
        async move {
            runs.fetch_add(1, Ordering::SeqCst);
            Outcome::Ack
        }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = backend.get_queue_attributes(&queue, &[sqskit::types::QueueAttributeName::All]).await.unwrap();
        let remaining = left.approximate_number_of_messages().unwrap_or(1)
            + left.approximate_number_of_messages_not_visible().unwrap_or(1);
        if remaining == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the queue did not drain");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 3, "each publish ran once; the redelivered copies were duplicates");
}
