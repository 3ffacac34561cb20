//! Fault injection with wiremock in front of `AwsBackend` (the real `aws-sdk-sqs` wire path): throttling,
//! 5xx answers, timeouts, partial batch failures and damaged digests. Each test checks that every message
//! ends either acknowledged once or returned to its caller as failed, and that retries back off.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use serde_json::{Value, json};
use sqskit::backend::{AwsBackend, SendEntry, SqsBackend};
use sqskit::error::ChecksumField;
use sqskit::integrity::md5_of_body;
use sqskit::retry::{Jitter, RetryBudget, RetryPolicy};
use sqskit::{Error, Fault, Producer, SendReport, ServiceErrorCode};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const JSON: &str = "application/x-amz-json-1.0";
const QUEUE_URL: &str = "http://sqs.us-east-1.amazonaws.com/000000000000/orders";

/// A whole-request fault, consumed by one `SendMessageBatch` call.
#[derive(Debug, Clone, Copy)]
enum WholeFault {
    /// 403 `RequestThrottled;Sender`, as SQS throttles.
    Throttle,
    /// 500 `InternalError;Receiver`.
    Internal,
    /// 503 with no body and no SQS headers, as a load balancer answers.
    BareUnavailable,
    /// Processes the request (messages are stored) but answers only after this delay.
    Slow(Duration),
    /// Processes the request but reports a wrong MD5 for the first successful entry.
    DamageFirstDigest,
}

/// What the mock recorded.
#[derive(Debug, Default)]
struct Recorded {
    /// Each SendMessageBatch call: when it arrived and the bodies it carried, in order.
    calls: Vec<(Instant, Vec<String>)>,
    /// Bodies stored, in order (a body stored twice appears twice).
    stored: Vec<String>,
    /// Attempts seen per body.
    attempts: HashMap<String, u32>,
}

/// A scripted SendMessageBatch endpoint. Per entry, by body: `reject…` always fails with a sender fault,
/// `flaky…` fails its first attempt with a receiver fault, anything else is stored.
#[derive(Clone, Default)]
struct ScriptedSqs {
    faults: Arc<Mutex<VecDeque<WholeFault>>>,
    always: Arc<Mutex<Option<WholeFault>>>,
    recorded: Arc<Mutex<Recorded>>,
}

impl ScriptedSqs {
    fn with_faults(faults: impl IntoIterator<Item = WholeFault>) -> Self {
        let sqs = Self::default();
        sqs.faults.lock().unwrap().extend(faults);
        sqs
    }

    fn always(fault: WholeFault) -> Self {
        let sqs = Self::default();
        *sqs.always.lock().unwrap() = Some(fault);
        sqs
    }

    fn calls(&self) -> Vec<Vec<String>> {
        self.recorded.lock().unwrap().calls.iter().map(|(_, bodies)| bodies.clone()).collect()
    }

    fn call_times(&self) -> Vec<Instant> {
        self.recorded.lock().unwrap().calls.iter().map(|(at, _)| *at).collect()
    }

    fn stored(&self) -> Vec<String> {
        self.recorded.lock().unwrap().stored.clone()
    }

    fn error(status: u16, shape: &str, query_code: &str, message: &str) -> ResponseTemplate {
        let body = json!({ "__type": shape, "message": message });
        ResponseTemplate::new(status)
            .insert_header("x-amzn-RequestId", "req-fault")
            .insert_header("x-amzn-query-error", query_code)
            .set_body_raw(serde_json::to_vec(&body).unwrap(), JSON)
    }
}

