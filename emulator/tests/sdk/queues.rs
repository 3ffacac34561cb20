//! Queue actions as only `aws-sdk-sqs` sees them (SPEC §6): the URL built from the endpoint, ListQueues'
//! MaxResults and NextToken, and the tag actions, which sqskit's `SqsBackend` trait does not offer. The rest of
//! the queue lifecycle is a conformance scenario (`tests/conformance/scenarios/queue_lifecycle.rs`).

use std::collections::{BTreeSet, HashMap};

use aws_sdk_sqs::types::QueueAttributeName;

use crate::common::{TestEnv, expect_service_error};

#[tokio::test]
async fn create_queue_returns_url_built_from_endpoint_account_and_name() {
    let env = TestEnv::start().await;

    let out = env.client.create_queue().queue_name("orders").send().await.unwrap();

    assert_eq!(out.queue_url(), Some(format!("{}/000000000000/orders", env.endpoint).as_str()));
    env.shutdown().await;
}

#[tokio::test]
async fn list_queues_without_max_results_returns_all_and_no_next_token() {
    let env = TestEnv::start().await;
    for i in 0..5 {
        env.create_queue(&format!("q{i}")).await;
    }

    let out = env.client.list_queues().send().await.unwrap();

    assert_eq!(out.queue_urls().len(), 5);
    assert!(out.next_token().is_none());
    env.shutdown().await;
}

#[tokio::test]
async fn list_queues_paginates_with_max_results_and_next_token_across_three_pages() {
    let env = TestEnv::start().await;
    let mut expected = BTreeSet::new();
    for i in 0..7 {
        expected.insert(env.create_queue(&format!("page-{i}")).await);
    }
    env.create_queue("other-1").await;
    env.create_queue("other-2").await;

    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = env
            .client
            .list_queues()
            .queue_name_prefix("page-")
            .max_results(3)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages.push(out.queue_urls().to_vec());
        token = out.next_token().map(str::to_owned);
        if token.is_none() || pages.len() > 5 {
            break;
        }
    }

    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![3, 3, 1]);
    let all: Vec<String> = pages.concat();
    let unique: BTreeSet<String> = all.iter().cloned().collect();
    assert_eq!(unique.len(), all.len(), "duplicates across pages: {all:?}");
    assert_eq!(unique, expected);
    env.shutdown().await;
}

#[tokio::test]
async fn list_queues_with_max_results_covering_everything_returns_no_next_token() {
    let env = TestEnv::start().await;
    for i in 0..3 {
        env.create_queue(&format!("q{i}")).await;
    }

    let out = env.client.list_queues().max_results(3).send().await.unwrap();

    assert_eq!(out.queue_urls().len(), 3);
    assert!(out.next_token().is_none(), "{out:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn list_queues_with_max_results_out_of_range_fails_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    env.create_queue("q").await;

    for bad in [0, 1001] {
        let err = env.client.list_queues().max_results(bad).send().await.expect_err("out of range MaxResults");

        expect_service_error(err, 400, "InvalidParameterValue", "MaxResults");
    }
    env.shutdown().await;
}

#[tokio::test]
async fn tag_queue_adds_tags_and_overwrites_existing_keys() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.client.tag_queue().queue_url(&url).tags("team", "a").tags("env", "dev").send().await.unwrap();

    env.client.tag_queue().queue_url(&url).tags("team", "b").tags("cost", "").send().await.unwrap();

    let tags = env.client.list_queue_tags().queue_url(&url).send().await.unwrap().tags.unwrap_or_default();
    let expected: HashMap<String, String> =
        [("team", "b"), ("env", "dev"), ("cost", "")].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    assert_eq!(tags, expected);
    env.shutdown().await;
}

#[tokio::test]
async fn untag_queue_removes_given_keys_and_ignores_unknown_ones() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.client.tag_queue().queue_url(&url).tags("team", "a").tags("env", "dev").send().await.unwrap();

    env.client.untag_queue().queue_url(&url).tag_keys("team").tag_keys("never-set").send().await.unwrap();

    let tags = env.client.list_queue_tags().queue_url(&url).send().await.unwrap().tags.unwrap_or_default();
    assert_eq!(tags, HashMap::from([("env".to_owned(), "dev".to_owned())]));
    env.shutdown().await;
}

#[tokio::test]
async fn list_queue_tags_on_untagged_queue_returns_no_tags() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let out = env.client.list_queue_tags().queue_url(&url).send().await.unwrap();

    assert!(out.tags().is_none_or(HashMap::is_empty), "{out:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn create_queue_with_tags_sets_them() {
    let env = TestEnv::start().await;

    let url = env
        .client
        .create_queue()
        .queue_name("orders")
        .tags("team", "a")
        .tags("env", "prod")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();

    let tags = env.client.list_queue_tags().queue_url(&url).send().await.unwrap().tags.unwrap_or_default();
    assert_eq!(tags, HashMap::from([("team".to_owned(), "a".to_owned()), ("env".to_owned(), "prod".to_owned())]));
    env.shutdown().await;
}

