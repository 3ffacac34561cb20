//! STS `GetCallerIdentity` on the emulator's port, through the real `aws-sdk-sts` client (the Query protocol STS
//! speaks): the default account when authentication is off, each credential's account in SigV4 mode, AWS's
//! errors for a wrong secret or an unknown key. The caller is its account's root user
//! (<https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html>; the root user's
//! `aws:userid` is the account id, <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#principaltable>).

use aws_sdk_sts::error::ProvideErrorMetadata;
use sqskit_emulator::auth::Credential;
use sqskit_emulator::{Emulator, ManualClock};

use crate::common::{self, ACCOUNT, REGION, start_emulator};
use crate::start_sigv4;

/// An STS client for `endpoint` signing with `key`/`secret` in `region`; no retries.
async fn sts_client(endpoint: &str, region: &'static str, key: &str, secret: &str) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::new(&common::sdk_config(endpoint, region, key, secret, None).await)
}

#[tokio::test]
async fn without_authentication_the_caller_is_the_default_account() {
    let emu = start_emulator(Emulator::builder().clock(ManualClock::new())).await;
    let sts = sts_client(&emu.endpoint(), REGION, "anything", "anything").await;

    let identity = sts.get_caller_identity().send().await.unwrap();

    assert_eq!(identity.account(), Some(ACCOUNT));
    assert_eq!(identity.user_id(), Some(ACCOUNT));
    assert_eq!(identity.arn(), Some(format!("arn:aws:iam::{ACCOUNT}:root").as_str()));
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn with_sigv4_each_credential_gets_its_own_account() {
    let credentials = vec![
        Credential::new("AKIDFIRST", "first-secret", "111111111111"),
        Credential::new("AKIDSECOND", "second-secret", "222222222222"),
    ];
    let emu = start_sigv4(ManualClock::new(), credentials).await;

    for (key, secret, account) in
        [("AKIDFIRST", "first-secret", "111111111111"), ("AKIDSECOND", "second-secret", "222222222222")]
    {
        let identity = sts_client(&emu.endpoint(), REGION, key, secret).await.get_caller_identity().send().await;
        let identity = identity.unwrap();
        assert_eq!(identity.account(), Some(account));
        assert_eq!(identity.arn(), Some(format!("arn:aws:iam::{account}:root").as_str()));
    }
    // STS's global endpoint signs for us-east-1; a regional one for its region.
    let global = sts_client(&emu.endpoint(), "us-east-1", "AKIDFIRST", "first-secret").await;
    assert_eq!(global.get_caller_identity().send().await.unwrap().account(), Some("111111111111"));

    let wrong_secret = sts_client(&emu.endpoint(), REGION, "AKIDFIRST", "nope").await;
    let err = wrong_secret.get_caller_identity().send().await.unwrap_err();
    assert_eq!(common::status_of(&err), 403);
    assert_eq!(err.into_service_error().code(), Some("SignatureDoesNotMatch"));
    let unknown = sts_client(&emu.endpoint(), REGION, "AKIDUNKNOWN", "x").await;
    let err = unknown.get_caller_identity().send().await.unwrap_err();
    assert_eq!(common::status_of(&err), 403);
    assert_eq!(err.into_service_error().code(), Some("InvalidClientTokenId"));
    emu.shutdown().await.unwrap();
}
