//! `QueueMonitor` on virtual time: the embedded engine runs on a `ManualClock` (SQS time: delays,
//! visibility) and the monitor's own clock (poll interval, minimum alert interval) is Tokio's paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sqskit::ServiceErrorCode;
use sqskit::backend::{
    AwsBackend, CountingBackend, DeleteEntry, EmbeddedBackend, ReceiveRequest, SendEntry, SqsBackend,
};
use sqskit::monitor::{Alert, Metric, QueueMonitor, Threshold};
use sqskit::retry::RetryPolicy;
use sqskit_emulator::faults::FaultRule;
use sqskit_emulator::{Emulator, Engine, EngineConfig, ManualClock, RunningEmulator};
use std::time::Instant;

struct Setup {
    backend: Arc<dyn SqsBackend>,
    clock: ManualClock,
    queue: String,
    alerts: Arc<Mutex<Vec<Alert>>>,
}

async fn setup() -> Setup {
    let clock = ManualClock::new();
    let engine = Engine::new(EngineConfig::default(), Arc::new(clock.clone()));
    let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::with_engine(engine));
    let queue = backend.create_queue("work", &Default::default(), &Default::default()).await.unwrap();
    Setup { backend, clock, queue, alerts: Arc::default() }
}

impl Setup {
    async fn monitor(
        &self,
        configure: impl FnOnce(sqskit::monitor::QueueMonitorBuilder) -> sqskit::monitor::QueueMonitorBuilder,
    ) -> QueueMonitor {
        let sink = self.alerts.clone();
        configure(QueueMonitor::builder(self.backend.clone(), &self.queue))
            .on_alert(move |alert| sink.lock().unwrap().push(alert))
            .build()
            .await
            .unwrap()
    }

    async fn send(&self, count: usize, delay: Option<Duration>) {
        for chunk in (0..count).collect::<Vec<_>>().chunks(10) {
            let entries: Vec<SendEntry> = chunk
                .iter()
                .map(|i| {
                    let mut entry = SendEntry::new(i.to_string(), "job");
                    entry.delay = delay;
                    entry
                })
                .collect();
            let outcome = self.backend.send_message_batch(&self.queue, &entries).await.unwrap();
            assert!(outcome.is_complete_success());
        }
    }

    /// Receives and deletes up to `count` messages.
    async fn drain(&self, count: usize) {
        let mut left = count;
        while left > 0 {
            let want = left.min(10);
            let received = self
                .backend
                .receive_message(&self.queue, &ReceiveRequest::new().max_messages(want as u8).wait_time(Duration::ZERO))
                .await
                .unwrap();
            assert!(!received.is_empty(), "queue ran dry with {left} still to drain");
            let entries: Vec<DeleteEntry> = received
                .iter()
                .enumerate()
                .map(|(i, m)| DeleteEntry { id: i.to_string(), receipt_handle: m.receipt_handle.clone() })
                .collect();
            self.backend.delete_message_batch(&self.queue, &entries).await.unwrap();
            left -= received.len();
        }
    }

    fn take_alerts(&self) -> Vec<Alert> {
        std::mem::take(&mut *self.alerts.lock().unwrap())
    }
}

fn raised(metric: Metric, value: u64, threshold: u64) -> impl Fn(&Alert) -> bool {
    move |alert| matches!(alert, Alert::Raised { metric: m, value: v, threshold: t, .. } if *m == metric && *v == value && *t == threshold)
}

fn recovered(metric: Metric, value: u64, threshold: u64) -> impl Fn(&Alert) -> bool {
    move |alert| matches!(alert, Alert::Recovered { metric: m, value: v, threshold: t, .. } if *m == metric && *v == value && *t == threshold)
}

#[tokio::test(start_paused = true)]
async fn backlog_alert_is_raised_once_and_recovers_below_the_lower_bound() {
    let s = setup().await;
    let monitor = s.monitor(|b| b.threshold(Threshold::above(Metric::Backlog, 10).recover_at(3))).await;

    s.send(10, None).await;
    assert_eq!(monitor.tick().await.unwrap().visible, 10);
    assert!(s.take_alerts().is_empty(), "at the limit is not above it");

    s.send(15, None).await;
    monitor.tick().await.unwrap();
    let alerts = s.take_alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(raised(Metric::Backlog, 25, 10)(&alerts[0]), "{alerts:?}");
    assert_eq!(monitor.raised(), vec![Threshold::above(Metric::Backlog, 10).recover_at(3)]);

    // Still above, then between the bounds, for a long time: no more alerts of any kind.
    for _ in 0..5 {
        tokio::time::advance(Duration::from_secs(120)).await;
        monitor.tick().await.unwrap();
    }
    s.drain(20).await; // 5 left: below the limit but above the recovery bound
    for _ in 0..5 {
        tokio::time::advance(Duration::from_secs(120)).await;
        assert_eq!(monitor.tick().await.unwrap().visible, 5);
    }
    assert!(s.take_alerts().is_empty());

    s.drain(2).await; // 3 left: at the recovery bound
    monitor.tick().await.unwrap();
    let alerts = s.take_alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(recovered(Metric::Backlog, 3, 3)(&alerts[0]), "{alerts:?}");
    assert!(monitor.raised().is_empty());

    monitor.tick().await.unwrap();
    assert!(s.take_alerts().is_empty(), "a recovery is reported once");
}

