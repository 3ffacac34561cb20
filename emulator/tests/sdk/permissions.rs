//! AddPermission and RemovePermission through `aws-sdk-sqs` (issue 4, SPEC §6): the statements they keep in the
//! queue's Policy attribute (Sid = label, account root principals, `SQS:<action>` actions, the queue as resource),
//! label uniqueness, the 7-action limit, unknown labels, and removal of the Policy with its last statement.

use crate::common::{TestEnv, expect_service_error};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

const OTHER_ACCOUNT: &str = "111122223333";
const THIRD_ACCOUNT: &str = "444455556666";

/// A policy element that AWS writes as a string when single and as a list otherwise.
fn as_list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().map(|i| i.as_str().unwrap().to_owned()).collect(),
        other => panic!("neither a string nor a list: {other}"),
    }
}

async fn add(env: &TestEnv, url: &str, label: &str, accounts: &[&str], actions: &[&str]) {
    env.client
        .add_permission()
        .queue_url(url)
        .label(label)
        .set_aws_account_ids(Some(accounts.iter().map(|a| (*a).to_owned()).collect()))
        .set_actions(Some(actions.iter().map(|a| (*a).to_owned()).collect()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("add permission {label}: {e:?}"));
}

/// The queue's Policy, parsed, if set.
async fn policy(env: &TestEnv, url: &str) -> Option<Value> {
    let out = env
        .client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::Policy)
        .send()
        .await
        .unwrap();
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::Policy))
        .map(|text| serde_json::from_str(text).unwrap_or_else(|e| panic!("Policy is not JSON ({e}): {text}")))
}

fn statements(policy: &Value) -> Vec<Value> {
    match &policy["Statement"] {
        Value::Array(items) => items.clone(),
        single @ Value::Object(_) => vec![single.clone()],
        other => panic!("no Statement in {other}"),
    }
}

fn statement<'a>(statements: &'a [Value], sid: &str) -> &'a Value {
    statements.iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no statement {sid} in {statements:?}"))
}

#[tokio::test]
async fn add_permission_writes_a_statement_into_the_policy() {
    // given a queue without a policy
    let env = TestEnv::start().await;
    let url = env.create_queue("shared").await;
    assert_eq!(policy(&env, &url).await, None);

    // when another account is allowed to send and receive
    add(&env, &url, "AllowOther", &[OTHER_ACCOUNT], &["SendMessage", "ReceiveMessage"]).await;

    // then the Policy holds one statement for it
    let doc = policy(&env, &url).await.expect("Policy set");
    let all = statements(&doc);
    assert_eq!(all.len(), 1);
    let s = statement(&all, "AllowOther");
    assert_eq!(s["Effect"], "Allow");
    assert_eq!(as_list(&s["Principal"]["AWS"]), [format!("arn:aws:iam::{OTHER_ACCOUNT}:root")]);
    let mut actions = as_list(&s["Action"]);
    actions.sort();
    assert_eq!(actions, ["SQS:ReceiveMessage", "SQS:SendMessage"]);
    assert_eq!(as_list(&s["Resource"]), [TestEnv::arn_of("shared")]);
    // and GetQueueAttributes All reports it too
    assert!(env.attributes(&url).await.contains_key("Policy"));
    env.shutdown().await;
}

#[tokio::test]
async fn add_permission_for_two_accounts_names_both_principals() {
    let env = TestEnv::start().await;
    let url = env.create_queue("shared").await;

    add(&env, &url, "Both", &[OTHER_ACCOUNT, THIRD_ACCOUNT], &["*"]).await;

    let doc = policy(&env, &url).await.unwrap();
    let all = statements(&doc);
    let s = statement(&all, "Both");
    let mut principals = as_list(&s["Principal"]["AWS"]);
    principals.sort();
    assert_eq!(
        principals,
        [format!("arn:aws:iam::{OTHER_ACCOUNT}:root"), format!("arn:aws:iam::{THIRD_ACCOUNT}:root")]
    );
    assert_eq!(as_list(&s["Action"]), ["SQS:*"]);
    env.shutdown().await;
}

