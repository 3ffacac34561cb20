//! [`CountingBackend`]: wraps any [`SqsBackend`] and counts the requests made through it, per action.
//! For tests ("N sends cost about N/10 requests"), benchmarks and API-cost monitoring.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::{
    BatchOutcome, DeleteEntry, ReceiveRequest, ReceivedMessage, SendEntry, SentMessage, SqsBackend, VisibilityEntry,
};
use crate::error::Result;
use crate::types::{QueueAttributeName, QueueAttributes};

/// A snapshot of the requests counted by a [`CountingBackend`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// `SendMessageBatch` requests.
    pub send_message_batch: u64,
    /// Entries in those requests (including re-sent ones).
    pub send_entries: u64,
    /// `ReceiveMessage` requests.
    pub receive_message: u64,
    /// `DeleteMessageBatch` requests.
    pub delete_message_batch: u64,
    /// `ChangeMessageVisibilityBatch` requests.
    pub change_message_visibility_batch: u64,
    /// Queue management requests (create, get URL, list, delete, purge, get/set attributes).
    pub queue_management: u64,
}

impl CallCounts {
    /// All requests counted.
    pub fn total(&self) -> u64 {
        self.send_message_batch
            + self.receive_message
            + self.delete_message_batch
            + self.change_message_visibility_batch
            + self.queue_management
    }
}

#[derive(Debug, Default)]
struct Counters {
    send_message_batch: AtomicU64,
    send_entries: AtomicU64,
    receive_message: AtomicU64,
    delete_message_batch: AtomicU64,
    change_message_visibility_batch: AtomicU64,
    queue_management: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// Wraps a backend and counts every request made through it (whether it succeeds or not).
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use sqskit::backend::{CountingBackend, EmbeddedBackend, SqsBackend};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), sqskit::Error> {
/// let counting = Arc::new(CountingBackend::new(Arc::new(EmbeddedBackend::new())));
/// counting.create_queue("q", &Default::default(), &Default::default()).await?;
/// assert_eq!(counting.counts().queue_management, 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CountingBackend {
    inner: Arc<dyn SqsBackend>,
    counters: Arc<Counters>,
}

impl CountingBackend {
    /// Counts the requests made through `inner`.
    pub fn new(inner: Arc<dyn SqsBackend>) -> Self {
        Self { inner, counters: Arc::default() }
    }

    /// The counts so far.
    pub fn counts(&self) -> CallCounts {
        let c = &self.counters;
        CallCounts {
            send_message_batch: c.send_message_batch.load(Ordering::Relaxed),
            send_entries: c.send_entries.load(Ordering::Relaxed),
            receive_message: c.receive_message.load(Ordering::Relaxed),
            delete_message_batch: c.delete_message_batch.load(Ordering::Relaxed),
            change_message_visibility_batch: c.change_message_visibility_batch.load(Ordering::Relaxed),
            queue_management: c.queue_management.load(Ordering::Relaxed),
        }
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        let c = &self.counters;
        for counter in [
            &c.send_message_batch,
            &c.send_entries,
            &c.receive_message,
            &c.delete_message_batch,
            &c.change_message_visibility_batch,
            &c.queue_management,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

#[async_trait]
impl SqsBackend for CountingBackend {
    async fn create_queue(
        &self,
        name: &str,
        attributes: &QueueAttributes,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        bump(&self.counters.queue_management, 1);
        self.inner.create_queue(name, attributes, tags).await
    }

    async fn get_queue_url(&self, name: &str) -> Result<String> {
        bump(&self.counters.queue_management, 1);
        self.inner.get_queue_url(name).await
    }

    async fn list_queues(&self, prefix: Option<&str>) -> Result<Vec<String>> {
        bump(&self.counters.queue_management, 1);
        self.inner.list_queues(prefix).await
    }

    async fn delete_queue(&self, queue_url: &str) -> Result<()> {
        bump(&self.counters.queue_management, 1);
        self.inner.delete_queue(queue_url).await
    }

    async fn purge_queue(&self, queue_url: &str) -> Result<()> {
        bump(&self.counters.queue_management, 1);
        self.inner.purge_queue(queue_url).await
    }

    async fn get_queue_attributes(&self, queue_url: &str, names: &[QueueAttributeName]) -> Result<QueueAttributes> {
        bump(&self.counters.queue_management, 1);
        self.inner.get_queue_attributes(queue_url, names).await
    }

    async fn set_queue_attributes(&self, queue_url: &str, attributes: &QueueAttributes) -> Result<()> {
        bump(&self.counters.queue_management, 1);
        self.inner.set_queue_attributes(queue_url, attributes).await
    }

    async fn send_message_batch(&self, queue_url: &str, entries: &[SendEntry]) -> Result<BatchOutcome<SentMessage>> {
        bump(&self.counters.send_message_batch, 1);
        bump(&self.counters.send_entries, entries.len() as u64);
        self.inner.send_message_batch(queue_url, entries).await
    }

    async fn receive_message(&self, queue_url: &str, request: &ReceiveRequest) -> Result<Vec<ReceivedMessage>> {
        bump(&self.counters.receive_message, 1);
        self.inner.receive_message(queue_url, request).await
    }

    async fn delete_message_batch(&self, queue_url: &str, entries: &[DeleteEntry]) -> Result<BatchOutcome<()>> {
        bump(&self.counters.delete_message_batch, 1);
        self.inner.delete_message_batch(queue_url, entries).await
    }

    async fn change_message_visibility_batch(
        &self,
        queue_url: &str,
        entries: &[VisibilityEntry],
    ) -> Result<BatchOutcome<()>> {
        bump(&self.counters.change_message_visibility_batch, 1);
        self.inner.change_message_visibility_batch(queue_url, entries).await
    }
}
