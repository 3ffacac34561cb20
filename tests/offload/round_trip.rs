//! Producer → S3 + pointer → consumer on both backends; the wire format the extended clients read; batches of
//! pointers; the object deleted after the acknowledgement, or kept.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqskit::Producer;
use sqskit::consumer::{Consumer, Delivery, Outcome};
use sqskit::offload::{PayloadPointer, RESERVED_ATTRIBUTE_NAME};

use crate::support::{Order, Row, S3, Sqs, TWO_MIB, eventually};

async fn round_trip(row: Row) {
    let Some(s3) = S3::start().await else { return };
    let sqs = Sqs::start(row).await;
    let queue = sqs.queue("orders").await;
    let producer =
        Producer::<Order>::builder(sqs.backend.clone(), &queue).large_payloads(s3.payloads()).build().await.unwrap();
    let large = Order::padded("large", TWO_MIB);
    let small = Order::padded("small", 100);
    producer.send(&large).await.expect("the 2 MiB order is sent through S3");
    producer.send(&small).await.expect("the small order is sent inline");

    // On the wire: one pointer exactly as the extended clients write it, with the size attribute; one inline body.
    let keys = s3.keys().await;
    assert_eq!(keys.len(), 1, "only the large order went to S3");
    let mut seen = sqs.peek(&queue).await;
    seen.extend(sqs.peek(&queue).await);
    let pointer_message = seen.iter().find(|m| m.body.starts_with('[')).expect("the pointer message");
    assert_eq!(
        pointer_message.body,
        format!(
            r#"["software.amazon.payloadoffloading.PayloadS3Pointer",{{"s3BucketName":"{}","s3Key":"{}"}}]"#,
            s3.bucket, keys[0]
        )
    );
    let payload = serde_json::to_string(&large).unwrap();
    let size = pointer_message.attributes.get(RESERVED_ATTRIBUTE_NAME).expect("ExtendedPayloadSize");
    assert_eq!((size.data_type.as_str(), size.as_text()), ("Number", Some(payload.len().to_string().as_str())));
    assert_eq!(s3.object(&keys[0]).await, payload, "the object holds the encoded body");
    assert!(seen.iter().any(|m| m.body.contains("\"small\"")), "the small order travels inline");

    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let consumer =
        Consumer::<Order>::builder(sqs.backend.clone(), &queue).large_payloads(s3.payloads()).build().await.unwrap();
    let running = consumer.start(move |order: Delivery<Order>| {
        let sink = sink.clone();
        async move {
            sink.lock().unwrap().push(order.into_body());
            Outcome::Ack
        }
    });
    eventually("both orders acknowledged", || running.stats().completed == 2).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.completed, report.stats.poison), (2, 0));
    let mut orders = received.lock().unwrap().clone();
    orders.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(orders, vec![large, small], "the handler saw the payloads themselves");
    assert_eq!(sqs.depth(&queue).await, 0);
    assert!(s3.keys().await.is_empty(), "the object is deleted once SQS confirmed the acknowledgement");
    producer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_round_trip_through_s3() {
    round_trip(Row::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_http_round_trip_through_s3() {
    round_trip(Row::AwsHttp).await;
}

/// Ten 2 MiB orders are ten pointers of ~150 bytes: one `SendMessageBatch`, although their payloads are 20 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_carries_ten_pointers() {
    let Some(s3) = S3::start().await else { return };
    let sqs = Sqs::start(Row::AwsHttp).await;
    let queue = sqs.queue("batched").await;
    let producer = Producer::<Order>::builder(sqs.backend.clone(), &queue)
        .large_payloads(s3.payloads())
        .linger(Duration::from_secs(5))
        .build()
        .await
        .unwrap();
    let before = sqs.counting.counts();
    let sends: Vec<_> = (0..10)
        .map(|i| {
            let producer = producer.clone();
            tokio::spawn(async move { producer.send(&Order::padded(&format!("o{i}"), TWO_MIB)).await })
        })
        .collect();
    for send in sends {
        send.await.unwrap().expect("sent");
    }
    let after = sqs.counting.counts();
    assert_eq!(after.send_message_batch - before.send_message_batch, 1, "one request carried the ten pointers");
    assert_eq!(s3.keys().await.len(), 10);
    assert_eq!(sqs.depth(&queue).await, 10);
    producer.close().await;
}

/// Small messages stay inline unless `always_through_s3`; a lower threshold offloads what exceeds it; the legacy
/// attribute is written on request and read like the current one; `keep_payloads` keeps the object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threshold_always_legacy_and_keep() {
    let Some(s3) = S3::start().await else { return };
    let sqs = Sqs::start(Row::Embedded).await;
    let queue = sqs.queue("options").await;
    let always = Producer::<Order>::builder(sqs.backend.clone(), &queue)
        .large_payloads(s3.payloads().always_through_s3(true).legacy_attribute(true).key_prefix("orders/"))
        .build()
        .await
        .unwrap();
    always.send(&Order::padded("tiny", 1)).await.unwrap();
    let lowered = Producer::<Order>::builder(sqs.backend.clone(), &queue)
        .large_payloads(s3.payloads().threshold(1000))
        .build()
        .await
        .unwrap();
    lowered.send(&Order::padded("kilobyte", 1000)).await.unwrap();
    lowered.send(&Order::padded("inline", 10)).await.unwrap();
    let keys = s3.keys().await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys.iter().filter(|key| key.starts_with("orders/")).count(), 1);
    let messages = {
        let mut all = Vec::new();
        while all.len() < 3 {
            all.extend(sqs.peek(&queue).await);
        }
        all
    };
    let legacy = messages.iter().find(|m| m.attributes.get("SQSLargePayloadSize").is_some()).expect("legacy marker");
    assert!(PayloadPointer::from_body(&legacy.body).unwrap().key.starts_with("orders/"));

    let consumer = Consumer::<Order>::builder(sqs.backend.clone(), &queue)
        .large_payloads(s3.payloads().keep_payloads(true))
        .build()
        .await
        .unwrap();
    let running = consumer.start(|_order: Delivery<Order>| async { Outcome::Ack });
    eventually("three orders acknowledged", || running.stats().completed == 3).await;
    running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(s3.keys().await, keys, "keep_payloads leaves the objects");
    always.close().await;
    lowered.close().await;
}
