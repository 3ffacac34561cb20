//! Queue lifecycle through `aws-sdk-sqs`: CreateQueue (idempotency, name rules, recently-deleted names),
//! GetQueueUrl, ListQueues (prefix and pagination), DeleteQueue and the tag actions (SPEC §6).

use std::collections::{BTreeSet, HashMap};

use crate::common::{TestEnv, expect_service_error};
use aws_sdk_sqs::operation::create_queue::CreateQueueError;
use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError;
use aws_sdk_sqs::types::QueueAttributeName;

#[tokio::test]
async fn create_queue_returns_url_built_from_endpoint_account_and_name() {
    let env = TestEnv::start().await;

    let out = env.client.create_queue().queue_name("orders").send().await.unwrap();

    assert_eq!(out.queue_url(), Some(format!("{}/000000000000/orders", env.endpoint).as_str()));
    env.shutdown().await;
}

#[tokio::test]
async fn get_queue_url_returns_url_of_existing_queue() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let out = env.client.get_queue_url().queue_name("orders").send().await.unwrap();

    assert_eq!(out.queue_url(), Some(url.as_str()));
    env.shutdown().await;
}

#[tokio::test]
async fn get_queue_url_matches_names_case_sensitively() {
    let env = TestEnv::start().await;
    env.create_queue("orders").await;

    let err = env.client.get_queue_url().queue_name("Orders").send().await.unwrap_err();

    let se = expect_service_error(err, 400, "AWS.SimpleQueueService.NonExistentQueue", crate::common::NO_QUEUE_MESSAGE);
    assert!(matches!(se, GetQueueUrlError::QueueDoesNotExist(_)), "{se:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn create_queue_with_same_attributes_returns_same_url() {
    let env = TestEnv::start().await;
    let first = env.create_queue_with("orders", &[("VisibilityTimeout", "60"), ("DelaySeconds", "5")]).await;

    let second = env.create_queue_with("orders", &[("VisibilityTimeout", "60"), ("DelaySeconds", "5")]).await;

    assert_eq!(first, second);
    assert_eq!(env.attributes(&first).await["VisibilityTimeout"], "60");
    env.shutdown().await;
}

#[tokio::test]
async fn create_queue_without_attributes_on_existing_queue_returns_existing_url_unchanged() {
    let env = TestEnv::start().await;
    let first = env.create_queue_with("orders", &[("VisibilityTimeout", "60")]).await;

    let second = env.create_queue("orders").await;

    assert_eq!(first, second);
    assert_eq!(env.attributes(&first).await["VisibilityTimeout"], "60");
    env.shutdown().await;
}

#[tokio::test]
async fn create_queue_with_differing_attribute_fails_with_queue_name_exists() {
    let env = TestEnv::start().await;
    let url = env.create_queue_with("orders", &[("VisibilityTimeout", "60")]).await;

    let err = env
        .client
        .create_queue()
        .queue_name("orders")
        .attributes(QueueAttributeName::VisibilityTimeout, "61")
        .send()
        .await
        .unwrap_err();

    let se = expect_service_error(err, 400, "QueueAlreadyExists", "");
    assert!(matches!(se, CreateQueueError::QueueNameExists(_)), "{se:?}");
    assert_eq!(env.attributes(&url).await["VisibilityTimeout"], "60");
    env.shutdown().await;
}

#[tokio::test]
async fn queue_name_of_80_characters_is_accepted() {
    let env = TestEnv::start().await;
    let name = format!("{}-_{}", "a".repeat(40), "Z9".repeat(19));
    assert_eq!(name.len(), 80);

    let url = env.create_queue(&name).await;

    assert_eq!(url, env.url_of(&name));
    env.shutdown().await;
}

#[tokio::test]
async fn queue_name_of_81_characters_is_rejected_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let name = "a".repeat(81);

    let err = env.client.create_queue().queue_name(&name).send().await.unwrap_err();

    expect_service_error(err, 400, "InvalidParameterValue", "");
    let listed = env.client.list_queues().send().await.unwrap();
    assert!(listed.queue_urls().is_empty(), "{listed:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn queue_names_with_invalid_characters_are_rejected_with_invalid_parameter_value() {
    let env = TestEnv::start().await;

    for name in ["bad name", "bad!name", "bad.name", "bad/name", "bäd", "colon:name"] {
        let err = env.client.create_queue().queue_name(name).send().await.expect_err(name);

        assert_eq!(crate::common::status_of(&err), 400, "{name}");
        let se = err.into_service_error();
        assert_eq!(
            aws_sdk_sqs::error::ProvideErrorMetadata::code(&se),
            Some("InvalidParameterValue"),
            "{name}: {se:?}"
        );
    }
    env.shutdown().await;
}

#[tokio::test]
async fn delete_queue_makes_queue_unreachable() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    env.client.delete_queue().queue_url(&url).send().await.unwrap();

    let err = env.client.get_queue_url().queue_name("orders").send().await.unwrap_err();
    assert!(
        matches!(err.into_service_error(), GetQueueUrlError::QueueDoesNotExist(_)),
        "queue still resolvable after delete"
    );
    let listed = env.client.list_queues().send().await.unwrap();
    assert!(listed.queue_urls().is_empty(), "{listed:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn recreating_a_queue_within_60_seconds_of_deletion_fails_with_queue_deleted_recently() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.client.delete_queue().queue_url(&url).send().await.unwrap();
    env.advance(59);

    let err = env.client.create_queue().queue_name("orders").send().await.unwrap_err();

    let se = expect_service_error(err, 400, "AWS.SimpleQueueService.QueueDeletedRecently", "");
    assert!(matches!(se, CreateQueueError::QueueDeletedRecently(_)), "{se:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn recreating_a_queue_61_seconds_after_deletion_succeeds_with_no_old_messages() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "from the old queue").await;
    env.client.delete_queue().queue_url(&url).send().await.unwrap();
    env.advance(61);

    let again = env.create_queue("orders").await;

    assert_eq!(again, url);
    assert!(env.receive(&again, 10).await.is_empty());
    assert_eq!(env.counts(&again).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn list_queues_filters_by_case_sensitive_prefix() {
    let env = TestEnv::start().await;
    let a = env.create_queue("orders-a").await;
    let b = env.create_queue("orders-b").await;
    env.create_queue("Orders-c").await;
    env.create_queue("payments").await;

    let out = env.client.list_queues().queue_name_prefix("orders").send().await.unwrap();

    let got: BTreeSet<&str> = out.queue_urls().iter().map(String::as_str).collect();
    assert_eq!(got, BTreeSet::from([a.as_str(), b.as_str()]));
    assert!(out.next_token().is_none());
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
async fn list_queues_with_no_queues_returns_no_urls() {
    let env = TestEnv::start().await;

    let out = env.client.list_queues().send().await.unwrap();

    assert!(out.queue_urls().is_empty());
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
