//! Metrics after a known producer/consumer workload (captured with `metrics-util`'s `DebuggingRecorder`),
//! and W3C trace context from producer to consumer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use sqskit::backend::{EmbeddedBackend, SqsBackend};
use sqskit::consumer::{Consumer, Delivery, HandlerError};
use sqskit::retry::RetryPolicy;
use sqskit::telemetry::{self, LABEL_ACTION, LABEL_QUEUE};
use sqskit::{Producer, SendOptions, TraceContext};

/// The global recorder (installed once per test binary; the metrics test is the only one that reads it).
fn snapshotter() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder.install().expect("no other recorder in this binary");
        snapshotter
    })
}

/// Held by every test that takes a snapshot: a snapshot drains the recorder's histograms, so a test taking one
/// while another test's consumer records (or before the other test's snapshot) would steal that test's values
/// (seen: 3 handler durations instead of 4, in about a third of runs on a loaded machine).
static SNAPSHOTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Every value recorded under `name` with the label `label = value`.
fn values<'a>(
    snapshot: &'a [(metrics_util::CompositeKey, Option<metrics::Unit>, Option<metrics::SharedString>, DebugValue)],
    name: &str,
    label: (&str, &str),
) -> Vec<&'a DebugValue> {
    snapshot
        .iter()
        .filter(|(key, ..)| {
            key.key().name() == name && key.key().labels().any(|l| l.key() == label.0 && l.value() == label.1)
        })
        .map(|(.., value)| value)
        .collect()
}

fn counter(
    snapshot: &[(metrics_util::CompositeKey, Option<metrics::Unit>, Option<metrics::SharedString>, DebugValue)],
    name: &str,
    label: (&str, &str),
) -> u64 {
    values(snapshot, name, label)
        .into_iter()
        .map(|value| match value {
            DebugValue::Counter(n) => *n,
            other => panic!("{name} is not a counter: {other:?}"),
        })
        .sum()
}

fn histogram(
    snapshot: &[(metrics_util::CompositeKey, Option<metrics::Unit>, Option<metrics::SharedString>, DebugValue)],
    name: &str,
    label: (&str, &str),
) -> Vec<f64> {
    values(snapshot, name, label)
        .into_iter()
        .flat_map(|value| match value {
            DebugValue::Histogram(values) => values.iter().map(|v| v.0).collect::<Vec<_>>(),
            other => panic!("{name} is not a histogram: {other:?}"),
        })
        .collect()
}

