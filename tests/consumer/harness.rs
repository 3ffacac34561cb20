//! Consumer-specific test helpers on top of the conformance suite's `TestContext`: a probing backend
//! observer (records visibility changes, injects delete, receive and throttled attribute-read failures), polling with a deadline, and small
//! queue helpers. Everything goes through `Arc<dyn SqsBackend>`, so it works on every row.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqskit::backend::{BackendObserver, Call, Observed, ReceiveRequest, ReceivedMessage, Reply, SendEntry, SqsBackend};
use sqskit::types::{QueueAttributeName, QueueAttributes};
use sqskit::{Error, Fault, Result};

use crate::support::TestContext;

/// How long any condition may take before a test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// Polls `condition` until it holds; panics naming `what` after [`PATIENCE`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Polls an async `condition` until it holds; panics naming `what` after [`PATIENCE`].
pub async fn eventually_async<F: Future<Output = bool>>(what: &str, mut condition: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `(visible, in flight)` message counts of a queue.
pub async fn counts(backend: &Arc<dyn SqsBackend>, queue_url: &str) -> (u64, u64) {
    let attributes = backend
        .get_queue_attributes(
            queue_url,
            &[
                QueueAttributeName::ApproximateNumberOfMessages,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            ],
        )
        .await
        .expect("queue attributes");
    (
        attributes.approximate_number_of_messages().unwrap_or(u64::MAX),
        attributes.approximate_number_of_messages_not_visible().unwrap_or(u64::MAX),
    )
}

/// Waits until a queue holds no message at all (neither visible nor in flight).
pub async fn until_empty(backend: &Arc<dyn SqsBackend>, queue_url: &str) {
    eventually_async("the queue to be empty", || async { counts(backend, queue_url).await == (0, 0) }).await;
}

/// Sends `bodies` in batches of 10 (several batches at once).
pub async fn send_bodies(backend: &Arc<dyn SqsBackend>, queue_url: &str, bodies: Vec<String>) {
    let entries: Vec<SendEntry> =
        bodies.into_iter().enumerate().map(|(i, body)| SendEntry::new(format!("e{}", i % 10), body)).collect();
    send_entries(backend, queue_url, entries).await;
}

/// Sends entries (ids unique per 10) in batches of 10, up to 8 batches at once, in order per batch.
pub async fn send_entries(backend: &Arc<dyn SqsBackend>, queue_url: &str, entries: Vec<SendEntry>) {
    let batches: Vec<Vec<SendEntry>> = entries.chunks(10).map(<[SendEntry]>::to_vec).collect();
    for wave in batches.chunks(8) {
        let mut sends = tokio::task::JoinSet::new();
        for batch in wave {
            let batch = batch.clone();
            let backend = backend.clone();
            let queue_url = queue_url.to_owned();
            sends.spawn(async move {
                let outcome = backend.send_message_batch(&queue_url, &batch).await.expect("send batch");
                assert!(outcome.failed.is_empty(), "send failures: {:?}", outcome.failed);
            });
        }
        while let Some(result) = sends.join_next().await {
            result.expect("send task");
        }
    }
}

/// A receive that returns at once, with every attribute.
pub async fn receive_now(backend: &Arc<dyn SqsBackend>, queue_url: &str) -> Vec<ReceivedMessage> {
    backend
        .receive_message(queue_url, &ReceiveRequest::new().wait_time(Duration::ZERO).all_attributes())
        .await
        .expect("receive")
}

/// Receives until `expected` distinct messages were seen, advancing virtual time past their visibility
/// timeout between attempts. (Over HTTP, a long poll abandoned by a stopped consumer may still take a
/// message on the server once it becomes visible; advancing the clock brings such a message back.)
pub async fn receive_all(ctx: &TestContext, queue_url: &str, expected: usize) -> Vec<ReceivedMessage> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut seen: BTreeMap<String, ReceivedMessage> = BTreeMap::new();
    loop {
        for message in receive_now(&ctx.backend, queue_url).await {
            seen.entry(message.message_id.to_string()).or_insert(message);
        }
        if seen.len() >= expected {
            return seen.into_values().collect();
        }
        assert!(tokio::time::Instant::now() < deadline, "only {} of {expected} messages came back", seen.len());
        tokio::time::sleep(Duration::from_millis(5)).await;
        ctx.advance(Duration::from_secs(60));
    }
}

/// Creates `<name>-dlq` and `<name>` whose redrive policy moves messages there after `max_receive_count`
/// receives; returns `(source, dead-letter queue)`.
pub async fn queue_with_redrive(backend: &Arc<dyn SqsBackend>, name: &str, max_receive_count: u32) -> (String, String) {
    let dlq = backend.create_queue(&format!("{name}-dlq"), &QueueAttributes::new(), &BTreeMap::new()).await.unwrap();
    let arn = backend.get_queue_attributes(&dlq, &[QueueAttributeName::QueueArn]).await.unwrap();
    let arn = arn.queue_arn().expect("arn").to_owned();
    let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"{max_receive_count}"}}"#);
    let attributes = QueueAttributes::new().with(QueueAttributeName::RedrivePolicy, policy);
    let source = backend.create_queue(name, &attributes, &BTreeMap::new()).await.unwrap();
    (source, dlq)
}

