//! [`RedisIdempotencyStore`]: idempotency records as Redis strings with an expiry, one per key.
//!
//! A key's record is `p:<token>` while a lease is held and `c:<token>` once completed, under
//! `<prefix><idempotency key>`, with a `PX` expiry at the lease's end or the completed record's end: Redis
//! itself forgets lapsed leases and old records, on its own clock (durations are sent, never instants, so
//! the hosts' clocks do not need to agree with the Redis server's).
//!
//! - `try_begin` is `SET key p:<token> NX PX <lease>` (in a Lua script that, when the key exists, also reads
//!   its value and `PTTL` in the same atomic step, to answer `Completed` or `InProgress { until }`);
//! - `extend`, `complete` and `abandon` are Lua scripts that compare the stored value with the caller's
//!   `p:<token>` and only then `PEXPIRE`, `SET c:<token> PX <ttl>` or `DEL`: only the lease holder can act,
//!   and a stale holder whose lease lapsed (and perhaps was taken over) gets
//!   [`StoreError::LeaseLost`]. Scripts run atomically (<https://redis.io/docs/latest/develop/interact/programmability/eval-intro/>).
//!
//! Scripts are sent with `EVALSHA` and loaded on `NOSCRIPT` (the `redis` crate's [`Script`]), so a Redis
//! restart or failover costs one extra round trip. With Redis replication, a write acknowledged by a primary
//! that fails before replicating it can be lost: a lease or a completed record can then vanish and a
//! duplicate run. Use `WAIT` on your side or a single durable primary where that matters.

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

use super::time::millis_until;
use crate::consumer::{Begin, IdempotencyStore, LeaseToken, StoreError};
use crate::types::IdempotencyKey;

/// The key prefix when none is configured.
pub const DEFAULT_KEY_PREFIX: &str = "sqskit:idempotency:";
/// How long one store operation may take, connection included, when none is configured.
const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
/// How long connecting may take when none is configured.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// `SET NX PX`, and when the key exists, what it holds and for how long. Returns `{1}` when acquired,
/// `{2, pttl}` for a lease held by someone else, `{3}` for a completed record, `{0}` for a value this store
/// did not write, `{4}` when the key vanished between the two steps (cannot happen in an atomic script; kept
/// so the caller never misreads a missing value).
const BEGIN: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1} end
local value = redis.call('GET', KEYS[1])
if not value then return {4} end
local kind = string.sub(value, 1, 2)
if kind == 'p:' then return {2, redis.call('PTTL', KEYS[1])} end
if kind == 'c:' then return {3} end
return {0}
";

/// Moves the lease's expiry if the caller holds it.
const EXTEND: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// Replaces the holder's lease with a completed record; a repeated completion by the same holder (a retry
/// after a lost answer) succeeds too.
const COMPLETE: &str = r"
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
if value == ARGV[2] then return 1 end
return 0
";

/// Deletes the holder's lease.
const ABANDON: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

/// An [`IdempotencyStore`] in Redis, shared by every consumer that uses the same server and key prefix.
///
/// Built with [`RedisIdempotencyStore::connect`] or [`RedisIdempotencyStore::builder`]; clones share one
/// multiplexed connection that reconnects by itself. Every operation is bounded by the operation timeout
/// (default 5 s) and fails with [`StoreError::Unavailable`] when Redis cannot answer in time.
///
/// # Examples
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use sqskit::consumer::Consumer;
/// use sqskit::stores::RedisIdempotencyStore;
///
/// # async fn demo(backend: Arc<dyn sqskit::SqsBackend>, queue_url: &str) -> anyhow::Result<()> {
/// let store = RedisIdempotencyStore::builder("redis://127.0.0.1:6379")
///     .key_prefix("orders:idempotency:")
///     .operation_timeout(Duration::from_secs(2))
///     .connect()
///     .await?;
/// let consumer = Consumer::<serde_json::Value>::builder(backend, queue_url)
///     .idempotency(Arc::new(store))
///     .build()
///     .await?;
/// # let _ = consumer; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisIdempotencyStore {
    connection: ConnectionManager,
    prefix: String,
    operation_timeout: Duration,
    scripts: Scripts,
    address: String,
}

#[derive(Clone)]
struct Scripts {
    begin: Script,
    extend: Script,
    complete: Script,
    abandon: Script,
}

impl fmt::Debug for RedisIdempotencyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisIdempotencyStore")
            .field("address", &self.address)
            .field("prefix", &self.prefix)
            .field("operation_timeout", &self.operation_timeout)
            .finish_non_exhaustive()
    }
}

/// Configures a [`RedisIdempotencyStore`].
#[derive(Debug, Clone)]
pub struct RedisIdempotencyStoreBuilder {
    url: String,
    prefix: String,
    operation_timeout: Duration,
    connect_timeout: Duration,
}

