//! What goes wrong: a missing object, S3 down, retried and refused sends, extended receipt handles.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use sqskit::Producer;
use sqskit::consumer::{Consumer, DEAD_LETTER_REASON_ATTRIBUTE, Delivery, Outcome};
use sqskit::offload::{LargePayloads, PayloadPointer, S3PayloadStore};
use sqskit::retry::RetryPolicy;
use sqskit_emulator::faults::FaultRule;

use crate::servers::free_port;
use crate::support::{Order, Row, S3, Sqs, TWO_MIB, eventually, s3_client};

/// The object of a pointer message was deleted: the message is poison, dead-lettered with a reason that says so,
/// and never reaches the handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_object_is_poison_with_its_reason() {
    let Some(s3) = S3::start().await else { return };
    let sqs = Sqs::start(Row::Embedded).await;
    let queue = sqs.queue("orders").await;
    let dead_letters = sqs.queue("orders-dlq").await;
    let producer =
        Producer::<Order>::builder(sqs.backend.clone(), &queue).large_payloads(s3.payloads()).build().await.unwrap();
    producer.send(&Order::padded("lost", TWO_MIB)).await.unwrap();
    let key = s3.keys().await.pop().expect("the object");
    s3.delete(&key).await;

    let handled = Arc::new(AtomicU64::new(0));
    let seen = handled.clone();
    let consumer = Consumer::<Order>::builder(sqs.backend.clone(), &queue)
        .large_payloads(s3.payloads())
        .dead_letter_queue(&dead_letters)
        .build()
        .await
        .unwrap();
    let running = consumer.start(move |_order: Delivery<Order>| {
        seen.fetch_add(1, Ordering::SeqCst);
        async { Outcome::Ack }
    });
    eventually("the message dead-lettered", || running.stats().dead_lettered == 1).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.stats.poison, report.completed, handled.load(Ordering::SeqCst)), (1, 0, 0));
    let dead = sqs.peek(&dead_letters).await;
    assert_eq!(dead.len(), 1);
    let reason = dead[0].attributes.get(DEAD_LETTER_REASON_ATTRIBUTE).and_then(|a| a.as_text()).unwrap_or_default();
    assert!(reason.contains(&key) && reason.contains("does not exist"), "reason: {reason}");
    assert!(dead[0].body.contains(&key), "the dead letter keeps the pointer");
    producer.close().await;
}

/// S3 unreachable: the consumer puts the message back (counted in `payload_failures`) and never acknowledges it;
/// once S3 answers again, a consumer processes it and its object is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_unavailable_retries_and_never_acknowledges_without_the_payload() {
    let Some(s3) = S3::start().await else { return };
    let sqs = Sqs::start(Row::Embedded).await;
    let queue = sqs.queue("orders").await;
    let producer =
        Producer::<Order>::builder(sqs.backend.clone(), &queue).large_payloads(s3.payloads()).build().await.unwrap();
    producer.send(&Order::padded("waiting", TWO_MIB)).await.unwrap();

    // Nothing listens on this port: every request fails to connect (the SDK's own retries included).
    let down =
        LargePayloads::new(S3PayloadStore::new(s3_client(&format!("http://127.0.0.1:{}", free_port()))), &s3.bucket);
    let consumer = Consumer::<Order>::builder(sqs.backend.clone(), &queue).large_payloads(down).build().await.unwrap();
    let running = consumer.start(|_order: Delivery<Order>| async { Outcome::Ack });
    eventually("a failed fetch", || running.stats().payload_failures >= 1).await;
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.completed, report.stats.poison), (0, 0), "neither acknowledged nor poison");
    assert_eq!(sqs.depth(&queue).await, 1, "the message is still in the queue");
    assert_eq!(s3.keys().await.len(), 1, "and its object in the bucket");

    let consumer =
        Consumer::<Order>::builder(sqs.backend.clone(), &queue).large_payloads(s3.payloads()).build().await.unwrap();
    let running = consumer.start(|order: Delivery<Order>| async move {
        assert_eq!(order.body().pad.len(), TWO_MIB);
        Outcome::Ack
    });
    eventually("the order processed once S3 is back", || running.stats().completed == 1).await;
    running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(sqs.depth(&queue).await, 0);
    assert!(s3.keys().await.is_empty());
    producer.close().await;
}

