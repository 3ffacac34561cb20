//! The closed-loop send scenarios (`send`, `send-batch`): every connection sends one request after the other
//! until the duration or the request budget is used up. Requests to standard queues are serialised once and
//! reused; see [`crate::send`] for FIFO queues and the Query protocol.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::{Scenario, open_connections};
use crate::Result;
use crate::conn::Connection;
use crate::endpoint::Endpoint;
use crate::send::{MAX_BATCH, Sender};
use crate::stats::{CpuMeter, Report, Tally};

/// When a closed-loop run stops.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// Run for `warmup` unmeasured, then for `measure`.
    Duration {
        /// Time before measuring starts (connections and server caches warm up).
        warmup: Duration,
        /// The measured window.
        measure: Duration,
    },
    /// Send exactly this many requests in total, all measured.
    Requests(u64),
}

/// Settings of a `send` or `send-batch` run.
#[derive(Debug, Clone)]
pub struct ThroughputConfig {
    /// Connections, each with one request in flight.
    pub concurrency: usize,
    /// When to stop.
    pub limit: Limit,
}

/// The bounds shared by all workers of one run.
#[derive(Debug)]
struct Plan {
    measure_from: Instant,
    stop_at: Option<Instant>,
    budget: Option<u64>,
    issued: AtomicU64,
}

impl Plan {
    fn may_send(&self) -> bool {
        if self.stop_at.is_some_and(|stop| Instant::now() >= stop) {
            return false;
        }
        self.budget.is_none_or(|budget| self.issued.fetch_add(1, Ordering::Relaxed) < budget)
    }
}

/// Runs `scenario` ([`Scenario::SendBatch`] sends batches of ten; anything else sends single messages) with the
/// requests `sender` builds.
///
/// Entries refused inside a 200 batch response are counted as errors, not as messages.
///
/// # Errors
///
/// The first failed request: transport errors, any status other than 200 and unreadable responses abort the run.
pub async fn run(
    endpoint: &Endpoint,
    sender: &Arc<Sender>,
    scenario: Scenario,
    config: &ThroughputConfig,
) -> Result<Report> {
    let batch = scenario == Scenario::SendBatch;
    let connections = open_connections(endpoint, config.concurrency).await?;

    let cpu = CpuMeter::start();
    let started = Instant::now();
    let plan = Arc::new(match config.limit {
        Limit::Duration { warmup, measure } => Plan {
            measure_from: started + warmup,
            stop_at: Some(started + warmup + measure),
            budget: None,
            issued: AtomicU64::new(0),
        },
        Limit::Requests(count) => {
            Plan { measure_from: started, stop_at: None, budget: Some(count), issued: AtomicU64::new(0) }
        }
    });
    let mut workers = JoinSet::new();
    for conn in connections {
        workers.spawn(worker(conn, Arc::clone(sender), batch, Arc::clone(&plan)));
    }
    let mut total = Tally::default();
    while let Some(joined) = workers.join_next().await {
        total.merge(&joined??);
    }
    let elapsed = Instant::now().saturating_duration_since(plan.measure_from);

    Ok(Report::new(scenario.as_str(), &endpoint.url, config.concurrency, elapsed, &total).with_loadgen_cpu(&cpu))
}

async fn worker(mut conn: Connection, sender: Arc<Sender>, batch: bool, plan: Arc<Plan>) -> Result<Tally> {
    let mut tally = Tally::default();
    while plan.may_send() {
        let sent_at = Instant::now();
        let sent =
            if batch { sender.send_batch(&mut conn, MAX_BATCH).await? } else { sender.send_one(&mut conn).await? };
        if sent_at < plan.measure_from {
            continue;
        }
        tally.requests += 1;
        tally.latencies.record(sent.received_at - sent_at);
        tally.messages += sent.counts.succeeded;
        tally.errors += sent.counts.failed;
    }
    Ok(tally)
}
