//! [`QueueMonitor`]: polls a queue's attributes (backlog, in flight, delayed, and the depth of its dead-letter
//! queue) and calls alert hooks when a [`Threshold`] is crossed and when it recovers.
//!
//! # No alert storms
//! Each threshold is a small state machine, `normal ⇄ alerting`:
//! - **Hysteresis.** It is [raised](Alert::Raised) when the value goes *above* its limit and
//!   [recovered](Alert::Recovered) only when the value falls to its lower recovery bound
//!   ([`Threshold::recover_at`], by default the limit itself). In between nothing is reported, however long it
//!   stays there.
//! - **Minimum interval.** A threshold is not raised again within
//!   [`QueueMonitorBuilder::min_alert_interval`] of its previous raise (default 60 s), so a value flapping
//!   around the limit raises at most once per interval. A recovery is always reported (it pairs with a raise).
//!
//! # Start-up and failed reads
//! [`QueueMonitorBuilder::build`] reads the queue (and its dead-letter queue) once, so a wrong URL or a
//! missing permission stops start-up with the service's error instead of a warning every interval. Every
//! read, at start-up and at each tick, retries transient errors (throttling, 5xx, timeouts, dropped
//! connections: [`Error::is_retryable`](crate::Error::is_retryable)) under the monitor's [`RetryPolicy`]
//! (default [`RetryPolicy::default`], the producer's and consumer's default too); a non-retryable error is
//! returned at once.
//!
//! # Time
//! [`QueueMonitor::tick`] polls once and evaluates: call it yourself (tests drive it on virtual time), or
//! let [`QueueMonitor::run`] / [`QueueMonitor::spawn`] call it every [`QueueMonitorBuilder::interval`]. Both
//! the poll interval and the minimum alert interval use Tokio's clock, so a test with paused time
//! (`#[tokio::test(start_paused = true)]`) controls them; the queue's own time is the backend's (the
//! emulator's `ManualClock` in tests).
//!
//! # No age of the oldest message
//! The monitor watches only what `GetQueueAttributes` answers. SQS has no queue attribute for the age of the
//! oldest message (the attribute list:
//! <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html>):
//! `ApproximateAgeOfOldestMessage` is a CloudWatch metric only
//! (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html>),
//! out of reach of an [`SqsBackend`], and receiving a message to look at its `SentTimestamp` would change the
//! queue (visibility, receive count, redrive). Alarm on the CloudWatch metric (or the emulator's `/metrics`
//! gauge `sqs_approximate_age_of_oldest_message_seconds`), or watch
//! [`MESSAGE_AGE`](crate::telemetry::MESSAGE_AGE) on the consumer side.
//!
//! Changed in 0.1 (breaking, issue #18): `Metric::OldestMessageAge` and `QueueSnapshot::oldest_message_age`
//! were removed: the metric could never fire and the field was always `None`. `QueueMonitorBuilder::build` is
//! now `async` and fallible (it reads the queue once).
//!
//! Every reading is also recorded in the [`QUEUE_MESSAGES`] gauge.
//!
//! # Examples
//! ```
//! use std::sync::{Arc, Mutex};
//! use sqskit::backend::{EmbeddedBackend, SendEntry, SqsBackend};
//! use sqskit::monitor::{Alert, Metric, QueueMonitor, Threshold};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), sqskit::Error> {
//! let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
//! let queue = backend.create_queue("jobs", &Default::default(), &Default::default()).await?;
//! let alerts = Arc::new(Mutex::new(Vec::new()));
//! let sink = alerts.clone();
//! let monitor = QueueMonitor::builder(backend.clone(), &queue)
//!     .threshold(Threshold::above(Metric::Backlog, 5).recover_at(1))
//!     .on_alert(move |alert: Alert| sink.lock().expect("lock").push(alert))
//!     .build()
//!     .await?; // reads the queue once: a missing queue stops here
//!
//! let entries: Vec<SendEntry> = (0..8).map(|i| SendEntry::new(i.to_string(), "job")).collect();
//! backend.send_message_batch(&queue, &entries).await?;
//! let snapshot = monitor.tick().await?;
//! assert_eq!(snapshot.visible, 8);
//! assert!(matches!(alerts.lock().expect("lock")[..], [Alert::Raised { value: 8, .. }]));
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use metrics::{Gauge, gauge};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;

use crate::backend::{SqsBackend, metered};
use crate::error::Result;
use crate::retry::RetryPolicy;
use crate::telemetry::{self, LABEL_QUEUE, LABEL_STATE, QUEUE_MESSAGES};
use crate::types::QueueAttributeName;