/// The emulator fails the first two `SendMessageBatch` requests (500): the producer retries the pointer, and
/// the payload is uploaded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_sends_upload_the_payload_once() {
    let Some(s3) = S3::start().await else { return };
    let sqs = Sqs::start(Row::AwsHttp).await;
    let queue = sqs.queue("orders").await;
    let producer = Producer::<Order>::builder(sqs.backend.clone(), &queue)
        .large_payloads(s3.payloads())
        .retry(RetryPolicy::default().initial_backoff(Duration::from_millis(10)))
        .build()
        .await
        .unwrap();
    let rule: FaultRule = serde_json::from_value(json!({
        "queue": "orders", "action": "SendMessageBatch", "kind": "server_error", "probability": 1.0, "max_injections": 2,
    }))
    .unwrap();
    let emulator = sqs.emulator.as_ref().unwrap();
    emulator.faults().add(rule).unwrap();
    let receipt = producer.send(&Order::padded("retried", TWO_MIB)).await.expect("sent after retries");
    assert_eq!(receipt.attempts, 3);
    assert_eq!(s3.keys().await.len(), 1, "one upload for three attempts");
    let messages = sqs.peek(&queue).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(PayloadPointer::from_body(&messages[0].body).unwrap().key, s3.keys().await[0]);
    producer.close().await;
}

/// A send SQS refuses (the queue was deleted after the producer started) leaves no object; an invalid message
/// uploads nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_send_leaves_no_object() {
    let Some(s3) = S3::start().await else { return };
    let sqs = Sqs::start(Row::Embedded).await;
    let queue = sqs.queue("doomed").await;
    let producer =
        Producer::<Order>::builder(sqs.backend.clone(), &queue).large_payloads(s3.payloads()).build().await.unwrap();
    sqs.backend.delete_queue(&queue).await.unwrap();
    let error = producer.send(&Order::padded("refused", TWO_MIB)).await.expect_err("the queue is gone");
    assert_eq!(error.code().map(|code| code.shape_name().to_owned()).as_deref(), Some("QueueDoesNotExist"), "{error}");
    assert!(s3.keys().await.is_empty(), "the object of the refused message was deleted");

    let queue = sqs.queue("valid").await;
    let producer =
        Producer::<Order>::builder(sqs.backend.clone(), &queue).large_payloads(s3.payloads()).build().await.unwrap();
    let options = (0..10).fold(sqskit::SendOptions::new(), |options, i| {
        options.attribute(format!("a{i}"), sqskit::MessageAttribute::string("v"))
    });
    let error = producer.send_with(&Order::padded("crowded", TWO_MIB), options).await.expect_err("ten attributes");
    assert!(error.to_string().contains("at most 9"), "{error}");
    assert!(s3.keys().await.is_empty(), "nothing was uploaded for an invalid message");
    producer.close().await;
}

/// A receipt handle in the extended clients' form deletes the message and its object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extended_receipt_handle_deletes_message_and_object() {
    let Some(s3) = S3::start().await else { return };
    let sqs = Sqs::start(Row::AwsHttp).await;
    let queue = sqs.queue("orders").await;
    let producer =
        Producer::<Order>::builder(sqs.backend.clone(), &queue).large_payloads(s3.payloads()).build().await.unwrap();
    producer.send(&Order::padded("handle", TWO_MIB)).await.unwrap();
    let received =
        sqs.backend.receive_message(&queue, &sqskit::backend::ReceiveRequest::new().all_attributes()).await.unwrap();
    let pointer = PayloadPointer::from_body(&received[0].body).unwrap();
    let handle = pointer.embed_in_receipt_handle(received[0].receipt_handle.as_str());
    s3.payloads().delete_message(sqs.backend.as_ref(), &queue, &handle).await.expect("deleted");
    assert_eq!(sqs.depth(&queue).await, 0);
    assert!(s3.keys().await.is_empty());
    producer.close().await;
}
