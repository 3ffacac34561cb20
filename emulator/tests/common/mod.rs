//! Shared fixtures for the emulator's integration tests, the one place for set-up: starting and stopping an
//! emulator on 127.0.0.1:0 ([`start_emulator`], [`stop_emulator`], [`TestEnv`] with a `ManualClock`), an
//! `aws-sdk-sqs` client pointed at it ([`sdk_client`], [`sdk_client_as`]), asserting an SDK's AWS error
//! ([`expect_service_error`]), raw HTTP helpers for wire tests ([`raw_request`], [`post_json`]), and an MD5
//! implementation of SPEC §9 written independently of the emulator. Never touches emulator internals.
//!
//! A single-file test binary includes it with `mod common;`, a binary in its own folder with
//! `#[path = "../common/mod.rs"] mod common;`.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::operation::send_message::SendMessageOutput;
use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use md5::{Digest, Md5};
use sqskit_emulator::{Emulator, EmulatorBuilder, ManualClock, RunningEmulator};

/// The account id the emulator uses by default.
pub const ACCOUNT: &str = "000000000000";
/// The region the emulator uses by default.
pub const REGION: &str = "us-east-1";
/// AWS's text for QueueDoesNotExist over JSON (SPEC §5.3).
pub const NO_QUEUE_MESSAGE: &str = "The specified queue does not exist.";

/// A running emulator, its virtual clock and an SDK client aimed at it.
pub struct TestEnv {
    /// The emulator under test.
    pub emu: RunningEmulator,
    /// The clock shared with the emulator.
    pub clock: ManualClock,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// An `aws-sdk-sqs` client with static credentials and retries off.
    pub client: Client,
}

impl TestEnv {
    /// Starts an emulator on an ephemeral port with a fresh `ManualClock`.
    pub async fn start() -> Self {
        let clock = ManualClock::new();
        let emu = start_emulator(Emulator::builder().clock(clock.clone())).await;
        let endpoint = emu.endpoint();
        let client = sdk_client(&endpoint).await;
        Self { emu, clock, endpoint, client }
    }

    /// Moves virtual time forward by `secs` seconds.
    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// Moves virtual time forward by `ms` milliseconds.
    pub fn advance_ms(&self, ms: u64) {
        self.clock.advance(Duration::from_millis(ms));
    }

    /// The URL the emulator should return for queue `name`.
    pub fn url_of(&self, name: &str) -> String {
        format!("{}/{ACCOUNT}/{name}", self.endpoint)
    }

    /// The ARN the emulator should report for queue `name`.
    pub fn arn_of(name: &str) -> String {
        format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
    }

    /// A well-formed URL of a queue that was never created.
    pub fn missing_queue_url(&self) -> String {
        self.url_of("no-such-queue")
    }

    /// Creates a queue with default attributes and returns its URL.
    pub async fn create_queue(&self, name: &str) -> String {
        self.create_queue_with(name, &[]).await
    }

    /// Creates a queue with the given attributes and returns its URL.
    pub async fn create_queue_with(&self, name: &str, attrs: &[(&str, &str)]) -> String {
        let mut req = self.client.create_queue().queue_name(name);
        for (k, v) in attrs {
            req = req.attributes(QueueAttributeName::from(*k), *v);
        }
        req.send().await.expect("create queue").queue_url().expect("queue url").to_owned()
    }

    /// Sets queue attributes, panicking on failure.
    pub async fn set_attrs(&self, url: &str, attrs: &[(&str, &str)]) {
        let mut req = self.client.set_queue_attributes().queue_url(url);
        for (k, v) in attrs {
            req = req.attributes(QueueAttributeName::from(*k), *v);
        }
        req.send().await.expect("set queue attributes");
    }

