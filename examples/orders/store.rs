//! The `--idempotency` option of `order_consumer`: which idempotency store the consumer shares with the other
//! consumers of the queue.
//!
//! - `memory`: an [`InMemoryIdempotencyStore`], private to this process (duplicates that reach another
//!   process run again there);
//! - `redis://HOST:PORT[/DB]`: a [`RedisIdempotencyStore`] shared by every consumer using that Redis;
//! - `dynamodb://TABLE`: a [`DynamoDbIdempotencyStore`] on that table, configured by aws-config (region,
//!   credentials, and `AWS_ENDPOINT_URL_DYNAMODB` for a local DynamoDB-compatible server); the table is created
//!   (with TTL) if it does not exist.

use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use sqskit::consumer::{IdempotencyStore, InMemoryIdempotencyStore};
use sqskit::stores::{DynamoDbIdempotencyStore, RedisIdempotencyStore};

/// Where the consumer's idempotency records live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// In this process only.
    Memory,
    /// In Redis, at this URL.
    Redis(String),
    /// In this DynamoDB table.
    DynamoDb(String),
}

impl FromStr for StoreChoice {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value == "memory" {
            Ok(Self::Memory)
        } else if value.starts_with("redis://") || value.starts_with("rediss://") {
            Ok(Self::Redis(value.to_owned()))
        } else if let Some(table) = value.strip_prefix("dynamodb://") {
            if table.is_empty() {
                return Err("dynamodb:// needs a table name, e.g. dynamodb://orders-idempotency".to_owned());
            }
            Ok(Self::DynamoDb(table.to_owned()))
        } else {
            Err(format!("unknown idempotency store {value:?}: expected memory, redis://HOST:PORT or dynamodb://TABLE"))
        }
    }
}

impl StoreChoice {
    /// Connects to (or creates) the store.
    ///
    /// # Errors
    /// When Redis cannot be reached, or the DynamoDB configuration or table set-up fails.
    pub async fn open(&self) -> anyhow::Result<Arc<dyn IdempotencyStore>> {
        Ok(match self {
            Self::Memory => Arc::new(InMemoryIdempotencyStore::new()),
            Self::Redis(url) => {
                Arc::new(RedisIdempotencyStore::connect(url).await.with_context(|| format!("idempotency store {url}"))?)
            }
            Self::DynamoDb(table) => {
                let store = DynamoDbIdempotencyStore::from_env(table.as_str())
                    .await
                    .with_context(|| format!("idempotency store dynamodb://{table}"))?;
                store.create_table().await.with_context(|| format!("idempotency store dynamodb://{table}"))?;
                Arc::new(store)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_choices_parse_and_bad_ones_say_what_is_expected() {
        assert_eq!("memory".parse(), Ok(StoreChoice::Memory));
        assert_eq!("redis://127.0.0.1:6379".parse(), Ok(StoreChoice::Redis("redis://127.0.0.1:6379".to_owned())));
        assert_eq!("dynamodb://orders".parse(), Ok(StoreChoice::DynamoDb("orders".to_owned())));
        assert!("dynamodb://".parse::<StoreChoice>().is_err());
        let error = "postgres://x".parse::<StoreChoice>().expect_err("unknown scheme");
        assert!(error.contains("memory, redis://HOST:PORT or dynamodb://TABLE"), "{error}");
    }
}
