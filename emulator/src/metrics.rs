//! Prometheus metrics: the request registry ([`RequestMetrics`]: counts by action and outcome, latency
//! histograms), and [`render`], the text exposition (format 0.0.4) served at `GET /metrics` of those, of the
//! engine's per-queue metrics ([`Engine::queue_metrics`]) and of fault injections.
//!
//! Recording a request costs a few relaxed atomic additions in fixed arrays indexed by [`Action`] and
//! [`ErrorCode`]: no lock and no allocation on the request path. Metric names are the constants below.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::action::Action;
use crate::auth::Viewer;
use crate::auth::viewer::arn_account;
use crate::engine::{Engine, QueueMetrics};
use crate::error::ErrorCode;
use crate::faults::FaultInjector;

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Counter: messages stored by SendMessage(Batch) (CloudWatch `NumberOfMessagesSent`), by `region`, `account` and `queue`.
pub const MESSAGES_SENT: &str = "sqs_number_of_messages_sent_total";
/// Counter: messages returned by receives (`NumberOfMessagesReceived`), by `region`, `account` and `queue`.
pub const MESSAGES_RECEIVED: &str = "sqs_number_of_messages_received_total";
/// Counter: successful deletions (`NumberOfMessagesDeleted`), by `region`, `account` and `queue`.
pub const MESSAGES_DELETED: &str = "sqs_number_of_messages_deleted_total";
/// Counter: receive calls that returned nothing (`NumberOfEmptyReceives`), by `region`, `account` and `queue`.
pub const EMPTY_RECEIVES: &str = "sqs_number_of_empty_receives_total";
/// Gauge: visible messages (`ApproximateNumberOfMessagesVisible`), by `region`, `account` and `queue`.
pub const MESSAGES_VISIBLE: &str = "sqs_approximate_number_of_messages_visible";
/// Gauge: in-flight messages (`ApproximateNumberOfMessagesNotVisible`), by `region`, `account` and `queue`.
pub const MESSAGES_NOT_VISIBLE: &str = "sqs_approximate_number_of_messages_not_visible";
/// Gauge: delayed messages (`ApproximateNumberOfMessagesDelayed`), by `region`, `account` and `queue`.
pub const MESSAGES_DELAYED: &str = "sqs_approximate_number_of_messages_delayed";
/// Gauge: age of the oldest message in seconds, 0 when empty (`ApproximateAgeOfOldestMessage`), by `region`, `account` and `queue`.
pub const AGE_OF_OLDEST_MESSAGE: &str = "sqs_approximate_age_of_oldest_message_seconds";
/// Counter: API requests by `action`, `outcome` (`ok` or `error`) and, for errors, `code`.
pub const REQUESTS: &str = "sqskit_requests_total";
/// Histogram: request latency in seconds by `action`, from the request's arrival to its answer.
pub const REQUEST_DURATION: &str = "sqskit_request_duration_seconds";
/// Counter: injections of each installed fault rule, by `rule` (its id), `kind`, `action` and `queue`.
pub const FAULTS_INJECTED: &str = "sqskit_faults_injected_total";

/// Gauge: 1 while durable storage is failing (commits fail and durable writes are refused), else 0.
pub const STORAGE_FAILING: &str = "sqskit_storage_failing";
/// Gauge: 1 while durable storage is degraded (writes go on and are durable, but the data file cannot be brought
/// up to the message log, which grows meanwhile), else 0.
pub const STORAGE_DEGRADED: &str = "sqskit_storage_degraded";
/// Gauge: events durable in the message log that the data file does not hold yet (0 in memory mode).
pub const STORAGE_BACKLOG: &str = "sqskit_storage_backlog_events";

/// Upper bounds of the latency buckets, in microseconds; long polls last up to 20 s.
const BUCKET_MICROS: [u64; 15] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000, 20_000_000,
];
/// The `action` label of requests whose action could not be determined (unknown or missing).
const UNKNOWN_ACTION: &str = "unknown";
/// The `code` label of requests whose connection was dropped on purpose (fault injection).
const DROPPED_CODE: &str = "ConnectionDropped";