impl RedisIdempotencyStore {
    /// Connects to the Redis at `url` (`redis://[user:password@]host:port[/db]`, or `rediss://` with TLS
    /// where the `redis` crate was built with it) with the default settings.
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`] for a URL the `redis` crate cannot parse, [`StoreError::Unavailable`]
    /// when the server cannot be reached within the connect timeout.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// A builder for the Redis at `url`.
    pub fn builder(url: impl Into<String>) -> RedisIdempotencyStoreBuilder {
        RedisIdempotencyStoreBuilder {
            url: url.into(),
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// The Redis key that holds `key`'s record.
    pub fn redis_key(&self, key: &IdempotencyKey) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        key: &IdempotencyKey,
        args: &[&str],
    ) -> Result<T, StoreError> {
        let mut invocation = script.key(self.redis_key(key));
        for arg in args {
            invocation.arg(*arg);
        }
        let mut connection = self.connection.clone();
        match tokio::time::timeout(self.operation_timeout, invocation.invoke_async(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(unavailable(&self.address, &error)),
            Err(_) => Err(StoreError::Unavailable {
                reason: format!("Redis at {} did not answer within {:?}", self.address, self.operation_timeout),
            }),
        }
    }

    /// Runs a holder-only script; `1` means done, anything else that the lease is not held.
    async fn holder_only(&self, script: &Script, key: &IdempotencyKey, args: &[&str]) -> Result<(), StoreError> {
        match self.run::<i64>(script, key, args).await? {
            1 => Ok(()),
            _ => Err(StoreError::LeaseLost { key: key.clone() }),
        }
    }
}

impl RedisIdempotencyStoreBuilder {
    /// The prefix of every Redis key this store writes (default `sqskit:idempotency:`): consumers that must
    /// deduplicate against each other use the same prefix, unrelated ones a different one.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one operation may take before it fails as [`StoreError::Unavailable`] (default 5 s).
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// How long connecting (and each reconnection attempt) may take (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Connects, failing fast when the server is unreachable; later disconnections are repaired in the
    /// background (operations meanwhile fail as [`StoreError::Unavailable`]).
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`] for an unparsable URL or a zero timeout, [`StoreError::Unavailable`]
    /// when the server cannot be reached.
    pub async fn connect(self) -> Result<RedisIdempotencyStore, StoreError> {
        if self.operation_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(StoreError::InvalidConfig { reason: "Redis store timeouts must be above zero".to_owned() });
        }
        let client = Client::open(self.url.as_str()).map_err(|error| StoreError::InvalidConfig {
            reason: format!("invalid Redis URL {:?}: {error}", self.url),
        })?;
        let address = client.get_connection_info().addr.to_string();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.connect_timeout)
            .set_response_timeout(self.operation_timeout)
            .set_number_of_retries(1)
            .set_max_delay(1_000);
        let connecting = ConnectionManager::new_with_config(client, config);
        let connection = match tokio::time::timeout(self.connect_timeout * 2, connecting).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return Err(unavailable(&address, &error)),
            Err(_) => {
                return Err(StoreError::Unavailable {
                    reason: format!("could not connect to Redis at {address} within {:?}", self.connect_timeout * 2),
                });
            }
        };
        Ok(RedisIdempotencyStore {
            connection,
            prefix: self.prefix,
            operation_timeout: self.operation_timeout,
            scripts: Scripts {
                begin: Script::new(BEGIN),
                extend: Script::new(EXTEND),
                complete: Script::new(COMPLETE),
                abandon: Script::new(ABANDON),
            },
            address,
        })
    }
}

fn unavailable(address: &str, error: &redis::RedisError) -> StoreError {
    StoreError::Unavailable { reason: format!("Redis at {address}: {error}") }
}

fn leased(token: &LeaseToken) -> String {
    format!("p:{}", token.as_str())
}

fn completed(token: &LeaseToken) -> String {
    format!("c:{}", token.as_str())
}

#[async_trait]
impl IdempotencyStore for RedisIdempotencyStore {
    async fn try_begin(&self, key: &IdempotencyKey, lease_until: SystemTime) -> Result<Begin, StoreError> {
        let token = LeaseToken::random();
        let value = leased(&token);
        // The script answers "vanished" only if the key expired between its own steps; one more attempt
        // then settles it.
        for _ in 0..2 {
            let lease_ms = millis_until(lease_until, SystemTime::now()).to_string();
            let answer: Vec<i64> = self.run(&self.scripts.begin, key, &[&value, &lease_ms]).await?;
            match answer.as_slice() {
                [1] => return Ok(Begin::Acquired(token)),
                [2, pttl] => {
                    let left = Duration::from_millis(u64::try_from(*pttl).unwrap_or(0));
                    return Ok(Begin::InProgress { until: SystemTime::now() + left });
                }
                [3] => return Ok(Begin::Completed),
                [4] => continue,
                _ => {
                    return Err(StoreError::Unavailable {
                        reason: format!(
                            "Redis key {} holds a value this store did not write (another application uses the \
                             prefix {:?}?)",
                            self.redis_key(key),
                            self.prefix
                        ),
                    });
                }
            }
        }
        Err(StoreError::Unavailable { reason: format!("Redis key {} kept vanishing", self.redis_key(key)) })
    }

    async fn extend(&self, key: &IdempotencyKey, token: &LeaseToken, until: SystemTime) -> Result<(), StoreError> {
        let lease_ms = millis_until(until, SystemTime::now()).to_string();
        self.holder_only(&self.scripts.extend, key, &[&leased(token), &lease_ms]).await
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        token: &LeaseToken,
        expires_at: SystemTime,
    ) -> Result<(), StoreError> {
        let ttl_ms = millis_until(expires_at, SystemTime::now()).to_string();
        self.holder_only(&self.scripts.complete, key, &[&leased(token), &completed(token), &ttl_ms]).await
    }

    async fn abandon(&self, key: &IdempotencyKey, token: &LeaseToken) -> Result<(), StoreError> {
        self.holder_only(&self.scripts.abandon, key, &[&leased(token)]).await
    }
}
