//! The SQS engine: queues and messages with AWS's semantics, and nothing of HTTP, JSON or XML.
//!
//! [`Engine`] is a cheap `Clone` handle around shared state. Each queue sits behind its own
//! `std::sync::Mutex`: critical sections are short and never span an `.await`, so a blocking mutex is both
//! correct and faster than an async one (the same reasoning as mini-redis's `Db`). Long polls wait on the
//! queue's `Notify` and on the [`Clock`], never while holding a lock.
//!
//! # Layout
//! - `mod.rs`: the engine handle and queue management (create, list, delete, attributes, tags, purge).
//! - `messages.rs`: send, receive (with long polling), delete and visibility changes.
//! - `batch.rs`: the whole-request rules shared by the three batch actions.
//! - `fifo.rs`: message groups, deduplication and receive attempts of FIFO queues.
//! - `redrive.rs`: dead-letter moves, dead-letter source listing, message move tasks.
//! - `permissions.rs`: AddPermission / RemovePermission; `access.rs`: cross-account authorization.
//! - `queue.rs`: one queue's state machine; `message.rs`: message content, validation, MD5s.
//! - `attributes.rs`: typed queue attributes; `receipt.rs`: receipt handles; `clock.rs`: time.
//! - `events.rs`: the changes the engine reports to durable storage; `restore.rs`: start-up recovery.
//! - `peek.rs`: messages seen without side effects; `metrics.rs`: CloudWatch-like per-queue counters.

mod access;
mod attributes;
mod batch;
mod clock;
mod dedup;
mod events;
mod fifo;
mod message;
mod messages;
mod metrics;
mod peek;
mod permissions;
mod queue;
mod receipt;
mod redrive;
mod restore;
mod sequence;

use std::collections::{BTreeMap, HashMap};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use attributes::{DeduplicationScope, FifoThroughputLimit, QueueAttributeName, QueueSettings};
pub use batch::{
    BatchEntry, BatchResult, MAX_BATCH_ENTRIES, MAX_BATCH_PAYLOAD, validate_entries as validate_batch_entries,
};
pub use clock::{Clock, ManualClock, Sleep, SystemClock, Timestamp};
pub use events::{Durable, EventSink, QueueEvent, StorageEvent, StorageFailure};
pub use message::{
    AttributeValue, MAX_MESSAGE_ATTRIBUTES, Md5Digest, MessageAttribute, MessageAttributes, MessageBody,
    RawMessageAttribute,
};
pub use messages::{ReceiveMessageInput, ReceivedMessage, SendMessageInput, SendMessageOutput};
pub use metrics::QueueMetrics;
pub use peek::PeekedMessage;
pub use queue::{MessageCounts, MessageExtra, MessageState, QueueState, StoredMessage};
pub use redrive::{MoveTaskInfo, MoveTaskStatus};
pub use restore::{DeduplicationRecord, QueueSnapshot, Snapshot};

use crate::documents::RedrivePolicy;
use crate::error::{ErrorCode, SqsError};

/// How long a deleted queue's name stays blocked, and how often a queue may be purged (SQS: 60 s both).
const NAME_BLOCK_AFTER_DELETE: Duration = Duration::from_secs(60);
const PURGE_INTERVAL: Duration = Duration::from_secs(60);
const MAX_QUEUE_NAME_LEN: usize = 80;
const MAX_LIST_RESULTS: i64 = 1000;
const MAX_TAGS: usize = 50;

/// Queues an account may own by default ([`EngineConfig::max_queues_per_account`]).
pub const DEFAULT_MAX_QUEUES_PER_ACCOUNT: usize = 10_000;
/// Bytes of stored messages (bodies and attributes) the engine keeps by default
/// ([`EngineConfig::max_stored_message_bytes`]): 1 GiB.
pub const DEFAULT_MAX_STORED_MESSAGE_BYTES: u64 = 1 << 30;