const ROWS: usize = Action::ALL.len() + 1;
const UNKNOWN_ROW: usize = Action::ALL.len();
/// Outcome columns: ok, dropped connection, then one per error code.
const OUTCOMES: usize = ErrorCode::ALL.len() + 2;
const OK_COLUMN: usize = 0;
const DROPPED_COLUMN: usize = 1;
/// Bucket columns: one per bound, then the overflow (`+Inf` only).
const BUCKETS: usize = BUCKET_MICROS.len() + 1;

/// How a request ended, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Answered with success.
    Ok,
    /// Answered with an SQS error.
    Error(ErrorCode),
    /// The connection was dropped on purpose (fault injection).
    Dropped,
}

/// Request counts and latencies since start-up, by action.
#[derive(Debug)]
pub struct RequestMetrics {
    /// `[row][outcome]`; rows are [`Action`]s in declaration order (which is `Action::ALL`'s) plus "unknown".
    outcomes: [[AtomicU64; OUTCOMES]; ROWS],
    /// `[row][bucket]`, not cumulative (made cumulative when rendered).
    buckets: [[AtomicU64; BUCKETS]; ROWS],
    /// `[row]`: total latency in nanoseconds.
    sum_nanos: [AtomicU64; ROWS],
}

impl Default for RequestMetrics {
    fn default() -> Self {
        Self {
            outcomes: [const { [const { AtomicU64::new(0) }; OUTCOMES] }; ROWS],
            buckets: [const { [const { AtomicU64::new(0) }; BUCKETS] }; ROWS],
            sum_nanos: [const { AtomicU64::new(0) }; ROWS],
        }
    }
}

