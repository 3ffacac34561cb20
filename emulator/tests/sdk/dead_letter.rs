//! ListDeadLetterSourceQueues through `aws-sdk-sqs` (outside sqskit's `SqsBackend` trait): pagination, an
//! untargeted queue, a missing queue. Redrive policies and the dead-letter move are conformance scenarios
//! (`tests/conformance/scenarios/dead_letter.rs`).

use std::collections::BTreeSet;

use crate::common::TestEnv;

fn redrive(target: &str, max_receive_count: u32) -> String {
    format!(r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":{max_receive_count}}}"#, TestEnv::arn_of(target))
}

// ---------------------------------------------------------------------------------------------------------------
// ListDeadLetterSourceQueues
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_dead_letter_source_queues_pages_through_three_sources() {
    // given three sources of one DLQ, and a queue with another DLQ
    let env = TestEnv::start().await;
    let dlq = env.create_queue("dlq").await;
    env.create_queue("other-dlq").await;
    let mut expected = BTreeSet::new();
    for name in ["src-a", "src-b", "src-c"] {
        expected.insert(env.create_queue_with(name, &[("RedrivePolicy", &redrive("dlq", 3))]).await);
    }
    env.create_queue_with("unrelated", &[("RedrivePolicy", &redrive("other-dlq", 3))]).await;

    // when listed two at a time
    let page1 = env.client.list_dead_letter_source_queues().queue_url(&dlq).max_results(2).send().await.unwrap();
    let token = page1.next_token().expect("NextToken after a full page").to_owned();
    let page2 = env
        .client
        .list_dead_letter_source_queues()
        .queue_url(&dlq)
        .max_results(2)
        .next_token(token)
        .send()
        .await
        .unwrap();

    // then the pages hold the three sources once each, and the last page has no token
    assert_eq!(page1.queue_urls().len(), 2);
    assert_eq!(page2.queue_urls().len(), 1);
    assert_eq!(page2.next_token(), None);
    let got: BTreeSet<String> = page1.queue_urls().iter().chain(page2.queue_urls()).cloned().collect();
    assert_eq!(got, expected);

    // and without MaxResults all three come at once
    let all = env.client.list_dead_letter_source_queues().queue_url(&dlq).send().await.unwrap();
    assert_eq!(all.queue_urls().iter().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(all.next_token(), None);
    env.shutdown().await;
}

#[tokio::test]
async fn list_dead_letter_source_queues_of_a_queue_nobody_targets_is_empty() {
    let env = TestEnv::start().await;
    let lonely = env.create_queue("lonely").await;

    let out = env.client.list_dead_letter_source_queues().queue_url(&lonely).send().await.unwrap();

    assert!(out.queue_urls().is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn list_dead_letter_source_queues_of_a_missing_queue_is_queue_does_not_exist() {
    let env = TestEnv::start().await;

    let err = env.client.list_dead_letter_source_queues().queue_url(env.missing_queue_url()).send().await.unwrap_err();

    crate::support::expect_no_such_queue(err);
    env.shutdown().await;
}