#[tokio::test(start_paused = true)]
async fn a_flapping_value_raises_at_most_once_per_minimum_interval() {
    let s = setup().await;
    let monitor = s
        .monitor(|b| b.threshold(Threshold::above(Metric::Backlog, 2)).min_alert_interval(Duration::from_secs(300)))
        .await;

    s.send(3, None).await;
    monitor.tick().await.unwrap(); // raised
    s.drain(1).await;
    monitor.tick().await.unwrap(); // recovered
    for _ in 0..4 {
        // Up and down every 30 s, within the 5-minute minimum interval: silent.
        tokio::time::advance(Duration::from_secs(30)).await;
        s.send(1, None).await;
        monitor.tick().await.unwrap();
        tokio::time::advance(Duration::from_secs(30)).await;
        s.drain(1).await;
        monitor.tick().await.unwrap();
    }
    let alerts = s.take_alerts();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(raised(Metric::Backlog, 3, 2)(&alerts[0]));
    assert!(recovered(Metric::Backlog, 2, 2)(&alerts[1]));

    // Still above once the interval has passed since the last raise: raised again.
    s.send(1, None).await;
    tokio::time::advance(Duration::from_secs(60)).await;
    monitor.tick().await.unwrap();
    let alerts = s.take_alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(raised(Metric::Backlog, 3, 2)(&alerts[0]));
}

#[tokio::test(start_paused = true)]
async fn delayed_and_in_flight_follow_sqs_time_and_the_dead_letter_depth_is_read() {
    let s = setup().await;
    let dlq = s.backend.create_queue("work-dlq", &Default::default(), &Default::default()).await.unwrap();
    let monitor = s
        .monitor(|b| {
            b.dead_letter_queue(&dlq)
                .threshold(Threshold::above(Metric::Delayed, 4))
                .threshold(Threshold::above(Metric::InFlight, 1))
                .threshold(Threshold::above(Metric::DeadLetterBacklog, 0))
        })
        .await;

    s.send(5, Some(Duration::from_secs(60))).await;
    let snapshot = monitor.tick().await.unwrap();
    assert_eq!((snapshot.visible, snapshot.delayed, snapshot.dead_letter), (0, 5, Some(0)));
    let alerts = s.take_alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(raised(Metric::Delayed, 5, 4)(&alerts[0]));

    // SQS time passes: the delay ends.
    s.clock.advance(Duration::from_secs(61));
    let snapshot = monitor.tick().await.unwrap();
    assert_eq!((snapshot.visible, snapshot.delayed), (5, 0));
    let alerts = s.take_alerts();
    assert!(alerts.len() == 1 && recovered(Metric::Delayed, 0, 4)(&alerts[0]), "{alerts:?}");

    // Two received and held: in flight until their visibility timeout ends on the SQS clock.
    let request =
        ReceiveRequest::new().max_messages(2).wait_time(Duration::ZERO).visibility_timeout(Duration::from_secs(30));
    let held = s.backend.receive_message(&s.queue, &request).await.unwrap();
    assert_eq!(held.len(), 2);
    s.backend.send_message_batch(&dlq, &[SendEntry::new("d", "dead")]).await.unwrap();
    let snapshot = monitor.tick().await.unwrap();
    assert_eq!((snapshot.in_flight, snapshot.dead_letter), (2, Some(1)));
    let alerts = s.take_alerts();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(alerts.iter().any(raised(Metric::InFlight, 2, 1)));
    assert!(alerts.iter().any(raised(Metric::DeadLetterBacklog, 1, 0)));

    s.clock.advance(Duration::from_secs(31));
    let snapshot = monitor.tick().await.unwrap();
    assert_eq!(snapshot.in_flight, 0);
    let alerts = s.take_alerts();
    assert!(alerts.len() == 1 && recovered(Metric::InFlight, 0, 1)(&alerts[0]), "{alerts:?}");
}