impl RequestMetrics {
    /// Counts one request: its action (`None` when it could not be determined), how it ended and how long it
    /// took.
    pub fn record(&self, action: Option<Action>, outcome: RequestOutcome, elapsed: Duration) {
        // Fieldless enums: the discriminant is the position in the declaration, which `ALL` follows.
        let row = action.map_or(UNKNOWN_ROW, |action| action as usize);
        let column = match outcome {
            RequestOutcome::Ok => OK_COLUMN,
            RequestOutcome::Dropped => DROPPED_COLUMN,
            RequestOutcome::Error(code) => 2 + code as usize,
        };
        self.outcomes[row][column].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKET_MICROS.iter().position(|bound| micros <= *bound).unwrap_or(BUCKET_MICROS.len());
        self.buckets[row][bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos[row].fetch_add(nanos, Ordering::Relaxed);
    }

    fn count(&self, row: usize, column: usize) -> u64 {
        self.outcomes[row][column].load(Ordering::Relaxed)
    }
}

/// The label name and value pairs of one sample.
type Labels<'a> = &'a [(&'a str, &'a str)];

/// Renders every metric in the Prometheus text exposition format 0.0.4.
///
/// An account's view ([`Viewer::Account`], a signed request in `--auth sigv4` mode) holds only the series of
/// that account's queues and the storage gauge: request counts and fault rules span every account.
///
/// # Errors
/// Only if formatting fails, which writing to a `String` does not.
pub fn render(
    engine: &Engine,
    faults: &FaultInjector,
    requests: &RequestMetrics,
    viewer: &Viewer,
) -> Result<String, fmt::Error> {
    let mut out = String::with_capacity(16 * 1024);
    let mut queues = engine.queue_metrics();
    queues.retain(|queue| arn_account(&queue.arn).is_some_and(|account| viewer.sees(account)));
    render_queues(&mut out, &queues)?;
    if viewer.is_admin() {
        render_requests(&mut out, requests)?;
        render_faults(&mut out, faults)?;
    }
    header(
        &mut out,
        STORAGE_FAILING,
        "gauge",
        "1 while durable storage fails to commit and durable writes are refused (fail-stop), else 0.",
    )?;
    sample(&mut out, STORAGE_FAILING, &[], if engine.storage_failure().is_some() { 1.0 } else { 0.0 })?;
    header(
        &mut out,
        STORAGE_DEGRADED,
        "gauge",
        "1 while durable storage is degraded: writes are durable, but the data file cannot be brought up to the \
         message log, which grows until writes fail; else 0.",
    )?;
    sample(&mut out, STORAGE_DEGRADED, &[], if engine.storage_degraded().is_some() { 1.0 } else { 0.0 })?;
    header(
        &mut out,
        STORAGE_BACKLOG,
        "gauge",
        "Events durable in the message log that the data file does not hold yet: small under load, growing while \
         storage is degraded (the log keeps every segment they are in); 0 in memory mode.",
    )?;
    sample(&mut out, STORAGE_BACKLOG, &[], engine.storage_backlog().unwrap_or(0) as f64)?;
    Ok(out)
}

fn render_queues(out: &mut String, queues: &[QueueMetrics]) -> fmt::Result {
    type Value = fn(&QueueMetrics) -> f64;
    let families: [(&str, &str, &str, Value); 8] = [
        (
            MESSAGES_SENT,
            "counter",
            "Messages stored by SendMessage and SendMessageBatch (NumberOfMessagesSent).",
            |q| q.messages_sent as f64,
        ),
        (MESSAGES_RECEIVED, "counter", "Messages returned by ReceiveMessage (NumberOfMessagesReceived).", |q| {
            q.messages_received as f64
        }),
        (MESSAGES_DELETED, "counter", "Successful message deletions (NumberOfMessagesDeleted).", |q| {
            q.messages_deleted as f64
        }),
        (EMPTY_RECEIVES, "counter", "ReceiveMessage calls that returned no message (NumberOfEmptyReceives).", |q| {
            q.empty_receives as f64
        }),
        (MESSAGES_VISIBLE, "gauge", "Messages available for retrieval (ApproximateNumberOfMessagesVisible).", |q| {
            q.counts.visible as f64
        }),
        (MESSAGES_NOT_VISIBLE, "gauge", "Messages in flight (ApproximateNumberOfMessagesNotVisible).", |q| {
            q.counts.in_flight as f64
        }),
        (
            MESSAGES_DELAYED,
            "gauge",
            "Messages waiting for their delay to end (ApproximateNumberOfMessagesDelayed).",
            |q| q.counts.delayed as f64,
        ),
        (
            AGE_OF_OLDEST_MESSAGE,
            "gauge",
            "Age of the oldest message in the queue, 0 when empty (ApproximateAgeOfOldestMessage).",
            |q| q.age_of_oldest_message.map_or(0.0, |age| age.as_secs_f64()),
        ),
    ];
    for (name, kind, help, value) in families {
        header(out, name, kind, help)?;
        for queue in queues {
            let labels = [("region", queue.region.as_str()), ("account", &queue.account), ("queue", &queue.name)];
            sample(out, name, &labels, value(queue))?;
        }
    }
    Ok(())
}

fn render_requests(out: &mut String, requests: &RequestMetrics) -> fmt::Result {
    let rows = || {
        Action::ALL
            .iter()
            .map(|action| (*action as usize, action.as_str()))
            .chain(std::iter::once((UNKNOWN_ROW, UNKNOWN_ACTION)))
    };
    header(out, REQUESTS, "counter", "SQS API requests by action and outcome; errors by code.")?;
    for (row, action) in rows() {
        // A request whose action is unknown always fails, so that row has error samples only.
        if row != UNKNOWN_ROW {
            let ok = requests.count(row, OK_COLUMN);
            sample(out, REQUESTS, &[("action", action), ("outcome", "ok")], ok as f64)?;
        }
        let errors = std::iter::once((DROPPED_COLUMN, DROPPED_CODE))
            .chain(ErrorCode::ALL.iter().map(|code| (2 + *code as usize, code.shape_name())));
        for (column, code) in errors {
            let count = requests.count(row, column);
            if count > 0 {
                sample(out, REQUESTS, &[("action", action), ("outcome", "error"), ("code", code)], count as f64)?;
            }
        }
    }
    header(out, REQUEST_DURATION, "histogram", "SQS API request latency in seconds, by action.")?;
    let bucket_name = format!("{REQUEST_DURATION}_bucket");
    let sum_name = format!("{REQUEST_DURATION}_sum");
    let count_name = format!("{REQUEST_DURATION}_count");
    for (row, action) in rows() {
        let counts: Vec<u64> = requests.buckets[row].iter().map(|bucket| bucket.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            continue;
        }
        let mut cumulative = 0;
        for (bound, count) in BUCKET_MICROS.iter().zip(&counts) {
            cumulative += count;
            let le = (*bound as f64 / 1e6).to_string();
            sample(out, &bucket_name, &[("action", action), ("le", &le)], cumulative as f64)?;
        }
        sample(out, &bucket_name, &[("action", action), ("le", "+Inf")], total as f64)?;
        let sum = requests.sum_nanos[row].load(Ordering::Relaxed) as f64 / 1e9;
        sample(out, &sum_name, &[("action", action)], sum)?;
        sample(out, &count_name, &[("action", action)], total as f64)?;
    }
    Ok(())
}

fn render_faults(out: &mut String, faults: &FaultInjector) -> fmt::Result {
    header(out, FAULTS_INJECTED, "counter", "Requests picked by each installed fault rule.")?;
    for installed in faults.list().1 {
        let id = installed.id.to_string();
        let rule = &installed.rule;
        let labels =
            [("rule", id.as_str()), ("kind", rule.fault.as_str()), ("action", &rule.action), ("queue", &rule.queue)];
        sample(out, FAULTS_INJECTED, &labels, installed.injected as f64)?;
    }
    Ok(())
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) -> fmt::Result {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} {kind}")
}

