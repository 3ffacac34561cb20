//! The `fill` scenario: enqueue exactly `messages` messages with `SendMessageBatch` over every connection, then
//! stop. On its own it sets up the memory and recovery measurements; `drain` uses the same loop as its pre-fill.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::{Scenario, open_connections};
use crate::conn::Connection;
use crate::endpoint::Endpoint;
use crate::send::{MAX_BATCH, Sender, refused};
use crate::stats::{CpuMeter, Report, Tally};
use crate::{Error, Result};

/// Settings of a `fill` run.
#[derive(Debug, Clone)]
pub struct FillConfig {
    /// Connections, each with one request in flight.
    pub concurrency: usize,
    /// Messages to enqueue.
    pub messages: u64,
    /// Upper bound on the whole run; exceeding it fails the run.
    pub timeout: Duration,
}

/// Enqueues `config.messages` messages built by `sender` and reports how fast that went.
///
/// # Errors
///
/// The first failed request or refused entry, or [`Error::Scenario`] if the run exceeds `config.timeout`.
pub async fn run(endpoint: &Endpoint, sender: &Arc<Sender>, config: &FillConfig) -> Result<Report> {
    let deadline = Instant::now() + config.timeout;
    let connections = open_connections(endpoint, config.concurrency).await?;

    let cpu = CpuMeter::start();
    let started = Instant::now();
    let (_connections, tally) = send_all(connections, sender, config.messages, deadline, "fill").await?;
    let elapsed = started.elapsed();

    Ok(Report::new(Scenario::Fill.as_str(), &endpoint.url, config.concurrency, elapsed, &tally).with_loadgen_cpu(&cpu))
}

/// Sends `messages` messages in batches of ten (the last one smaller) over all `connections` and hands the
/// connections back with the tally of the batches; `label` names the run in errors.
///
/// # Errors
///
/// The first failed request or refused entry, or [`Error::Scenario`] when `deadline` passes first.
pub async fn send_all(
    connections: Vec<Connection>,
    sender: &Arc<Sender>,
    messages: u64,
    deadline: Instant,
    label: &'static str,
) -> Result<(Vec<Connection>, Tally)> {
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for mut conn in connections {
        let (sender, next) = (Arc::clone(sender), Arc::clone(&next));
        workers.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let first = next.fetch_add(MAX_BATCH as u64, Ordering::Relaxed);
                if first >= messages {
                    return Ok::<_, Error>((conn, tally));
                }
                if Instant::now() >= deadline {
                    return Err(Error::Scenario(format!("{label}: did not finish within --timeout")));
                }
                let count = (messages - first).min(MAX_BATCH as u64) as usize;
                let sent_at = Instant::now();
                let sent = sender.send_batch(&mut conn, count).await?;
                if sent.counts.failed > 0 {
                    return Err(refused(label, &sent.counts));
                }
                tally.requests += 1;
                tally.messages += sent.counts.succeeded;
                tally.latencies.record(sent.received_at - sent_at);
            }
        });
    }
    let mut connections = Vec::new();
    let mut total = Tally::default();
    while let Some(joined) = workers.join_next().await {
        let (conn, tally) = joined??;
        connections.push(conn);
        total.merge(&tally);
    }
    if total.messages != messages {
        return Err(Error::Scenario(format!("{label}: {} messages were stored, expected {messages}", total.messages)));
    }
    Ok((connections, total))
}