/// Identity of the emulated SQS endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Region used in ARNs, e.g. `us-east-1`.
    pub region: String,
    /// The default account, e.g. `000000000000`: the owner of queues created without a caller account (the
    /// embedded backend, the config file, every request when authentication is off).
    pub account_id: String,
    /// The most queues one account may own; CreateQueue beyond it fails with `OverLimit`.
    pub max_queues_per_account: usize,
    /// The most bytes of message bodies and attributes kept at once; sends beyond it fail with
    /// `ServiceUnavailable` (messages already stored are never dropped).
    pub max_stored_message_bytes: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            region: "us-east-1".to_owned(),
            account_id: "000000000000".to_owned(),
            max_queues_per_account: DEFAULT_MAX_QUEUES_PER_ACCOUNT,
            max_stored_message_bytes: DEFAULT_MAX_STORED_MESSAGE_BYTES,
        }
    }
}

/// One queue: immutable identity, state under a lock, and a wake-up signal for long polls.
#[derive(Debug)]
pub(crate) struct Queue {
    uid: u64,
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

/// Queues by owning account, then by name: each account is its own namespace.
#[derive(Debug, Default)]
pub(crate) struct Namespaces(BTreeMap<String, BTreeMap<String, Arc<Queue>>>);

impl Namespaces {
    fn get(&self, account: &str, name: &str) -> Option<&Arc<Queue>> {
        self.0.get(account)?.get(name)
    }

    fn contains(&self, account: &str, name: &str) -> bool {
        self.get(account, name).is_some()
    }

    fn insert(&mut self, queue: Arc<Queue>) {
        self.0.entry(queue.account.clone()).or_default().insert(queue.name.clone(), queue);
    }

    fn remove(&mut self, account: &str, name: &str) {
        if let Some(queues) = self.0.get_mut(account) {
            queues.remove(name);
            if queues.is_empty() {
                self.0.remove(account);
            }
        }
    }

    /// How many queues `account` owns.
    fn count(&self, account: &str) -> usize {
        self.0.get(account).map_or(0, BTreeMap::len)
    }

    /// The queues of one account, in name order.
    fn of(&self, account: &str) -> impl Iterator<Item = &Arc<Queue>> {
        self.0.get(account).into_iter().flat_map(BTreeMap::values)
    }

    /// Every queue, by account then name.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Arc<Queue>> {
        self.0.values().flat_map(BTreeMap::values)
    }
}

#[derive(Debug)]
struct Shared {
    config: EngineConfig,
    clock: Arc<dyn Clock>,
    queues: RwLock<Namespaces>,
    recently_deleted: Mutex<HashMap<(String, String), Timestamp>>,
    /// Bytes of message bodies and attributes stored in every queue (see [`QueueState::attach_usage`]).
    stored_bytes: Arc<AtomicU64>,
    next_queue_uid: AtomicU64,
    sender_id: Arc<str>,
    shutdown: CancellationToken,
    move_tasks: redrive::MoveTasks,
    sink: Option<Arc<dyn EventSink>>,
}