    /// All queue attributes (`All`).
    pub async fn attributes(&self, url: &str) -> HashMap<String, String> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .expect("get queue attributes");
        out.attributes()
            .map(|m| m.iter().map(|(k, v)| (k.as_str().to_owned(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// `(ApproximateNumberOfMessages, ...NotVisible, ...Delayed)`.
    pub async fn counts(&self, url: &str) -> (u64, u64, u64) {
        let attrs = self.attributes(url).await;
        let get = |k: &str| -> u64 {
            attrs
                .get(k)
                .unwrap_or_else(|| panic!("attribute {k} missing"))
                .parse()
                .unwrap_or_else(|_| panic!("attribute {k} not a number"))
        };
        (
            get("ApproximateNumberOfMessages"),
            get("ApproximateNumberOfMessagesNotVisible"),
            get("ApproximateNumberOfMessagesDelayed"),
        )
    }

    /// Sends a plain message.
    pub async fn send(&self, url: &str, body: &str) -> SendMessageOutput {
        self.client.send_message().queue_url(url).message_body(body).send().await.expect("send message")
    }

    /// Short-polls (WaitTimeSeconds=0) for up to `max` messages with all attributes.
    pub async fn receive(&self, url: &str, max: i32) -> Vec<Message> {
        self.client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive message")
            .messages
            .unwrap_or_default()
    }

    /// Short-polls for exactly one message and returns it.
    pub async fn receive_one(&self, url: &str) -> Message {
        let mut msgs = self.receive(url, 1).await;
        assert_eq!(msgs.len(), 1, "expected exactly one message, got {msgs:?}");
        msgs.remove(0)
    }

    /// Receives repeatedly (short polls, max 10) until the queue returns nothing; returns all messages.
    pub async fn drain(&self, url: &str) -> Vec<Message> {
        let mut all = Vec::new();
        for _ in 0..100 {
            let batch = self.receive(url, 10).await;
            if batch.is_empty() {
                return all;
            }
            all.extend(batch);
        }
        panic!("queue never drained");
    }

    /// Stops the emulator.
    pub async fn shutdown(self) {
        stop_emulator(self.emu).await;
    }
}

/// Starts `builder` (with whatever clock, auth or limits the test set) on an ephemeral port of 127.0.0.1.
pub async fn start_emulator(builder: EmulatorBuilder) -> RunningEmulator {
    builder.port(0).start().await.expect("start emulator")
}

/// Stops `emu`, asserting that it stops within 5 s and that its server ran without an error.
pub async fn stop_emulator(emu: RunningEmulator) {
    tokio::time::timeout(Duration::from_secs(5), emu.shutdown())
        .await
        .expect("emulator shuts down within 5 s")
        .expect("emulator ran without a server error");
}

/// An SDK client for `endpoint` with static test credentials and no retries.
pub async fn sdk_client(endpoint: &str) -> Client {
    sdk_client_as(endpoint, "test", "test", None).await
}

/// An SDK client for `endpoint` with static test credentials, configured for `region` (its requests are signed
/// for that region, so they act there); no retries.
pub async fn sdk_client_in(endpoint: &str, region: &'static str) -> Client {
    Client::new(&sdk_config(endpoint, region, "test", "test", None).await)
}

/// The SDK configuration of the test clients: `endpoint`, `region`, static credentials, no retries.
pub async fn sdk_config(
    endpoint: &str,
    region: &'static str,
    key: &str,
    secret: &str,
    token: Option<&str>,
) -> aws_config::SdkConfig {
    let credentials = aws_credential_types::Credentials::new(key, secret, token.map(str::to_owned), None, "static");
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(region)
        .credentials_provider(credentials)
        .retry_config(RetryConfig::disabled())
        .load()
        .await
}

/// An SDK client for `endpoint` signing with the access key `key`, `secret` and an optional session `token`;
/// no retries.
pub async fn sdk_client_as(endpoint: &str, key: &str, secret: &str, token: Option<&str>) -> Client {
    Client::new(&sdk_config(endpoint, REGION, key, secret, token).await)
}

/// The HTTP status of a failed SDK call.
pub fn status_of<E>(err: &SdkError<E>) -> u16 {
    err.raw_response().unwrap_or_else(|| panic!("no raw response: the call did not reach the server")).status().as_u16()
}

/// Asserts that a service error has `code` and a message containing `msg_part`; returns the error for typed
/// matching.
pub fn expect_service_error<E>(err: SdkError<E>, status: u16, code: &str, msg_part: &str) -> E
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    assert_eq!(status_of(&err), status, "HTTP status of {err:?}");
    let se = match err {
        SdkError::ServiceError(ctx) => ctx.into_err(),
        other => panic!("expected a service error, got {other:?}"),
    };
    assert_eq!(se.code(), Some(code), "error code of {se:?}");
    let msg = se.message().unwrap_or_default();
    assert!(msg.contains(msg_part), "message {msg:?} should contain {msg_part:?}");
    se
}

/// A `String` (or `String.<label>` / `Number...`) message attribute.
pub fn str_attr(data_type: &str, value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder().data_type(data_type).string_value(value).build().expect("attribute")
}

/// A `Binary` (or `Binary.<label>`) message attribute.
pub fn bin_attr(data_type: &str, value: &[u8]) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .binary_value(aws_sdk_sqs::primitives::Blob::new(value.to_vec()))
        .build()
        .expect("attribute")
}

/// Current system time in epoch milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("time after epoch").as_millis() as u64
}

/// Lower-case hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// An attribute value for [`md5_of_attributes`]: text (String/Number) or raw bytes (Binary).
#[derive(Clone, Debug)]
pub enum Val<'a> {
    /// Transport type 1.
    Text(&'a str),
    /// Transport type 2.
    Bytes(&'a [u8]),
}

/// MD5OfMessageAttributes per SPEC §9, written from the spec, independent of the emulator.
pub fn md5_of_attributes(attrs: &[(&str, &str, Val<'_>)]) -> String {
    fn lp(buf: &mut Vec<u8>, bytes: &[u8]) {
        buf.extend_from_slice(&u32::try_from(bytes.len()).expect("len").to_be_bytes());
        buf.extend_from_slice(bytes);
    }
    let sorted: BTreeMap<&[u8], (&str, &Val<'_>)> =
        attrs.iter().map(|(name, ty, v)| (name.as_bytes(), (*ty, v))).collect();
    let mut buf = Vec::new();
    for (name, (ty, v)) in sorted {
        lp(&mut buf, name);
        lp(&mut buf, ty.as_bytes());
        match v {
            Val::Text(s) => {
                buf.push(1);
                lp(&mut buf, s.as_bytes());
            }
            Val::Bytes(b) => {
                buf.push(2);
                lp(&mut buf, b);
            }
        }
    }
    md5_hex(&buf)
}

/// A raw HTTP response.
#[derive(Debug)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: hyper::HeaderMap,
    /// Full body.
    pub body: Bytes,
}

impl RawResponse {
    /// A header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ascii header"))
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The sorted keys of the JSON object body.
    pub fn json_keys(&self) -> Vec<String> {
        object_keys(&self.json())
    }
}

/// The sorted keys of a JSON object.
pub fn object_keys(v: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> =
        v.as_object().unwrap_or_else(|| panic!("not a JSON object: {v}")).keys().cloned().collect();
    keys.sort();
    keys
}

/// Sends one HTTP/1.1 request to the emulator with hyper and collects the response.
pub async fn raw_request(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> RawResponse {
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = hyper::Request::builder().method(method).uri(format!("{endpoint}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body))).expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .expect("response within 10 s")
        .expect("HTTP request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("read body").to_bytes();
    RawResponse { status, headers, body }
}

/// POSTs an AWS JSON 1.0 request for `action` (X-Amz-Target `AmazonSQS.<action>`).
pub async fn post_json(endpoint: &str, action: &str, body: &serde_json::Value) -> RawResponse {
    let target = format!("AmazonSQS.{action}");
    raw_request(
        endpoint,
        "POST",
        "/",
        &[("content-type", "application/x-amz-json-1.0"), ("x-amz-target", &target)],
        serde_json::to_vec(body).expect("json"),
    )
    .await
}
