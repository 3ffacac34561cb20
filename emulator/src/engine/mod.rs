//! The SQS engine: queues and messages with AWS's semantics, and nothing of HTTP, JSON or XML.
//!
//! [`Engine`] is a cheap `Clone` handle around shared state. Each queue sits behind its own
//! `std::sync::Mutex`: critical sections are short and never span an `.await`, so a blocking mutex is both
//! correct and faster than an async one (the same reasoning as mini-redis's `Db`). Long polls wait on the
//! queue's `Notify` and on the [`Clock`], never while holding a lock.
//!
//! # Layout
//! Modules depend one way; each uses only modules of earlier groups (`mod.rs` is the hub every one may use):
//! 1. leaves: `access.rs` (cross-account authorization), `attributes.rs` (typed queue attributes), `batch.rs`
//!    (whole-request rules of the batch actions), `clock.rs`, `content.rs` (message bodies and attributes, their
//!    validation and MD5s), `listing.rs` (name pages and tokens), `parameters.rs` (limits and id rules of the
//!    message operations), `permissions.rs` (AddPermission / RemovePermission), `receipt.rs` (receipt handles),
//!    `region.rs` (region names, partitions, ARNs, regional hosts), `sequence.rs` (sequence-keyed maps),
//!    `tags.rs` (queue tags).
//!
//! # Regions
//! Every queue belongs to a region and an account: [`Namespaces`] keys queues by both. An [`Engine`] handle acts
//! in one region ([`Engine::region`], the configured default unless made with [`Engine::in_region`]): queue URLs
//! and names it is given are looked up there, and queues it creates or lists are there. ARNs name their own
//! region, so dead-letter moves and move tasks find their queues from any handle.
//! 2. `dedup.rs` (the FIFO deduplication window), `stored.rs` (a message as a queue keeps it),
//!    `move_task_info.rs` (what a move task reports).
//! 3. `events.rs` (the changes reported to durable storage), `fifo.rs` (message groups, receive attempts),
//!    `peek.rs` (messages seen without side effects), `receive.rs` (ReceiveMessage with long polling),
//!    `redrive.rs` (dead-letter moves and source listing).
//! 4. `queue/` (one queue's state machine: `delivery.rs`, `schedule.rs`, `journal.rs`), `move_tasks.rs`
//!    (message move tasks).
//! 5. `queues.rs` (create, get URL, list, delete, attributes, purge), `send.rs` (SendMessage and its batch),
//!    `messages.rs` (delete and visibility changes by receipt handle), `metrics.rs` (per-queue counters),
//!    `restore.rs` (start-up recovery), `reset.rs` (deleting a scope's queues between tests).

mod access;
mod attributes;
mod batch;
mod clock;
mod content;
mod dedup;
#[cfg(test)]
mod durability_tests;
mod events;
mod fifo;
mod listing;
mod messages;
mod metrics;
mod move_task_info;
mod move_tasks;
mod parameters;
mod peek;
mod permissions;
mod queue;
mod queues;
mod receipt;
mod receive;
mod redrive;
mod region;
mod reset;
mod restore;
mod send;
mod sequence;
mod stored;
mod tags;

use std::collections::{BTreeMap, HashMap};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use attributes::{DeduplicationScope, FifoThroughputLimit, QueueAttributeName, QueueSettings};
pub use batch::{
    BatchEntry, BatchResult, MAX_BATCH_ENTRIES, MAX_BATCH_PAYLOAD, validate_entries as validate_batch_entries,
};
pub use clock::{Clock, ManualClock, Sleep, SystemClock, Timestamp};
pub use content::{
    AttributeValue, MAX_MESSAGE_ATTRIBUTES, Md5Digest, MessageAttribute, MessageAttributes, MessageBody,
    RawMessageAttribute,
};
pub use events::{Durable, EventSink, QueueEvent, StorageEvent, StorageFailure};
pub use listing::QueueListing;
pub use metrics::QueueMetrics;
pub use move_task_info::{MoveTaskInfo, MoveTaskStatus};
pub use peek::PeekedMessage;
pub use queue::{MessageCounts, QueueState};
pub use receive::{ReceiveMessageInput, ReceivedMessage};
pub use region::{DEFAULT_REGION, is_valid_region, parse_queue_arn, partition, queue_arn, region_of_host};
pub use reset::ResetScope;
pub use restore::{DeduplicationRecord, QueueSnapshot, Snapshot};
pub use send::{SendMessageInput, SendMessageOutput, SendOrigin};
pub use stored::{MessageExtra, MessageState, StoredMessage};

