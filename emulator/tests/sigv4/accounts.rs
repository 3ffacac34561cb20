//! Accounts in SigV4 mode: each key's account is its own namespace of queues, and another account's queue can
//! be used only as its Policy allows: denied by default, allowed after AddPermission for that account and
//! action, denied again after RemovePermission.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use sqskit_emulator::auth::{AuthMode, Credential};
use sqskit_emulator::{Emulator, ManualClock, RunningEmulator};

use crate::common::{self, REGION, expect_service_error, sdk_client_as, start_emulator};
use crate::start_sigv4;

const OWNER: &str = "111111111111";
const OTHER: &str = "222222222222";

/// A client signing with `key`, whose secret is `<key>-secret`.
async fn client(endpoint: &str, key: &str) -> Client {
    sdk_client_as(endpoint, key, &format!("{key}-secret"), None).await
}

/// A SigV4 emulator with two accounts, and a client of each: `(emulator, owner, other)`.
async fn start() -> (RunningEmulator, Client, Client) {
    let credentials = vec![
        Credential::new("AKIDOWNER", "AKIDOWNER-secret", OWNER),
        Credential::new("AKIDOTHER", "AKIDOTHER-secret", OTHER),
    ];
    let emu = start_sigv4(ManualClock::new(), credentials).await;
    let owner = client(&emu.endpoint(), "AKIDOWNER").await;
    let other = client(&emu.endpoint(), "AKIDOTHER").await;
    (emu, owner, other)
}

fn denied(url: &str) -> String {
    format!("Access to the resource {url} is denied.")
}

