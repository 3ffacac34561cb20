//! Regions: one emulator serves every region, each its own namespace, as AWS's regional endpoints do for one
//! account. Two `aws-sdk-sqs` clients on the same endpoint, configured for us-east-1 and eu-west-1, are two
//! regions' clients: the region comes from each request's SigV4 credential scope. Sources in
//! docs/aws-behaviour.md ("Regions").

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::common::{ACCOUNT, TestEnv, expect_service_error, raw_request, sdk_client_in};
use crate::support::expect_no_such_queue;

const IRELAND: &str = "eu-west-1";

/// The environment's us-east-1 client and a second client of the same endpoint in eu-west-1.
async fn two_regions() -> (TestEnv, Client) {
    let env = TestEnv::start().await;
    let ireland = sdk_client_in(&env.endpoint, IRELAND).await;
    (env, ireland)
}

async fn create(client: &Client, name: &str, attributes: &[(&str, &str)]) -> String {
    let mut request = client.create_queue().queue_name(name);
    for (key, value) in attributes {
        request = request.attributes(QueueAttributeName::from(*key), *value);
    }
    request.send().await.expect("create queue").queue_url().expect("queue url").to_owned()
}

async fn attribute(client: &Client, url: &str, name: QueueAttributeName) -> String {
    let output =
        client.get_queue_attributes().queue_url(url).attribute_names(name.clone()).send().await.expect("attributes");
    output.attributes().and_then(|attributes| attributes.get(&name)).cloned().expect("attribute present")
}

async fn list(client: &Client) -> Vec<String> {
    client.list_queues().send().await.expect("list queues").queue_urls().to_vec()
}