#[tokio::test(start_paused = true)]
async fn run_polls_at_its_interval_on_virtual_time() {
    let s = setup().await;
    let monitor =
        s.monitor(|b| b.interval(Duration::from_secs(30)).threshold(Threshold::above(Metric::Backlog, 0))).await;
    let task = monitor.spawn();
    tokio::time::sleep(Duration::from_secs(1)).await; // the first poll runs at once
    assert!(s.take_alerts().is_empty());

    s.send(1, None).await;
    tokio::time::sleep(Duration::from_secs(20)).await; // before the next poll
    assert!(s.take_alerts().is_empty());
    tokio::time::sleep(Duration::from_secs(10)).await; // the poll at 30 s
    let alerts = s.take_alerts();
    assert!(alerts.len() == 1 && raised(Metric::Backlog, 1, 0)(&alerts[0]), "{alerts:?}");

    s.drain(1).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let alerts = s.take_alerts();
    assert!(alerts.len() == 1 && recovered(Metric::Backlog, 0, 0)(&alerts[0]), "{alerts:?}");
    task.abort();
}

/// An `AwsBackend` over HTTP to an emulator started in this process: the emulator's fault injection sits in
/// its HTTP layer, which the embedded backend does not cross.
async fn over_http() -> (RunningEmulator, Arc<dyn SqsBackend>) {
    let emulator = Emulator::builder().port(0).fault_seed(18).start().await.expect("start the emulator");
    let sdk_config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(emulator.endpoint())
        .region("us-east-1")
        .credentials_provider(aws_credential_types::Credentials::new("test", "test", None, None, "static"))
        .load()
        .await;
    let backend = AwsBackend::builder(&sdk_config).operation_timeout(Duration::from_secs(10)).build();
    (emulator, Arc::new(backend))
}

fn rule(rule: serde_json::Value) -> FaultRule {
    serde_json::from_value(rule).expect("a valid fault rule")
}

/// Short backoffs on real time (the emulator answers over real sockets).
fn quick_retries() -> RetryPolicy {
    RetryPolicy::default().initial_backoff(Duration::from_millis(5)).max_backoff(Duration::from_millis(20))
}

#[tokio::test]
async fn start_up_and_ticks_retry_throttling_and_5xx_over_http() {
    let (emulator, backend) = over_http().await;
    let queue = backend.create_queue("work", &Default::default(), &Default::default()).await.unwrap();
    let dlq = backend.create_queue("work-dlq", &Default::default(), &Default::default()).await.unwrap();
    backend.send_message_batch(&queue, &[SendEntry::new("1", "job"), SendEntry::new("2", "job")]).await.unwrap();
    // The first three reads of each queue fail as SQS fails under load; every later one succeeds.
    let faults = emulator.faults();
    faults
        .add(rule(json!({"queue": "work", "action": "GetQueueAttributes", "kind": "throttle", "max_injections": 2})))
        .unwrap();
    faults
        .add(rule(json!({"queue": "work", "action": "GetQueueAttributes", "kind": "server_error",
        "error": "ServiceUnavailable", "max_injections": 1})))
        .unwrap();
    faults
        .add(rule(json!({"queue": "work-dlq", "action": "GetQueueAttributes", "kind": "throttle",
        "error": "ThrottlingException", "max_injections": 3})))
        .unwrap();

    let monitor = QueueMonitor::builder(backend.clone(), &queue)
        .dead_letter_queue(&dlq)
        .retry(quick_retries())
        .build()
        .await
        .expect("throttled and 5xx answers at start-up are retried, not fatal");
    let injected: Vec<u64> = faults.list().1.iter().map(|rule| rule.injected).collect();
    assert_eq!(injected, [2, 1, 3], "every fault was met during start-up");

    faults
        .add(rule(json!({"queue": "work*", "action": "GetQueueAttributes", "kind": "throttle", "max_injections": 4})))
        .unwrap();
    let snapshot = monitor.tick().await.expect("a tick retries throttling too");
    assert_eq!((snapshot.visible, snapshot.dead_letter), (2, Some(0)));
    assert_eq!(faults.list().1[3].injected, 4);
}

#[tokio::test]
async fn a_missing_queue_stops_start_up_at_once_on_both_backends() {
    let (_emulator, http) = over_http().await;
    let embedded: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
    for backend in [embedded, http] {
        let counting = Arc::new(CountingBackend::new(backend.clone()));
        let queue = backend.create_queue("work", &Default::default(), &Default::default()).await.unwrap();
        let missing = queue.replace("/work", "/gone");
        let started = Instant::now();
        let error = QueueMonitor::builder(counting.clone(), &missing).build().await.expect_err("no such queue");
        assert_eq!(error.code(), Some(&ServiceErrorCode::QueueDoesNotExist), "{error}");
        assert_eq!(counting.counts().queue_management, 1, "a missing queue is not retried");

        let error = QueueMonitor::builder(counting.clone(), &queue)
            .dead_letter_queue(missing.clone())
            .build()
            .await
            .expect_err("no such dead-letter queue");
        assert_eq!(error.code(), Some(&ServiceErrorCode::QueueDoesNotExist), "{error}");
        assert_eq!(counting.counts().queue_management, 3);
        assert!(started.elapsed() < Duration::from_secs(2), "no backoff: {:?}", started.elapsed());
    }
}