#[tokio::test]
async fn accounts_are_separate_namespaces() {
    let (emu, owner, other) = start().await;
    let mine = owner.create_queue().queue_name("jobs").send().await.unwrap().queue_url.unwrap();
    let theirs = other.create_queue().queue_name("jobs").send().await.unwrap().queue_url.unwrap();
    assert_eq!(mine, format!("{}/{OWNER}/jobs", emu.endpoint()));
    assert_eq!(theirs, format!("{}/{OTHER}/jobs", emu.endpoint()));
    owner.send_message().queue_url(&mine).message_body("owner's").send().await.unwrap();

    let listed = other.list_queues().send().await.unwrap().queue_urls.unwrap();
    assert_eq!(listed, vec![theirs.clone()]);
    let received = other.receive_message().queue_url(&theirs).send().await.unwrap();
    assert!(received.messages.unwrap_or_default().is_empty(), "the other account's same-named queue is empty");
    let arn = other
        .get_queue_attributes()
        .queue_url(&theirs)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    assert_eq!(arn, format!("arn:aws:sqs:{REGION}:{OTHER}:jobs"));
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn cross_account_access_follows_add_and_remove_permission() {
    let (emu, owner, other) = start().await;
    let url = owner.create_queue().queue_name("shared").send().await.unwrap().queue_url.unwrap();

    // Denied by default, for every kind of request.
    let error = other.send_message().queue_url(&url).message_body("x").send().await.unwrap_err();
    expect_service_error(error, 403, "AccessDenied", &denied(&url));
    let error = other.get_queue_url().queue_name("shared").queue_owner_aws_account_id(OWNER).send().await;
    expect_service_error(error.unwrap_err(), 403, "AccessDenied", "is denied.");

    // Allowed after AddPermission for that account and action (and the batch form), nothing else.
    owner
        .add_permission()
        .queue_url(&url)
        .label("other-sends")
        .aws_account_ids(OTHER)
        .actions("SendMessage")
        .actions("GetQueueUrl")
        .send()
        .await
        .unwrap();
    other.send_message().queue_url(&url).message_body("from other").send().await.unwrap();
    let entry = SendMessageBatchRequestEntry::builder().id("1").message_body("batched").build().unwrap();
    let batch = other.send_message_batch().queue_url(&url).entries(entry).send().await.unwrap();
    assert_eq!(batch.successful.len(), 1);
    let found = other.get_queue_url().queue_name("shared").queue_owner_aws_account_id(OWNER).send().await.unwrap();
    assert_eq!(found.queue_url.as_deref(), Some(url.as_str()));
    let error = other.receive_message().queue_url(&url).send().await.unwrap_err();
    expect_service_error(error, 403, "AccessDenied", &denied(&url));
    let error = other.delete_queue().queue_url(&url).send().await.unwrap_err();
    expect_service_error(error, 403, "AccessDenied", &denied(&url));

    // Denied again after RemovePermission.
    owner.remove_permission().queue_url(&url).label("other-sends").send().await.unwrap();
    let error = other.send_message().queue_url(&url).message_body("x").send().await.unwrap_err();
    expect_service_error(error, 403, "AccessDenied", &denied(&url));

    // The owner received what was sent while it was allowed.
    let received = owner.receive_message().queue_url(&url).max_number_of_messages(10).send().await.unwrap();
    assert_eq!(received.messages.unwrap().len(), 2);
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_public_policy_admits_every_account() {
    let (emu, owner, other) = start().await;
    let url = owner.create_queue().queue_name("public").send().await.unwrap().queue_url.unwrap();
    let policy =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:ReceiveMessage"}]}"#;
    owner.set_queue_attributes().queue_url(&url).attributes(QueueAttributeName::Policy, policy).send().await.unwrap();
    other.receive_message().queue_url(&url).send().await.unwrap();
    let error = other.send_message().queue_url(&url).message_body("x").send().await.unwrap_err();
    expect_service_error(error, 403, "AccessDenied", &denied(&url));
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn with_auth_off_other_accounts_queues_do_not_exist() {
    let env = common::TestEnv::start().await;
    env.create_queue("q").await;
    let elsewhere = format!("{}/{OTHER}/q", env.endpoint);
    let error = env.client.send_message().queue_url(&elsewhere).message_body("x").send().await.unwrap_err();
    expect_service_error(error, 400, "AWS.SimpleQueueService.NonExistentQueue", common::NO_QUEUE_MESSAGE);
    env.shutdown().await;
}

#[tokio::test]
async fn durable_mode_keeps_each_queue_in_its_account() {
    let dir = tempfile::tempdir().unwrap();
    let start = || async {
        let credentials = vec![Credential::new("AKIDOTHER", "AKIDOTHER-secret", OTHER)];
        start_emulator(Emulator::builder().data_dir(dir.path()).auth(AuthMode::Sigv4).credentials(credentials)).await
    };
    let emu = start().await;
    let other = client(&emu.endpoint(), "AKIDOTHER").await;
    let url = other.create_queue().queue_name("kept").send().await.unwrap().queue_url.unwrap();
    other.send_message().queue_url(&url).message_body("survives").send().await.unwrap();
    emu.shutdown().await.unwrap();

    let emu = start().await;
    let other = client(&emu.endpoint(), "AKIDOTHER").await;
    let listed = other.list_queues().send().await.unwrap().queue_urls.unwrap();
    assert_eq!(listed, vec![format!("{}/{OTHER}/kept", emu.endpoint())]);
    let received = other.receive_message().queue_url(&listed[0]).send().await.unwrap().messages.unwrap();
    assert_eq!(received[0].body.as_deref(), Some("survives"));
    assert!(emu.engine().list_queues(None, None, None).unwrap().names.is_empty(), "not in the default account");
    emu.shutdown().await.unwrap();
}

/// `SenderId` is the sending account (root credentials: the account id), also when another account sends into
/// a queue it was granted (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html>).
#[tokio::test]
async fn sender_id_is_the_sending_account() {
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    let (emu, owner, other) = start().await;
    let url = owner.create_queue().queue_name("shared").send().await.unwrap().queue_url.unwrap();
    owner
        .add_permission()
        .queue_url(&url)
        .label("other")
        .aws_account_ids(OTHER)
        .actions("SendMessage")
        .send()
        .await
        .unwrap();

    owner.send_message().queue_url(&url).message_body("from owner").send().await.unwrap();
    other.send_message().queue_url(&url).message_body("from other").send().await.unwrap();

    let messages = owner
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::SenderId)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    let sender = |body: &str| {
        let message = messages.iter().find(|m| m.body() == Some(body)).unwrap();
        message.attributes().and_then(|a| a.get(&MessageSystemAttributeName::SenderId)).cloned()
    };
    assert_eq!(sender("from owner").as_deref(), Some(OWNER));
    assert_eq!(sender("from other").as_deref(), Some(OTHER));
    emu.shutdown().await.unwrap();
}
