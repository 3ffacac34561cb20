//! The store conformance scenarios: what every [`IdempotencyStore`] must do, written once against the trait
//! and run on every row (memory, Redis, DynamoDB). Each scenario gets two handles on the same store (for
//! Redis and DynamoDB two separate clients, as two consumer processes would hold) and its own keys. Time is
//! real: leases of a few hundred milliseconds, and sleeps past them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sqskit::IdempotencyKey;
use sqskit::consumer::{Begin, IdempotencyStore, LeaseToken, StoreError};

/// Two handles on one store, and a prefix that makes this scenario's keys its own.
#[derive(Clone)]
pub struct Stores {
    /// The first "process".
    pub a: Arc<dyn IdempotencyStore>,
    /// The second "process", sharing a's records through the store.
    pub b: Arc<dyn IdempotencyStore>,
    /// Unique per scenario run.
    pub prefix: String,
}

impl Stores {
    fn key(&self, name: &str) -> IdempotencyKey {
        IdempotencyKey::from(format!("{}{name}", self.prefix))
    }
}

/// A lease short enough to wait out, and long enough for the two or three requests a scenario makes while it
/// holds: the scenarios run at once, and the racing ones queue hundreds of requests on a single-threaded
/// server (moto answers about 130 a second, fewer on a busy machine).
const SHORT: Duration = Duration::from_millis(2_000);
/// Comfortably past [`SHORT`].
const PAST_SHORT: Duration = Duration::from_millis(2_500);
/// A lease no scenario outlives.
const LONG: Duration = Duration::from_secs(60);

fn in_(duration: Duration) -> SystemTime {
    SystemTime::now() + duration
}

async fn acquire(store: &dyn IdempotencyStore, key: &IdempotencyKey, lease: Duration) -> LeaseToken {
    match store.try_begin(key, in_(lease)).await {
        Ok(Begin::Acquired(token)) => token,
        other => panic!("expected to acquire {key}, got {other:?}"),
    }
}

fn assert_lost(result: Result<(), StoreError>, what: &str) {
    assert!(matches!(result, Err(StoreError::LeaseLost { .. })), "{what}: expected LeaseLost, got {result:?}");
}

fn assert_close(actual: SystemTime, expected: SystemTime, what: &str) {
    let gap = actual.duration_since(expected).unwrap_or_else(|early| early.duration());
    assert!(gap <= Duration::from_millis(300), "{what}: {actual:?} is {gap:?} away from {expected:?}");
}

/// 32 callers (16 on each handle) race for one key: exactly one acquires, every other one is told the key is
/// in progress until the winner's lease ends.
pub async fn racing_try_begin_acquires_exactly_once(stores: Stores) {
    let key = stores.key("race");
    let lease_until = in_(LONG);
    let calls = (0..32).map(|i| {
        let store = if i % 2 == 0 { stores.a.clone() } else { stores.b.clone() };
        let key = key.clone();
        tokio::spawn(async move { store.try_begin(&key, lease_until).await })
    });
    let mut acquired = 0;
    for call in calls.collect::<Vec<_>>() {
        match call.await.expect("task") {
            Ok(Begin::Acquired(_)) => acquired += 1,
            Ok(Begin::InProgress { until }) => assert_close(until, lease_until, "the winner's lease end"),
            other => panic!("unexpected answer in the race: {other:?}"),
        }
    }
    assert_eq!(acquired, 1, "exactly one of 32 racing callers acquires");
}

/// Two handles race over 200 keys at once: every key is acquired exactly once in all.
pub async fn racing_over_many_keys_acquires_each_once(stores: Stores) {
    let keys: Vec<IdempotencyKey> = (0..200).map(|i| stores.key(&format!("many-{i}"))).collect();
    let run = |store: Arc<dyn IdempotencyStore>, keys: Vec<IdempotencyKey>| {
        tokio::spawn(async move {
            let mut won = Vec::new();
            for key in keys {
                if let Ok(Begin::Acquired(_)) = store.try_begin(&key, in_(LONG)).await {
                    won.push(key);
                }
            }
            won
        })
    };
    let mut reversed = keys.clone();
    reversed.reverse();
    let (a, b) = (run(stores.a.clone(), keys.clone()), run(stores.b.clone(), reversed));
    let (mut won, won_b) = (a.await.expect("task"), b.await.expect("task"));
    won.extend(won_b);
    won.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    let mut expected = keys;
    expected.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    assert_eq!(won, expected, "every key acquired once, by one handle or the other");
}

/// A lease that ran out is taken over by the next caller; the stale holder can then neither extend, complete
/// nor abandon, and the new holder can.
pub async fn an_expired_lease_is_taken_over_and_the_stale_holder_cannot_act(stores: Stores) {
    let key = stores.key("takeover");
    let stale = acquire(stores.a.as_ref(), &key, SHORT).await;
    assert!(matches!(stores.b.try_begin(&key, in_(LONG)).await, Ok(Begin::InProgress { .. })));
    tokio::time::sleep(PAST_SHORT).await;

    let fresh = acquire(stores.b.as_ref(), &key, LONG).await;
    assert_ne!(stale, fresh);
    assert_lost(stores.a.extend(&key, &stale, in_(LONG)).await, "extend by the stale holder");
    assert_lost(stores.a.complete(&key, &stale, in_(LONG)).await, "complete by the stale holder");
    assert_lost(stores.a.abandon(&key, &stale).await, "abandon by the stale holder");
    assert!(matches!(stores.a.try_begin(&key, in_(LONG)).await, Ok(Begin::InProgress { .. })));

    stores.b.extend(&key, &fresh, in_(LONG)).await.expect("the new holder extends");
    stores.b.complete(&key, &fresh, in_(LONG)).await.expect("the new holder completes");
    assert_eq!(stores.a.try_begin(&key, in_(LONG)).await.ok(), Some(Begin::Completed));
}