impl Respond for ScriptedSqs {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let payload: Value = request.body_json().expect("JSON request");
        let entries = payload["Entries"].as_array().cloned().unwrap_or_default();
        let bodies: Vec<String> = entries.iter().map(|e| e["MessageBody"].as_str().unwrap().to_owned()).collect();
        let fault = self.faults.lock().unwrap().pop_front().or(*self.always.lock().unwrap());
        let mut recorded = self.recorded.lock().unwrap();
        recorded.calls.push((Instant::now(), bodies));
        match fault {
            Some(WholeFault::Throttle) => {
                return Self::error(
                    403,
                    "com.amazonaws.sqs#RequestThrottled",
                    "RequestThrottled;Sender",
                    "Rate exceeded",
                );
            }
            Some(WholeFault::Internal) => {
                return Self::error(
                    500,
                    "com.amazon.coral.service#InternalFailure",
                    "InternalError;Receiver",
                    "We encountered an internal error. Please try again.",
                );
            }
            Some(WholeFault::BareUnavailable) => return ResponseTemplate::new(503),
            _ => {}
        }
        let mut successful = Vec::new();
        let mut failed = Vec::new();
        for entry in &entries {
            let id = entry["Id"].as_str().unwrap();
            let body = entry["MessageBody"].as_str().unwrap();
            let attempt = {
                let count = recorded.attempts.entry(body.to_owned()).or_default();
                *count += 1;
                *count
            };
            if body.starts_with("reject") {
                failed.push(json!({ "Id": id, "SenderFault": true, "Code": "InvalidParameterValue",
                    "Message": "Value x for parameter MessageBody is invalid. Reason: test rejection." }));
            } else if body.starts_with("flaky") && attempt == 1 {
                failed.push(json!({ "Id": id, "SenderFault": false, "Code": "InternalError",
                    "Message": "We encountered an internal error. Please try again." }));
            } else {
                recorded.stored.push(body.to_owned());
                successful.push(json!({ "Id": id, "MessageId": uuid::Uuid::new_v4().to_string(),
                    "MD5OfMessageBody": md5_of_body(body) }));
            }
        }
        if matches!(fault, Some(WholeFault::DamageFirstDigest)) {
            if let Some(first) = successful.first_mut() {
                first["MD5OfMessageBody"] = json!("00000000000000000000000000000000");
            }
        }
        let body = json!({ "Successful": successful, "Failed": failed });
        let response = ResponseTemplate::new(200)
            .insert_header("x-amzn-RequestId", "req-ok")
            .set_body_raw(serde_json::to_vec(&body).unwrap(), JSON);
        match fault {
            Some(WholeFault::Slow(delay)) => response.set_delay(delay),
            _ => response,
        }
    }
}

/// A wiremock server answering GetQueueAttributes (a standard queue) and SendMessageBatch (scripted).
async fn mock_sqs(sqs: &ScriptedSqs) -> MockServer {
    let server = MockServer::start().await;
    let attributes = json!({ "Attributes": { "MaximumMessageSize": "1048576", "VisibilityTimeout": "30" } });
    Mock::given(method("POST"))
        .and(header("x-amz-target", "AmazonSQS.GetQueueAttributes"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(serde_json::to_vec(&attributes).unwrap(), JSON))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("x-amz-target", "AmazonSQS.SendMessageBatch"))
        .respond_with(sqs.clone())
        .mount(&server)
        .await;
    server
}

async fn backend_for(server: &MockServer, operation_timeout: Duration) -> Arc<dyn SqsBackend> {
    let sdk_config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(server.uri())
        .region("us-east-1")
        .credentials_provider(aws_credential_types::Credentials::new("test", "test", None, None, "static"))
        .load()
        .await;
    Arc::new(AwsBackend::builder(&sdk_config).operation_timeout(operation_timeout).build())
}

/// Fast, deterministic backoff: 40 ms, 80 ms, 160 ms, ... (no jitter, so gaps can be checked).
fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(40))
        .max_backoff(Duration::from_millis(400))
        .max_elapsed(Duration::from_secs(10))
        .jitter(Jitter::None)
}

async fn producer(backend: Arc<dyn SqsBackend>, retry: RetryPolicy) -> Producer<String> {
    // The codec is JSON, so each body on the wire is the string in quotes.
    Producer::<String>::builder(backend, QUEUE_URL)
        .codec(RawText)
        .linger(Duration::from_millis(2))
        .retry(retry)
        .build()
        .await
        .expect("producer")
}

/// Sends strings as they are, so the mock can script by body.
struct RawText;

impl sqskit::codec::Encode<String> for RawText {
    fn encode(&self, value: &String) -> sqskit::Result<String> {
        Ok(value.clone())
    }
}

