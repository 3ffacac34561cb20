//! The idempotency store conformance suite: the scenarios of `scenarios.rs` on every store, against real
//! servers (no mocks).
//!
//! - `memory`: [`InMemoryIdempotencyStore`], the reference;
//! - `redis`: [`RedisIdempotencyStore`] on Debian's `redis-server`, started on a free port;
//! - `dynamodb`: [`DynamoDbIdempotencyStore`] on `moto_server` (moto\[server\], from the venv
//!   `tests/servers/setup.sh` installs), started on a free port, the table made by `create_table`.
//!
//! Each row is one test that starts its server, runs every scenario concurrently (each on its own keys, each
//! as its own task, so one failure does not hide the others) and names every scenario that failed. Without the
//! server a row skips itself with a note, except under CI or `SQSKIT_REQUIRE_STORE_TESTS=1` (see
//! `tests/support/servers.rs`). `unavailable.rs`: what a store and a consumer do when the store is down.

#[path = "../support/servers.rs"]
mod servers;

mod dynamodb;
mod scenarios;
mod unavailable;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqskit::consumer::{IdempotencyStore, InMemoryIdempotencyStore};
use sqskit::stores::RedisIdempotencyStore;

use scenarios::Stores;

type Scenario = fn(Stores) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), |stores| Box::pin(scenarios::$name(stores)) as Pin<Box<dyn Future<Output = ()> + Send>>)),*]
    };
}

const SCENARIOS: &[(&str, Scenario)] = scenarios![
    racing_try_begin_acquires_exactly_once,
    racing_over_many_keys_acquires_each_once,
    an_expired_lease_is_taken_over_and_the_stale_holder_cannot_act,
    an_expired_lease_cannot_be_extended_or_completed,
    only_the_holder_extends_and_an_extension_holds_the_key,
    completion_is_by_the_holder_and_seen_by_everyone,
    abandon_frees_the_key_for_a_retry,
    completed_records_expire,
    keys_are_independent,
];

/// Runs every scenario on the two handles, concurrently, and fails naming each scenario that failed.
async fn run_all(row: &str, a: Arc<dyn IdempotencyStore>, b: Arc<dyn IdempotencyStore>) {
    let run = uuid::Uuid::new_v4();
    let tasks: Vec<_> = SCENARIOS
        .iter()
        .map(|(name, scenario)| {
            let stores = Stores { a: a.clone(), b: b.clone(), prefix: format!("{run}/{name}/") };
            (*name, tokio::spawn(scenario(stores)))
        })
        .collect();
    let mut failed = Vec::new();
    for (name, task) in tasks {
        if let Err(error) = task.await {
            let message = error
                .try_into_panic()
                .ok()
                .and_then(|panic| {
                    panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                })
                .unwrap_or_else(|| "cancelled".to_owned());
            failed.push(format!("{row}::{name}: {message}"));
        }
    }
    assert!(failed.is_empty(), "{} of {} scenarios failed:\n{}", failed.len(), SCENARIOS.len(), failed.join("\n"));
    eprintln!("{row}: all {} store scenarios passed", SCENARIOS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory() {
    let store: Arc<dyn IdempotencyStore> = Arc::new(InMemoryIdempotencyStore::new());
    run_all("memory", store.clone(), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis() {
    let Some(server) = servers::RedisServer::start() else { return };
    let a = RedisIdempotencyStore::connect(&server.url()).await.expect("connect a");
    let b = RedisIdempotencyStore::connect(&server.url()).await.expect("connect b");
    run_all("redis", Arc::new(a), Arc::new(b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb() {
    let Some(server) = servers::MotoServer::start() else { return };
    let a = dynamodb::store(&server, "sqskit-conformance").await;
    a.create_table().await.expect("create the table");
    let b = dynamodb::store(&server, "sqskit-conformance").await;
    run_all("dynamodb", Arc::new(a), Arc::new(b)).await;
}
