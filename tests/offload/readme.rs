//! The README's "Large payloads through S3" snippet, run against moto_server's S3 and the embedded emulator.

use std::sync::Arc;
use std::time::Duration;

use sqskit::SqsBackend;

use crate::support::{Order, S3, Sqs, TWO_MIB, eventually};

async fn readme_large_payloads(
    backend: Arc<dyn SqsBackend>,
    queue_url: &str,
    s3_client: aws_sdk_s3::Client,
) -> sqskit::Result<sqskit::RunningConsumer> {
    use sqskit::Producer;
    use sqskit::consumer::{Consumer, Delivery, Outcome};
    use sqskit::offload::{LargePayloads, S3PayloadStore};
    // README: large payloads
    // Messages above the queue's maximum size (1 MiB) go to the bucket; SQS carries the pointer that AWS's
    // extended clients (Java, Python) write and read.
    let payloads = LargePayloads::new(S3PayloadStore::new(s3_client), "my-payload-bucket");
    let producer =
        Producer::<Order>::builder(backend.clone(), queue_url).large_payloads(payloads.clone()).build().await?;
    producer.send(&Order::padded("big", 2 * 1024 * 1024)).await?;

    // The consumer fetches the payload before decoding and deletes the object once the message is acknowledged.
    let consumer = Consumer::<Order>::builder(backend, queue_url).large_payloads(payloads).build().await?;
    let running = consumer.start(|order: Delivery<Order>| async move {
        println!("order {} with {} bytes of padding", order.body().id, order.body().pad.len());
        Outcome::Ack
    });
    // README: end
    producer.close().await;
    Ok(running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_large_payloads_snippet_runs() {
    let Some(s3) = S3::start().await else { return };
    s3.client.create_bucket().bucket("my-payload-bucket").send().await.unwrap();
    let sqs = Sqs::start(crate::support::Row::Embedded).await;
    let queue = sqs.queue("orders").await;
    let running = readme_large_payloads(sqs.backend.clone(), &queue, s3.client.clone()).await.unwrap();
    eventually("the order acknowledged", || running.stats().completed == 1).await;
    running.shutdown(Duration::from_secs(5)).await;
    let listed = s3.client.list_objects_v2().bucket("my-payload-bucket").send().await.unwrap();
    assert!(listed.contents().is_empty(), "the object was deleted after the acknowledgement");
    let _ = TWO_MIB;
}
