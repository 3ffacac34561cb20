//! The soak report: one [`Sample`] per interval, totals per action, the server's memory and descriptor growth,
//! and the verdict of [`super::verdict`].

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::record::{ActionTally, MessageFlow, Window};
use super::verdict::{Limits, judge};
use crate::procfs::{ProcessSample, kib_to_mib};
use crate::stats::CpuMeter;
use crate::wire::Action;

/// Counts and latencies of a set of requests: one action's, or all together.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RequestSummary {
    /// Requests answered.
    pub requests: u64,
    /// Errors (see [`ActionTally::errors`]).
    pub errors: u64,
    /// Median latency in microseconds.
    pub p50_us: f64,
    /// 99th-percentile latency in microseconds.
    pub p99_us: f64,
    /// Largest latency in microseconds.
    pub max_us: f64,
}

impl RequestSummary {
    fn of(tally: &ActionTally) -> Self {
        let latencies = &tally.latencies;
        let (p50_us, p99_us, max_us) = if latencies.is_empty() {
            (0.0, 0.0, 0.0)
        } else {
            (latencies.quantile_us(0.5), latencies.quantile_us(0.99), latencies.max_us())
        };
        Self { requests: tally.requests, errors: tally.errors, p50_us, p99_us, max_us }
    }
}

/// Counts and latencies of one action, or of all together.
#[derive(Debug, Clone, Serialize)]
pub struct ActionSummary {
    /// The action, or `all`.
    pub action: &'static str,
    /// Its requests.
    #[serde(flatten)]
    pub summary: RequestSummary,
}

impl ActionSummary {
    fn new(action: &'static str, tally: &ActionTally) -> Self {
        Self { action, summary: RequestSummary::of(tally) }
    }

    /// One entry per action that was called or failed, in [`Action::ALL`] order.
    fn per_action(window: &Window) -> Vec<Self> {
        Action::ALL
            .into_iter()
            .filter_map(|action| window.actions.get(&action).map(|tally| Self::new(action.as_str(), tally)))
            .collect()
    }
}

/// Messages in the main queue, from `GetQueueAttributes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QueueDepth {
    /// `ApproximateNumberOfMessages`: waiting to be received.
    pub visible: u64,
    /// `ApproximateNumberOfMessagesNotVisible`: received, not yet deleted.
    pub in_flight: u64,
}

impl QueueDepth {
    /// Every stored message.
    pub const fn total(self) -> u64 {
        self.visible + self.in_flight
    }
}

/// One sampling interval.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Seconds from the start of the run to this sample.
    pub elapsed_secs: f64,
    /// Length of the interval in seconds.
    pub window_secs: f64,
    /// Requests answered in the interval, all actions together.
    #[serde(flatten)]
    pub overall: RequestSummary,
    /// `requests` per second of the interval.
    pub requests_per_sec: f64,
    /// Messages and queues moved in the interval.
    #[serde(flatten)]
    pub flow: MessageFlow,
    /// The server's resident memory in MiB, with `--server-pid`.
    pub rss_mib: Option<f64>,
    /// The server's peak resident memory so far in MiB, with `--server-pid`.
    pub hwm_mib: Option<f64>,
    /// The server's open file descriptors, with `--server-pid`.
    pub fds: Option<u64>,
    /// Cores the server used in the interval (1.0 = one core busy), with `--server-pid`.
    pub server_cpu: Option<f64>,
    /// The main queue's depth at the sample; `None` if it could not be read.
    pub depth: Option<QueueDepth>,
    /// Per action.
    pub actions: Vec<ActionSummary>,
    /// The raw reading behind the server columns.
    #[serde(skip)]
    pub server: Option<ProcessSample>,
}