use crate::error::{ErrorCode, SqsError};

/// Queues an account may own by default ([`EngineConfig::max_queues_per_account`]).
pub const DEFAULT_MAX_QUEUES_PER_ACCOUNT: usize = 10_000;
/// Bytes of stored messages (bodies and attributes) the engine keeps by default
/// ([`EngineConfig::max_stored_message_bytes`]): 1 GiB.
pub const DEFAULT_MAX_STORED_MESSAGE_BYTES: u64 = 1 << 30;

/// Identity of the emulated SQS endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// The default region, e.g. `us-east-1`: where requests that name no region act (see
    /// [`Engine::in_region`]), and the region of queues created without one (the embedded backend, the config
    /// file).
    pub region: String,
    /// The default account, e.g. `000000000000`: the owner of queues created without a caller account (the
    /// embedded backend, the config file, every request when authentication is off).
    pub account_id: String,
    /// The most queues one account may own; CreateQueue beyond it fails with `OverLimit`.
    pub max_queues_per_account: usize,
    /// The most bytes of message bodies and attributes kept at once; sends beyond it fail with
    /// `ServiceUnavailable` (messages already stored are never dropped).
    pub max_stored_message_bytes: u64,
    /// The most messages one queue keeps in flight (received, not yet deleted): a short-polling receive of a
    /// standard queue at the limit fails with `OverLimit`; a long poll, or any FIFO receive, gets no further
    /// message until one leaves the in-flight state (see [`DEFAULT_MAX_IN_FLIGHT_MESSAGES`]).
    pub max_in_flight_messages: usize,
    /// Whether a deleted queue's name stays blocked for 60 seconds (`QueueDeletedRecently`), as on AWS (the
    /// default). Test suites that delete and recreate queues turn it off: a deliberate deviation from AWS.
    pub queue_deleted_recently: bool,
}

/// AWS's in-flight quota, 120,000 messages per queue for standard and FIFO queues alike: "If you reach this
/// quota while using short polling, Amazon SQS returns the `OverLimit` error message. If you use long polling,
/// Amazon SQS returns no error messages" (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html>);
/// for FIFO queues "Amazon SQS does not return an error, but processing may be impacted"
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-fifo.html>; older pages said
/// 20,000 for FIFO).
pub const DEFAULT_MAX_IN_FLIGHT_MESSAGES: usize = 120_000;

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            region: DEFAULT_REGION.to_owned(),
            account_id: "000000000000".to_owned(),
            max_queues_per_account: DEFAULT_MAX_QUEUES_PER_ACCOUNT,
            max_stored_message_bytes: DEFAULT_MAX_STORED_MESSAGE_BYTES,
            max_in_flight_messages: DEFAULT_MAX_IN_FLIGHT_MESSAGES,
            queue_deleted_recently: true,
        }
    }
}

/// One queue: immutable identity, state under a lock, and a wake-up signal for long polls.
#[derive(Debug)]
pub(crate) struct Queue {
    uid: u64,
    /// The region the queue is in.
    region: String,
    /// The owning account.
    account: String,
    name: String,
    arn: String,
    state: Mutex<QueueState>,
    notify: Notify,
    deleted: std::sync::atomic::AtomicBool,
    sink: Option<Arc<dyn EventSink>>,
    /// Sends, receives, deletes and empty receives so far (atomics: bumped outside the state lock).
    counters: metrics::QueueCounters,
}

