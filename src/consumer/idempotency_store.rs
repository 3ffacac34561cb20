//! Consumer-side deduplication: the [`IdempotencyStore`] trait (leases that begin, extend, complete or are
//! abandoned, all with expiry) and [`InMemoryIdempotencyStore`].
//!
//! The consumer ties a key's in-progress lease to the SQS visibility deadline of the message that holds it,
//! and extends both together in its heartbeat, so a crashed worker's lease runs out exactly when SQS
//! redelivers its message. A store shared by several consumers (processes, with a shared implementation such
//! as a database with conditional writes) makes processing effectively-once across all of them.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::types::IdempotencyKey;

/// Proof of holding a key's in-progress lease, returned by [`IdempotencyStore::try_begin`]; only its holder
/// may extend, complete or abandon the lease.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseToken(String);

impl LeaseToken {
    /// A token with this value (for store implementations).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// A fresh random token.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The token's value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The answer of [`IdempotencyStore::try_begin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The caller now holds the key's lease and should process the message.
    Acquired(LeaseToken),
    /// Someone else is processing this key; their lease runs until `until` unless extended.
    InProgress {
        /// When the other lease ends.
        until: SystemTime,
    },
    /// The key was processed already: acknowledge the message without processing it again.
    Completed,
}

/// Why an idempotency store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The lease named by the token is no longer held (it expired and someone else took the key, or it was
    /// completed or abandoned).
    #[error("the idempotency lease for key {key} is no longer held")]
    LeaseLost {
        /// The key.
        key: IdempotencyKey,
    },
    /// The store itself failed (a database error, a timeout).
    #[error("idempotency store failure: {reason}")]
    Unavailable {
        /// What went wrong.
        reason: String,
    },
    /// A store was given settings it cannot work with (a malformed URL, a zero timeout, a table without the
    /// expected key).
    #[error("invalid idempotency store configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
}

/// Where the consumer records which idempotency keys are being processed or were processed.
///
/// Implementations must make [`try_begin`](IdempotencyStore::try_begin) atomic (a conditional write): of two
/// concurrent callers for the same key, exactly one acquires.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + fmt::Debug + 'static {
    /// Starts processing `key` with a lease until `lease_until`, unless the key is completed (and not
    /// expired) or leased by someone else (and that lease has not expired).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the store cannot be reached.
    async fn try_begin(&self, key: &IdempotencyKey, lease_until: SystemTime) -> Result<Begin, StoreError>;

    /// Moves the lease's end to `until`.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] when `token` no longer holds the lease.
    async fn extend(&self, key: &IdempotencyKey, token: &LeaseToken, until: SystemTime) -> Result<(), StoreError>;

    /// Marks the key processed, remembered until `expires_at`.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] when `token` no longer holds the lease.
    async fn complete(
        &self,
        key: &IdempotencyKey,
        token: &LeaseToken,
        expires_at: SystemTime,
    ) -> Result<(), StoreError>;

    /// Gives the lease up (the handler failed), so that a retry can process the key.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] when `token` no longer holds the lease.
    async fn abandon(&self, key: &IdempotencyKey, token: &LeaseToken) -> Result<(), StoreError>;
}

/// The first delay before a message whose store check failed is received again.
const UNAVAILABLE_FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest such delay.
const UNAVAILABLE_MAX_DELAY: Duration = Duration::from_secs(300);

/// How long a message stays invisible after [`IdempotencyStore::try_begin`] failed with a store error on its
/// `receive_count`-th receive: 1 s doubling per receive up to 5 minutes, or the consumer's retry backoff if
/// longer. Never under a second (SQS visibility is counted in whole seconds, so a shorter delay would make the
/// message visible at once and the consumer would spin on an unavailable store).
pub(crate) fn unavailable_delay(receive_count: u32, retry_backoff: Duration) -> Duration {
    let doublings = receive_count.saturating_sub(1).min(16);
    let floor = UNAVAILABLE_FIRST_DELAY.saturating_mul(1 << doublings).min(UNAVAILABLE_MAX_DELAY);
    floor.max(retry_backoff)
}

