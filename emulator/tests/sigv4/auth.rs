//! SigV4 mode (`--auth sigv4`) through the real `aws-sdk-sqs` client and through raw requests signed with
//! `aws-sigv4`: correct credentials pass; a wrong secret, an unknown key, a tampered body, a skewed clock and
//! a replayed stale request get AWS's errors; presigned Query GETs work until they expire.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use sqskit_emulator::auth::Credential;
use sqskit_emulator::{ManualClock, RunningEmulator};

use crate::common::{self, REGION, expect_service_error, raw_request, sdk_client_as as client};
use crate::start_sigv4;

const ACCOUNT_A: &str = "111111111111";
const KEY_A: &str = "AKIDACCOUNTA";
const SECRET_A: &str = "secret-of-account-a";
const KEY_TEMP: &str = "ASIATEMPORARY";
const SECRET_TEMP: &str = "secret-of-the-session";
const TOKEN: &str = "the-session-token";
const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided.";

struct Env {
    emu: RunningEmulator,
    clock: ManualClock,
    endpoint: String,
}

async fn start() -> Env {
    let clock = ManualClock::new();
    let credentials = vec![
        Credential::new(KEY_A, SECRET_A, ACCOUNT_A),
        Credential::new(KEY_TEMP, SECRET_TEMP, "333333333333").with_session_token(TOKEN),
    ];
    let emu = start_sigv4(clock.clone(), credentials).await;
    let endpoint = emu.endpoint();
    Env { emu, clock, endpoint }
}

