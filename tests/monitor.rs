//! `QueueMonitor` on virtual time: the embedded engine runs on a `ManualClock` (SQS time: delays,
//! visibility) and the monitor's own clock (poll interval, minimum alert interval) is Tokio's paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqskit::backend::{DeleteEntry, EmbeddedBackend, ReceiveRequest, SendEntry, SqsBackend};
use sqskit::monitor::{Alert, Metric, QueueMonitor, Threshold};
use sqskit_emulator::{Engine, EngineConfig, ManualClock};

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
    fn monitor(
        &self,
        configure: impl FnOnce(sqskit::monitor::QueueMonitorBuilder) -> sqskit::monitor::QueueMonitorBuilder,
    ) -> QueueMonitor {
        let sink = self.alerts.clone();
        configure(QueueMonitor::builder(self.backend.clone(), &self.queue))
            .on_alert(move |alert| sink.lock().unwrap().push(alert))
            .build()
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
    let monitor = s.monitor(|b| b.threshold(Threshold::above(Metric::Backlog, 10).recover_at(3)));

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
    let monitor =
        s.monitor(|b| b.threshold(Threshold::above(Metric::Backlog, 2)).min_alert_interval(Duration::from_secs(300)));

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
    let monitor = s.monitor(|b| {
        b.dead_letter_queue(&dlq)
            .threshold(Threshold::above(Metric::Delayed, 4))
            .threshold(Threshold::above(Metric::InFlight, 1))
            .threshold(Threshold::above(Metric::DeadLetterBacklog, 0))
            .threshold(Threshold::above(Metric::OldestMessageAge, 0))
    });

    s.send(5, Some(Duration::from_secs(60))).await;
    let snapshot = monitor.tick().await.unwrap();
    assert_eq!((snapshot.visible, snapshot.delayed, snapshot.dead_letter), (0, 5, Some(0)));
    assert_eq!(snapshot.oldest_message_age, None, "SQS has no attribute for it");
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
    let monitor = s.monitor(|b| b.interval(Duration::from_secs(30)).threshold(Threshold::above(Metric::Backlog, 0)));
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
