//! `sqskit_lambda_records_total`: every record of an event is counted once, by outcome, under its queue's name.

use std::sync::Arc;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde_json::json;
use sqskit::backend::{EmbeddedBackend, SendEntry, SqsBackend};
use sqskit::consumer::{Delivery, Outcome};
use sqskit::lambda::{SqsLambda, sqs_event};
use sqskit::telemetry::{LABEL_OUTCOME, LABEL_QUEUE, LAMBDA_RECORDS};
use sqskit::types::QueueAttributes;

use crate::{Order, queue, receive};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_is_counted_by_outcome() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("the only recorder in this binary");

    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let (url, arn) = queue(&backend, "metered.fifo", QueueAttributes::new()).await;
    let mut entries: Vec<SendEntry> = (1..=3u32)
        .map(|id| {
            let mut entry = SendEntry::new(id.to_string(), json!({"id": id, "group": "a"}).to_string());
            entry.group_id = Some("a".to_owned());
            entry
        })
        .collect();
    let mut poison = SendEntry::new("poison", "{ not an order");
    poison.group_id = Some("b".to_owned());
    entries.push(poison);
    backend.send_message_batch(&url, &entries).await.unwrap();

    // Order 2 fails: 1 processed, 2 failed, 3 skipped; the poison in group b.
    let function = SqsLambda::builder(|order: Delivery<Order>| async move {
        if order.id == 2 { Outcome::Retry } else { Outcome::Ack }
    })
    .build();
    let received = receive(&backend, &url).await;
    assert_eq!(received.len(), 4);
    function.handle(sqs_event(&arn, "us-east-1", &received)).await;

    let snapshot = snapshotter.snapshot().into_vec();
    let count = |outcome: &str| -> u64 {
        snapshot
            .iter()
            .filter(|(key, ..)| {
                let labels: Vec<(&str, &str)> = key.key().labels().map(|l| (l.key(), l.value())).collect();
                key.key().name() == LAMBDA_RECORDS
                    && labels.contains(&(LABEL_QUEUE, "metered.fifo"))
                    && labels.contains(&(LABEL_OUTCOME, outcome))
            })
            .map(|(.., value)| match value {
                DebugValue::Counter(n) => *n,
                other => panic!("not a counter: {other:?}"),
            })
            .sum()
    };
    let counts: Vec<(&str, u64)> =
        ["processed", "duplicate", "failed", "poison", "skipped"].into_iter().map(|o| (o, count(o))).collect();
    assert_eq!(counts, [("processed", 1), ("duplicate", 0), ("failed", 1), ("poison", 1), ("skipped", 1)]);
}