/// Signs a request with `aws-sigv4` at `time`; returns the headers to add (header signing) or the query
/// parameters to append (presigning).
fn sign_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    time: SystemTime,
    location: SignatureLocation,
) -> Vec<(String, String)> {
    let identity = Credentials::new(KEY_A, SECRET_A, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = location;
    settings.expires_in = Some(Duration::from_secs(300));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("sqs")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(method, url, headers.iter().copied(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    match location {
        SignatureLocation::Headers => {
            instructions.headers().map(|(name, value)| (name.to_owned(), value.to_owned())).collect()
        }
        _ => instructions.params().iter().map(|(name, value)| ((*name).to_owned(), value.to_string())).collect(),
    }
}

fn clock_time(clock: &ManualClock) -> SystemTime {
    use sqskit_emulator::Clock as _;
    UNIX_EPOCH + Duration::from_millis(clock.now().as_millis())
}

const JSON_HEADERS: [(&str, &str); 2] =
    [("content-type", "application/x-amz-json-1.0"), ("x-amz-target", "AmazonSQS.CreateQueue")];

/// POSTs a JSON CreateQueue signed over `signed_body` but carrying `sent_body`.
async fn post_signed(env: &Env, signed_body: &[u8], sent_body: &[u8], time: SystemTime) -> common::RawResponse {
    let url = format!("{}/", env.endpoint);
    let signature = sign_request("POST", &url, &JSON_HEADERS, signed_body, time, SignatureLocation::Headers);
    let mut headers: Vec<(&str, &str)> = JSON_HEADERS.to_vec();
    headers.extend(signature.iter().map(|(name, value)| (name.as_str(), value.as_str())));
    raw_request(&env.endpoint, "POST", "/", &headers, sent_body.to_vec()).await
}

#[tokio::test]
async fn correct_credentials_pass_and_act_in_their_account() {
    let env = start().await;
    let sdk = client(&env.endpoint, KEY_A, SECRET_A, None).await;
    let url = sdk.create_queue().queue_name("orders").send().await.unwrap().queue_url.unwrap();
    assert_eq!(url, format!("{}/{ACCOUNT_A}/orders", env.endpoint));
    sdk.send_message().queue_url(&url).message_body("hello").send().await.unwrap();
    let received = sdk.receive_message().queue_url(&url).send().await.unwrap();
    assert_eq!(received.messages.unwrap()[0].body.as_deref(), Some("hello"));

    let temporary = client(&env.endpoint, KEY_TEMP, SECRET_TEMP, Some(TOKEN)).await;
    let listed = temporary.list_queues().send().await.unwrap();
    assert!(listed.queue_urls.unwrap_or_default().is_empty(), "another account sees none of A's queues");
    env.emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn wrong_secret_unknown_key_and_wrong_token_get_aws_errors() {
    let env = start().await;
    let wrong_secret = client(&env.endpoint, KEY_A, "not-the-secret", None).await;
    let error = wrong_secret.list_queues().send().await.unwrap_err();
    expect_service_error(error, 403, "SignatureDoesNotMatch", SIGNATURE_MISMATCH);

    let unknown = client(&env.endpoint, "AKIDUNKNOWN", SECRET_A, None).await;
    let error = unknown.list_queues().send().await.unwrap_err();
    expect_service_error(error, 403, "InvalidClientTokenId", "The security token included in the request is invalid.");

    let no_token = client(&env.endpoint, KEY_TEMP, SECRET_TEMP, None).await;
    let error = no_token.list_queues().send().await.unwrap_err();
    expect_service_error(error, 403, "InvalidClientTokenId", "security token");
    let wrong_token = client(&env.endpoint, KEY_TEMP, SECRET_TEMP, Some("other-token")).await;
    let error = wrong_token.list_queues().send().await.unwrap_err();
    expect_service_error(error, 403, "InvalidClientTokenId", "security token");
    env.emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn unsigned_requests_miss_their_token_in_both_protocols() {
    let env = start().await;
    let json = common::post_json(&env.endpoint, "ListQueues", &serde_json::json!({})).await;
    assert_eq!(json.status, 403);
    assert_eq!(json.header("x-amzn-query-error"), Some("MissingAuthenticationToken;Sender"));
    assert_eq!(json.json()["__type"], "com.amazon.coral.service#MissingAuthenticationTokenException");

    let query = raw_request(&env.endpoint, "GET", "/?Action=ListQueues&Version=2012-11-05", &[], Vec::new()).await;
    let body = String::from_utf8_lossy(&query.body).into_owned();
    assert_eq!(query.status, 403);
    assert!(body.contains("<Code>MissingAuthenticationToken</Code>"), "{body}");
    env.emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_tampered_body_fails_the_signature() {
    let env = start().await;
    let now = clock_time(&env.clock);
    let signed = br#"{"QueueName":"signed"}"#;
    let untouched = post_signed(&env, signed, signed, now).await;
    assert_eq!(untouched.status, 200, "{:?}", String::from_utf8_lossy(&untouched.body));

    let tampered = post_signed(&env, signed, br#"{"QueueName":"forged"}"#, now).await;
    assert_eq!(tampered.status, 403);
    assert_eq!(tampered.header("x-amzn-query-error"), Some("SignatureDoesNotMatch;Sender"));
    assert!(tampered.json()["message"].as_str().unwrap().starts_with(SIGNATURE_MISMATCH));
    env.emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_skewed_clock_gets_the_signature_expired_error() {
    let env = start().await;
    let sdk = client(&env.endpoint, KEY_A, SECRET_A, None).await;
    sdk.list_queues().send().await.unwrap();
    env.clock.advance(Duration::from_secs(20 * 60));
    let error = sdk.list_queues().send().await.unwrap_err();
    let error = expect_service_error(error, 403, "SignatureDoesNotMatch", "Signature expired: ");
    let message = aws_sdk_sqs::error::ProvideErrorMetadata::message(&error).unwrap().to_owned();
    assert!(message.contains(" is now earlier than ") && message.ends_with(" - 15 min.)"), "{message}");
    env.emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_replayed_stale_request_is_refused() {
    let env = start().await;
    let body = br#"{"QueueName":"replayed"}"#;
    let signed_at = clock_time(&env.clock);
    assert_eq!(post_signed(&env, body, body, signed_at).await.status, 200);
    env.clock.advance(Duration::from_secs(16 * 60));
    let replay = post_signed(&env, body, body, signed_at).await;
    assert_eq!(replay.status, 403);
    assert_eq!(replay.header("x-amzn-query-error"), Some("SignatureDoesNotMatch;Sender"));
    assert!(replay.json()["message"].as_str().unwrap().starts_with("Signature expired: "));
    env.emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn presigned_query_gets_work_until_they_expire() {
    let env = start().await;
    let path = "/?Action=ListQueues&Version=2012-11-05";
    let url = format!("{}{path}", env.endpoint);
    let params = sign_request("GET", &url, &[], b"", clock_time(&env.clock), SignatureLocation::QueryParams);
    let mut presigned = path.to_owned();
    for (name, value) in &params {
        let value: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
        presigned.push_str(&format!("&{name}={}", value.replace('+', "%20")));
    }
    let fresh = raw_request(&env.endpoint, "GET", &presigned, &[], Vec::new()).await;
    let body = String::from_utf8_lossy(&fresh.body).into_owned();
    assert_eq!(fresh.status, 200, "{body}");
    assert!(body.contains("<ListQueuesResponse"), "{body}");

    env.clock.advance(Duration::from_secs(301));
    let expired = raw_request(&env.endpoint, "GET", &presigned, &[], Vec::new()).await;
    let body = String::from_utf8_lossy(&expired.body).into_owned();
    assert_eq!(expired.status, 400, "{body}");
    assert!(body.contains("<Code>RequestExpired</Code>"), "{body}");
    env.emu.shutdown().await.unwrap();
}

/// Verified signatures for two regions act in two regions; a signature whose scope disagrees with a regional
/// `Host` is refused as that region's endpoint refuses it (docs/aws-behaviour.md, "Regions").
#[tokio::test]
async fn each_signature_acts_in_the_region_of_its_scope() {
    let env = start().await;
    let in_region = |region: &'static str| {
        let endpoint = env.endpoint.clone();
        async move {
            let credentials = Credentials::new(KEY_A, SECRET_A, None, None, "static");
            let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .endpoint_url(endpoint)
                .region(region)
                .credentials_provider(credentials)
                .retry_config(aws_config::retry::RetryConfig::disabled())
                .load()
                .await;
            aws_sdk_sqs::Client::new(&conf)
        }
    };
    let (virginia, ireland) = (in_region("us-east-1").await, in_region("eu-west-1").await);
    let url = ireland.create_queue().queue_name("regional").send().await.unwrap().queue_url.unwrap();
    assert_eq!(url, format!("{}/{ACCOUNT_A}/regional", env.endpoint));
    assert!(virginia.list_queues().send().await.unwrap().queue_urls.unwrap_or_default().is_empty());
    assert_eq!(ireland.list_queues().send().await.unwrap().queue_urls.unwrap_or_default(), [url]);

    let port = env.endpoint.rsplit(':').next().unwrap();
    let host = format!("sqs.eu-west-1.localhost:{port}");
    let list = [("content-type", "application/x-amz-json-1.0"), ("x-amz-target", "AmazonSQS.ListQueues")];
    let mut signed_headers: Vec<(&str, &str)> = list.to_vec();
    signed_headers.push(("host", &host));
    let url = format!("http://{host}/");
    let signature =
        sign_request("POST", &url, &signed_headers, b"{}", clock_time(&env.clock), SignatureLocation::Headers);
    signed_headers.extend(signature.iter().map(|(name, value)| (name.as_str(), value.as_str())));
    let response = raw_request(&env.endpoint, "POST", "/", &signed_headers, b"{}".to_vec()).await;
    assert_eq!(response.status, 403, "{:?}", response.json());
    assert_eq!(
        response.json()["message"].as_str(),
        Some(format!("Credential should be scoped to a valid region, not '{REGION}'. ").as_str())
    );
    env.emu.shutdown().await.unwrap();
}