impl Sample {
    /// The sample of `window`, an interval of `window_len` that ended `elapsed` after the start.
    pub fn new(
        elapsed: Duration,
        window_len: Duration,
        window: &Window,
        server: Option<ProcessSample>,
        server_cpu: Option<f64>,
        depth: Option<QueueDepth>,
    ) -> Self {
        let overall = RequestSummary::of(&window.overall());
        let window_secs = window_len.as_secs_f64();
        Self {
            elapsed_secs: round(elapsed.as_secs_f64(), 1),
            window_secs: round(window_secs, 3),
            overall,
            requests_per_sec: round(overall.requests as f64 / window_secs.max(f64::MIN_POSITIVE), 1),
            flow: window.flow,
            rss_mib: server.map(|server| kib_to_mib(server.rss_kib)),
            hwm_mib: server.map(|server| kib_to_mib(server.hwm_kib)),
            fds: server.map(|server| server.fds),
            server_cpu,
            depth,
            actions: ActionSummary::per_action(window),
            server,
        }
    }
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:6.0} s] {} req, {:.1} req/s, {} errors, p50 {}, p99 {}, max {}",
            self.elapsed_secs,
            self.overall.requests,
            self.requests_per_sec,
            self.overall.errors,
            Latency(self.overall.p50_us),
            Latency(self.overall.p99_us),
            Latency(self.overall.max_us),
        )?;
        if let (Some(rss), Some(hwm), Some(fds)) = (self.rss_mib, self.hwm_mib, self.fds) {
            write!(f, " | RSS {rss:.1} MiB (peak {hwm:.1}), {fds} fds")?;
        }
        if let Some(cpu) = self.server_cpu {
            write!(f, ", server CPU {:.0}%", cpu * 100.0)?;
        }
        match self.depth {
            Some(depth) => write!(f, " | depth {} + {} in flight", depth.visible, depth.in_flight)?,
            None => write!(f, " | depth unknown")?,
        }
        write!(f, " | {} queues churned", self.flow.queues_churned)
    }
}

/// What a soak run was asked to do.
#[derive(Debug, Clone, Serialize)]
pub struct Setup {
    /// The endpoint driven.
    pub endpoint: String,
    /// The main queue.
    pub queue_url: String,
    /// Connections of the steady workload.
    pub concurrency: usize,
    /// Target requests per second in total; `None`: as fast as the connections go.
    pub target_rate: Option<f64>,
    /// Seconds between churn cycles; `None`: no churn.
    pub churn_interval_secs: Option<f64>,
    /// Seconds between samples.
    pub sample_interval_secs: f64,
    /// Message body size in bytes.
    pub body_bytes: usize,
    /// The sampled server process.
    pub server_pid: Option<u32>,
    /// The pass/fail bounds.
    pub limits: Limits,
}

/// How the sampled server grew over a run: needs two samples of the server, `None` otherwise.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ServerGrowth {
    /// Server RSS at the last sample minus at the first, in MiB.
    pub rss_growth_mib: Option<f64>,
    /// Server descriptors at the last sample minus at the first.
    pub fd_growth: Option<i64>,
}

impl ServerGrowth {
    /// The growth from the first of `samples` to the last.
    fn over(samples: &[Sample]) -> Self {
        match (samples.first().and_then(|s| s.server), samples.last().and_then(|s| s.server)) {
            (Some(first), Some(last)) if samples.len() >= 2 => Self {
                rss_growth_mib: Some(round((last.rss_kib as f64 - first.rss_kib as f64) / 1024.0, 1)),
                fd_growth: Some(last.fds as i64 - first.fds as i64),
            },
            _ => Self::default(),
        }
    }
}

/// The result of a soak run.
#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    /// Always `soak`.
    pub scenario: &'static str,
    /// What the run was asked to do.
    #[serde(flatten)]
    pub setup: Setup,
    /// Seconds from the start to the end of the last request.
    pub elapsed_secs: f64,
    /// All actions over the whole run.
    pub total: ActionSummary,
    /// Requests per second over the whole run.
    pub requests_per_sec: f64,
    /// Messages and queues moved over the whole run.
    #[serde(flatten)]
    pub flow: MessageFlow,
    /// The main queue's depth at the end.
    pub final_depth: Option<QueueDepth>,
    /// How the server grew from the first sample to the last.
    #[serde(flatten)]
    pub growth: ServerGrowth,
    /// How busy the load generator was (1.0 = one core).
    pub loadgen_cpu: Option<f64>,
    /// Per action over the whole run.
    pub actions: Vec<ActionSummary>,
    /// One per interval.
    pub samples: Vec<Sample>,
    /// Details of the first errors.
    pub first_errors: Vec<String>,
    /// Observations that do not fail the run (a missed target rate).
    pub notes: Vec<String>,
    /// Why the run failed; empty if it passed.
    pub failures: Vec<String>,
    /// Whether every limit was kept.
    pub passed: bool,
}