fn redrive_policy(target_arn: &str) -> String {
    format!(r#"{{"deadLetterTargetArn":"{target_arn}","maxReceiveCount":"1"}}"#)
}

#[tokio::test]
async fn a_queue_created_in_one_region_is_invisible_in_another() {
    let (env, ireland) = two_regions().await;
    let url = create(&ireland, "orders", &[("VisibilityTimeout", "45")]).await;
    assert_eq!(url, env.url_of("orders"), "the path names the account and the queue");

    expect_no_such_queue(env.client.get_queue_url().queue_name("orders").send().await.unwrap_err());
    assert_eq!(list(&env.client).await, Vec::<String>::new(), "us-east-1 lists nothing");
    assert_eq!(list(&ireland).await, vec![url.clone()]);
    expect_no_such_queue(env.client.send_message().queue_url(&url).message_body("x").send().await.unwrap_err());
    expect_no_such_queue(env.client.get_queue_attributes().queue_url(&url).send().await.unwrap_err());
    assert_eq!(
        attribute(&ireland, &url, QueueAttributeName::QueueArn).await,
        format!("arn:aws:sqs:{IRELAND}:{ACCOUNT}:orders")
    );

    // The same name in us-east-1 is another queue, with its own attributes and messages.
    let here = create(&env.client, "orders", &[("VisibilityTimeout", "10")]).await;
    assert_eq!(here, url, "same account, same name: the same URL path");
    assert_eq!(attribute(&env.client, &here, QueueAttributeName::VisibilityTimeout).await, "10");
    assert_eq!(attribute(&ireland, &url, QueueAttributeName::VisibilityTimeout).await, "45");
    assert_eq!(
        attribute(&env.client, &here, QueueAttributeName::QueueArn).await,
        format!("arn:aws:sqs:us-east-1:{ACCOUNT}:orders")
    );
    ireland.send_message().queue_url(&url).message_body("for Ireland").send().await.expect("send");
    assert!(env.receive(&here, 10).await.is_empty(), "us-east-1's queue holds nothing");
    let received = ireland.receive_message().queue_url(&url).send().await.expect("receive");
    assert_eq!(received.messages()[0].body(), Some("for Ireland"));

    // Deleting one leaves the other.
    ireland.delete_queue().queue_url(&url).send().await.expect("delete in Ireland");
    assert_eq!(list(&env.client).await, vec![here.clone()]);
    expect_no_such_queue(ireland.get_queue_attributes().queue_url(&url).send().await.unwrap_err());
    env.shutdown().await;
}

#[tokio::test]
async fn a_queue_url_whose_host_names_another_region_is_not_found() {
    let (env, ireland) = two_regions().await;
    create(&ireland, "jobs", &[]).await;
    create(&env.client, "jobs", &[]).await;
    // The URL AWS would give for Ireland's queue: a us-east-1 client naming it is answered NonExistentQueue even
    // though us-east-1 has a queue of that name; Ireland's client uses it.
    let irish_url = format!("https://sqs.{IRELAND}.amazonaws.com/{ACCOUNT}/jobs");
    expect_no_such_queue(env.client.send_message().queue_url(&irish_url).message_body("x").send().await.unwrap_err());
    ireland.send_message().queue_url(&irish_url).message_body("x").send().await.expect("sent in Ireland");
    // The legacy form names its region too; `queue.amazonaws.com` is us-east-1.
    let legacy = format!("https://{IRELAND}.queue.amazonaws.com/{ACCOUNT}/jobs");
    expect_no_such_queue(env.client.get_queue_attributes().queue_url(&legacy).send().await.unwrap_err());
    ireland.get_queue_attributes().queue_url(&legacy).send().await.expect("Ireland's legacy URL");
    let virginia = format!("https://queue.amazonaws.com/{ACCOUNT}/jobs");
    env.client.get_queue_attributes().queue_url(&virginia).send().await.expect("us-east-1's legacy URL");
    expect_no_such_queue(ireland.get_queue_attributes().queue_url(&virginia).send().await.unwrap_err());
    env.shutdown().await;
}

#[tokio::test]
async fn a_dead_letter_queue_must_be_in_the_same_region() {
    let (env, ireland) = two_regions().await;
    let dlq = create(&ireland, "dlq", &[]).await;
    let dlq_arn = attribute(&ireland, &dlq, QueueAttributeName::QueueArn).await;

    let refused = env
        .client
        .create_queue()
        .queue_name("source")
        .attributes(QueueAttributeName::RedrivePolicy, redrive_policy(&dlq_arn))
        .send()
        .await
        .unwrap_err();
    expect_service_error(refused, 400, "InvalidParameterValue", "Dead letter target does not exist.");

    let source = create(&ireland, "source", &[("RedrivePolicy", &redrive_policy(&dlq_arn))]).await;
    ireland.send_message().queue_url(&source).message_body("poison").send().await.expect("send");
    let first = ireland.receive_message().queue_url(&source).visibility_timeout(0).send().await.expect("receive");
    assert_eq!(first.messages().len(), 1);
    let second = ireland.receive_message().queue_url(&source).send().await.expect("receive again");
    assert!(second.messages().is_empty(), "moved to the dead-letter queue after one receive");
    let moved = ireland.receive_message().queue_url(&dlq).send().await.expect("receive from the DLQ");
    assert_eq!(moved.messages()[0].body(), Some("poison"));

    let sources = ireland.list_dead_letter_source_queues().queue_url(&dlq).send().await.expect("sources");
    assert_eq!(sources.queue_urls(), std::slice::from_ref(&source));
    expect_no_such_queue(env.client.list_dead_letter_source_queues().queue_url(&dlq).send().await.unwrap_err());
    env.shutdown().await;
}

#[tokio::test]
async fn move_tasks_belong_to_their_region() {
    let (env, ireland) = two_regions().await;
    let dlq = create(&ireland, "redrive-dlq", &[]).await;
    let dlq_arn = attribute(&ireland, &dlq, QueueAttributeName::QueueArn).await;
    let source = create(&ireland, "redrive-source", &[("RedrivePolicy", &redrive_policy(&dlq_arn))]).await;
    ireland.send_message().queue_url(&source).message_body("m").send().await.expect("send");
    ireland.receive_message().queue_url(&source).visibility_timeout(0).send().await.expect("receive");
    ireland.receive_message().queue_url(&source).send().await.expect("dead-letters it");

    let refused = env.client.start_message_move_task().source_arn(&dlq_arn).send().await.unwrap_err();
    expect_service_error(refused, 404, "ResourceNotFoundException", "SourceArn");
    let refused = env.client.list_message_move_tasks().source_arn(&dlq_arn).send().await.unwrap_err();
    expect_service_error(refused, 404, "ResourceNotFoundException", "SourceArn");

    let handle = ireland
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .send()
        .await
        .expect("start in Ireland")
        .task_handle()
        .expect("handle")
        .to_owned();
    // The handle names its source queue, which this region does not have.
    let refused = env.client.cancel_message_move_task().task_handle(&handle).send().await.unwrap_err();
    let no_source = "The resource that you specified for the SourceArn parameter doesn't exist.";
    expect_service_error(refused, 404, "ResourceNotFoundException", no_source);
    // The task moves the message back to its source in Ireland.
    let mut back = Vec::new();
    for _ in 0..50 {
        env.advance(1);
        back = ireland.receive_message().queue_url(&source).send().await.expect("receive").messages().to_vec();
        if !back.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(back[0].body(), Some("m"));
    let tasks = ireland.list_message_move_tasks().source_arn(&dlq_arn).send().await.expect("list in Ireland");
    assert_eq!(tasks.results().len(), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn a_credential_scope_naming_no_region_is_refused() {
    let env = TestEnv::start().await;
    let authorization = "AWS4-HMAC-SHA256 Credential=AKID/20250101/EU_WEST/sqs/aws4_request, \
                         SignedHeaders=host;x-amz-date, Signature=00";
    let response = raw_request(
        &env.endpoint,
        "POST",
        "/",
        &[
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "AmazonSQS.ListQueues"),
            ("x-amz-date", "20250101T000000Z"),
            ("authorization", authorization),
        ],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(response.status, 403, "{:?}", response.json());
    let message = response.json()["message"].as_str().unwrap_or_default().to_owned();
    assert_eq!(message, "Credential should be scoped to a valid region, not 'EU_WEST'. ");
    env.shutdown().await;
}

#[tokio::test]
async fn without_a_signature_a_regional_host_names_the_region() {
    let (env, ireland) = two_regions().await;
    let url = create(&ireland, "hosted", &[]).await;
    let unsigned = |host: &'static str| {
        let endpoint = env.endpoint.clone();
        async move {
            raw_request(
                &endpoint,
                "POST",
                "/",
                &[
                    ("content-type", "application/x-amz-json-1.0"),
                    ("x-amz-target", "AmazonSQS.ListQueues"),
                    ("host", host),
                ],
                b"{}".to_vec(),
            )
            .await
        }
    };
    let listed = unsigned("sqs.eu-west-1.localhost:9324").await.json();
    assert_eq!(
        listed["QueueUrls"][0].as_str(),
        Some(format!("http://sqs.eu-west-1.localhost:9324/{ACCOUNT}/hosted").as_str())
    );
    assert!(url.ends_with("/hosted"));
    let listed = unsigned("localhost:9324").await.json();
    assert_eq!(listed.get("QueueUrls"), None, "the default region (us-east-1) has no queue: {listed}");
    env.shutdown().await;
}
