//! DynamoDB specifics: the store on a local endpoint, and what `create_table` and the items look like (the
//! layout the README documents: an `id` string key, `status`, `lease_token`, `valid_until_ms`, and the TTL
//! attribute `expires_at` in epoch seconds, with Time to Live enabled on it).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::types::AttributeValue;
use sqskit::IdempotencyKey;
use sqskit::consumer::{Begin, IdempotencyStore};
use sqskit::stores::DynamoDbIdempotencyStore;

use crate::servers::MotoServer;

/// An SDK configuration for a local endpoint, isolated from the machine's AWS settings.
pub fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("test", "test", None, None, "tests")))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .build()
}

/// A store on `table` at the server.
pub async fn store(server: &MotoServer, table: &str) -> DynamoDbIdempotencyStore {
    DynamoDbIdempotencyStore::builder(&sdk_config(&server.endpoint()), table).build().expect("store")
}

fn epoch_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).expect("after the epoch").as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_is_idempotent_enables_ttl_and_items_follow_the_documented_layout() {
    let Some(server) = MotoServer::start() else { return };
    let store = store(&server, "sqskit-layout").await;
    store.create_table().await.expect("create");
    store.create_table().await.expect("a second call finds the table and TTL in place");

    let ttl = store.client().describe_time_to_live().table_name("sqskit-layout").send().await.expect("ttl");
    let ttl = ttl.time_to_live_description().expect("a TTL description");
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status().map(|status| status.as_str()), Some("ENABLED"));

    let key = IdempotencyKey::from("order-7");
    let lease_until = SystemTime::now() + Duration::from_secs(30);
    let Ok(Begin::Acquired(token)) = store.try_begin(&key, lease_until).await else { panic!("acquire") };
    let item = |store: DynamoDbIdempotencyStore| async move {
        store
            .client()
            .get_item()
            .table_name("sqskit-layout")
            .key("id", AttributeValue::S("order-7".to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("get")
            .item
            .expect("the item exists")
    };
    let leased = item(store.clone()).await;
    assert_eq!(leased["status"], AttributeValue::S("IN_PROGRESS".to_owned()));
    assert_eq!(leased["lease_token"], AttributeValue::S(token.as_str().to_owned()));
    let valid_until: u64 = leased["valid_until_ms"].as_n().expect("number").parse().expect("integer");
    let lease_ms = lease_until.duration_since(UNIX_EPOCH).expect("epoch").as_millis() as u64;
    assert_eq!(valid_until, lease_ms);
    assert_eq!(leased["expires_at"], AttributeValue::N(lease_ms.div_ceil(1_000).to_string()));

    let expires_at = SystemTime::now() + Duration::from_secs(3_600);
    store.complete(&key, &token, expires_at).await.expect("complete");
    let completed = item(store.clone()).await;
    assert_eq!(completed["status"], AttributeValue::S("COMPLETED".to_owned()));
    let ttl: u64 = completed["expires_at"].as_n().expect("number").parse().expect("integer");
    assert!((epoch_secs(expires_at)..=epoch_secs(expires_at) + 1).contains(&ttl), "TTL in epoch seconds: {ttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_is_an_unavailable_store_that_names_the_fix() {
    let Some(server) = MotoServer::start() else { return };
    let store = store(&server, "sqskit-never-created").await;
    let error = store.try_begin(&IdempotencyKey::from("k"), SystemTime::now() + Duration::from_secs(5)).await;
    let message = format!("{:?}", error.expect_err("no table"));
    assert!(message.contains("Unavailable") && message.contains("create_table"), "{message}");
}

#[tokio::test]
async fn invalid_settings_are_refused_before_any_request() {
    let config = sdk_config("http://127.0.0.1:9");
    for (table, why) in [("ab", "too short"), ("orders table", "a space")] {
        let built = DynamoDbIdempotencyStore::builder(&config, table).build();
        assert!(built.is_err(), "table name {table:?} ({why}) must be refused");
    }
    assert!(DynamoDbIdempotencyStore::builder(&config, "orders").key_attribute("").build().is_err());
    assert!(DynamoDbIdempotencyStore::builder(&config, "orders").operation_timeout(Duration::ZERO).build().is_err());
    assert!(DynamoDbIdempotencyStore::builder(&config, "orders").max_attempts(0).build().is_err());
}
