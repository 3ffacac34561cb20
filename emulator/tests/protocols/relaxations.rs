//! The test relaxations over the Query protocol: `QueueDeletedRecently` as a Query client sees it (on by
//! default, as on AWS), the switch that turns it off, and `POST /_sqskit/reset` seen through Query calls.
//! The JSON side (through `aws-sdk-sqs`) is in `tests/instrument/reset.rs`.

use crate::common::raw_request;
use crate::support::QueryEnv;

#[tokio::test]
async fn queue_deleted_recently_over_query_and_its_switch() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("again", &[]).await;
    env.call("DeleteQueue", &[("QueueUrl", &url)]).await.success("DeleteQueue");
    let message = env.call("CreateQueue", &[("QueueName", "again")]).await.error(
        400,
        "Sender",
        "AWS.SimpleQueueService.QueueDeletedRecently",
    );
    assert_eq!(
        message,
        "You must wait 60 seconds after deleting a queue before you can create another with the same name."
    );
    env.advance(60);
    env.create_queue("again", &[]).await;
    env.shutdown().await;

    let env = QueryEnv::start_with(|builder| builder.queue_deleted_recently(false)).await;
    for _ in 0..3 {
        let url = env.create_queue("again", &[]).await;
        env.call("DeleteQueue", &[("QueueUrl", &url)]).await.success("DeleteQueue");
    }
    env.shutdown().await;
}

#[tokio::test]
async fn a_reset_empties_what_query_clients_see() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("before-reset", &[]).await;
    env.ok("SendMessage", &[("QueueUrl", &url), ("MessageBody", "old")]).await;
    let deleted = env.create_queue("deleted", &[]).await;
    env.call("DeleteQueue", &[("QueueUrl", &deleted)]).await.success("DeleteQueue");
    let reset = raw_request(&env.endpoint, "POST", "/_sqskit/reset", &[], Vec::new()).await;
    assert_eq!(reset.status, 200);
    assert_eq!(reset.json()["deleted_queues"], 1);
    let listed = env.ok("ListQueues", &[]).await;
    assert!(listed.all("QueueUrl").is_empty(), "{listed:?}");
    env.call("GetQueueUrl", &[("QueueName", "before-reset")]).await.error(
        400,
        "Sender",
        "AWS.SimpleQueueService.NonExistentQueue",
    );
    // The deleted name is free again, and a recreated queue starts empty.
    env.create_queue("deleted", &[]).await;
    let url = env.create_queue("before-reset", &[]).await;
    let received = env.ok("ReceiveMessage", &[("QueueUrl", &url)]).await;
    assert!(received.all("Message").is_empty(), "{received:?}");
    env.shutdown().await;
}