/// The locked state of a queue. When it is released, the changes recorded meanwhile go to storage, still
/// under the lock, so storage sees them in the order they happened.
pub(crate) struct QueueGuard<'a> {
    uid: u64,
    sink: Option<&'a dyn EventSink>,
    state: MutexGuard<'a, QueueState>,
}

impl Deref for QueueGuard<'_> {
    type Target = QueueState;
    fn deref(&self) -> &QueueState {
        &self.state
    }
}

impl DerefMut for QueueGuard<'_> {
    fn deref_mut(&mut self) -> &mut QueueState {
        &mut self.state
    }
}

impl Drop for QueueGuard<'_> {
    fn drop(&mut self) {
        if let Some(sink) = self.sink {
            let events = self.state.take_events();
            if !events.is_empty() {
                let uid = self.uid;
                sink.append(events.into_iter().map(|event| StorageEvent::Queue { uid, event }).collect());
            }
        }
    }
}

/// An open atomic group of storage events (see [`EventSink::hold`]): everything appended while it lives is
/// committed in one transaction. Released when dropped; never held across an `.await`.
pub(crate) struct AtomicChange<'a> {
    sink: Option<(&'a dyn EventSink, u64)>,
}

impl Drop for AtomicChange<'_> {
    fn drop(&mut self) {
        if let Some((sink, hold)) = self.sink.take() {
            sink.release(hold);
        }
    }
}

impl Queue {
    /// Locks the queue's state. A poisoned lock means a handler panicked mid-update; the state is still
    /// structurally valid (every update keeps its invariants before it can panic), so keep serving.
    fn lock(&self) -> QueueGuard<'_> {
        QueueGuard {
            uid: self.uid,
            sink: self.sink.as_deref(),
            state: self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        }
    }

    fn is_fifo(&self) -> bool {
        self.lock().settings.fifo_queue
    }
}

/// Queues by region and owning account, then by name: each account in each region is its own namespace.
#[derive(Debug, Default)]
pub(crate) struct Namespaces(BTreeMap<(String, String), BTreeMap<String, Arc<Queue>>>);

impl Namespaces {
    fn scope(region: &str, account: &str) -> (String, String) {
        (region.to_owned(), account.to_owned())
    }

    fn queues(&self, region: &str, account: &str) -> Option<&BTreeMap<String, Arc<Queue>>> {
        self.0.get(&Self::scope(region, account))
    }

    fn get(&self, region: &str, account: &str, name: &str) -> Option<&Arc<Queue>> {
        self.queues(region, account)?.get(name)
    }

    fn contains(&self, region: &str, account: &str, name: &str) -> bool {
        self.get(region, account, name).is_some()
    }

    fn insert(&mut self, queue: Arc<Queue>) {
        let scope = Self::scope(&queue.region, &queue.account);
        self.0.entry(scope).or_default().insert(queue.name.clone(), queue);
    }

    fn remove(&mut self, region: &str, account: &str, name: &str) {
        let scope = Self::scope(region, account);
        if let Some(queues) = self.0.get_mut(&scope) {
            queues.remove(name);
            if queues.is_empty() {
                self.0.remove(&scope);
            }
        }
    }

    /// How many queues `account` owns in `region`.
    fn count(&self, region: &str, account: &str) -> usize {
        self.queues(region, account).map_or(0, BTreeMap::len)
    }

    /// The queues of one account in one region, in name order.
    fn of(&self, region: &str, account: &str) -> impl Iterator<Item = &Arc<Queue>> {
        self.queues(region, account).into_iter().flat_map(BTreeMap::values)
    }

    /// Every queue, by region, account, then name.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Arc<Queue>> {
        self.0.values().flat_map(BTreeMap::values)
    }
}

#[derive(Debug)]
struct Shared {
    config: EngineConfig,
    clock: Arc<dyn Clock>,
    queues: RwLock<Namespaces>,
    /// Names blocked after DeleteQueue, by region, account and name.
    recently_deleted: Mutex<HashMap<(String, String, String), Timestamp>>,
    /// Bytes of message bodies and attributes stored in every queue (see [`QueueState::attach_usage`]).
    stored_bytes: Arc<AtomicU64>,
    next_queue_uid: AtomicU64,
    sender_id: Arc<str>,
    shutdown: CancellationToken,
    move_tasks: move_tasks::MoveTasks,
    sink: Option<Arc<dyn EventSink>>,
}

