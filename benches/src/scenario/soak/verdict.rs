//! Whether a soak run passed: its errors, the server's memory and descriptor growth, and the message accounting,
//! judged against the run's [`Limits`]. This is what makes the loadgen exit non-zero in CI.

use serde::Serialize;

use super::report::SoakReport;

/// The pass/fail bounds of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    /// The most errors allowed.
    pub max_errors: u64,
    /// The most the server's RSS may grow from the first sample to the last, in MiB; `None`: not checked.
    pub max_rss_growth_mib: Option<f64>,
    /// The most the server's open descriptors may grow from the first sample to the last (checked whenever the
    /// server is sampled).
    pub max_fd_growth: u64,
}

/// The outcome of judging a run.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// Why the run failed; empty if it passed.
    pub failures: Vec<String>,
    /// Observations that do not fail the run (a missed target rate).
    pub notes: Vec<String>,
}

/// Judges `report` against its limits (`report.setup.limits`).
pub fn judge(report: &SoakReport) -> Verdict {
    let limits = &report.setup.limits;
    let mut verdict = Verdict::default();
    let failures = &mut verdict.failures;
    if report.total.summary.requests == 0 {
        failures.push("no request was answered".to_owned());
    }
    if report.total.summary.errors > limits.max_errors {
        failures.push(format!(
            "{} errors, more than the {} allowed; the first: {}",
            report.total.summary.errors,
            limits.max_errors,
            report.first_errors.first().map_or("(not recorded)", String::as_str)
        ));
    }
    if let Some(bound) = limits.max_rss_growth_mib {
        match report.growth.rss_growth_mib {
            Some(growth) if growth > bound => failures.push(format!(
                "server RSS grew by {growth:.1} MiB from the first sample to the last, more than the {bound} MiB allowed"
            )),
            Some(_) => {}
            None => failures.push(
                "RSS growth was not measured: it needs --server-pid and at least two samples \
                 (--duration of at least twice --sample-interval)"
                    .to_owned(),
            ),
        }
    }
    if let Some(growth) = report.growth.fd_growth.filter(|growth| *growth > limits.max_fd_growth as i64) {
        failures.push(format!(
            "server file descriptors grew by {growth} from the first sample to the last, more than the {} allowed",
            limits.max_fd_growth
        ));
    }
    // Without errors every request's effect is known, so the queue must hold exactly what was not deleted.
    if let Some(depth) = report.final_depth {
        if report.total.summary.errors == 0 && depth.total() != report.flow.expected_depth() {
            failures.push(format!(
                "the queue holds {} messages at the end, but {} were sent and {} deleted: messages were lost or \
                 duplicated",
                depth.total(),
                report.flow.messages_sent,
                report.flow.messages_deleted
            ));
        }
    }
    if let Some(target) = report.setup.target_rate {
        if report.requests_per_sec < 0.95 * target {
            verdict.notes.push(format!(
                "achieved {:.1} req/s, below the target of {target} req/s: the endpoint (or the load generator) could \
                 not keep up",
                report.requests_per_sec
            ));
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::procfs::ProcessSample;
    use crate::scenario::soak::record::{Recorder, Window};
    use crate::scenario::soak::report::{QueueDepth, Sample, Setup};
    use crate::stats::CpuMeter;
    use crate::wire::Action;

    fn setup(limits: Limits) -> Setup {
        Setup {
            endpoint: "http://x".to_owned(),
            queue_url: "http://x/000000000000/q".to_owned(),
            concurrency: 2,
            target_rate: Some(100.0),
            churn_interval_secs: Some(1.0),
            sample_interval_secs: 10.0,
            body_bytes: 16,
            server_pid: Some(1),
            limits,
        }
    }

    fn limits() -> Limits {
        Limits { max_errors: 0, max_rss_growth_mib: Some(8.0), max_fd_growth: 4 }
    }

    fn sample(rss_mib: u64, fds: u64, depth: u64) -> Sample {
        let recorder = Recorder::new();
        recorder.answered(Action::SendMessage, Duration::from_micros(100));
        let server = ProcessSample { rss_kib: rss_mib * 1024, hwm_kib: rss_mib * 1024, fds, cpu_nanos: None };
        let depth = QueueDepth { visible: depth, in_flight: 0 };
        let window = recorder.take();
        Sample::new(Duration::from_secs(10), Duration::from_secs(10), &window, Some(server), None, Some(depth))
    }

    fn totals(sent: u64, deleted: u64) -> Window {
        let recorder = Recorder::new();
        for _ in 0..1000 {
            recorder.answered(Action::SendMessage, Duration::from_micros(100));
        }
        recorder.sent(sent);
        recorder.deleted(deleted);
        recorder.take()
    }

    fn report(limits: Limits, samples: Vec<Sample>, totals: &Window) -> SoakReport {
        report_after(Duration::from_secs(10), limits, samples, totals)
    }

    /// A report of 1,000 requests in `elapsed` (the target rate is 100 req/s).
    fn report_after(elapsed: Duration, limits: Limits, samples: Vec<Sample>, totals: &Window) -> SoakReport {
        SoakReport::new(setup(limits), elapsed, totals, samples, Vec::new(), &CpuMeter::start())
    }

    #[test]
    fn a_steady_run_passes() {
        let report = report(limits(), vec![sample(20, 30, 5), sample(24, 31, 5)], &totals(100, 95));

        assert!(report.passed, "{:?}", report.failures);
        assert_eq!(report.growth.rss_growth_mib, Some(4.0));
        assert_eq!(report.growth.fd_growth, Some(1));
        assert_eq!(report.final_depth.map(QueueDepth::total), Some(5));
    }

    #[test]
    fn memory_or_descriptor_growth_beyond_the_bound_fails() {
        let report = report(limits(), vec![sample(20, 30, 5), sample(29, 40, 5)], &totals(100, 95));

        assert!(!report.passed);
        assert_eq!(report.failures.len(), 2, "{:?}", report.failures);
        assert!(report.failures[0].contains("RSS grew by 9.0 MiB"));
        assert!(report.failures[1].contains("descriptors grew by 10"));
    }

    #[test]
    fn a_growth_bound_without_two_server_samples_fails() {
        let report = report(limits(), vec![sample(20, 30, 5)], &totals(100, 95));

        assert!(!report.passed);
        assert!(report.failures[0].contains("not measured"), "{:?}", report.failures);
    }

    #[test]
    fn errors_and_lost_messages_fail() {
        let lost = report(limits(), vec![sample(20, 30, 5), sample(20, 30, 4)], &totals(100, 95));
        let mut with_errors = totals(100, 95);
        with_errors.actions.entry(Action::ReceiveMessage).or_default().errors = 1;
        let errors = report(limits(), vec![sample(20, 30, 5), sample(20, 30, 4)], &with_errors);

        assert!(lost.failures.iter().any(|failure| failure.contains("lost or duplicated")), "{:?}", lost.failures);
        assert_eq!(errors.failures.len(), 1, "the depth is not checked once requests failed: {:?}", errors.failures);
        assert!(errors.failures[0].starts_with("1 errors"));
    }

    #[test]
    fn a_missed_rate_is_a_note_not_a_failure() {
        let samples = || vec![sample(20, 30, 5), sample(20, 30, 5)];

        let on_target = report(limits(), samples(), &totals(100, 95));
        let missed = report_after(Duration::from_secs(20), limits(), samples(), &totals(100, 95));

        assert!(on_target.notes.is_empty(), "{:?}", on_target.notes);
        assert!((missed.requests_per_sec - 50.0).abs() < 0.1);
        assert!(missed.notes[0].contains("below the target"), "{:?}", missed.notes);
        assert!(missed.passed);
        assert!(missed.to_string().ends_with("PASSED"));
    }
}
