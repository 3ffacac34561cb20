//! Long polls wake for every change that can make a message receivable, not only for new sends: a FIFO delete
//! that unblocks a group, and a visibility change that moves a deadline earlier.

use std::time::Duration;

use crate::common::TestEnv;

#[tokio::test]
async fn deleting_a_fifo_message_wakes_a_poll_waiting_for_its_group() {
    let env = TestEnv::start().await;
    let url = env.create_queue_with("wake.fifo", &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]).await;
    for body in ["first", "second"] {
        env.client.send_message().queue_url(&url).message_body(body).message_group_id("g").send().await.expect("send");
    }
    let first = env.client.receive_message().queue_url(&url).send().await.expect("receive").messages.expect("one");
    let client = env.client.clone();
    let poll_url = url.clone();
    let waiting = tokio::spawn(async move {
        client.receive_message().queue_url(&poll_url).wait_time_seconds(20).send().await.expect("long poll")
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!waiting.is_finished(), "the group is blocked while its first message is in flight");

    let handle = first[0].receipt_handle().expect("handle");
    env.client.delete_message().queue_url(&url).receipt_handle(handle).send().await.expect("delete");

    let woken = tokio::time::timeout(Duration::from_secs(2), waiting).await.expect("woken at once").expect("task");
    assert_eq!(woken.messages()[0].body(), Some("second"));
    env.shutdown().await;
}

#[tokio::test]
async fn shortening_a_visibility_timeout_wakes_a_poll_at_the_new_deadline() {
    let env = TestEnv::start().await;
    let url = env.create_queue("wake").await;
    env.send(&url, "held").await;
    let held = env.client.receive_message().queue_url(&url).visibility_timeout(30).send().await.expect("receive");
    let handle = held.messages()[0].receipt_handle().expect("handle").to_owned();
    let client = env.client.clone();
    let poll_url = url.clone();
    let waiting = tokio::spawn(async move {
        client.receive_message().queue_url(&poll_url).wait_time_seconds(20).send().await.expect("long poll")
    });
    tokio::time::sleep(Duration::from_millis(150)).await;

    env.client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&handle)
        .visibility_timeout(10)
        .send()
        .await
        .expect("change");
    env.advance(10);

    let woken = tokio::time::timeout(Duration::from_secs(2), waiting).await.expect("woken at 10 s").expect("task");
    assert_eq!(woken.messages()[0].body(), Some("held"));
    env.shutdown().await;
}