/// What a threshold watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Metric {
    /// `ApproximateNumberOfMessages`: messages ready to be received.
    Backlog,
    /// `ApproximateNumberOfMessagesNotVisible`: messages received and not yet deleted.
    InFlight,
    /// `ApproximateNumberOfMessagesDelayed`.
    Delayed,
    /// `ApproximateNumberOfMessages` of the dead-letter queue (when one is configured).
    DeadLetterBacklog,
}

impl Metric {
    /// A stable name for logs and alert routing.
    pub const fn as_str(self) -> &'static str {
        match self {
            Metric::Backlog => "backlog",
            Metric::InFlight => "in_flight",
            Metric::Delayed => "delayed",
            Metric::DeadLetterBacklog => "dead_letter_backlog",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reading of a queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueSnapshot {
    /// `ApproximateNumberOfMessages`.
    pub visible: u64,
    /// `ApproximateNumberOfMessagesNotVisible`.
    pub in_flight: u64,
    /// `ApproximateNumberOfMessagesDelayed`.
    pub delayed: u64,
    /// The dead-letter queue's `ApproximateNumberOfMessages`, when a dead-letter queue is configured.
    pub dead_letter: Option<u64>,
}

impl QueueSnapshot {
    /// The value of `metric` in this reading, if available (the dead-letter depth needs a dead-letter queue).
    pub fn value(&self, metric: Metric) -> Option<u64> {
        match metric {
            Metric::Backlog => Some(self.visible),
            Metric::InFlight => Some(self.in_flight),
            Metric::Delayed => Some(self.delayed),
            Metric::DeadLetterBacklog => self.dead_letter,
        }
    }
}

/// When to alert on a [`Metric`]: raised above `limit`, recovered at or below the recovery bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    metric: Metric,
    limit: u64,
    recover_at: u64,
}

impl Threshold {
    /// Raised when `metric` goes above `limit`; recovered when it falls back to `limit` or below (narrow the
    /// band with [`Threshold::recover_at`]).
    pub fn above(metric: Metric, limit: u64) -> Self {
        Self { metric, limit, recover_at: limit }
    }

    /// Recovers only once the value is at or below `bound` (hysteresis); a bound above the limit is taken
    /// as the limit.
    pub fn recover_at(mut self, bound: u64) -> Self {
        self.recover_at = bound.min(self.limit);
        self
    }

    /// The metric watched.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The value above which the threshold is raised.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The value at or below which a raised threshold recovers.
    pub fn recovery_bound(&self) -> u64 {
        self.recover_at
    }
}

/// What an alert hook is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// `metric` went above `threshold` (the limit); `value` is the reading.
    Raised {
        /// The queue's URL.
        queue_url: String,
        /// The metric.
        metric: Metric,
        /// The reading.
        value: u64,
        /// The limit it exceeded.
        threshold: u64,
    },
    /// `metric` fell back to `threshold` (the recovery bound) or below.
    Recovered {
        /// The queue's URL.
        queue_url: String,
        /// The metric.
        metric: Metric,
        /// The reading.
        value: u64,
        /// The recovery bound it reached.
        threshold: u64,
    },
}

impl Alert {
    /// The metric the alert is about.
    pub fn metric(&self) -> Metric {
        match self {
            Alert::Raised { metric, .. } | Alert::Recovered { metric, .. } => *metric,
        }
    }

    /// Whether this is a [`Alert::Raised`].
    pub fn is_raised(&self) -> bool {
        matches!(self, Alert::Raised { .. })
    }
}

type Hook = Arc<dyn Fn(Alert) + Send + Sync>;

/// Configures a [`QueueMonitor`]; see [`QueueMonitor::builder`].
pub struct QueueMonitorBuilder {
    backend: Arc<dyn SqsBackend>,
    queue_url: String,
    dead_letter_queue_url: Option<String>,
    interval: Duration,
    min_alert_interval: Duration,
    thresholds: Vec<Threshold>,
    hooks: Vec<Hook>,
    retry: RetryPolicy,
}