async fn consume_all<T: serde::de::DeserializeOwned + Send + Sync + Clone + 'static>(
    backend: Arc<dyn SqsBackend>,
    queue: &str,
    count: usize,
) -> Vec<Delivery<T>> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let consumer = Consumer::<T>::builder(backend, queue).wait_time(Duration::from_millis(50)).build().await.unwrap();
    let running = consumer.start(move |delivery: Delivery<T>| {
        let tx = tx.clone();
        async move {
            // The message's trace context is ambient while the handler runs.
            assert_eq!(TraceContext::current(), delivery.trace_context());
            tx.send(delivery)?;
            Ok::<(), HandlerError>(())
        }
    });
    let mut deliveries = Vec::new();
    while deliveries.len() < count {
        let delivery = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        deliveries.push(delivery);
    }
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.completed, count as u64);
    deliveries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_workload_shows_up_in_the_metrics() {
    let _serial = SNAPSHOTS.lock().await;
    let snapshotter = snapshotter();
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("metered", &Default::default(), &Default::default()).await.unwrap();

    let producer = Producer::<u32>::builder(backend.clone(), &queue).build().await.unwrap();
    let report = producer.send_all(0..25).await;
    assert!(report.is_complete_success());
    producer.close().await;
    consume_all::<u32>(backend.clone(), &queue, 25).await;

    let snapshot = snapshotter.snapshot().into_vec();
    let q = (LABEL_QUEUE, "metered");
    assert_eq!(counter(&snapshot, telemetry::MESSAGES_SENT, q), 25);
    assert_eq!(counter(&snapshot, telemetry::MESSAGES_SEND_FAILED, q), 0);
    assert_eq!(counter(&snapshot, telemetry::MESSAGES_RECEIVED, q), 25);
    assert_eq!(counter(&snapshot, telemetry::MESSAGES_ACKED, q), 25);
    assert_eq!(counter(&snapshot, telemetry::MESSAGES_RETRIED, q), 0);
    assert_eq!(counter(&snapshot, telemetry::MESSAGES_DEAD_LETTERED, q), 0);
    assert_eq!(histogram(&snapshot, telemetry::HANDLER_DURATION, q).len(), 25);
    assert_eq!(histogram(&snapshot, telemetry::RECEIVE_COUNT, q), vec![1.0; 25]);
    let ages = histogram(&snapshot, telemetry::MESSAGE_AGE, q);
    assert_eq!(ages.len(), 25, "the consumer asks for SentTimestamp");
    assert!(ages.iter().all(|age| (0.0..60.0).contains(age)), "{ages:?}");
    let in_flight: Vec<_> = values(&snapshot, telemetry::MESSAGES_IN_FLIGHT, q);
    assert_eq!(in_flight, vec![&DebugValue::Gauge(0.0.into())], "every held message was settled");

    // API calls and batch sizes are process-wide (other tests of this binary add to them).
    let sends = counter(&snapshot, telemetry::API_CALLS, (LABEL_ACTION, "SendMessageBatch"));
    assert!(sends >= 3, "25 messages need at least 3 SendMessageBatch requests, counted {sends}");
    let sizes = histogram(&snapshot, telemetry::BATCH_SIZE, (LABEL_ACTION, "SendMessageBatch"));
    assert!(sizes.iter().sum::<f64>() >= 25.0 && sizes.iter().all(|s| (1.0..=10.0).contains(s)), "{sizes:?}");
    assert!(counter(&snapshot, telemetry::API_CALLS, (LABEL_ACTION, "ReceiveMessage")) >= 3);
    assert!(counter(&snapshot, telemetry::API_CALLS, (LABEL_ACTION, "DeleteMessageBatch")) >= 3);
    assert!(counter(&snapshot, telemetry::API_CALLS, (LABEL_ACTION, "GetQueueAttributes")) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_traceparent_travels_from_producer_to_consumer() {
    let _ = snapshotter();
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("traced", &Default::default(), &Default::default()).await.unwrap();
    let producer = Producer::<String>::builder(backend.clone(), &queue).build().await.unwrap();

    let explicit: TraceContext = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap();
    let ambient = TraceContext::new_root();
    producer.send_with(&"explicit".to_owned(), SendOptions::new().trace_context(explicit)).await.unwrap();
    ambient.scope(producer.send(&"ambient".to_owned())).await.unwrap();
    // An explicit context wins over the ambient one.
    ambient.scope(producer.send_with(&"both".to_owned(), SendOptions::new().trace_context(explicit))).await.unwrap();
    producer.send(&"untraced".to_owned()).await.unwrap();
    let xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    producer.send_with(&"xray".to_owned(), SendOptions::new().trace_header(xray)).await.unwrap();
    producer.close().await;

    let deliveries = consume_all::<String>(backend, &queue, 5).await;
    let find = |body: &str| deliveries.iter().find(|d| d.body() == body).expect(body);
    assert_eq!(find("explicit").trace_context(), Some(explicit));
    assert_eq!(find("ambient").trace_context(), Some(ambient));
    assert_eq!(find("both").trace_context(), Some(explicit));
    assert_eq!(find("untraced").trace_context(), None);
    assert_eq!(find("untraced").meta().attributes.len(), 0, "no attribute without a context");
    assert_eq!(find("xray").aws_trace_header(), Some(xray), "the consumer asks for AWSTraceHeader");
    assert_eq!(find("explicit").aws_trace_header(), None);
}

#[tokio::test]
async fn an_ambient_context_never_pushes_a_message_over_the_attribute_limit() {
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("crowded", &Default::default(), &Default::default()).await.unwrap();
    let producer = Producer::<u32>::builder(backend.clone(), &queue).build().await.unwrap();
    let mut options = SendOptions::new();
    for i in 0..10 {
        options = options.attribute(format!("a{i}"), sqskit::MessageAttribute::string("x"));
    }
    TraceContext::new_root().scope(producer.send_with(&1, options.clone())).await.expect("ambient context is skipped");
    let error = producer
        .send_with(&2, options.trace_context(TraceContext::new_root()))
        .await
        .expect_err("an explicit context counts toward the limit");
    assert!(matches!(error, sqskit::Error::InvalidMessage { .. }), "{error:?}");
    producer.close().await;
}

/// Bounded handlers (issue 18): on queue `bounded`, one handler returns at once, one honours its cancellation
/// token (it reaches the handler timeout and returns within the grace period: a timeout, not a drop), and one
/// hangs past `handler_timeout + handler_grace` on its first delivery (a timeout and a drop: its message is
/// retried, and the redelivery returns at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_timeouts_and_dropped_handlers_are_counted() {
    let _serial = SNAPSHOTS.lock().await;
    const QUICK: u32 = 0;
    const HONOURS_THE_TOKEN: u32 = 1;
    const HANGS: u32 = 2;
    let snapshotter = snapshotter();
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    let queue = backend.create_queue("bounded", &Default::default(), &Default::default()).await.unwrap();
    let producer = Producer::<u32>::builder(backend.clone(), &queue).build().await.unwrap();
    assert!(producer.send_all([QUICK, HONOURS_THE_TOKEN, HANGS]).await.is_complete_success());
    producer.close().await;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let consumer = Consumer::<u32>::builder(backend.clone(), &queue)
        .wait_time(Duration::from_millis(50))
        .handler_timeout(Duration::from_millis(300))
        .handler_grace(Duration::from_millis(300))
        .retry_backoff(
            RetryPolicy::default().initial_backoff(Duration::from_millis(50)).max_backoff(Duration::from_millis(100)),
        )
        .build()
        .await
        .unwrap();
    let running = consumer.start(move |delivery: Delivery<u32>| {
        let tx = tx.clone();
        async move {
            match *delivery.body() {
                HONOURS_THE_TOKEN => delivery.cancelled().await,
                HANGS if delivery.receive_count() == 1 => std::future::pending::<()>().await,
                _ => {}
            }
            tx.send((*delivery.body(), delivery.receive_count()))?;
            Ok::<(), HandlerError>(())
        }
    });
    let mut finished = Vec::new();
    while finished.len() < 3 {
        finished.push(tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap());
    }
    let report = running.shutdown(Duration::from_secs(5)).await;
    finished.sort_unstable();
    assert_eq!(
        finished,
        vec![(QUICK, 1), (HONOURS_THE_TOKEN, 1), (HANGS, 2)],
        "the hanging handler's message was retried"
    );
    assert_eq!((report.stats.timed_out, report.stats.dropped), (2, 1), "{:?}", report.stats);

    let snapshot = snapshotter.snapshot().into_vec();
    let q = (LABEL_QUEUE, "bounded");
    assert_eq!(counter(&snapshot, telemetry::HANDLER_TIMEOUTS, q), 2, "the honouring and the hanging handler");
    assert_eq!(counter(&snapshot, telemetry::HANDLERS_DROPPED, q), 1, "the hanging handler");
    assert_eq!(counter(&snapshot, telemetry::MESSAGES_RETRIED, q), 1, "the dropped handler's message");
    assert_eq!(counter(&snapshot, telemetry::MESSAGES_ACKED, q), 3);
    assert_eq!(histogram(&snapshot, telemetry::HANDLER_DURATION, q).len(), 4, "three messages, one twice");
}
