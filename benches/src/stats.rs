//! Latency histograms and the one-line report of a run.

use std::fmt;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::send::QueueKind;
use crate::wire::Protocol;

/// The highest latency the histogram tracks exactly (60 s); longer samples are clamped to it.
const MAX_TRACKED_NANOS: u64 = 60_000_000_000;

/// A latency histogram with nanosecond resolution and three significant digits.
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    /// An empty histogram.
    pub fn new() -> Self {
        match Histogram::new_with_bounds(1, MAX_TRACKED_NANOS, 3) {
            Ok(histogram) => Self(histogram),
            Err(err) => {
                unreachable!("constant histogram bounds are within hdrhistogram's limits: {err}")
            }
        }
    }

    /// Records one sample.
    pub fn record(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.0.saturating_record(nanos.clamp(1, MAX_TRACKED_NANOS));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Self) {
        // Both histograms have the same bounds, so adding never fails.
        let _ignored_same_bounds = self.0.add(&other.0);
    }

    /// The number of samples.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The latency at `quantile` (0.0..=1.0), in microseconds.
    pub fn quantile_us(&self, quantile: f64) -> f64 {
        nanos_to_us(self.0.value_at_quantile(quantile))
    }

    /// The largest sample, in microseconds.
    pub fn max_us(&self) -> f64 {
        nanos_to_us(self.0.max())
    }
}

fn nanos_to_us(nanos: u64) -> f64 {
    // Rounded to 0.1 µs: the histogram keeps three significant digits, more would be noise.
    (nanos as f64 / 100.0).round() / 10.0
}

/// Measures how busy the load generator itself is, to tell a saturated server from a saturated load generator.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    cpu: Option<Duration>,
    wall: Instant,
}

impl CpuMeter {
    /// Starts measuring now.
    pub fn start() -> Self {
        Self { cpu: process_cpu_time(), wall: Instant::now() }
    }

    /// CPU time used by this process since [`CpuMeter::start`], as a fraction of the wall-clock time (1.0 is one
    /// core fully busy); `None` where Linux's `/proc/self/task/*/schedstat` is unavailable.
    pub fn utilisation(&self) -> Option<f64> {
        let used = process_cpu_time()?.checked_sub(self.cpu?)?;
        let wall = self.wall.elapsed().as_secs_f64();
        (wall > 0.0).then(|| (used.as_secs_f64() / wall * 100.0).round() / 100.0)
    }
}

/// CPU time consumed so far by the live threads of this process (Linux only).
fn process_cpu_time() -> Option<Duration> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    // The first field of schedstat is the time the thread has run, in nanoseconds. A thread that exits between
    // listing and reading is skipped; the load generator's threads live as long as a run.
    let nanos = tasks
        .filter_map(|task| {
            let path = task.ok()?.path().join("schedstat");
            std::fs::read_to_string(path).ok()?.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum();
    Some(Duration::from_nanos(nanos))
}

/// Counters a worker accumulates during the measured window.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// HTTP requests completed.
    pub requests: u64,
    /// Messages sent, received or deleted, depending on the scenario.
    pub messages: u64,
    /// Per-entry failures inside 200 batch responses.
    pub errors: u64,
    /// Latency samples.
    pub latencies: Latencies,
}

impl Tally {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Self) {
        self.requests += other.requests;
        self.messages += other.messages;
        self.errors += other.errors;
        self.latencies.merge(&other.latencies);
    }
}

/// The result of one run, printed as a human-readable line or as one JSON object.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The scenario name (`send`, `send-batch`, `drain`, `longpoll`, `fill`).
    pub scenario: String,
    /// The endpoint measured.
    pub endpoint: String,
    /// The protocol the messages were sent in (`json` or `query`).
    pub protocol: Protocol,
    /// The message groups of a FIFO queue; `None` for a standard queue.
    pub fifo_groups: Option<u64>,
    /// Concurrent connections (waiters, for `longpoll`).
    pub concurrency: usize,
    /// Length of the measured window in seconds.
    pub elapsed_secs: f64,
    /// HTTP requests completed in the window.
    pub requests: u64,
    /// Messages moved in the window.
    pub messages: u64,
    /// Requests per second.
    pub requests_per_sec: f64,
    /// Messages per second.
    pub messages_per_sec: f64,
    /// Median latency in microseconds.
    pub p50_us: f64,
    /// 99th-percentile latency in microseconds.
    pub p99_us: f64,
    /// Largest latency in microseconds.
    pub max_us: f64,
    /// Per-entry batch failures.
    pub errors: u64,
    /// How busy the load generator was (1.0 = one core); near 1.0 on a pinned core means the numbers measure
    /// the load generator, not the server.
    pub loadgen_cpu: Option<f64>,
}

