//! Consumer scenarios, each a `pub async fn(&TestContext)` written against `Arc<dyn SqsBackend>` only.

pub mod basics;
pub mod crashes;
pub mod dead_letters;
pub mod fifo;
pub mod health;
pub mod idempotency;
pub mod shutdown;
pub mod throttling;
pub mod timeouts;
pub mod timing;
