//! [`DynamoDbIdempotencyStore`]: one DynamoDB item per idempotency key, every transition one conditional
//! write.
//!
//! # Table layout
//! | attribute        | type | meaning                                                                     |
//! |------------------|------|-----------------------------------------------------------------------------|
//! | `id` (partition key, name configurable) | S | the idempotency key (`sha256:<hex>` of it when it is empty or longer than the 2048-byte partition-key limit) |
//! | `status`         | S    | `IN_PROGRESS` while a lease is held, `COMPLETED` once processed             |
//! | `lease_token`    | S    | the holder's [`LeaseToken`] (kept on completion, so a retried completion is recognised) |
//! | `valid_until_ms` | N    | end of the lease, or of the completed record, in milliseconds since the Unix epoch: every condition compares it with the caller's clock |
//! | `expires_at`     | N    | the same instant in whole seconds (rounded up): the table's TTL attribute   |
//!
//! DynamoDB's TTL deletes expired items "typically within a few days of their expiration", and until then
//! they are still read and written
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html>), so the store never relies
//! on it for correctness: an item whose `valid_until_ms` passed counts as absent in every condition; TTL only
//! keeps the table from growing.
//!
//! # Transitions
//! - `try_begin`: `PutItem` with `attribute_not_exists(id) OR valid_until_ms <= :now` and
//!   `ReturnValuesOnConditionCheckFailure = ALL_OLD`, so a refused begin learns in the same request whether the
//!   key is completed or leased, and until when. An item carrying this call's own token means an earlier attempt
//!   of the same request (retried by the SDK after a lost answer) succeeded: that is `Acquired`. An endpoint that
//!   does not return the item with the failure costs one strongly consistent `GetItem` (used only to answer, never
//!   to decide a write).
//! - `extend`, `complete` (`UpdateItem`) and `abandon` (`DeleteItem`) are conditioned on
//!   `status = IN_PROGRESS AND lease_token = :token AND valid_until_ms > :now`: only the holder, and only while
//!   its lease lasts. A failed check is [`StoreError::LeaseLost`] (except a completion whose own earlier attempt
//!   already completed the key).
//!
//! # Clocks
//! Lease ends are instants written by the consumer's host and compared with the caller's clock, so hosts must
//! keep their clocks in sync (NTP; the consumer ends handlers 2 s before a lease ends, which covers small skews).

mod table;

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

pub use table::DynamoDbTableError;

use super::time::{epoch_millis, epoch_seconds_ceil, from_epoch_millis};
use crate::consumer::{Begin, IdempotencyStore, LeaseToken, StoreError};
use crate::types::IdempotencyKey;