/// A backend observer: records every confirmed visibility change and the receipt handles of every
/// visibility request made, measures how many requests (and visibility requests) overlap, and can fail
/// delete and visibility requests.
#[derive(Debug, Default)]
pub struct Probe {
    visibility_timeouts: Mutex<Vec<Duration>>,
    visibility_requests_done: AtomicU64,
    fail_deletes: AtomicUsize,
    delete_requests: AtomicU64,
    visibility_calls: Mutex<Vec<Vec<String>>>,
    fail_visibility: AtomicBool,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    visibility_in_flight: AtomicUsize,
    max_visibility_in_flight: AtomicUsize,
    throttle_attribute_reads: AtomicUsize,
    refused_attribute_reads: AtomicU64,
    receive_failure: Mutex<Option<Error>>,
    refused_receives: AtomicU64,
}

impl Probe {
    /// Wraps `inner`; returns the probed backend and the probe.
    pub fn wrap(inner: Arc<dyn SqsBackend>) -> (Arc<dyn SqsBackend>, Arc<Self>) {
        let probe = Arc::new(Self::default());
        (Arc::new(Observed::wrap(inner, probe.clone())), probe)
    }

    /// The visibility timeouts of every entry of every completed `ChangeMessageVisibilityBatch`, in order.
    pub fn visibility_timeouts(&self) -> Vec<Duration> {
        self.visibility_timeouts.lock().unwrap().clone()
    }

    /// How many `ChangeMessageVisibilityBatch` requests have completed.
    pub fn visibility_requests_done(&self) -> u64 {
        self.visibility_requests_done.load(Ordering::SeqCst)
    }

    /// How many `DeleteMessageBatch` requests were made.
    pub fn delete_requests(&self) -> u64 {
        self.delete_requests.load(Ordering::SeqCst)
    }

    /// Fails the next `count` delete requests with a retryable `ServiceUnavailable` (nothing is deleted).
    pub fn fail_next_deletes(&self, count: usize) {
        self.fail_deletes.store(count, Ordering::SeqCst);
    }

    /// The receipt handles of every `ChangeMessageVisibilityBatch` request made (failed ones included), in
    /// the order they were made.
    pub fn visibility_calls(&self) -> Vec<Vec<String>> {
        self.visibility_calls.lock().unwrap().clone()
    }

    /// While `fail` holds, every `ChangeMessageVisibilityBatch` request fails with a retryable
    /// `ServiceUnavailable` (and is recorded in [`Probe::visibility_calls`]).
    pub fn fail_visibility(&self, fail: bool) {
        self.fail_visibility.store(fail, Ordering::SeqCst);
    }

    /// Refuses the next `count` `GetQueueAttributes` requests with a retryable `RequestThrottled`.
    pub fn throttle_next_attribute_reads(&self, count: usize) {
        self.throttle_attribute_reads.store(count, Ordering::SeqCst);
    }

    /// How many `GetQueueAttributes` requests were refused.
    pub fn refused_attribute_reads(&self) -> u64 {
        self.refused_attribute_reads.load(Ordering::SeqCst)
    }

    /// While set, every `ReceiveMessage` request fails with this error (it never reaches the backend).
    pub fn fail_receives(&self, error: Option<Error>) {
        *self.receive_failure.lock().unwrap() = error;
    }

    /// How many `ReceiveMessage` requests were refused.
    pub fn refused_receives(&self) -> u64 {
        self.refused_receives.load(Ordering::SeqCst)
    }

    /// The most requests of any kind that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// The most `ChangeMessageVisibilityBatch` requests that were in flight at once.
    pub fn max_visibility_in_flight(&self) -> usize {
        self.max_visibility_in_flight.load(Ordering::SeqCst)
    }
}

fn enter(in_flight: &AtomicUsize, max: &AtomicUsize) {
    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    max.fetch_max(now, Ordering::SeqCst);
}

impl BackendObserver for Probe {
    fn before(&self, call: &Call<'_>) -> Result<()> {
        if let Call::GetQueueAttributes = call {
            let inject = self
                .throttle_attribute_reads
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if inject {
                self.refused_attribute_reads.fetch_add(1, Ordering::SeqCst);
                return Err(Error::service("RequestThrottled", "Rate exceeded", None, Some(Fault::Sender)));
            }
        }
        if let Call::ReceiveMessage(_) = call {
            if let Some(error) = self.receive_failure.lock().unwrap().clone() {
                self.refused_receives.fetch_add(1, Ordering::SeqCst);
                return Err(error);
            }
        }
        if let Call::ChangeMessageVisibilityBatch(entries) = call {
            let receipts = entries.iter().map(|entry| entry.receipt_handle.as_str().to_owned()).collect();
            self.visibility_calls.lock().unwrap().push(receipts);
            if self.fail_visibility.load(Ordering::SeqCst) {
                return Err(Error::service("ServiceUnavailable", "injected failure", None, Some(Fault::Receiver)));
            }
            enter(&self.visibility_in_flight, &self.max_visibility_in_flight);
        }
        enter(&self.in_flight, &self.max_in_flight);
        if let Call::DeleteMessageBatch(_) = call {
            self.delete_requests.fetch_add(1, Ordering::SeqCst);
            let inject =
                self.fail_deletes.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
            if inject {
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                return Err(Error::service("ServiceUnavailable", "injected failure", None, Some(Fault::Receiver)));
            }
        }
        Ok(())
    }

    fn after(&self, call: &Call<'_>, _: Reply<'_>) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if let Call::ChangeMessageVisibilityBatch(entries) = call {
            self.visibility_in_flight.fetch_sub(1, Ordering::SeqCst);
            self.visibility_timeouts.lock().unwrap().extend(entries.iter().map(|entry| entry.visibility_timeout));
            self.visibility_requests_done.fetch_add(1, Ordering::SeqCst);
        }
    }
}