impl fmt::Debug for QueueMonitorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueMonitorBuilder")
            .field("queue_url", &self.queue_url)
            .field("dead_letter_queue_url", &self.dead_letter_queue_url)
            .field("interval", &self.interval)
            .field("min_alert_interval", &self.min_alert_interval)
            .field("thresholds", &self.thresholds)
            .field("hooks", &self.hooks.len())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl QueueMonitorBuilder {
    /// Also reads the depth of this dead-letter queue ([`Metric::DeadLetterBacklog`]).
    pub fn dead_letter_queue(mut self, queue_url: impl Into<String>) -> Self {
        self.dead_letter_queue_url = Some(queue_url.into());
        self
    }

    /// How often [`QueueMonitor::run`] polls (default 60 s, CloudWatch's resolution for SQS).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// A threshold is not raised again within this long of its previous raise (default 60 s).
    pub fn min_alert_interval(mut self, interval: Duration) -> Self {
        self.min_alert_interval = interval;
        self
    }

    /// Adds a threshold (several may watch one metric, for example a warning and a critical level).
    pub fn threshold(mut self, threshold: Threshold) -> Self {
        self.thresholds.push(threshold);
        self
    }

    /// Adds an alert hook, called (on the monitor's task, so keep it quick) for every alert.
    pub fn on_alert(mut self, hook: impl Fn(Alert) + Send + Sync + 'static) -> Self {
        self.hooks.push(Arc::new(hook));
        self
    }

    /// How reads retry transient errors, at start-up and at every tick (default [`RetryPolicy::default`]:
    /// 50 ms initial backoff doubling to 5 s, full jitter, at most 30 s, with its own retry budget).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The monitor, after reading the queue (and the dead-letter queue) once to check that it can: transient
    /// errors are retried under the [retry policy](Self::retry). The reading calls no hook and records no
    /// gauge; polling starts with [`QueueMonitor::tick`], [`QueueMonitor::run`] or [`QueueMonitor::spawn`].
    ///
    /// # Errors
    /// A non-retryable error of either read at once (for example `QueueDoesNotExist` for a wrong URL or
    /// `AccessDenied` without `sqs:GetQueueAttributes`), or the last retryable one when the retry policy
    /// gives up.
    pub async fn build(self) -> Result<QueueMonitor> {
        let queue = telemetry::queue_name(&self.queue_url).to_owned();
        let gauge_for =
            |state: &'static str| gauge!(QUEUE_MESSAGES, LABEL_QUEUE => queue.clone(), LABEL_STATE => state);
        let gauges = Gauges {
            visible: gauge_for("visible"),
            in_flight: gauge_for("in_flight"),
            delayed: gauge_for("delayed"),
            dead_letter: gauge_for("dead_letter"),
        };
        let states = self.thresholds.into_iter().map(|threshold| ThresholdState { threshold, ..Default::default() });
        let monitor = QueueMonitor {
            backend: metered(self.backend),
            queue_url: self.queue_url,
            dead_letter_queue_url: self.dead_letter_queue_url,
            interval: self.interval,
            min_alert_interval: self.min_alert_interval,
            states: Mutex::new(states.collect()),
            hooks: self.hooks,
            gauges,
            retry: self.retry,
        };
        if let Err(error) = monitor.read().await {
            tracing::error!(queue = %monitor.queue_url, %error, "queue monitor cannot read the queue; not starting");
            return Err(error);
        }
        Ok(monitor)
    }
}

#[derive(Debug)]
struct Gauges {
    visible: Gauge,
    in_flight: Gauge,
    delayed: Gauge,
    dead_letter: Gauge,
}

#[derive(Debug, Clone)]
struct ThresholdState {
    threshold: Threshold,
    alerting: bool,
    last_raised: Option<Instant>,
}

impl Default for ThresholdState {
    fn default() -> Self {
        Self { threshold: Threshold::above(Metric::Backlog, 0), alerting: false, last_raised: None }
    }
}

/// Polls a queue's attributes and alerts on thresholds; see the [module documentation](self).
pub struct QueueMonitor {
    backend: Arc<dyn SqsBackend>,
    queue_url: String,
    dead_letter_queue_url: Option<String>,
    interval: Duration,
    min_alert_interval: Duration,
    states: Mutex<Vec<ThresholdState>>,
    hooks: Vec<Hook>,
    gauges: Gauges,
    retry: RetryPolicy,
}

impl fmt::Debug for QueueMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueMonitor")
            .field("queue_url", &self.queue_url)
            .field("dead_letter_queue_url", &self.dead_letter_queue_url)
            .field("interval", &self.interval)
            .field("min_alert_interval", &self.min_alert_interval)
            .finish_non_exhaustive()
    }
}

impl QueueMonitor {
    /// A builder for a monitor of the queue at `queue_url`.
    pub fn builder(backend: Arc<dyn SqsBackend>, queue_url: impl Into<String>) -> QueueMonitorBuilder {
        QueueMonitorBuilder {
            backend,
            queue_url: queue_url.into(),
            dead_letter_queue_url: None,
            interval: Duration::from_secs(60),
            min_alert_interval: Duration::from_secs(60),
            thresholds: Vec::new(),
            hooks: Vec::new(),
            retry: RetryPolicy::default(),
        }
    }