/// The partition key attribute when none is configured.
pub const DEFAULT_KEY_ATTRIBUTE: &str = "id";
/// The status attribute (`IN_PROGRESS` or `COMPLETED`).
pub const STATUS_ATTRIBUTE: &str = "status";
/// The lease holder's token.
pub const TOKEN_ATTRIBUTE: &str = "lease_token";
/// End of the lease or of the completed record, milliseconds since the Unix epoch.
pub const VALID_UNTIL_ATTRIBUTE: &str = "valid_until_ms";
/// The TTL attribute: the same instant in seconds since the Unix epoch.
pub const TTL_ATTRIBUTE: &str = "expires_at";

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";
/// The partition key size limit (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html>).
const MAX_KEY_BYTES: usize = 2048;
/// The whole-operation timeout (SDK retries included) when none is configured.
const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
/// The connect timeout when none is configured.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3_100);
/// Attempts per operation (the SDK's standard retry mode: throttling and transient errors, with backoff).
const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// An [`IdempotencyStore`] in a DynamoDB table, shared by every consumer that uses the table; see the
/// [module documentation](self) for the item layout and the conditional writes.
///
/// Build it from the aws-config environment with [`DynamoDbIdempotencyStore::from_env`] (which honours
/// `AWS_ENDPOINT_URL_DYNAMODB`, e.g. a local DynamoDB-compatible server), or from an `SdkConfig` with
/// [`DynamoDbIdempotencyStore::builder`]. Create the table once with
/// [`create_table`](DynamoDbIdempotencyStore::create_table) (or with your infrastructure code, same layout).
///
/// IAM permissions on the table: `dynamodb:PutItem`, `dynamodb:UpdateItem`, `dynamodb:DeleteItem` and
/// `dynamodb:GetItem` for the store; `dynamodb:CreateTable`, `dynamodb:DescribeTable`,
/// `dynamodb:DescribeTimeToLive` and `dynamodb:UpdateTimeToLive` for `create_table`.
///
/// # Examples
/// ```no_run
/// use std::sync::Arc;
/// use sqskit::consumer::Consumer;
/// use sqskit::stores::DynamoDbIdempotencyStore;
///
/// # async fn demo(backend: Arc<dyn sqskit::SqsBackend>, queue_url: &str) -> anyhow::Result<()> {
/// // Region, credentials and endpoint from the usual places (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, ...).
/// let store = DynamoDbIdempotencyStore::from_env("orders-idempotency").await?;
/// store.create_table().await?; // first run or tests: creates the table if needed and enables TTL
/// let consumer = Consumer::<serde_json::Value>::builder(backend, queue_url)
///     .idempotency(Arc::new(store))
///     .build()
///     .await?;
/// # let _ = consumer; Ok(()) }
/// ```
#[derive(Clone)]
pub struct DynamoDbIdempotencyStore {
    client: Client,
    table: String,
    key_attribute: String,
}

impl fmt::Debug for DynamoDbIdempotencyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoDbIdempotencyStore")
            .field("table", &self.table)
            .field("key_attribute", &self.key_attribute)
            .finish_non_exhaustive()
    }
}

/// Configures a [`DynamoDbIdempotencyStore`].
#[derive(Debug)]
pub struct DynamoDbIdempotencyStoreBuilder {
    config: aws_sdk_dynamodb::config::Builder,
    table: String,
    key_attribute: String,
    operation_timeout: Duration,
    connect_timeout: Duration,
    max_attempts: u32,
}