/// The SQS engine. Cloning is cheap and every clone sees the same queues.
///
/// # Examples
/// ```
/// use sqskit_emulator::engine::{Engine, SendMessageInput};
///
/// # tokio_test_block(async {
/// let engine = Engine::default();
/// engine.create_queue("orders", &[], &[]).unwrap();
/// let sent = engine.send_message("orders", SendMessageInput::with_body("hello")).unwrap();
/// let received = engine.receive_message("orders", Default::default()).await.unwrap();
/// assert_eq!(received[0].message_id, sent.message_id);
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    shared: Arc<Shared>,
    /// The region this handle acts in (see [`Engine::in_region`]).
    region: Arc<str>,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new(EngineConfig::default(), Arc::new(SystemClock))
    }
}

impl Engine {
    /// An engine with no queues that keeps nothing beyond memory.
    pub fn new(config: EngineConfig, clock: Arc<dyn Clock>) -> Self {
        Self::with_sink(config, clock, None)
    }

    /// An engine with no queues that reports every change to `sink` (durable storage).
    pub fn with_sink(config: EngineConfig, clock: Arc<dyn Clock>, sink: Option<Arc<dyn EventSink>>) -> Self {
        let sender_id = Arc::from(config.account_id.as_str());
        let region = Arc::from(config.region.as_str());
        Self {
            region,
            shared: Arc::new(Shared {
                config,
                clock,
                queues: RwLock::new(Namespaces::default()),
                recently_deleted: Mutex::new(HashMap::new()),
                stored_bytes: Arc::new(AtomicU64::new(0)),
                next_queue_uid: AtomicU64::new(1),
                sender_id,
                shutdown: CancellationToken::new(),
                move_tasks: move_tasks::MoveTasks::default(),
                sink,
            }),
        }
    }

    /// The endpoint identity (default region, default account).
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// A handle on the same queues that acts in `region`: queue URLs and names are looked up there, queues are
    /// created and listed there, and ARNs it makes name it. Every region is its own namespace, as every AWS
    /// regional endpoint is; a region need not be announced before use. `region` should satisfy
    /// [`is_valid_region`] (the HTTP layer and the config file check it).
    ///
    /// # Examples
    /// ```
    /// use sqskit_emulator::engine::Engine;
    ///
    /// let engine = Engine::default();
    /// let ireland = engine.in_region("eu-west-1");
    /// ireland.create_queue("orders", &[], &[]).unwrap();
    /// assert!(ireland.get_queue_url("orders", None).is_ok());
    /// assert!(engine.get_queue_url("orders", None).is_err(), "us-east-1 has no such queue");
    /// ```
    pub fn in_region(&self, region: &str) -> Engine {
        if *self.region == *region {
            return self.clone();
        }
        Engine { shared: Arc::clone(&self.shared), region: Arc::from(region) }
    }