#[tokio::test]
async fn a_second_label_adds_a_second_statement() {
    let env = TestEnv::start().await;
    let url = env.create_queue("shared").await;

    add(&env, &url, "First", &[OTHER_ACCOUNT], &["SendMessage"]).await;
    add(&env, &url, "Second", &[THIRD_ACCOUNT], &["GetQueueAttributes"]).await;

    let doc = policy(&env, &url).await.unwrap();
    let all = statements(&doc);
    assert_eq!(all.len(), 2);
    assert_eq!(as_list(&statement(&all, "First")["Action"]), ["SQS:SendMessage"]);
    assert_eq!(as_list(&statement(&all, "Second")["Action"]), ["SQS:GetQueueAttributes"]);
    env.shutdown().await;
}

#[tokio::test]
async fn add_permission_with_a_label_already_in_use_is_rejected() {
    let env = TestEnv::start().await;
    let url = env.create_queue("shared").await;
    add(&env, &url, "AllowOther", &[OTHER_ACCOUNT], &["SendMessage"]).await;

    let err = env
        .client
        .add_permission()
        .queue_url(&url)
        .label("AllowOther")
        .aws_account_ids(THIRD_ACCOUNT)
        .actions("ReceiveMessage")
        .send()
        .await
        .unwrap_err();

    expect_service_error(err, 400, "InvalidParameterValue", "AllowOther");
    let doc = policy(&env, &url).await.unwrap();
    let all = statements(&doc);
    assert_eq!(all.len(), 1, "the policy is unchanged");
    assert_eq!(as_list(&statement(&all, "AllowOther")["Action"]), ["SQS:SendMessage"]);
    env.shutdown().await;
}

#[tokio::test]
async fn add_permission_with_eight_actions_is_over_limit() {
    let env = TestEnv::start().await;
    let url = env.create_queue("shared").await;
    let eight = [
        "SendMessage",
        "ReceiveMessage",
        "DeleteMessage",
        "ChangeMessageVisibility",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListDeadLetterSourceQueues",
        "PurgeQueue",
    ];

    let err = env
        .client
        .add_permission()
        .queue_url(&url)
        .label("TooMany")
        .aws_account_ids(OTHER_ACCOUNT)
        .set_actions(Some(eight.iter().map(|a| (*a).to_owned()).collect()))
        .send()
        .await
        .unwrap_err();

    expect_service_error(err, 403, "OverLimit", "7");
    assert_eq!(policy(&env, &url).await, None);
    // seven are fine
    add(&env, &url, "Seven", &[OTHER_ACCOUNT], &eight[..7]).await;
    env.shutdown().await;
}

#[tokio::test]
async fn add_permission_with_an_invalid_label_is_rejected() {
    let env = TestEnv::start().await;
    let url = env.create_queue("shared").await;

    for label in ["has space", "semi;colon", &"x".repeat(81)] {
        let err = env
            .client
            .add_permission()
            .queue_url(&url)
            .label(label)
            .aws_account_ids(OTHER_ACCOUNT)
            .actions("SendMessage")
            .send()
            .await
            .unwrap_err();
        expect_service_error(err, 400, "InvalidParameterValue", "Label");
    }
    assert_eq!(policy(&env, &url).await, None);
    env.shutdown().await;
}

