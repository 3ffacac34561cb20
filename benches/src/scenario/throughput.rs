//! The closed-loop send scenarios (`send`, `send-batch`): every connection sends one pre-serialised request after
//! the other until the duration or the request budget is used up.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::de::IgnoredAny;
use tokio::task::JoinSet;

use super::{MAX_BATCH, Scenario, message_body, open_connections, send_batch_body};
use crate::Result;
use crate::conn::{Connection, to_body};
use crate::endpoint::Endpoint;
use crate::stats::{CpuMeter, Report, Tally};
use crate::wire::{Action, BatchResponse, SendMessageRequest};

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
    /// Size of every message body.
    pub body_bytes: usize,
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

/// Runs `scenario` ([`Scenario::Send`] or [`Scenario::SendBatch`]; anything else sends single messages) against
/// `queue_url`.
///
/// # Errors
///
/// The first failed request: transport errors and any status other than 200 abort the run.
pub async fn run(
    endpoint: &Endpoint,
    queue_url: &str,
    scenario: Scenario,
    config: &ThroughputConfig,
) -> Result<Report> {
    let body = message_body(config.body_bytes);
    let (action, payload) = if scenario == Scenario::SendBatch {
        (Action::SendMessageBatch, send_batch_body(queue_url, &body, MAX_BATCH))
    } else {
        let request = SendMessageRequest { queue_url: Cow::Borrowed(queue_url), message_body: Cow::Borrowed(&body) };
        (Action::SendMessage, to_body(&request))
    };
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
        workers.spawn(worker(conn, action, payload.clone(), Arc::clone(&plan)));
    }
    let mut total = Tally::default();
    while let Some(joined) = workers.join_next().await {
        total.merge(&joined??);
    }
    let elapsed = Instant::now().saturating_duration_since(plan.measure_from);

    Ok(Report::new(scenario.as_str(), &endpoint.url, config.concurrency, elapsed, &total).with_loadgen_cpu(&cpu))
}

async fn worker(mut conn: Connection, action: Action, payload: Bytes, plan: Arc<Plan>) -> Result<Tally> {
    let mut tally = Tally::default();
    while plan.may_send() {
        let sent_at = Instant::now();
        let reply = conn.call(action, payload.clone()).await?;
        if sent_at < plan.measure_from {
            continue;
        }
        tally.requests += 1;
        tally.latencies.record(reply.received_at - sent_at);
        if action == Action::SendMessageBatch {
            let batch: BatchResponse<'_, IgnoredAny> = reply.decode(action)?;
            tally.messages += batch.successful.len() as u64;
            tally.errors += batch.failed.len() as u64;
        } else {
            tally.messages += 1;
        }
    }
    Ok(tally)
}