fn sample(out: &mut String, name: &str, labels: Labels<'_>, value: f64) -> fmt::Result {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (index, (label, value)) in labels.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            write!(out, "{label}=\"")?;
            escape_label_value(out, value);
            out.push('"');
        }
        out.push('}');
    }
    writeln!(out, " {value}")
}

/// Label values escape backslash, double quote and line feed (exposition format 0.0.4).
fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_discriminants_follow_the_all_lists() {
        for (index, action) in Action::ALL.iter().enumerate() {
            assert_eq!(*action as usize, index, "{action}");
        }
        for (index, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*code as usize, index, "{code:?}");
        }
    }

    #[test]
    fn requests_are_counted_by_outcome_and_bucketed_by_latency() {
        let metrics = RequestMetrics::default();

        metrics.record(Some(Action::SendMessage), RequestOutcome::Ok, Duration::from_micros(700));
        metrics.record(Some(Action::SendMessage), RequestOutcome::Ok, Duration::from_secs(30));
        metrics.record(
            Some(Action::SendMessage),
            RequestOutcome::Error(ErrorCode::QueueDoesNotExist),
            Duration::from_micros(10),
        );
        metrics.record(None, RequestOutcome::Dropped, Duration::ZERO);
        let mut out = String::new();
        render_requests(&mut out, &metrics).expect("renders");

        assert!(out.contains("sqskit_requests_total{action=\"SendMessage\",outcome=\"ok\"} 2\n"), "{out}");
        assert!(out.contains(
            "sqskit_requests_total{action=\"SendMessage\",outcome=\"error\",code=\"QueueDoesNotExist\"} 1\n"
        ));
        assert!(out.contains("sqskit_requests_total{action=\"ReceiveMessage\",outcome=\"ok\"} 0\n"));
        assert!(
            out.contains("sqskit_requests_total{action=\"unknown\",outcome=\"error\",code=\"ConnectionDropped\"} 1\n")
        );
        assert!(!out.contains("sqskit_requests_total{action=\"unknown\",outcome=\"ok\""));
        assert!(out.contains("sqskit_request_duration_seconds_bucket{action=\"SendMessage\",le=\"0.0005\"} 1\n"));
        assert!(out.contains("sqskit_request_duration_seconds_bucket{action=\"SendMessage\",le=\"0.001\"} 2\n"));
        assert!(out.contains("sqskit_request_duration_seconds_bucket{action=\"SendMessage\",le=\"20\"} 2\n"));
        assert!(out.contains("sqskit_request_duration_seconds_bucket{action=\"SendMessage\",le=\"+Inf\"} 3\n"));
        assert!(out.contains("sqskit_request_duration_seconds_count{action=\"SendMessage\"} 3\n"));
        assert!(!out.contains("sqskit_request_duration_seconds_count{action=\"ReceiveMessage\""));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();

        sample(&mut out, "m", &[("queue", "a\"b\\c\nd")], 1.5).expect("renders");

        assert_eq!(out, "m{queue=\"a\\\"b\\\\c\\nd\"} 1.5\n");
    }
}