    /// The monitored queue.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Which thresholds are raised right now.
    pub fn raised(&self) -> Vec<Threshold> {
        let states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        states.iter().filter(|state| state.alerting).map(|state| state.threshold).collect()
    }

    /// Reads the queue once, evaluates every threshold, calls the hooks for what changed, and returns the
    /// reading.
    ///
    /// # Errors
    /// The backend's error when the attributes cannot be read, after retrying transient errors under the
    /// [retry policy](QueueMonitorBuilder::retry) (thresholds keep their state).
    pub async fn tick(&self) -> Result<QueueSnapshot> {
        let span = tracing::debug_span!(telemetry::SPAN_MONITOR, queue = telemetry::queue_name(&self.queue_url));
        let snapshot = self.read().instrument(span).await?;
        self.record(&snapshot);
        for alert in self.evaluate(&snapshot, Instant::now()) {
            match &alert {
                Alert::Raised { metric, value, threshold, .. } => {
                    tracing::warn!(queue = %self.queue_url, %metric, value, threshold, "queue alert raised");
                }
                Alert::Recovered { metric, value, threshold, .. } => {
                    tracing::info!(queue = %self.queue_url, %metric, value, threshold, "queue alert recovered");
                }
            }
            for hook in &self.hooks {
                hook(alert.clone());
            }
        }
        Ok(snapshot)
    }

    /// Calls [`QueueMonitor::tick`] every interval, forever (the first tick at once); a read that still fails
    /// after the [retry policy](QueueMonitorBuilder::retry) gave up is logged as a warning and tried again at
    /// the next interval. Stop it by dropping the future (or aborting [`QueueMonitor::spawn`]'s task).
    pub async fn run(&self) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = self.tick().await {
                tracing::warn!(queue = %self.queue_url, %error, "queue monitor could not read the queue's attributes");
            }
        }
    }

    /// Runs the monitor in a background task.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(async move { self.run().await })
    }

    async fn read(&self) -> Result<QueueSnapshot> {
        let names = [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ];
        let attributes = self.retry.retry(|| self.backend.get_queue_attributes(&self.queue_url, &names)).await?;
        let dead_letter = match &self.dead_letter_queue_url {
            Some(url) => Some(
                self.retry
                    .retry(|| {
                        self.backend.get_queue_attributes(url, &[QueueAttributeName::ApproximateNumberOfMessages])
                    })
                    .await?
                    .approximate_number_of_messages()
                    .unwrap_or_default(),
            ),
            None => None,
        };
        Ok(QueueSnapshot {
            visible: attributes.approximate_number_of_messages().unwrap_or_default(),
            in_flight: attributes.approximate_number_of_messages_not_visible().unwrap_or_default(),
            delayed: attributes.approximate_number_of_messages_delayed().unwrap_or_default(),
            dead_letter,
        })
    }

    fn record(&self, snapshot: &QueueSnapshot) {
        self.gauges.visible.set(snapshot.visible as f64);
        self.gauges.in_flight.set(snapshot.in_flight as f64);
        self.gauges.delayed.set(snapshot.delayed as f64);
        if let Some(depth) = snapshot.dead_letter {
            self.gauges.dead_letter.set(depth as f64);
        }
    }

    /// Steps every threshold's state machine; returns the alerts to report.
    fn evaluate(&self, snapshot: &QueueSnapshot, now: Instant) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        for state in states.iter_mut() {
            let threshold = state.threshold;
            let Some(value) = snapshot.value(threshold.metric) else { continue };
            if !state.alerting {
                if value <= threshold.limit {
                    continue;
                }
                let too_soon =
                    state.last_raised.is_some_and(|at| now.saturating_duration_since(at) < self.min_alert_interval);
                if too_soon {
                    tracing::debug!(metric = %threshold.metric, value, "threshold crossed again too soon; not alerting yet");
                    continue;
                }
                state.alerting = true;
                state.last_raised = Some(now);
                alerts.push(Alert::Raised {
                    queue_url: self.queue_url.clone(),
                    metric: threshold.metric,
                    value,
                    threshold: threshold.limit,
                });
            } else if value <= threshold.recover_at {
                state.alerting = false;
                alerts.push(Alert::Recovered {
                    queue_url: self.queue_url.clone(),
                    metric: threshold.metric,
                    value,
                    threshold: threshold.recover_at,
                });
            }
        }
        alerts
    }
}