impl SoakReport {
    /// The report of a run that took `elapsed`, with the merged counts `totals`, and its verdict.
    pub fn new(
        setup: Setup,
        elapsed: Duration,
        totals: &Window,
        samples: Vec<Sample>,
        first_errors: Vec<String>,
        cpu: &CpuMeter,
    ) -> Self {
        let total = ActionSummary::new("all", &totals.overall());
        let secs = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
        let report = Self {
            scenario: "soak",
            elapsed_secs: round(secs, 3),
            requests_per_sec: round(total.summary.requests as f64 / secs, 1),
            total,
            flow: totals.flow,
            final_depth: samples.last().and_then(|sample| sample.depth),
            growth: ServerGrowth::over(&samples),
            loadgen_cpu: cpu.utilisation(),
            actions: ActionSummary::per_action(totals),
            samples,
            first_errors,
            notes: Vec::new(),
            failures: Vec::new(),
            passed: false,
            setup,
        };
        report.judged()
    }

    fn judged(mut self) -> Self {
        let verdict = judge(&self);
        self.passed = verdict.failures.is_empty();
        self.failures = verdict.failures;
        self.notes = verdict.notes;
        self
    }
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let setup = &self.setup;
        let target = setup.target_rate.map_or_else(|| "unlimited".to_owned(), |rate| format!("{rate} req/s"));
        writeln!(
            f,
            "soak {} c={} rate {target}: {} requests in {:.1} s ({:.1} req/s), {} errors, p50 {}, p99 {}, max {}",
            setup.endpoint,
            setup.concurrency,
            self.total.summary.requests,
            self.elapsed_secs,
            self.requests_per_sec,
            self.total.summary.errors,
            Latency(self.total.summary.p50_us),
            Latency(self.total.summary.p99_us),
            Latency(self.total.summary.max_us),
        )?;
        for action in &self.actions {
            writeln!(
                f,
                "  {:<29} {:>10} req {:>4} errors  p50 {:>9}  p99 {:>9}  max {:>9}",
                action.action,
                action.summary.requests,
                action.summary.errors,
                Latency(action.summary.p50_us).to_string(),
                Latency(action.summary.p99_us).to_string(),
                Latency(action.summary.max_us).to_string(),
            )?;
        }
        let depth = self.final_depth.map_or_else(
            || "unknown".to_owned(),
            |depth| format!("{} ({} visible, {} in flight)", depth.total(), depth.visible, depth.in_flight),
        );
        writeln!(
            f,
            "  messages: {} sent, {} deleted; final queue depth {depth}; {} queues churned",
            self.flow.messages_sent, self.flow.messages_deleted, self.flow.queues_churned
        )?;
        let first = self.samples.first().and_then(|sample| sample.server);
        let last = self.samples.last().and_then(|sample| sample.server);
        if let (Some(pid), Some(first), Some(last)) = (setup.server_pid, first, last) {
            writeln!(
                f,
                "  server pid {pid}: RSS {:.1} -> {:.1} MiB (growth {:+.1} MiB), peak {:.1} MiB, fds {} -> {} ({:+})",
                kib_to_mib(first.rss_kib),
                kib_to_mib(last.rss_kib),
                self.growth.rss_growth_mib.unwrap_or(0.0),
                kib_to_mib(last.hwm_kib),
                first.fds,
                last.fds,
                self.growth.fd_growth.unwrap_or(0),
            )?;
        }
        if let Some(cpu) = self.loadgen_cpu {
            writeln!(f, "  load generator CPU {:.0}%", cpu * 100.0)?;
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        if self.passed { write!(f, "  PASSED") } else { write!(f, "  FAILED: {}", self.failures.join("; ")) }
    }
}

/// A latency in microseconds, shown in µs below a millisecond and in ms above.
struct Latency(f64);

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 1000.0 { write!(f, "{:.0} µs", self.0) } else { write!(f, "{:.2} ms", self.0 / 1000.0) }
    }
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10_f64.powi(digits);
    (value * scale).round() / scale
}