/// A lease that ran out cannot be extended or completed even when nobody took it over.
pub async fn an_expired_lease_cannot_be_extended_or_completed(stores: Stores) {
    let key = stores.key("lapsed");
    let token = acquire(stores.a.as_ref(), &key, SHORT).await;
    tokio::time::sleep(PAST_SHORT).await;
    assert_lost(stores.a.extend(&key, &token, in_(LONG)).await, "extend after expiry");
    assert_lost(stores.a.complete(&key, &token, in_(LONG)).await, "complete after expiry");
    acquire(stores.b.as_ref(), &key, LONG).await;
}

/// Only the holder extends, and an extension keeps the key in progress past the original lease end.
pub async fn only_the_holder_extends_and_an_extension_holds_the_key(stores: Stores) {
    let key = stores.key("extend");
    let token = acquire(stores.a.as_ref(), &key, SHORT).await;
    assert_lost(stores.b.extend(&key, &LeaseToken::random(), in_(LONG)).await, "extend with another token");
    let extended_until = in_(Duration::from_secs(30));
    stores.a.extend(&key, &token, extended_until).await.expect("the holder extends");
    tokio::time::sleep(PAST_SHORT).await;
    match stores.b.try_begin(&key, in_(LONG)).await {
        Ok(Begin::InProgress { until }) => assert_close(until, extended_until, "the extended lease end"),
        other => panic!("the extended lease must still hold the key, got {other:?}"),
    }
    stores.a.complete(&key, &token, in_(LONG)).await.expect("the holder completes after extending");
}

/// Completion: every later caller, on either handle, is told the key is completed; only the holder completes.
pub async fn completion_is_by_the_holder_and_seen_by_everyone(stores: Stores) {
    let key = stores.key("complete");
    let token = acquire(stores.a.as_ref(), &key, LONG).await;
    assert_lost(stores.b.complete(&key, &LeaseToken::random(), in_(LONG)).await, "complete with another token");
    stores.a.complete(&key, &token, in_(LONG)).await.expect("the holder completes");
    for store in [&stores.a, &stores.b] {
        assert_eq!(store.try_begin(&key, in_(LONG)).await.ok(), Some(Begin::Completed));
    }
    assert_lost(stores.a.extend(&key, &token, in_(LONG)).await, "extend after completion");
    assert_lost(stores.a.abandon(&key, &token).await, "abandon after completion");
    assert_eq!(stores.b.try_begin(&key, in_(LONG)).await.ok(), Some(Begin::Completed));
}

/// Abandon frees the key at once for a retry; only the holder abandons, and only once.
pub async fn abandon_frees_the_key_for_a_retry(stores: Stores) {
    let key = stores.key("abandon");
    let token = acquire(stores.a.as_ref(), &key, LONG).await;
    assert_lost(stores.b.abandon(&key, &LeaseToken::random()).await, "abandon with another token");
    assert!(matches!(stores.b.try_begin(&key, in_(LONG)).await, Ok(Begin::InProgress { .. })));
    stores.a.abandon(&key, &token).await.expect("the holder abandons");
    assert_lost(stores.a.abandon(&key, &token).await, "a second abandon");
    assert_lost(stores.a.complete(&key, &token, in_(LONG)).await, "complete after abandon");
    let retry = acquire(stores.b.as_ref(), &key, LONG).await;
    stores.b.complete(&key, &retry, in_(LONG)).await.expect("the retry completes");
}

/// A completed record is remembered until its expiry, then forgotten: the key can be processed again.
pub async fn completed_records_expire(stores: Stores) {
    let key = stores.key("ttl");
    let token = acquire(stores.a.as_ref(), &key, LONG).await;
    stores.a.complete(&key, &token, in_(SHORT)).await.expect("complete with a short record lifetime");
    assert_eq!(stores.b.try_begin(&key, in_(LONG)).await.ok(), Some(Begin::Completed));
    tokio::time::sleep(PAST_SHORT).await;
    acquire(stores.b.as_ref(), &key, LONG).await;
}

/// Keys are independent, and a lease's end is reported as given.
pub async fn keys_are_independent(stores: Stores) {
    let (first, second) = (stores.key("one"), stores.key("two"));
    let lease_until = in_(Duration::from_secs(45));
    let token = acquire(stores.a.as_ref(), &first, LONG).await;
    acquire(stores.a.as_ref(), &second, LONG).await;
    stores.a.complete(&first, &token, in_(LONG)).await.expect("complete the first");
    assert_eq!(stores.b.try_begin(&first, lease_until).await.ok(), Some(Begin::Completed));
    assert!(matches!(stores.b.try_begin(&second, lease_until).await, Ok(Begin::InProgress { .. })));
    let third = stores.key("three");
    let third_until = in_(Duration::from_secs(45));
    assert!(matches!(stores.b.try_begin(&third, third_until).await, Ok(Begin::Acquired(_))));
    match stores.a.try_begin(&third, in_(LONG)).await {
        Ok(Begin::InProgress { until }) => assert_close(until, third_until, "the third key's lease end"),
        other => panic!("expected the third key in progress, got {other:?}"),
    }
}