/// SSE-KMS and SSE-SQS exclude each other: both in one request fail with AWS's `InvalidAttributeName` text (its
/// recorded answer in LocalStack's AWS-validated snapshot, docs/aws-behaviour.md); one alone replaces the other.
#[tokio::test]
async fn kms_and_sqs_managed_encryption_are_mutually_exclusive() {
    let env = TestEnv::start().await;
    let url = env.create_queue("secret").await;
    assert_eq!(env.attributes(&url).await.get("SqsManagedSseEnabled").map(String::as_str), Some("true"));

    let both = env
        .client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::KmsMasterKeyId, "alias/aws/sqs")
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "true")
        .send()
        .await
        .unwrap_err();
    expect_service_error(
        both,
        400,
        "InvalidAttributeName",
        "You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.",
    );

    env.set_attrs(&url, &[("KmsMasterKeyId", "alias/aws/sqs")]).await;
    let attributes = env.attributes(&url).await;
    assert_eq!(attributes.get("KmsMasterKeyId").map(String::as_str), Some("alias/aws/sqs"));
    assert_eq!(attributes.get("SqsManagedSseEnabled").map(String::as_str), Some("false"));
    env.set_attrs(&url, &[("SqsManagedSseEnabled", "true")]).await;
    let attributes = env.attributes(&url).await;
    assert_eq!(attributes.get("KmsMasterKeyId"), None);
    assert_eq!(attributes.get("SqsManagedSseEnabled").map(String::as_str), Some("true"));

    let created = env
        .client
        .create_queue()
        .queue_name("both")
        .attributes(QueueAttributeName::KmsMasterKeyId, "alias/aws/sqs")
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "true")
        .send()
        .await
        .unwrap_err();
    expect_service_error(created, 400, "InvalidAttributeName", "one type of server-side encryption");
    env.shutdown().await;
}

/// CreateQueue of an existing standard queue with a FIFO-only attribute is answered as for a new standard queue,
/// `InvalidAttributeName` "Unknown Attribute <name>.", not as a different value of the existing queue
/// (docs/aws-behaviour.md).
#[tokio::test]
async fn creating_an_existing_standard_queue_with_a_fifo_only_attribute_is_an_unknown_attribute() {
    let env = TestEnv::start().await;
    env.create_queue("plain").await;
    for name in ["ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"] {
        let value = match name {
            "ContentBasedDeduplication" => "true",
            "DeduplicationScope" => "messageGroup",
            _ => "perMessageGroupId",
        };
        for queue in ["plain", "brand-new"] {
            let err = env
                .client
                .create_queue()
                .queue_name(queue)
                .attributes(QueueAttributeName::from(name), value)
                .send()
                .await
                .unwrap_err();
            expect_service_error(err, 400, "InvalidAttributeName", &format!("Unknown Attribute {name}."));
        }
    }
    env.shutdown().await;
}

/// With `--fifo-quotas`, a FIFO queue takes 300 calls per second per action, and a queue in high-throughput mode
/// (`DeduplicationScope=messageGroup`, `FifoThroughputLimit=perMessageGroupId`) its region's high-throughput quota
/// (us-east-1: 70,000; docs/aws-behaviour.md). The virtual clock stands still, so every call is in one second.
#[tokio::test]
async fn high_throughput_fifo_queues_get_the_higher_quota() {
    use sqskit_emulator::{Emulator, ManualClock};
    let emu = crate::common::start_emulator(Emulator::builder().clock(ManualClock::new()).fifo_quotas(true)).await;
    let client = crate::common::sdk_client(&emu.endpoint()).await;
    let create = |name: &'static str, high: bool| {
        let client = client.clone();
        async move {
            let mut request = client
                .create_queue()
                .queue_name(name)
                .attributes(QueueAttributeName::FifoQueue, "true")
                .attributes(QueueAttributeName::ContentBasedDeduplication, "true");
            if high {
                request = request
                    .attributes(QueueAttributeName::DeduplicationScope, "messageGroup")
                    .attributes(QueueAttributeName::FifoThroughputLimit, "perMessageGroupId");
            }
            request.send().await.unwrap().queue_url.unwrap()
        }
    };
    let normal = create("normal.fifo", false).await;
    let high = create("high.fifo", true).await;

    let send = |url: String, i: usize| {
        let client = client.clone();
        async move {
            client
                .send_message()
                .queue_url(url)
                .message_body(format!("m{i}"))
                .message_group_id(format!("g{}", i % 7))
                .send()
                .await
        }
    };
    let mut accepted = 0;
    let mut throttled = None;
    for i in 0..301 {
        match send(normal.clone(), i).await {
            Ok(_) => accepted += 1,
            Err(err) => throttled = Some(err),
        }
    }
    assert_eq!(accepted, 300);
    expect_service_error(throttled.expect("the 301st call is throttled"), 400, "ThrottlingException", "Rate exceeded");
    for i in 0..400 {
        send(high.clone(), i).await.unwrap_or_else(|e| panic!("high-throughput call {i}: {e:?}"));
    }
    crate::common::stop_emulator(emu).await;
}