#[tokio::test]
async fn remove_permission_of_an_unknown_label_is_rejected() {
    let env = TestEnv::start().await;
    let url = env.create_queue("shared").await;
    add(&env, &url, "AllowOther", &[OTHER_ACCOUNT], &["SendMessage"]).await;

    let err = env.client.remove_permission().queue_url(&url).label("NoSuchLabel").send().await.unwrap_err();

    expect_service_error(err, 400, "InvalidParameterValue", "NoSuchLabel");
    assert_eq!(statements(&policy(&env, &url).await.unwrap()).len(), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn remove_permission_on_a_queue_without_a_policy_is_rejected() {
    let env = TestEnv::start().await;
    let url = env.create_queue("shared").await;

    let err = env.client.remove_permission().queue_url(&url).label("Anything").send().await.unwrap_err();

    expect_service_error(err, 400, "InvalidParameterValue", "Anything");
    env.shutdown().await;
}

#[tokio::test]
async fn removing_one_of_two_statements_keeps_the_other() {
    let env = TestEnv::start().await;
    let url = env.create_queue("shared").await;
    add(&env, &url, "First", &[OTHER_ACCOUNT], &["SendMessage"]).await;
    add(&env, &url, "Second", &[THIRD_ACCOUNT], &["ReceiveMessage"]).await;

    env.client.remove_permission().queue_url(&url).label("First").send().await.unwrap();

    let doc = policy(&env, &url).await.expect("Policy still set");
    let all = statements(&doc);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["Sid"], "Second");
    env.shutdown().await;
}

#[tokio::test]
async fn removing_the_last_statement_removes_the_policy_attribute() {
    let env = TestEnv::start().await;
    let url = env.create_queue("shared").await;
    add(&env, &url, "Only", &[OTHER_ACCOUNT], &["SendMessage"]).await;

    env.client.remove_permission().queue_url(&url).label("Only").send().await.unwrap();

    assert_eq!(policy(&env, &url).await, None);
    assert!(!env.attributes(&url).await.contains_key("Policy"));
    // and the label can be used again
    add(&env, &url, "Only", &[OTHER_ACCOUNT], &["SendMessage"]).await;
    env.shutdown().await;
}

#[tokio::test]
async fn permissions_on_a_missing_queue_are_queue_does_not_exist() {
    let env = TestEnv::start().await;

    let add_err = env
        .client
        .add_permission()
        .queue_url(env.missing_queue_url())
        .label("L")
        .aws_account_ids(OTHER_ACCOUNT)
        .actions("SendMessage")
        .send()
        .await
        .unwrap_err();
    let remove_err =
        env.client.remove_permission().queue_url(env.missing_queue_url()).label("L").send().await.unwrap_err();

    crate::support::expect_no_such_queue(add_err);
    crate::support::expect_no_such_queue(remove_err);
    env.shutdown().await;
}

/// The Policy as AWS renders AddPermission's statements: a single principal or action is a string, not a
/// one-element list (moto's AWS-verified `add_permission`); and the errors as AWS words them.
#[tokio::test]
async fn single_principals_and_actions_are_strings_and_errors_read_as_aws_words_them() {
    let env = TestEnv::start().await;
    let url = env.create_queue("shared").await;

    add(&env, &url, "One", &[OTHER_ACCOUNT], &["SendMessage"]).await;
    add(&env, &url, "Two", &[OTHER_ACCOUNT, THIRD_ACCOUNT], &["SendMessage", "ReceiveMessage"]).await;

    let doc = policy(&env, &url).await.unwrap();
    let all = statements(&doc);
    let one = statement(&all, "One");
    assert_eq!(one["Principal"]["AWS"], Value::String(format!("arn:aws:iam::{OTHER_ACCOUNT}:root")));
    assert_eq!(one["Action"], Value::String("SQS:SendMessage".to_owned()));
    let two = statement(&all, "Two");
    assert!(two["Principal"]["AWS"].is_array() && two["Action"].is_array(), "{two}");

    let owner_only = env
        .client
        .add_permission()
        .queue_url(&url)
        .label("Owner")
        .aws_account_ids(OTHER_ACCOUNT)
        .actions("DeleteQueue")
        .send()
        .await
        .unwrap_err();
    expect_service_error(
        owner_only,
        400,
        "InvalidParameterValue",
        "Value SQS:DeleteQueue for parameter ActionName is invalid. Reason: Only the queue owner is allowed to invoke \
         this action.",
    );
    let no_accounts = env
        .client
        .add_permission()
        .queue_url(&url)
        .label("Nobody")
        .set_aws_account_ids(Some(Vec::new()))
        .actions("SendMessage")
        .send()
        .await
        .unwrap_err();
    expect_service_error(
        no_accounts,
        400,
        "InvalidParameterValue",
        "Value [] for parameter PrincipalId is invalid. Reason: Unable to verify.",
    );
    let unknown = env.client.remove_permission().queue_url(&url).label("Missing").send().await.unwrap_err();
    expect_service_error(
        unknown,
        400,
        "InvalidParameterValue",
        "Value Missing for parameter Label is invalid. Reason: can't find label on existing policy.",
    );
    env.shutdown().await;
}
