//! What the engine tells durable storage: one [`StorageEvent`] per change of a queue or message, appended in
//! the order the changes happened (under the queue's lock), and the [`EventSink`] trait storage implements.
//! The engine never builds SQL or files; it only describes what changed.
//!
//! Durability contract (see ARCHITECTURE.md): actions that AWS acknowledges as stored (sends, deletes, queue
//! changes, tags, purges) wait for [`EventSink::durable`] before answering; receives and visibility changes
//! are appended but not waited for, so a crash can at most make a message visible earlier.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::clock::Timestamp;
use super::move_task_info::MoveTaskInfo;
use super::stored::{MessageState, StoredMessage};

/// A change of one queue's contents or metadata.
#[derive(Debug, Clone)]
pub enum QueueEvent {
    /// A message was enqueued (or restored into the queue) with this sequence.
    MessageStored {
        /// The queue-local sequence.
        sequence: u64,
        /// The whole message, in its state at enqueue time.
        message: StoredMessage,
    },
    /// A message was received or its visibility changed.
    MessageUpdated {
        /// The queue-local sequence.
        sequence: u64,
        /// The new receive count.
        receive_count: u32,
        /// The first receive time.
        first_received_at: Option<Timestamp>,
        /// The new state.
        state: MessageState,
    },
    /// A message was deleted, expired, moved away, or dead-lettered.
    MessageRemoved {
        /// The queue-local sequence.
        sequence: u64,
    },
    /// Every message was deleted.
    Purged,
    /// Attributes, tags or timestamps changed.
    MetadataChanged {
        /// The settable attributes as AWS renders them.
        attributes: Vec<(String, String)>,
        /// The tags.
        tags: Vec<(String, String)>,
        /// `LastModifiedTimestamp`.
        last_modified_at: Timestamp,
        /// When the queue was last purged.
        last_purge_at: Option<Timestamp>,
    },
    /// A FIFO send opened a deduplication window.
    DeduplicationRecorded {
        /// The group the id is scoped to (`DeduplicationScope=messageGroup`), if any.
        scope_group: Option<String>,
        /// The deduplication id.
        deduplication_id: String,
        /// The original message id.
        message_id: String,
        /// The original sequence.
        sequence: u64,
        /// When the window closes.
        expires_at: Timestamp,
    },
}

/// A change anywhere in the engine.
#[derive(Debug, Clone)]
pub enum StorageEvent {
    /// A queue was created.
    QueueCreated {
        /// The queue's unique id (receipt handles carry it).
        uid: u64,
        /// The queue's identity, `<region>/<account>/<name>`.
        name: String,
        /// The settable attributes as AWS renders them.
        attributes: Vec<(String, String)>,
        /// The tags.
        tags: Vec<(String, String)>,
        /// `CreatedTimestamp`.
        created_at: Timestamp,
    },
    /// A stored queue's identity was completed (a queue of a file written before regions existed, which start-up
    /// placed in the default region).
    QueueRenamed {
        /// The queue's unique id.
        uid: u64,
        /// Its identity, `<region>/<account>/<name>`.
        name: String,
    },
    /// A queue was deleted with its messages.
    QueueDeleted {
        /// The queue's unique id.
        uid: u64,
    },
    /// A message move task started, progressed or ended.
    MoveTaskChanged {
        /// The task handle (kept even after the task stops running).
        handle: String,
        /// The task's state.
        info: MoveTaskInfo,
    },
    /// Every move task of a source queue was forgotten (a reset): none of them is listed again, even after a
    /// restart.
    MoveTasksForgotten {
        /// The source queue's ARN.
        source_arn: String,
    },
    /// A change within one queue.
    Queue {
        /// The queue's unique id.
        uid: u64,
        /// What changed.
        event: QueueEvent,
    },
}

/// Why storage could not make changes durable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage failed: {0}")]
pub struct StorageFailure(pub String);

/// A future that completes when everything appended so far is durable.
pub type Durable = Pin<Box<dyn Future<Output = Result<(), StorageFailure>> + Send + 'static>>;

/// Where the engine sends its events; implemented by durable storage.
pub trait EventSink: Send + Sync + fmt::Debug + 'static {
    /// Appends events, in order. Must be cheap: it runs under a queue lock.
    fn append(&self, events: Vec<StorageEvent>);

    /// Completes once every event appended before the call is durable (on disk, fsynced).
    ///
    /// # Errors
    /// [`StorageFailure`] only when the events can no longer be made durable at all (the writer stopped);
    /// while storage is failing but may recover (see [`EventSink::failure`]) the future keeps waiting.
    fn durable(&self) -> Durable;

    /// Opens an atomic group: every event appended from now until [`EventSink::release`] is called with the
    /// returned id is committed in one transaction with the others (and with whatever precedes it in the
    /// same batch). Groups must be short and never span an `.await`: the writer commits nothing appended
    /// after a group opened until it is released.
    fn hold(&self) -> u64;

    /// Closes the atomic group `hold` opened by [`EventSink::hold`].
    fn release(&self, hold: u64);

    /// Why storage is failing now, if it is: durable writes are refused until it recovers (fail-stop).
    fn failure(&self) -> Option<String>;

    /// Why storage is degraded now, if it is: durable writes are still made durable and answered, but part of
    /// the storage cannot keep up and will fail if the cause stays (durable storage: the data file cannot be
    /// brought up to the message log, so the log grows until appends fail). `None` by default.
    fn degraded(&self) -> Option<String> {
        None
    }

    /// How many durable events a background part of the storage has yet to take in (durable storage: events on
    /// disk in the message log that the data file does not hold yet; they keep the log from recycling the
    /// segments that hold them). `None` by default, for storage without such a part.
    fn backlog(&self) -> Option<u64> {
        None
    }
}
