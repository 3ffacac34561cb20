//! Shared [`IdempotencyStore`](crate::consumer::IdempotencyStore)s, for consumers on several machines: one
//! over Redis ([`RedisIdempotencyStore`], feature `redis`) and one over a DynamoDB table
//! ([`DynamoDbIdempotencyStore`], feature `dynamodb`). Both keep the semantics of
//! [`InMemoryIdempotencyStore`](crate::consumer::InMemoryIdempotencyStore), the reference the store
//! conformance suite (`tests/stores/`) runs every store against:
//!
//! - [`try_begin`](crate::consumer::IdempotencyStore::try_begin) is one atomic conditional write: of two
//!   callers racing for a key, exactly one acquires; a completed record answers `Completed` until it expires,
//!   a live lease `InProgress`, an expired lease or record is taken over;
//! - `extend`, `complete` and `abandon` succeed only for the current lease holder, while its lease lasts, in
//!   the same atomic step that checks the token (never a read followed by a write);
//! - every failure of the store itself (unreachable, timed out, throttled beyond the SDK's retries) is
//!   [`StoreError::Unavailable`](crate::consumer::StoreError::Unavailable) after at most the store's
//!   operation timeout.
//!
//! What the consumer does with an unavailable store is described in the crate README ("Idempotency across
//! processes"): the message is put back with a delay, never acknowledged without its handler.

#[cfg(feature = "dynamodb")]
mod dynamodb_store;
#[cfg(feature = "redis")]
mod redis_store;
mod time;

#[cfg(feature = "dynamodb")]
pub use dynamodb_store::{
    DEFAULT_KEY_ATTRIBUTE, DynamoDbIdempotencyStore, DynamoDbIdempotencyStoreBuilder, DynamoDbTableError,
    STATUS_ATTRIBUTE, TOKEN_ATTRIBUTE, TTL_ATTRIBUTE, VALID_UNTIL_ATTRIBUTE,
};
#[cfg(feature = "redis")]
pub use redis_store::{DEFAULT_KEY_PREFIX, RedisIdempotencyStore, RedisIdempotencyStoreBuilder};