impl Report {
    /// Builds a report from the merged tally of a run that measured for `elapsed`.
    pub fn new(scenario: &str, endpoint: &str, concurrency: usize, elapsed: Duration, tally: &Tally) -> Self {
        let secs = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
        let round1 = |value: f64| (value * 10.0).round() / 10.0;
        Self {
            scenario: scenario.to_owned(),
            endpoint: endpoint.to_owned(),
            protocol: Protocol::Json,
            fifo_groups: None,
            concurrency,
            elapsed_secs: (secs * 1000.0).round() / 1000.0,
            requests: tally.requests,
            messages: tally.messages,
            requests_per_sec: round1(tally.requests as f64 / secs),
            messages_per_sec: round1(tally.messages as f64 / secs),
            p50_us: tally.latencies.quantile_us(0.5),
            p99_us: tally.latencies.quantile_us(0.99),
            max_us: tally.latencies.max_us(),
            errors: tally.errors,
            loadgen_cpu: None,
        }
    }

    /// Records the protocol and the kind of queue of the run (the defaults are JSON and a standard queue).
    #[must_use]
    pub fn with_queue(mut self, protocol: Protocol, kind: QueueKind) -> Self {
        self.protocol = protocol;
        self.fifo_groups = match kind {
            QueueKind::Standard => None,
            QueueKind::Fifo { groups } => Some(groups.get()),
        };
        self
    }

    /// Adds the load generator's CPU utilisation over the run.
    #[must_use]
    pub fn with_loadgen_cpu(mut self, meter: &CpuMeter) -> Self {
        self.loadgen_cpu = meter.utilisation();
        self
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{scenario:<10} {endpoint} c={concurrency}: {rps:.0} req/s, {mps:.0} msg/s, \
             p50 {p50:.1} µs, p99 {p99:.1} µs, max {max:.1} µs, {requests} requests in {secs:.2} s, \
             {errors} errors",
            scenario = self.scenario,
            endpoint = self.endpoint,
            concurrency = self.concurrency,
            rps = self.requests_per_sec,
            mps = self.messages_per_sec,
            p50 = self.p50_us,
            p99 = self.p99_us,
            max = self.max_us,
            requests = self.requests,
            secs = self.elapsed_secs,
            errors = self.errors,
        )?;
        if self.protocol != Protocol::Json {
            write!(f, ", {} protocol", self.protocol)?;
        }
        if let Some(groups) = self.fifo_groups {
            write!(f, ", FIFO queue with {groups} group(s)")?;
        }
        if let Some(cpu) = self.loadgen_cpu {
            write!(f, ", load generator CPU {:.0}%", cpu * 100.0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_reported_in_microseconds() {
        let mut latencies = Latencies::new();
        for micros in 1..=100 {
            latencies.record(Duration::from_micros(micros));
        }

        assert_eq!(latencies.len(), 100);
        assert!((latencies.quantile_us(0.5) - 50.0).abs() < 0.1);
        assert!((latencies.max_us() - 100.0).abs() < 0.1);
    }

    #[test]
    fn cpu_meter_sees_busy_work() {
        let meter = CpuMeter::start();
        let spin_until = Instant::now() + Duration::from_millis(50);
        while Instant::now() < spin_until {
            std::hint::spin_loop();
        }

        let utilisation = meter.utilisation();

        if std::path::Path::new("/proc/self/task").exists() {
            assert!(utilisation.is_some_and(|cpu| cpu > 0.0), "{utilisation:?}");
        }
    }

    #[test]
    fn report_divides_by_the_measured_window() {
        let tally = Tally { requests: 100, messages: 1000, ..Tally::default() };

        let report = Report::new("send-batch", "http://x", 2, Duration::from_secs(2), &tally);

        assert!((report.requests_per_sec - 50.0).abs() < f64::EPSILON);
        assert!((report.messages_per_sec - 500.0).abs() < f64::EPSILON);
    }
}