fn values(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Every value is accounted for exactly once: sent or failed.
fn assert_every_value_accounted_for(report: &SendReport<String>, input: &[String]) {
    let mut seen: Vec<&String> =
        report.sent.iter().map(|(v, _)| v).chain(report.failed.iter().map(|(v, _)| v)).collect();
    seen.sort();
    let mut expected: Vec<&String> = input.iter().collect();
    expected.sort();
    assert_eq!(seen, expected, "every value comes back exactly once");
}

#[tokio::test]
async fn throttling_is_retried_with_growing_backoff_until_accepted() {
    let sqs = ScriptedSqs::with_faults([WholeFault::Throttle, WholeFault::Throttle, WholeFault::Throttle]);
    let server = mock_sqs(&sqs).await;
    let producer = producer(backend_for(&server, Duration::from_secs(5)).await, quick_retries()).await;
    let input = values(&["a", "b", "c", "d", "e"]);

    let report = producer.send_all(input.clone()).await;

    assert_every_value_accounted_for(&report, &input);
    assert!(report.is_complete_success(), "{:?}", report.failed);
    assert!(report.sent.iter().all(|(_, receipt)| receipt.attempts == 4));
    assert_eq!(sqs.calls().len(), 4, "one request per attempt: {:?}", sqs.calls());
    assert!(sqs.calls().iter().all(|call| call.len() == 5), "the whole batch is re-sent");
    let times = sqs.call_times();
    for (retry, (earlier, later)) in times.iter().zip(&times[1..]).enumerate() {
        let minimum = Duration::from_millis(40 << retry);
        assert!(
            *later - *earlier >= minimum,
            "retry {} came after {:?}, before {minimum:?}",
            retry + 1,
            *later - *earlier
        );
    }
    let mut stored = sqs.stored();
    stored.sort();
    assert_eq!(stored, input, "each message stored exactly once");
}

#[tokio::test]
async fn server_errors_and_bare_503s_are_retried() {
    let sqs = ScriptedSqs::with_faults([WholeFault::Internal, WholeFault::BareUnavailable]);
    let server = mock_sqs(&sqs).await;
    let producer = producer(backend_for(&server, Duration::from_secs(5)).await, quick_retries()).await;

    let receipt = producer.send(&"x".to_owned()).await.expect("accepted at the third attempt");

    assert_eq!(receipt.attempts, 3);
    assert_eq!(sqs.calls().len(), 3);
    assert_eq!(sqs.stored(), ["x"]);
}

#[tokio::test]
async fn error_responses_classify_by_code_and_fault() {
    let sqs = ScriptedSqs::with_faults([WholeFault::Throttle, WholeFault::Internal, WholeFault::BareUnavailable]);
    let server = mock_sqs(&sqs).await;
    let backend = backend_for(&server, Duration::from_secs(5)).await;
    let entries = [SendEntry::new("1", "x")];

    let throttled = backend.send_message_batch(QUEUE_URL, &entries).await.expect_err("throttled");
    let internal = backend.send_message_batch(QUEUE_URL, &entries).await.expect_err("500");
    let bare = backend.send_message_batch(QUEUE_URL, &entries).await.expect_err("503");

    for (error, code, fault) in [
        (&throttled, ServiceErrorCode::RequestThrottled, Fault::Sender),
        (&internal, ServiceErrorCode::InternalError, Fault::Receiver),
        (&bare, ServiceErrorCode::ServiceUnavailable, Fault::Receiver),
    ] {
        assert_eq!(error.code(), Some(&code), "{error:?}");
        assert!(matches!(error, Error::Service { fault: Some(f), .. } if *f == fault), "{error:?}");
        assert!(error.is_retryable(), "{error:?}");
    }
    assert!(
        matches!(&throttled, Error::Service { request_id: Some(id), message, .. }
        if id == "req-fault" && message == "Rate exceeded"),
        "{throttled:?}"
    );
    assert_eq!(sqs.calls().len(), 3, "the backend itself never retries (SDK retries are off)");
}

#[tokio::test]
async fn timeouts_are_retried_and_each_caller_gets_one_answer() {
    let sqs = ScriptedSqs::with_faults([WholeFault::Slow(Duration::from_secs(2))]);
    let server = mock_sqs(&sqs).await;
    let producer = producer(backend_for(&server, Duration::from_millis(300)).await, quick_retries()).await;
    let input = values(&["t1", "t2", "t3"]);
    let started = Instant::now();

    let report = producer.send_all(input.clone()).await;

    assert_every_value_accounted_for(&report, &input);
    assert!(report.is_complete_success(), "{:?}", report.failed);
    assert!(report.sent.iter().all(|(_, receipt)| receipt.attempts == 2));
    assert!(started.elapsed() < Duration::from_secs(2), "the timeout cut the slow attempt short");
    assert_eq!(sqs.calls().len(), 2);
    // The slow attempt was stored before it timed out: without idempotency keys on a FIFO queue, a retry after
    // an ambiguous timeout duplicates (documented). Each caller still received exactly one answer.
    let stored = sqs.stored();
    for value in &input {
        assert_eq!(stored.iter().filter(|s| *s == value).count(), 2, "{stored:?}");
    }
}

#[tokio::test]
async fn partial_failures_resend_only_retryable_entries() {
    let sqs = ScriptedSqs::default();
    let server = mock_sqs(&sqs).await;
    let producer = producer(backend_for(&server, Duration::from_secs(5)).await, quick_retries()).await;
    let input = values(&["ok-1", "flaky-2", "reject-3", "ok-4", "flaky-5"]);

    let report = producer.send_all(input.clone()).await;

    assert_every_value_accounted_for(&report, &input);
    let attempts: HashMap<&str, u32> = report.sent.iter().map(|(v, r)| (v.as_str(), r.attempts)).collect();
    assert_eq!(attempts, HashMap::from([("ok-1", 1), ("flaky-2", 2), ("ok-4", 1), ("flaky-5", 2)]));
    assert_eq!(report.failed.len(), 1);
    let (value, error) = &report.failed[0];
    assert_eq!(value, "reject-3");
    match error {
        Error::Service { code, message, fault, .. } => {
            assert_eq!(code, &ServiceErrorCode::InvalidParameterValue);
            assert!(message.contains("test rejection"), "{message}");
            assert_eq!(*fault, Some(Fault::Sender));
        }
        other => panic!("expected the entry's service error, got {other:?}"),
    }
    assert_eq!(sqs.calls(), [input.clone(), values(&["flaky-2", "flaky-5"])], "only retryable entries re-sent");
    let mut stored = sqs.stored();
    stored.sort();
    assert_eq!(stored, values(&["flaky-2", "flaky-5", "ok-1", "ok-4"]), "each stored exactly once");
}

#[tokio::test]
async fn damaged_digests_are_returned_as_errors_not_retried() {
    let sqs = ScriptedSqs::with_faults([WholeFault::DamageFirstDigest]);
    let server = mock_sqs(&sqs).await;
    let producer = producer(backend_for(&server, Duration::from_secs(5)).await, quick_retries()).await;
    let input = values(&["m1", "m2"]);

    let report = producer.send_all(input.clone()).await;

    assert_every_value_accounted_for(&report, &input);
    assert_eq!(report.sent.len(), 1);
    assert_eq!(report.failed.len(), 1);
    assert!(
        matches!(report.failed[0].1, Error::ChecksumMismatch { field: ChecksumField::MessageBody, .. }),
        "{:?}",
        report.failed[0].1
    );
    assert_eq!(sqs.calls().len(), 1, "a digest mismatch is not retried");
}

#[tokio::test]
async fn exhausted_retries_return_every_message_with_the_last_error() {
    let sqs = ScriptedSqs::always(WholeFault::Throttle);
    let server = mock_sqs(&sqs).await;
    let retry = quick_retries().initial_backoff(Duration::from_millis(20)).max_elapsed(Duration::from_millis(300));
    let producer = producer(backend_for(&server, Duration::from_secs(5)).await, retry).await;
    let input = values(&["x1", "x2", "x3", "x4"]);
    let started = Instant::now();

    let report = producer.send_all(input.clone()).await;

    assert_every_value_accounted_for(&report, &input);
    assert!(report.sent.is_empty());
    assert!(report.failed.iter().all(|(_, e)| e.code() == Some(&ServiceErrorCode::RequestThrottled)));
    let calls = sqs.calls().len();
    // 20+40+80+160 ms fit in 300 ms, the next 320 ms does not: 5 calls, fewer when round trips are slow.
    assert!((2..=6).contains(&calls), "retried, then stopped by the elapsed-time bound: {calls} calls");
    assert!(started.elapsed() < Duration::from_secs(2), "gave up within the elapsed-time bound");
    assert!(sqs.stored().is_empty());
}

#[tokio::test]
async fn an_empty_retry_budget_stops_retries() {
    let sqs = ScriptedSqs::always(WholeFault::Internal);
    let server = mock_sqs(&sqs).await;
    // One retry's worth of tokens (a retry costs 5).
    let retry = quick_retries().budget(Some(RetryBudget::new(5)));
    let producer = producer(backend_for(&server, Duration::from_secs(5)).await, retry).await;

    let error = producer.send(&"b".to_owned()).await.expect_err("budget exhausted");

    assert_eq!(error.code(), Some(&ServiceErrorCode::InternalError));
    assert_eq!(sqs.calls().len(), 2, "the first attempt and the one retry the budget allowed");
}
