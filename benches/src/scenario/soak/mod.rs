//! The `soak` scenario: a mixed workload (sends, batch sends, receives, deletes, visibility changes and queue
//! churn) at a steady rate for a long time, sampling the server's memory, open descriptors and latency once per
//! interval, and judging the run against [`Limits`] so that CI can fail on errors or growth.
//!
//! - [`pace`]: the shared request schedule (`--rate`).
//! - [`caller`]: a paced connection that records every outcome and reconnects after transport errors.
//! - [`mix`]: the steady workload, designed so that the queue depth stays bounded.
//! - [`churn`]: short-lived queues, created and deleted every `--churn-interval`.
//! - [`record`], [`sampler`], [`report`] and [`verdict`]: the counts, the per-interval samples, the report, and
//!   whether the run passed.
//!
//! Unlike the other scenarios, a soak run does not stop at the first failed request: every failure is counted
//! (and the first few printed), and the verdict decides.

pub mod caller;
pub mod churn;
pub mod mix;
pub mod pace;
pub mod record;
pub mod report;
pub mod sampler;
pub mod verdict;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use self::caller::Caller;
use self::mix::Mix;
use self::pace::Pacer;
use self::record::Recorder;
use self::report::{Setup, SoakReport};
use self::sampler::Sampler;
use self::verdict::Limits;
use super::open_connections;
use crate::endpoint::Endpoint;
use crate::procfs::ProcessProbe;
use crate::send::message_body;
use crate::stats::CpuMeter;
use crate::{Error, Result};

/// Settings of a `soak` run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Connections of the steady workload, each with one request in flight.
    pub concurrency: usize,
    /// Requests per second in total, churn included; `None`: as fast as the connections go.
    pub rate: Option<f64>,
    /// Length of the run.
    pub duration: Duration,
    /// Time between samples.
    pub sample_interval: Duration,
    /// Time between queue churn cycles; `None`: no churn.
    pub churn_interval: Option<Duration>,
    /// Message body size in bytes.
    pub body_bytes: usize,
    /// The server process to sample (Linux `/proc`).
    pub server_pid: Option<u32>,
    /// The pass/fail bounds.
    pub limits: Limits,
}

/// Soaks `endpoint` with the mixed workload on `queue_url` (a standard queue) and reports the samples and the
/// verdict. A run that fails its limits still returns `Ok`: the verdict is in the report.
///
/// # Errors
///
/// Set-up failures only: a zero sample interval, a server process that cannot be read, or connections that
/// cannot be opened.
pub async fn run(endpoint: &Endpoint, queue_url: &str, config: &SoakConfig) -> Result<SoakReport> {
    if config.sample_interval.is_zero() {
        return Err(Error::Scenario("soak: the sample interval must be longer than zero".to_owned()));
    }
    let probe = config
        .server_pid
        .map(|pid| {
            ProcessProbe::new(pid)
                .map_err(|err| Error::Scenario(format!("soak: cannot sample process {pid} in /proc: {err}")))
        })
        .transpose()?;
    let churn_connection = usize::from(config.churn_interval.is_some());
    let mut connections = open_connections(endpoint, config.concurrency + churn_connection).await?;
    let recorder = Arc::new(Recorder::new());
    let mix = Arc::new(Mix::new(queue_url, config.body_bytes));

    let cpu = CpuMeter::start();
    let started = Instant::now();
    let deadline = started
        .checked_add(config.duration)
        .ok_or_else(|| Error::Scenario(format!("soak: a duration of {:?} is too long", config.duration)))?;
    let pacer = Arc::new(Pacer::new(config.rate, deadline));
    let mut workers = JoinSet::new();
    if let (Some(every), Some(conn)) = (config.churn_interval, connections.pop()) {
        let caller = Caller::new(endpoint, conn, &pacer, &recorder);
        let prefix = format!("soak-churn-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        workers.spawn(churn::worker(caller, prefix, every, deadline, message_body(config.body_bytes)));
    }
    for conn in connections {
        workers.spawn(mix::worker(Caller::new(endpoint, conn, &pacer, &recorder), Arc::clone(&mix)));
    }
    let mut sampler = Sampler::new(endpoint, queue_url, probe, &recorder, started);
    for interval in 1_u32.. {
        let Some(at) = started.checked_add(config.sample_interval.saturating_mul(interval)) else {
            break;
        };
        if at >= deadline {
            break;
        }
        tokio::time::sleep_until(at.into()).await;
        sampler.sample().await;
    }
    // The workers hand their connections back, and they stay open until the last sample: closing them first would
    // make the server's descriptor count drop and hide any growth.
    let mut callers = Vec::with_capacity(workers.len());
    while let Some(joined) = workers.join_next().await {
        callers.push(joined?);
    }
    let elapsed = started.elapsed();
    // The last interval ends with the last request, so its sample sees the final depth.
    sampler.sample().await;
    drop(callers);

    let (totals, samples) = sampler.finish();
    let setup = Setup {
        endpoint: endpoint.url.clone(),
        queue_url: queue_url.to_owned(),
        concurrency: config.concurrency,
        target_rate: config.rate,
        churn_interval_secs: config.churn_interval.map(|every| every.as_secs_f64()),
        sample_interval_secs: config.sample_interval.as_secs_f64(),
        body_bytes: config.body_bytes,
        server_pid: config.server_pid,
        limits: config.limits.clone(),
    };
    Ok(SoakReport::new(setup, elapsed, &totals, samples, recorder.first_errors(), &cpu))
}