#[derive(Debug, Clone)]
enum Record {
    InProgress { token: LeaseToken, until: SystemTime },
    Completed { expires_at: SystemTime },
}

impl Record {
    fn expired(&self, now: SystemTime) -> bool {
        match self {
            Record::InProgress { until, .. } => *until <= now,
            Record::Completed { expires_at } => *expires_at <= now,
        }
    }
}

type NowFn = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// An [`IdempotencyStore`] in process memory: for tests, and for several consumers inside one process.
///
/// Expired records are swept as new keys arrive, so memory stays proportional to the keys seen within the
/// completed-record lifetime.
///
/// # Examples
/// ```
/// use std::time::{Duration, SystemTime};
/// use sqskit::IdempotencyKey;
/// use sqskit::consumer::{Begin, IdempotencyStore, InMemoryIdempotencyStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), sqskit::consumer::StoreError> {
/// let store = InMemoryIdempotencyStore::new();
/// let key = IdempotencyKey::from("order-42");
/// let lease = SystemTime::now() + Duration::from_secs(30);
///
/// let Begin::Acquired(token) = store.try_begin(&key, lease).await? else { unreachable!() };
/// assert!(matches!(store.try_begin(&key, lease).await?, Begin::InProgress { .. }));
/// store.complete(&key, &token, SystemTime::now() + Duration::from_secs(3600)).await?;
/// assert_eq!(store.try_begin(&key, lease).await?, Begin::Completed);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct InMemoryIdempotencyStore {
    records: Arc<Mutex<Records>>,
    now: NowFn,
}

#[derive(Default)]
struct Records {
    map: HashMap<IdempotencyKey, Record>,
    inserts_since_sweep: usize,
}

impl fmt::Debug for InMemoryIdempotencyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryIdempotencyStore").field("keys", &self.lock().map.len()).finish()
    }
}

impl Default for InMemoryIdempotencyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryIdempotencyStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(SystemTime::now)
    }

    /// An empty store whose notion of "now" (for expiry) comes from `now`, for tests.
    pub fn with_clock(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Self { records: Arc::default(), now: Arc::new(now) }
    }

    /// How many keys are recorded (in progress or completed, expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether no key is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `key` is recorded as completed (and not expired).
    pub fn is_completed(&self, key: &IdempotencyKey) -> bool {
        let now = (self.now)();
        matches!(self.lock().map.get(key), Some(record @ Record::Completed { .. }) if !record.expired(now))
    }

    // A poisoned lock only means a panic elsewhere mid-update of a plain map; the map is still consistent.
    fn lock(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with_lease<R>(
        &self,
        key: &IdempotencyKey,
        token: &LeaseToken,
        apply: impl FnOnce(&mut HashMap<IdempotencyKey, Record>) -> R,
    ) -> Result<R, StoreError> {
        let now = (self.now)();
        let mut records = self.lock();
        match records.map.get(key) {
            Some(Record::InProgress { token: held, until }) if held == token && *until > now => {
                Ok(apply(&mut records.map))
            }
            _ => Err(StoreError::LeaseLost { key: key.clone() }),
        }
    }
}

#[async_trait]
impl IdempotencyStore for InMemoryIdempotencyStore {
    async fn try_begin(&self, key: &IdempotencyKey, lease_until: SystemTime) -> Result<Begin, StoreError> {
        let now = (self.now)();
        let mut records = self.lock();
        match records.map.get(key) {
            Some(Record::Completed { expires_at }) if *expires_at > now => return Ok(Begin::Completed),
            Some(Record::InProgress { until, .. }) if *until > now => return Ok(Begin::InProgress { until: *until }),
            _ => {}
        }
        records.inserts_since_sweep += 1;
        if records.inserts_since_sweep >= 1024 {
            records.inserts_since_sweep = 0;
            records.map.retain(|_, record| !record.expired(now));
        }
        let token = LeaseToken::random();
        records.map.insert(key.clone(), Record::InProgress { token: token.clone(), until: lease_until });
        Ok(Begin::Acquired(token))
    }