impl DynamoDbIdempotencyStore {
    /// A store on `table`, configured by aws-config's default chain (environment, profiles, SSO, IMDS),
    /// honouring `AWS_ENDPOINT_URL_DYNAMODB` and `AWS_ENDPOINT_URL`.
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`] when no region is configured or the table name is invalid.
    pub async fn from_env(table: impl Into<String>) -> Result<Self, StoreError> {
        let sdk_config = aws_config::load_defaults(BehaviorVersion::latest()).await;
        if sdk_config.region().is_none() {
            return Err(StoreError::InvalidConfig {
                reason: "no AWS region configured for the DynamoDB store: set AWS_REGION (or a region in the AWS \
                         profile)"
                    .to_owned(),
            });
        }
        Self::builder(&sdk_config, table).build()
    }

    /// A builder for a store on `table`, starting from an SDK configuration.
    pub fn builder(sdk_config: &aws_config::SdkConfig, table: impl Into<String>) -> DynamoDbIdempotencyStoreBuilder {
        let mut config = aws_sdk_dynamodb::config::Builder::from(sdk_config);
        if sdk_config.behavior_version().is_none() {
            config = config.behavior_version(BehaviorVersion::latest());
        }
        DynamoDbIdempotencyStoreBuilder {
            config,
            table: table.into(),
            key_attribute: DEFAULT_KEY_ATTRIBUTE.to_owned(),
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// A store on `table` over an already configured client, used as it is (its retries and timeouts too).
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`] when the table name is invalid.
    pub fn new(client: Client, table: impl Into<String>) -> Result<Self, StoreError> {
        let table = table.into();
        check_table_name(&table)?;
        Ok(Self { client, table, key_attribute: DEFAULT_KEY_ATTRIBUTE.to_owned() })
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The SDK client the store uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The partition key value that holds `key`'s record: the key itself, or `sha256:<hex>` of it when it is
    /// empty or longer than DynamoDB's 2048-byte partition-key limit.
    pub fn item_key(key: &IdempotencyKey) -> String {
        let raw = key.as_str();
        if raw.is_empty() || raw.len() > MAX_KEY_BYTES {
            format!("sha256:{}", crate::idempotency::deduplication_id(key))
        } else {
            raw.to_owned()
        }
    }

    fn key_value(&self, key: &IdempotencyKey) -> (String, AttributeValue) {
        (self.key_attribute.clone(), AttributeValue::S(Self::item_key(key)))
    }

    /// Strongly consistent read of `key`'s record, to answer a refused begin on an endpoint that does not
    /// return the item with a failed condition.
    async fn read(&self, key: &IdempotencyKey) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let (name, value) = self.key_value(key);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(name, value)
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| self.unavailable(error))?;
        Ok(output.item)
    }

    /// The result of a write conditioned on holding `key`'s lease: a refused condition means the lease is lost.
    fn holder_write<T, E>(
        &self,
        result: Result<T, SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>>,
        key: &IdempotencyKey,
    ) -> Result<(), StoreError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("ConditionalCheckFailedException") => {
                Err(StoreError::LeaseLost { key: key.clone() })
            }
            Err(error) => Err(self.unavailable(error)),
        }
    }

    fn unavailable<E>(&self, error: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let hint = if error.code() == Some("ResourceNotFoundException") {
            " (create the table with DynamoDbIdempotencyStore::create_table, or point the store at an existing one)"
        } else {
            ""
        };
        // A service error by its code and message; anything else (timeouts, connection errors) with its causes.
        let what = match (error.code(), error.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            _ => DisplayErrorContext(&error).to_string(),
        };
        StoreError::Unavailable { reason: format!("DynamoDB table {}: {what}{hint}", self.table) }
    }

    /// The answer a refused begin gets from the item that refused it.
    fn refused(item: &HashMap<String, AttributeValue>, token: &LeaseToken, now: SystemTime) -> Option<Begin> {
        let record = Record::read(item)?;
        if record.valid_until <= now {
            return None;
        }
        if record.token.as_deref() == Some(token.as_str()) && record.status == IN_PROGRESS {
            return Some(Begin::Acquired(token.clone()));
        }
        Some(if record.status == COMPLETED {
            Begin::Completed
        } else {
            Begin::InProgress { until: record.valid_until }
        })
    }

    /// The condition every holder-only transition carries, with its names and values.
    fn holder_condition(token: &LeaseToken, now: SystemTime) -> HolderCondition {
        HolderCondition {
            expression: "#s = :in_progress AND #t = :token AND #v > :now",
            names: [("#s", STATUS_ATTRIBUTE), ("#t", TOKEN_ATTRIBUTE), ("#v", VALID_UNTIL_ATTRIBUTE)],
            values: [
                (":in_progress", AttributeValue::S(IN_PROGRESS.to_owned())),
                (":token", AttributeValue::S(token.as_str().to_owned())),
                (":now", number(epoch_millis(now))),
            ],
        }
    }
}

struct HolderCondition {
    expression: &'static str,
    names: [(&'static str, &'static str); 3],
    values: [(&'static str, AttributeValue); 3],
}

/// The parts of an item the store reads back.
struct Record {
    status: String,
    token: Option<String>,
    valid_until: SystemTime,
}

impl Record {
    fn read(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let status = item.get(STATUS_ATTRIBUTE)?.as_s().ok()?.clone();
        let token = item.get(TOKEN_ATTRIBUTE).and_then(|value| value.as_s().ok()).cloned();
        let millis = item.get(VALID_UNTIL_ATTRIBUTE)?.as_n().ok()?.parse::<u64>().ok()?;
        Some(Self { status, token, valid_until: from_epoch_millis(millis) })
    }
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// DynamoDB's table-name rule: 3 to 255 characters of `a-z A-Z 0-9 _ - .`
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html>).
fn check_table_name(table: &str) -> Result<(), StoreError> {
    let valid = (3..=255).contains(&table.len())
        && table.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(StoreError::InvalidConfig {
            reason: format!(
                "invalid DynamoDB table name {table:?}: 3 to 255 characters among letters, digits, '_', '-' and '.'"
            ),
        })
    }
}

impl DynamoDbIdempotencyStoreBuilder {
    /// Sends requests to this endpoint instead of the region's (a local DynamoDB-compatible server, a VPC
    /// endpoint). `AWS_ENDPOINT_URL_DYNAMODB` does the same from the environment.
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.config = self.config.endpoint_url(url);
        self
    }