/// A page of queue names from [`Engine::list_queues`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueListing {
    /// The account owning the listed queues.
    pub account: String,
    /// Queue names, in name order.
    pub names: Vec<String>,
    /// Token for the next page, when there is one.
    pub next_token: Option<String>,
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
        Self {
            shared: Arc::new(Shared {
                config,
                clock,
                queues: RwLock::new(Namespaces::default()),
                recently_deleted: Mutex::new(HashMap::new()),
                stored_bytes: Arc::new(AtomicU64::new(0)),
                next_queue_uid: AtomicU64::new(1),
                sender_id,
                shutdown: CancellationToken::new(),
                move_tasks: redrive::MoveTasks::default(),
                sink,
            }),
        }
    }

    /// The endpoint identity (region, account).
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// The clock every timestamp comes from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared.clock
    }

    /// Waits until every change made so far is durable (a no-op without storage). Actions that AWS
    /// acknowledges as stored call this before answering.
    ///
    /// # Errors
    /// `InternalFailure` when storage failed; the details are logged.
    pub async fn sync(&self) -> Result<(), SqsError> {
        let Some(sink) = &self.shared.sink else { return Ok(()) };
        sink.durable().await.map_err(|failure| {
            tracing::error!(%failure, "could not make changes durable");
            SqsError::internal()
        })
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

    /// The queue URL of `name` owned by `account`.
    pub fn queue_url_in(&self, base_url: &str, account: &str, name: &str) -> String {
        format!("{}/{account}/{name}", base_url.trim_end_matches('/'))
    }

    /// The ARN of a queue called `name` in the default account.
    pub fn queue_arn(&self, name: &str) -> String {
        self.queue_arn_in(&self.shared.config.account_id, name)
    }

    /// The ARN of a queue called `name` owned by `account`.
    pub fn queue_arn_in(&self, account: &str, name: &str) -> String {
        format!("arn:aws:sqs:{}:{account}:{name}", self.shared.config.region)
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
    /// account).
    fn queue(&self, queue_url: &str) -> Result<Arc<Queue>, SqsError> {
        let (account, name) = self.queue_location(queue_url)?;
        self.queue_in(account, name)
    }

    fn queue_in(&self, account: &str, name: &str) -> Result<Arc<Queue>, SqsError> {
        let queues = self.shared.queues.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        queues.get(account, name).cloned().ok_or_else(SqsError::queue_does_not_exist)
    }

    /// The owning account and the name a queue URL points at (a bare name is in the default account).
    ///
    /// # Errors
    /// `QueueDoesNotExist` for a URL whose path is not `/<account>/<name>` or `<name>`.
    pub fn queue_location<'a>(&'a self, queue_url: &'a str) -> Result<(&'a str, &'a str), SqsError> {
        let without_scheme = queue_url.split_once("://").map_or(queue_url, |(_, rest)| rest);
        let mut segments = without_scheme.split('/');
        let segments: Vec<&str> = if queue_url.contains("://") {
            segments.next();
            segments.filter(|s| !s.is_empty()).collect()
        } else {
            segments.filter(|s| !s.is_empty()).collect()
        };
        match segments.as_slice() {
            [name] => Ok((self.shared.config.account_id.as_str(), name)),
            [account, name] => Ok((account, name)),
            _ => Err(SqsError::queue_does_not_exist()),
        }
    }

    /// Creates a queue in the default account, or returns quietly if it exists with the same values for every
    /// attribute given.
    ///
    /// # Errors
    /// `InvalidParameterValue` for a bad name; `InvalidAttributeName` / `InvalidAttributeValue` for bad
    /// attributes; `QueueNameExists` when it exists with other values; `QueueDeletedRecently` within 60 s of a
    /// delete of the same name; `OverLimit` when the account owns as many queues as it may.
    pub fn create_queue(
        &self,
        name: &str,
        attributes: &[(String, String)],
        tags: &[(String, String)],
    ) -> Result<(), SqsError> {
        self.create_queue_in(&self.shared.config.account_id.clone(), name, attributes, tags)
    }

    /// Creates a queue owned by `account` (see [`Engine::create_queue`]).
    ///
    /// # Errors
    /// As [`Engine::create_queue`].
    pub fn create_queue_in(
        &self,
        account: &str,
        name: &str,
        attributes: &[(String, String)],
        tags: &[(String, String)],
    ) -> Result<(), SqsError> {
        let requests_fifo = attributes.iter().any(|(k, v)| k == "FifoQueue" && v.eq_ignore_ascii_case("true"));
        validate_queue_name(name, requests_fifo)?;
        let now = self.now();
        if let Ok(existing) = self.queue_in(account, name) {
            let state = existing.lock();
            let mut candidate = state.settings.clone();
            for (key, value) in attributes {
                candidate.apply(key, value)?;
            }
            if candidate != state.settings {
                let differing = attributes
                    .iter()
                    .find_map(|(key, _)| {
                        let attribute: QueueAttributeName = key.parse().ok()?;
                        (candidate.render(attribute) != state.settings.render(attribute)).then_some(key.as_str())
                    })
                    .unwrap_or("attributes");
                return Err(SqsError::new(
                    ErrorCode::QueueNameExists,
                    format!(
                        "A queue already exists with the same name and a different value for attribute {differing}"
                    ),
                ));
            }
            return Ok(());
        }
        let settings = self.settings_with(QueueSettings::default(), attributes, account, name, true)?;
        let tags = validate_tags(name, BTreeMap::new(), tags)?;

        let mut queues = self.shared.queues.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        {
            let mut deleted = self.shared.recently_deleted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            deleted.retain(|_, at| *at + NAME_BLOCK_AFTER_DELETE > now);
            if deleted.contains_key(&(account.to_owned(), name.to_owned())) {
                return Err(SqsError::new(
                    ErrorCode::QueueDeletedRecently,
                    "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
                ));
            }
        }
        // Another request may have created it between the check above and the write lock: treat as existing.
        if !queues.contains(account, name) {
            let limit = self.shared.config.max_queues_per_account;
            if queues.count(account) >= limit {
                // AWS documents no queue quota; OverLimit is its error for "a limit was exceeded".
                return Err(SqsError::new(
                    ErrorCode::OverLimit,
                    format!("You have reached the maximum number of queues ({limit}) for this account."),
                ));
            }
            let uid = self.shared.next_queue_uid.fetch_add(1, Ordering::Relaxed);
            if let Some(sink) = &self.shared.sink {
                sink.append(vec![StorageEvent::QueueCreated {
                    uid,
                    name: self.storage_name(account, name),
                    attributes: settings.to_pairs(),
                    tags: tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    created_at: now,
                }]);
            }
            let state = QueueState::new(settings, tags, now);
            queues.insert(self.new_queue(uid, account, name, state));
        }
        Ok(())
    }

    /// The name durable storage keeps for a queue: the bare name in the default account (the format before
    /// accounts existed), `<account>/<name>` in any other (a queue name never contains `/`).
    fn storage_name(&self, account: &str, name: &str) -> String {
        if account == self.shared.config.account_id { name.to_owned() } else { format!("{account}/{name}") }
    }

    /// Wraps a queue's state with its identity and this engine's storage.
    fn new_queue(&self, uid: u64, account: &str, name: &str, mut state: QueueState) -> Arc<Queue> {
        if self.shared.sink.is_some() {
            state.enable_journal();
        }
        state.attach_usage(Arc::clone(&self.shared.stored_bytes));
        Arc::new(Queue {
            uid,
            account: account.to_owned(),
            name: name.to_owned(),
            arn: self.queue_arn_in(account, name),
            state: Mutex::new(state),
            notify: Notify::new(),
            deleted: std::sync::atomic::AtomicBool::new(false),
            sink: self.shared.sink.clone(),
            counters: metrics::QueueCounters::default(),
        })
    }

    /// Applies attributes to `settings` and checks the rules that span attributes or queues.
    fn settings_with(
        &self,
        mut settings: QueueSettings,
        attributes: &[(String, String)],
        account: &str,
        queue_name: &str,
        creating: bool,
    ) -> Result<QueueSettings, SqsError> {
        let was_fifo = settings.fifo_queue;
        for (key, value) in attributes {
            let attribute = settings.apply(key, value)?;
            if attribute == QueueAttributeName::FifoQueue && !creating && settings.fifo_queue != was_fifo {
                return Err(SqsError::invalid_attribute_value("FifoQueue"));
            }
        }
        if !settings.fifo_queue {
            if let Some((key, _)) = attributes
                .iter()
                .find(|(key, _)| key.parse::<QueueAttributeName>().is_ok_and(QueueAttributeName::is_fifo_only))
            {
                return Err(SqsError::unknown_attribute(key));
            }
        }
        if settings.fifo_throughput_limit == FifoThroughputLimit::PerMessageGroupId
            && settings.deduplication_scope != DeduplicationScope::MessageGroup
        {
            return Err(SqsError::new(
                ErrorCode::InvalidAttributeValue,
                "Invalid value for the parameter FifoThroughputLimit. Reason: perMessageGroupId is allowed only when \
                 DeduplicationScope is messageGroup.",
            ));
        }
        if let Some(policy) = &settings.redrive_policy {
            self.check_dead_letter_target(policy, account, queue_name, settings.fifo_queue)?;
        }
        Ok(settings)
    }

    fn check_dead_letter_target(
        &self,
        policy: &RedrivePolicy,
        account: &str,
        source_name: &str,
        source_is_fifo: bool,
    ) -> Result<(), SqsError> {
        let invalid = |reason: &str| SqsError::invalid_parameter_value("RedrivePolicy", policy.render(), reason);
        // The dead-letter queue must be in the source's account.
        let prefix = format!("arn:aws:sqs:{}:{account}:", self.shared.config.region);
        let target = policy
            .dead_letter_target_arn
            .strip_prefix(&prefix)
            .and_then(|name| self.queue_in(account, name).ok())
            .ok_or_else(|| invalid("Dead letter target does not exist."))?;
        if target.is_fifo() != source_is_fifo {
            return Err(invalid("Dead-letter queue must be same type of queue as the source."));
        }
        let source_arn = self.queue_arn_in(account, source_name);
        let allowed =
            target.lock().settings.redrive_allow_policy.as_ref().is_none_or(|allow| allow.allows(&source_arn));
        if !allowed {
            return Err(invalid(&format!(
                "Queue {source_arn} is not allowed to use {} as its dead-letter queue.",
                target.arn
            )));
        }
        Ok(())
    }

    /// Checks that a queue exists (GetQueueUrl) in `owner_account_id`, or else in the default account.
    ///
    /// # Errors
    /// `QueueDoesNotExist`.
    pub fn get_queue_url(&self, name: &str, owner_account_id: Option<&str>) -> Result<(), SqsError> {
        self.get_queue_url_in(&self.shared.config.account_id, name, owner_account_id)
    }

    /// Checks that a queue exists in `owner_account_id`, or else in the caller's `account`.
    ///
    /// # Errors
    /// `QueueDoesNotExist`.
    pub fn get_queue_url_in(&self, account: &str, name: &str, owner_account_id: Option<&str>) -> Result<(), SqsError> {
        self.queue_in(owner_account_id.unwrap_or(account), name).map(|_| ())
    }

    /// Lists queue names with an optional prefix; pages when `max_results` is given (SPEC.md §6 ListQueues).
    ///
    /// # Errors
    /// `InvalidParameterValue` for `max_results` outside 1..=1000 or a token this engine did not issue.
    pub fn list_queues(
        &self,
        prefix: Option<&str>,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> Result<QueueListing, SqsError> {
        self.list_queues_in(&self.shared.config.account_id, prefix, max_results, next_token)
    }

    /// Lists the queues `account` owns (see [`Engine::list_queues`]).
    ///
    /// # Errors
    /// As [`Engine::list_queues`].
    pub fn list_queues_in(
        &self,
        account: &str,
        prefix: Option<&str>,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> Result<QueueListing, SqsError> {
        let prefix = prefix.unwrap_or_default();
        let names: Vec<String> = {
            let queues = self.shared.queues.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            queues.of(account).map(|queue| &queue.name).filter(|name| name.starts_with(prefix)).cloned().collect()
        };
        let mut listing = page(names.into_iter(), max_results, next_token)?;
        account.clone_into(&mut listing.account);
        Ok(listing)
    }

    /// Deletes a queue and its messages; its name is blocked for 60 seconds.
    ///
    /// # Errors
    /// `QueueDoesNotExist`.
    pub fn delete_queue(&self, queue_url: &str) -> Result<(), SqsError> {
        let queue = self.queue(queue_url)?;
        let mut queues = self.shared.queues.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        queues.remove(&queue.account, &queue.name);
        if let Some(sink) = &self.shared.sink {
            sink.append(vec![StorageEvent::QueueDeleted { uid: queue.uid }]);
        }
        drop(queues);
        // Its messages no longer count against the memory budget.
        queue.lock().purge_usage();
        let mut deleted = self.shared.recently_deleted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        deleted.insert((queue.account.clone(), queue.name.clone()), self.now());
        queue.deleted.store(true, Ordering::Release);
        queue.notify.notify_waiters();
        Ok(())
    }

    /// The named attributes (or all that apply, for `All`) with their current values.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `InvalidAttributeName` for an unknown name.
    pub fn get_queue_attributes(
        &self,
        queue_url: &str,
        names: &[String],
    ) -> Result<Vec<(QueueAttributeName, String)>, SqsError> {
        let queue = self.queue(queue_url)?;
        let requested: Vec<QueueAttributeName> =
            names.iter().map(|name| name.parse()).collect::<Result<_, SqsError>>()?;
        let wanted: Vec<QueueAttributeName> = if requested.contains(&QueueAttributeName::All) {
            QueueAttributeName::ALL_NAMES.to_vec()
        } else {
            let mut unique = Vec::with_capacity(requested.len());
            for name in requested {
                if !unique.contains(&name) {
                    unique.push(name);
                }
            }
            unique
        };
        let now = self.now();
        let mut state = queue.lock();
        state.tick(now);
        let counts = state.counts();
        let values = wanted
            .into_iter()
            .filter_map(|name| {
                let value = match name {
                    QueueAttributeName::QueueArn => Some(queue.arn.clone()),
                    QueueAttributeName::ApproximateNumberOfMessages => Some(counts.visible.to_string()),
                    QueueAttributeName::ApproximateNumberOfMessagesNotVisible => Some(counts.in_flight.to_string()),
                    QueueAttributeName::ApproximateNumberOfMessagesDelayed => Some(counts.delayed.to_string()),
                    QueueAttributeName::CreatedTimestamp => Some(state.created_at.as_secs().to_string()),
                    QueueAttributeName::LastModifiedTimestamp => Some(state.last_modified_at.as_secs().to_string()),
                    other => state.settings.render(other),
                };
                value.map(|value| (name, value))
            })
            .collect();
        Ok(values)
    }

    /// Changes queue attributes; all or nothing.
    ///
    /// # Errors
    /// `QueueDoesNotExist`, `InvalidAttributeName`, `InvalidAttributeValue`, `InvalidParameterValue`.
    pub fn set_queue_attributes(&self, queue_url: &str, attributes: &[(String, String)]) -> Result<(), SqsError> {
        let queue = self.queue(queue_url)?;
        let current = queue.lock().settings.clone();
        let updated = self.settings_with(current, attributes, &queue.account, &queue.name, false)?;
        let now = self.now();
        let mut state = queue.lock();
        state.settings = updated;
        state.last_modified_at = now;
        state.record_metadata();
        state.tick(now);
        drop(state);
        // A shorter retention or a removed delay can change what long polls may return.
        queue.notify.notify_waiters();
        Ok(())
    }

    /// Deletes every message of a queue; at most once per 60 seconds.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `PurgeQueueInProgress` within 60 s of the previous purge.
    pub fn purge_queue(&self, queue_url: &str) -> Result<(), SqsError> {
        let queue = self.queue(queue_url)?;
        let now = self.now();
        let mut state = queue.lock();
        if state.last_purge_at.is_some_and(|at| at + PURGE_INTERVAL > now) {
            return Err(SqsError::new(
                ErrorCode::PurgeQueueInProgress,
                format!("Only one PurgeQueue operation on {} is allowed every 60 seconds.", queue.name),
            ));
        }
        state.purge();
        state.last_purge_at = Some(now);
        state.record_metadata();
        Ok(())
    }

    /// Adds or overwrites tags.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `MissingParameter` for no tags; `InvalidParameterValue` for bad keys or values or
    /// more than 50 tags.
    pub fn tag_queue(&self, queue_url: &str, tags: &[(String, String)]) -> Result<(), SqsError> {
        let queue = self.queue(queue_url)?;
        if tags.is_empty() {
            return Err(SqsError::missing_parameter("Tags"));
        }
        let mut state = queue.lock();
        state.tags = validate_tags(&queue.name, state.tags.clone(), tags)?;
        state.record_metadata();
        Ok(())
    }

    /// Removes tags; unknown keys are ignored.
    ///
    /// # Errors
    /// `QueueDoesNotExist`; `InvalidParameterValue` for no keys or an empty or over-long key.
    pub fn untag_queue(&self, queue_url: &str, keys: &[String]) -> Result<(), SqsError> {
        let queue = self.queue(queue_url)?;
        if keys.is_empty() || keys.iter().any(|key| key.is_empty() || key.chars().count() > 128) {
            return Err(SqsError::invalid_parameter("Tag keys must be between 1 and 128 characters in length."));
        }
        let mut state = queue.lock();
        for key in keys {
            state.tags.remove(key);
        }
        state.record_metadata();
        Ok(())
    }

    /// The queue's tags.
    ///
    /// # Errors
    /// `QueueDoesNotExist`.
    pub fn list_queue_tags(&self, queue_url: &str) -> Result<BTreeMap<String, String>, SqsError> {
        Ok(self.queue(queue_url)?.lock().tags.clone())
    }
}

fn validate_queue_name(name: &str, fifo: bool) -> Result<(), SqsError> {
    let base = if fifo { name.strip_suffix(".fifo") } else { Some(name) };
    let valid = base.is_some_and(|base| {
        !base.is_empty()
            && name.len() <= MAX_QUEUE_NAME_LEN
            && base.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if valid {
        Ok(())
    } else if fifo || name.ends_with(".fifo") {
        Err(SqsError::invalid_parameter(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end \
             with .fifo suffix and be 1 to 80 in length.",
        ))
    } else {
        Err(SqsError::invalid_parameter(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ))
    }
}

fn validate_tags(
    queue_name: &str,
    mut current: BTreeMap<String, String>,
    tags: &[(String, String)],
) -> Result<BTreeMap<String, String>, SqsError> {
    for (key, value) in tags {
        let key_len = key.chars().count();
        if key_len == 0 || key_len > 128 {
            return Err(SqsError::invalid_parameter("Tag keys must be between 1 and 128 characters in length."));
        }
        if value.chars().count() > 256 {
            return Err(SqsError::invalid_parameter("Tag values may not be longer than 256 characters."));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(SqsError::invalid_parameter("Tag keys must not start with the reserved prefix aws:."));
        }
        current.insert(key.clone(), value.clone());
    }
    if current.len() > MAX_TAGS {
        return Err(SqsError::invalid_parameter(format!("Too many tags added for queue {queue_name}.")));
    }
    Ok(current)
}

/// One page of names (given in name order): up to `max_results` (1..=1000) after the token's position, with
/// a token for the next page when more remain; without `max_results`, up to 1,000 and never a token.
fn page(
    names: impl Iterator<Item = String>,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> Result<QueueListing, SqsError> {
    if let Some(max) = max_results {
        if !(1..=MAX_LIST_RESULTS).contains(&max) {
            return Err(SqsError::out_of_range("MaxResults", max, 1, MAX_LIST_RESULTS));
        }
    }
    let after = next_token.filter(|token| !token.is_empty()).map(decode_list_token).transpose()?;
    let limit = max_results.unwrap_or(MAX_LIST_RESULTS) as usize;
    let mut remaining = names.filter(|name| after.as_deref().is_none_or(|after| name.as_str() > after));
    let page: Vec<String> = remaining.by_ref().take(limit).collect();
    let more = remaining.next().is_some();
    let next_token = if more && max_results.is_some() { page.last().map(|name| encode_list_token(name)) } else { None };
    Ok(QueueListing { account: String::new(), names: page, next_token })
}

fn encode_list_token(last_name: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last_name)
}

fn decode_list_token(token: &str) -> Result<String, SqsError> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| SqsError::invalid_parameter("Invalid NextToken value."))
}
