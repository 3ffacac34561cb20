//! [`CountingBackend`]: an [`Observed`] backend whose [`CallCounter`] counts the requests made through it,
//! per action. For tests ("N sends cost about N/10 requests"), benchmarks and API-cost monitoring.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::SqsBackend;
use super::observed::{BackendObserver, Call, Observed};
use crate::error::Result;

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

/// A [`BackendObserver`] counting every request (whether it succeeds or not). Clones share their counts.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    counters: Arc<Counters>,
}

impl CallCounter {
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

impl BackendObserver for CallCounter {
    fn before(&self, call: &Call<'_>) -> Result<()> {
        let c = &self.counters;
        match call {
            Call::SendMessageBatch(entries) => {
                bump(&c.send_message_batch, 1);
                bump(&c.send_entries, entries.len() as u64);
            }
            Call::ReceiveMessage(_) => bump(&c.receive_message, 1),
            Call::DeleteMessageBatch(_) => bump(&c.delete_message_batch, 1),
            Call::ChangeMessageVisibilityBatch(_) => bump(&c.change_message_visibility_batch, 1),
            _ => bump(&c.queue_management, 1),
        }
        Ok(())
    }
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
pub type CountingBackend = Observed<CallCounter>;

impl Observed<CallCounter> {
    /// Counts the requests made through `inner`.
    pub fn new(inner: Arc<dyn SqsBackend>) -> Self {
        Self::wrap(inner, CallCounter::default())
    }

    /// The counts so far.
    pub fn counts(&self) -> CallCounts {
        self.observer().counts()
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        self.observer().reset();
    }
}