    /// The table's partition key attribute (default `id`; a string attribute).
    pub fn key_attribute(mut self, name: impl Into<String>) -> Self {
        self.key_attribute = name.into();
        self
    }

    /// How long one store operation may take, the SDK's retries included, before it fails as
    /// [`StoreError::Unavailable`] (default 5 s).
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// The TCP/TLS connect timeout (default 3.1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Attempts per operation under the SDK's standard retry mode (default 3; 1 disables retries).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Builds the store (no request is made; the first operation reveals a missing table or bad credentials).
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`] for an invalid table name, an empty key attribute, a zero timeout or
    /// zero attempts.
    pub fn build(self) -> Result<DynamoDbIdempotencyStore, StoreError> {
        check_table_name(&self.table)?;
        let invalid = |reason: &str| Err(StoreError::InvalidConfig { reason: reason.to_owned() });
        if self.key_attribute.is_empty() {
            return invalid("the DynamoDB key attribute name must not be empty");
        }
        if self.operation_timeout.is_zero() || self.connect_timeout.is_zero() {
            return invalid("DynamoDB store timeouts must be above zero");
        }
        if self.max_attempts == 0 {
            return invalid("the DynamoDB store needs at least 1 attempt per operation");
        }
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_timeout(self.operation_timeout)
            .build();
        let config = self
            .config
            .retry_config(RetryConfig::standard().with_max_attempts(self.max_attempts))
            .timeout_config(timeouts);
        Ok(DynamoDbIdempotencyStore {
            client: Client::from_conf(config.build()),
            table: self.table,
            key_attribute: self.key_attribute,
        })
    }
}

#[async_trait]
impl IdempotencyStore for DynamoDbIdempotencyStore {
    async fn try_begin(&self, key: &IdempotencyKey, lease_until: SystemTime) -> Result<Begin, StoreError> {
        let token = LeaseToken::random();
        let (name, value) = self.key_value(key);
        // A refused begin whose refusing item turns out absent or expired when read (an endpoint without
        // ALL_OLD, and the record lapsed meanwhile) is tried again; twice more is plenty.
        for _ in 0..3 {
            let now = SystemTime::now();
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(name.clone(), value.clone())
                .item(STATUS_ATTRIBUTE, AttributeValue::S(IN_PROGRESS.to_owned()))
                .item(TOKEN_ATTRIBUTE, AttributeValue::S(token.as_str().to_owned()))
                .item(VALID_UNTIL_ATTRIBUTE, number(epoch_millis(lease_until)))
                .item(TTL_ATTRIBUTE, number(epoch_seconds_ceil(lease_until)))
                .condition_expression("attribute_not_exists(#k) OR #v <= :now")
                .expression_attribute_names("#k", &self.key_attribute)
                .expression_attribute_names("#v", VALID_UNTIL_ATTRIBUTE)
                .expression_attribute_values(":now", number(epoch_millis(now)))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            let error = match put {
                Ok(_) => return Ok(Begin::Acquired(token)),
                Err(error) => error,
            };
            let Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(refusal)) =
                error.as_service_error()
            else {
                return Err(self.unavailable(error));
            };
            let item = match refusal.item() {
                Some(item) => Some(item.clone()),
                None => self.read(key).await?,
            };
            if let Some(answer) = item.as_ref().and_then(|item| Self::refused(item, &token, SystemTime::now())) {
                return Ok(answer);
            }
        }
        Err(StoreError::Unavailable {
            reason: format!(
                "DynamoDB table {}: the begin of key {key} was refused by a record that is gone",
                self.table
            ),
        })
    }

    async fn extend(&self, key: &IdempotencyKey, token: &LeaseToken, until: SystemTime) -> Result<(), StoreError> {
        let (name, value) = self.key_value(key);
        let condition = Self::holder_condition(token, SystemTime::now());
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(name, value)
            .update_expression("SET #v = :until, #e = :ttl")
            .condition_expression(condition.expression)
            .expression_attribute_names("#e", TTL_ATTRIBUTE)
            .expression_attribute_values(":until", number(epoch_millis(until)))
            .expression_attribute_values(":ttl", number(epoch_seconds_ceil(until)));
        for (placeholder, attribute) in condition.names {
            update = update.expression_attribute_names(placeholder, attribute);
        }
        for (placeholder, attribute) in condition.values {
            update = update.expression_attribute_values(placeholder, attribute);
        }
        self.holder_write(update.send().await, key)
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        token: &LeaseToken,
        expires_at: SystemTime,
    ) -> Result<(), StoreError> {
        let (name, value) = self.key_value(key);
        let condition = Self::holder_condition(token, SystemTime::now());
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(name, value)
            .update_expression("SET #s = :completed, #v = :until, #e = :ttl")
            .condition_expression(condition.expression)
            .expression_attribute_names("#e", TTL_ATTRIBUTE)
            .expression_attribute_values(":completed", AttributeValue::S(COMPLETED.to_owned()))
            .expression_attribute_values(":until", number(epoch_millis(expires_at)))
            .expression_attribute_values(":ttl", number(epoch_seconds_ceil(expires_at)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (placeholder, attribute) in condition.names {
            update = update.expression_attribute_names(placeholder, attribute);
        }
        for (placeholder, attribute) in condition.values {
            update = update.expression_attribute_values(placeholder, attribute);
        }
        let error = match update.send().await {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        let Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(refusal)) =
            error.as_service_error()
        else {
            return Err(self.unavailable(error));
        };
        // Completed already by this very holder: an earlier attempt of this request landed.
        let done_by_us = refusal
            .item()
            .and_then(Record::read)
            .is_some_and(|record| record.status == COMPLETED && record.token.as_deref() == Some(token.as_str()));
        if done_by_us { Ok(()) } else { Err(StoreError::LeaseLost { key: key.clone() }) }
    }

    async fn abandon(&self, key: &IdempotencyKey, token: &LeaseToken) -> Result<(), StoreError> {
        let (name, value) = self.key_value(key);
        let condition = Self::holder_condition(token, SystemTime::now());
        let mut delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(name, value)
            .condition_expression(condition.expression);
        for (placeholder, attribute) in condition.names {
            delete = delete.expression_attribute_names(placeholder, attribute);
        }
        for (placeholder, attribute) in condition.values {
            delete = delete.expression_attribute_values(placeholder, attribute);
        }
        self.holder_write(delete.send().await, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_beyond_the_partition_key_limit_or_empty_are_hashed() {
        assert_eq!(DynamoDbIdempotencyStore::item_key(&IdempotencyKey::from("order-1")), "order-1");
        let long = IdempotencyKey::from("x".repeat(MAX_KEY_BYTES + 1));
        assert!(DynamoDbIdempotencyStore::item_key(&long).starts_with("sha256:"));
        assert_eq!(DynamoDbIdempotencyStore::item_key(&long).len(), "sha256:".len() + 64);
        assert!(DynamoDbIdempotencyStore::item_key(&IdempotencyKey::from("")).starts_with("sha256:"));
    }

    #[test]
    fn table_names_follow_dynamodb_rules() {
        assert!(check_table_name("orders-idempotency.v1_x").is_ok());
        assert!(matches!(check_table_name("ab"), Err(StoreError::InvalidConfig { .. })));
        assert!(matches!(check_table_name("orders idempotency"), Err(StoreError::InvalidConfig { .. })));
        assert!(check_table_name(&"t".repeat(256)).is_err());
    }
}