    async fn extend(&self, key: &IdempotencyKey, token: &LeaseToken, until: SystemTime) -> Result<(), StoreError> {
        self.with_lease(key, token, |map| {
            map.insert(key.clone(), Record::InProgress { token: token.clone(), until });
        })
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        token: &LeaseToken,
        expires_at: SystemTime,
    ) -> Result<(), StoreError> {
        self.with_lease(key, token, |map| {
            map.insert(key.clone(), Record::Completed { expires_at });
        })
    }

    async fn abandon(&self, key: &IdempotencyKey, token: &LeaseToken) -> Result<(), StoreError> {
        self.with_lease(key, token, |map| {
            map.remove(key);
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn manual_store() -> (InMemoryIdempotencyStore, Arc<AtomicU64>) {
        let secs = Arc::new(AtomicU64::new(1_000));
        let clock = secs.clone();
        let store = InMemoryIdempotencyStore::with_clock(move || {
            UNIX_EPOCH + Duration::from_secs(clock.load(Ordering::SeqCst))
        });
        (store, secs)
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn an_unavailable_store_delays_by_a_second_doubling_per_receive() {
        let ms = Duration::from_millis;
        assert_eq!(unavailable_delay(1, ms(30)), Duration::from_secs(1));
        assert_eq!(unavailable_delay(2, ms(30)), Duration::from_secs(2));
        assert_eq!(unavailable_delay(4, ms(30)), Duration::from_secs(8));
        assert_eq!(unavailable_delay(40, ms(30)), Duration::from_secs(300));
        assert_eq!(unavailable_delay(0, ms(30)), Duration::from_secs(1));
        assert_eq!(unavailable_delay(1, Duration::from_secs(7)), Duration::from_secs(7));
    }

    #[tokio::test]
    async fn one_caller_acquires_and_others_see_it_in_progress() {
        let (store, _) = manual_store();
        let key = IdempotencyKey::from("k");
        assert!(matches!(store.try_begin(&key, at(1_030)).await, Ok(Begin::Acquired(_))));
        assert_eq!(store.try_begin(&key, at(1_030)).await.ok(), Some(Begin::InProgress { until: at(1_030) }));
    }

    #[tokio::test]
    async fn an_expired_lease_can_be_taken_over_and_the_old_holder_loses_it() {
        let (store, clock) = manual_store();
        let key = IdempotencyKey::from("k");
        let Ok(Begin::Acquired(old)) = store.try_begin(&key, at(1_030)).await else { panic!("acquire") };

        clock.store(1_031, Ordering::SeqCst);
        let Ok(Begin::Acquired(new)) = store.try_begin(&key, at(1_060)).await else { panic!("take over") };

        assert!(matches!(store.complete(&key, &old, at(5_000)).await, Err(StoreError::LeaseLost { .. })));
        assert!(store.extend(&key, &new, at(1_090)).await.is_ok());
        assert!(store.complete(&key, &new, at(5_000)).await.is_ok());
        assert!(store.is_completed(&key));
    }

    #[tokio::test]
    async fn abandon_lets_a_retry_begin_and_completion_expires() {
        let (store, clock) = manual_store();
        let key = IdempotencyKey::from("k");
        let Ok(Begin::Acquired(token)) = store.try_begin(&key, at(1_030)).await else { panic!("acquire") };
        assert!(store.abandon(&key, &token).await.is_ok());

        let Ok(Begin::Acquired(token)) = store.try_begin(&key, at(1_030)).await else { panic!("retry") };
        assert!(store.complete(&key, &token, at(2_000)).await.is_ok());
        assert_eq!(store.try_begin(&key, at(1_030)).await.ok(), Some(Begin::Completed));

        clock.store(2_000, Ordering::SeqCst);
        assert!(matches!(store.try_begin(&key, at(2_030)).await, Ok(Begin::Acquired(_))));
    }
}