    /// The region this handle acts in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The clock every timestamp comes from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared.clock
    }

    /// Waits until every change made so far is durable (a no-op without storage). Actions that AWS
    /// acknowledges as stored call this before answering. While storage is failing it keeps waiting: the
    /// change is applied in memory, so it must be answered as a success once it is on disk, never as an error.
    ///
    /// # Errors
    /// `InternalFailure` when storage stopped for good (the emulator is shutting down with changes it could not
    /// write; they are lost with the process, so the error is true); the details are logged.
    pub async fn sync(&self) -> Result<(), SqsError> {
        let Some(sink) = &self.shared.sink else { return Ok(()) };
        sink.durable().await.map_err(|failure| {
            tracing::error!(%failure, "could not make changes durable");
            SqsError::internal()
        })
    }

    /// Why durable storage is failing now, if it is (`None` in memory mode or when storage is healthy).
    pub fn storage_failure(&self) -> Option<String> {
        self.shared.sink.as_ref().and_then(|sink| sink.failure())
    }

    /// Why durable storage is degraded now, if it is: writes go on and are durable, but a cause that stays would
    /// end in a failure (see [`EventSink::degraded`]). `None` in memory mode or when storage is healthy.
    pub fn storage_degraded(&self) -> Option<String> {
        self.shared.sink.as_ref().and_then(|sink| sink.degraded())
    }

    /// How many durable events storage has yet to take in in the background (see [`EventSink::backlog`]): it
    /// grows while storage is degraded. `None` in memory mode.
    pub fn storage_backlog(&self) -> Option<u64> {
        self.shared.sink.as_ref().and_then(|sink| sink.backlog())
    }

    /// Refuses a durable write while storage is failing (fail-stop), before anything is applied. Every engine
    /// operation that is a durable write ([`crate::action::Action::is_durable_write`]) calls it first, so callers
    /// of the engine in the same process are refused as HTTP clients are.
    ///
    /// `ServiceUnavailable` (503, retryable): the condition is the service's and temporary; nothing was
    /// applied, so a retry cannot duplicate anything.
    ///
    /// # Errors
    /// `ServiceUnavailable` while [`Engine::storage_failure`] is `Some`.
    pub fn check_storage(&self) -> Result<(), SqsError> {
        match self.storage_failure() {
            None => Ok(()),
            Some(failure) => Err(SqsError::new(
                ErrorCode::ServiceUnavailable,
                format!(
                    "The emulator cannot write to its data directory ({failure}); the request was not applied. \
                     Retry later."
                ),
            )),
        }
    }

    /// Opens an atomic group of storage events (a no-op without storage): changes made to any queue while the
    /// returned guard lives reach the disk in one transaction, or not at all.
    pub(crate) fn atomic(&self) -> AtomicChange<'_> {
        AtomicChange { sink: self.shared.sink.as_deref().map(|sink| (sink, sink.hold())) }
    }

    /// Ends every waiting long poll (they return no messages) and makes new ones return at once.
    pub fn shutdown(&self) {
        self.shared.shutdown.cancel();
    }

    /// The queue URL of `name` in the default account for clients that reach the emulator at `base_url` (e.g.
    /// `http://localhost:9324`).
    pub fn queue_url(&self, base_url: &str, name: &str) -> String {
        self.queue_url_in(base_url, &self.shared.config.account_id, name)
    }

    /// The queue URL of `name` owned by `account`: `<base_url>/<account>/<name>`. The path names the account
    /// and the queue; the region is the one the request is in, which a client reaching the emulator at a
    /// regional host (`http://sqs.eu-west-1.localhost:9324`) sees in the URL's host, as on AWS
    /// (`https://sqs.eu-west-1.amazonaws.com/<account>/<name>`).
    pub fn queue_url_in(&self, base_url: &str, account: &str, name: &str) -> String {
        format!("{}/{account}/{name}", base_url.trim_end_matches('/'))
    }

    /// The ARN of a queue called `name` in the default account, in this handle's region.
    pub fn queue_arn(&self, name: &str) -> String {
        self.queue_arn_in(&self.shared.config.account_id, name)
    }

    /// The ARN of a queue called `name` owned by `account`, in this handle's region.
    pub fn queue_arn_in(&self, account: &str, name: &str) -> String {
        region::queue_arn(&self.region, account, name)
    }

    /// Bytes of message bodies and attributes stored now, in every queue.
    pub fn stored_message_bytes(&self) -> u64 {
        self.shared.stored_bytes.load(Ordering::Relaxed)
    }

    /// Refuses a send of `incoming` bytes that would take the stored messages past the memory budget.
    ///
    /// The budget is checked before the messages are stored, without a reservation, so concurrent sends can
    /// pass it by at most their own size: a soft cap that keeps the process bounded, which is its purpose.
    ///
    /// AWS has no such limit, so no AWS error names it. `ServiceUnavailable` (503, a receiver fault) is the
    /// closest: the condition is the service's, it is temporary (it clears as consumers delete messages), and
    /// SDKs retry it with backoff, which is what a producer should do. `OverLimit` would tell clients that a
    /// per-queue quota was hit and is not retried.
    fn check_memory_budget(&self, incoming: usize) -> Result<(), SqsError> {
        let budget = self.shared.config.max_stored_message_bytes;
        let stored = self.stored_message_bytes();
        if stored.saturating_add(incoming as u64) > budget {
            return Err(SqsError::new(
                ErrorCode::ServiceUnavailable,
                format!(
                    "The emulator's memory budget for stored messages ({budget} bytes) is exhausted; delete \
                     messages or raise max_stored_message_bytes."
                ),
            ));
        }
        Ok(())
    }

    fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    /// Finds a queue by its URL (only the path counts: `/<account>/<name>`) or by its bare name (in the default
    /// account), in this handle's region.
    fn queue(&self, queue_url: &str) -> Result<Arc<Queue>, SqsError> {
        let (account, name) = self.queue_location(queue_url)?;
        self.queue_in(account, name)
    }

    /// The queue `name` of `account` in this handle's region.
    fn queue_in(&self, account: &str, name: &str) -> Result<Arc<Queue>, SqsError> {
        self.queue_at(&self.region, account, name).ok_or_else(SqsError::queue_does_not_exist)
    }

    /// The queue `name` of `account` in `region`.
    fn queue_at(&self, region: &str, account: &str, name: &str) -> Option<Arc<Queue>> {
        let queues = self.shared.queues.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        queues.get(region, account, name).cloned()
    }

    /// The owning account and the name a queue URL points at in this handle's region (a bare name is in the
    /// default account).
    ///
    /// The path names the queue; the region is the handle's, as the region of an AWS request is its endpoint's.
    /// A URL whose host names another region (`https://sqs.eu-west-1.amazonaws.com/...` in a us-east-1 request,
    /// see [`region_of_host`]) points at a queue this region does not have: AWS answers such a request with
    /// `AWS.SimpleQueueService.NonExistentQueue` (a client signing for one region with another region's queue
    /// URL, <https://github.com/danvk/mapsnap/pull/436>; the same URL used with a client in its own region
    /// works).
    ///
    /// # Errors
    /// `QueueDoesNotExist` for a URL whose path is not `/<account>/<name>` or `<name>`, or whose host names
    /// another region.
    pub fn queue_location<'a>(&'a self, queue_url: &'a str) -> Result<(&'a str, &'a str), SqsError> {
        let (host, path) = match queue_url.split_once("://") {
            Some((_, rest)) => rest.split_once('/').unwrap_or((rest, "")),
            None => ("", queue_url),
        };
        if region_of_host(host).is_some_and(|region| region != &*self.region) {
            return Err(SqsError::queue_does_not_exist());
        }
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            [name] => Ok((self.shared.config.account_id.as_str(), name)),
            [account, name] => Ok((account, name)),
            _ => Err(SqsError::queue_does_not_exist()),
        }
    }

    /// The name durable storage keeps for a queue: `<region>/<account>/<name>` (a queue name never contains
    /// `/`). Files written before regions existed hold `<name>` (default account) or `<account>/<name>`; they
    /// are read as queues of the default region and rewritten in this form at start-up ([`Engine::restore`]).
    fn storage_name(&self, region: &str, account: &str, name: &str) -> String {
        format!("{region}/{account}/{name}")
    }

    /// Wraps a queue's state with its identity and this engine's storage.
    fn new_queue(&self, uid: u64, region: &str, account: &str, name: &str, mut state: QueueState) -> Arc<Queue> {
        if self.shared.sink.is_some() {
            state.enable_journal();
        }
        state.attach_usage(Arc::clone(&self.shared.stored_bytes));
        Arc::new(Queue {
            uid,
            region: region.to_owned(),
            account: account.to_owned(),
            name: name.to_owned(),
            arn: region::queue_arn(region, account, name),
            state: Mutex::new(state),
            notify: Notify::new(),
            deleted: std::sync::atomic::AtomicBool::new(false),
            sink: self.shared.sink.clone(),
            counters: metrics::QueueCounters::default(),
        })
    }
}
