//! AWS JSON 1.0 on the wire, without the SDK: exact response keys, values and headers of SendMessage,
//! ReceiveMessage and errors (SPEC §3), plus the health endpoint and the request-size cap.
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{RawResponse, TestEnv, object_keys, post_json, raw_request};
use crate::support::{JSON_CT, assert_json_error, post_ok};

/// The SendMessage request of SPEC §3.4 for `url`.
fn spec_send_body(url: &str) -> Value {
    json!({
        "QueueUrl": url,
        "MessageBody": "Hello from sqskit",
        "MessageAttributes": {
            "OrderId": {"DataType": "String", "StringValue": "A-1001"},
            "Priority": {"DataType": "Number", "StringValue": "5"},
            "Blob": {"DataType": "Binary", "BinaryValue": "AQID"}
        },
        "MessageSystemAttributes": {
            "AWSTraceHeader": {
                "DataType": "String",
                "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
            }
        }
    })
}

/// Creates queue `name` with a raw CreateQueue and returns its URL, checking the whole response body.
async fn create_queue_raw(env: &TestEnv, name: &str) -> String {
    let body = post_ok(&env.endpoint, "CreateQueue", &json!({"QueueName": name})).await;
    assert_eq!(body, json!({"QueueUrl": env.url_of(name)}));
    env.url_of(name)
}

/// POSTs `body` as written (not necessarily valid JSON) as a JSON 1.0 request for `action`, with an extra
/// `(name, value)` header such as `host` when one is given.
async fn post_text(env: &TestEnv, action: &str, extra: Option<(&str, &str)>, body: &[u8]) -> RawResponse {
    let target = format!("AmazonSQS.{action}");
    let mut headers = vec![("content-type", JSON_CT), ("x-amz-target", target.as_str())];
    headers.extend(extra);
    raw_request(&env.endpoint, "POST", "/", &headers, body.to_vec()).await
}

/// Sends `entries` with `action` (a batch action) to `url` and returns the body, checking that both
/// `Successful` and `Failed` are present (SPEC §3: batch responses always carry both lists).
async fn post_batch(env: &TestEnv, action: &str, url: &str, entries: Value) -> Value {
    let body = post_ok(&env.endpoint, action, &json!({"QueueUrl": url, "Entries": entries})).await;
    assert_eq!(object_keys(&body), ["Failed", "Successful"]);
    body
}

#[tokio::test]
async fn send_message_response_has_exactly_the_spec_md5s_and_a_message_id() {
    let env = TestEnv::start().await;
    let url = create_queue_raw(&env, "orders").await;

    let body = post_ok(&env.endpoint, "SendMessage", &spec_send_body(&url)).await;

    assert_eq!(
        object_keys(&body),
        ["MD5OfMessageAttributes", "MD5OfMessageBody", "MD5OfMessageSystemAttributes", "MessageId"]
    );
    assert_eq!(body["MD5OfMessageBody"], "09077c1cb05a9e73a1620c07e4bea548");
    assert_eq!(body["MD5OfMessageAttributes"], "55d9d49634bd05768defd42ef21e185d");
    assert_eq!(body["MD5OfMessageSystemAttributes"], "5f48eef650c1d0207456969c85af2fdd");
    uuid::Uuid::parse_str(body["MessageId"].as_str().unwrap()).unwrap();
    env.shutdown().await;
}

#[tokio::test]
async fn send_message_without_attributes_omits_the_attribute_md5_keys() {
    let env = TestEnv::start().await;
    let url = create_queue_raw(&env, "orders").await;

    let body =
        post_ok(&env.endpoint, "SendMessage", &json!({"QueueUrl": url, "MessageBody": "Hello from sqskit"})).await;

    assert_eq!(object_keys(&body), ["MD5OfMessageBody", "MessageId"]);
    env.shutdown().await;
}

#[tokio::test]
async fn receive_message_returns_exactly_the_requested_keys_per_message() {
    let env = TestEnv::start().await;
    let url = create_queue_raw(&env, "orders").await;
    post_json(&env.endpoint, "SendMessage", &spec_send_body(&url)).await;

    let body = post_ok(
        &env.endpoint,
        "ReceiveMessage",
        &json!({
            "QueueUrl": url,
            "MessageAttributeNames": ["All"],
            "MessageSystemAttributeNames": ["All"]
        }),
    )
    .await;

    assert_eq!(object_keys(&body), ["Messages"]);
    let msgs = body["Messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(
        object_keys(m),
        [
            "Attributes",
            "Body",
            "MD5OfBody",
            "MD5OfMessageAttributes",
            "MessageAttributes",
            "MessageId",
            "ReceiptHandle"
        ]
    );
    assert_eq!(m["Body"], "Hello from sqskit");
    assert_eq!(m["MD5OfBody"], "09077c1cb05a9e73a1620c07e4bea548");
    assert_eq!(m["MD5OfMessageAttributes"], "55d9d49634bd05768defd42ef21e185d");
    assert_eq!(
        m["MessageAttributes"],
        json!({
            "OrderId": {"DataType": "String", "StringValue": "A-1001"},
            "Priority": {"DataType": "Number", "StringValue": "5"},
            "Blob": {"DataType": "Binary", "BinaryValue": "AQID"}
        })
    );
    assert_eq!(
        object_keys(&m["Attributes"]),
        ["AWSTraceHeader", "ApproximateFirstReceiveTimestamp", "ApproximateReceiveCount", "SenderId", "SentTimestamp"]
    );
    for v in m["Attributes"].as_object().unwrap().values() {
        assert!(v.is_string(), "system attribute values are strings: {v}");
    }
    assert_eq!(m["Attributes"]["ApproximateReceiveCount"], "1");
    assert!(m["ReceiptHandle"].as_str().is_some_and(|h| !h.is_empty()));
    env.shutdown().await;
}

#[tokio::test]
async fn receive_message_without_attribute_names_returns_only_the_core_keys() {
    let env = TestEnv::start().await;
    let url = create_queue_raw(&env, "orders").await;
    post_json(&env.endpoint, "SendMessage", &spec_send_body(&url)).await;

    let body = post_ok(&env.endpoint, "ReceiveMessage", &json!({"QueueUrl": url})).await;

    let m = &body["Messages"][0];
    assert_eq!(object_keys(m), ["Body", "MD5OfBody", "MessageId", "ReceiptHandle"]);
    env.shutdown().await;
}

#[tokio::test]
async fn empty_receive_returns_an_empty_object() {
    let env = TestEnv::start().await;
    let url = create_queue_raw(&env, "orders").await;

    let body = post_ok(&env.endpoint, "ReceiveMessage", &json!({"QueueUrl": url, "WaitTimeSeconds": 0})).await;

    assert_eq!(body, json!({}));
    env.shutdown().await;
}

#[tokio::test]
async fn unit_output_actions_return_an_empty_object() {
    let env = TestEnv::start().await;
    let url = create_queue_raw(&env, "orders").await;

    let set = post_ok(
        &env.endpoint,
        "SetQueueAttributes",
        &json!({"QueueUrl": url, "Attributes": {"VisibilityTimeout": "10"}}),
    )
    .await;
    let delete = post_ok(&env.endpoint, "DeleteQueue", &json!({"QueueUrl": url})).await;

    assert_eq!([set, delete], [json!({}), json!({})]);
    env.shutdown().await;
}

#[tokio::test]
async fn list_queues_and_attribute_queries_with_nothing_to_return_send_empty_objects() {
    let env = TestEnv::start().await;

    let list = post_ok(&env.endpoint, "ListQueues", &json!({})).await;
    let url = create_queue_raw(&env, "orders").await;
    let attrs = post_ok(&env.endpoint, "GetQueueAttributes", &json!({"QueueUrl": url})).await;
    let tags = post_ok(&env.endpoint, "ListQueueTags", &json!({"QueueUrl": url})).await;

    assert_eq!([list, attrs, tags], [json!({}), json!({}), json!({})]);
    env.shutdown().await;
}

#[tokio::test]
async fn batch_responses_always_carry_successful_and_failed() {
    let env = TestEnv::start().await;
    let url = create_queue_raw(&env, "orders").await;

    let body = post_batch(&env, "SendMessageBatch", &url, json!([{"Id": "a", "MessageBody": "x"}])).await;

    assert_eq!(body["Failed"], json!([]));
    let ok = &body["Successful"][0];
    assert_eq!(object_keys(ok), ["Id", "MD5OfMessageBody", "MessageId"]);
    assert_eq!(ok["Id"], "a");
    env.shutdown().await;
}

#[tokio::test]
async fn batch_entry_failure_has_id_sender_fault_code_and_message() {
    let env = TestEnv::start().await;
    let url = create_queue_raw(&env, "orders").await;

    let body = post_batch(&env, "DeleteMessageBatch", &url, json!([{"Id": "a", "ReceiptHandle": "garbage"}])).await;

    assert_eq!(body["Successful"], json!([]));
    let failed = &body["Failed"][0];
    assert_eq!(object_keys(failed), ["Code", "Id", "Message", "SenderFault"]);
    assert_eq!(failed["Id"], "a");
    assert_eq!(failed["SenderFault"], true);
    assert_eq!(failed["Code"], "ReceiptHandleIsInvalid");
    env.shutdown().await;
}

#[tokio::test]
async fn queue_does_not_exist_error_has_exact_status_headers_and_body() {
    let env = TestEnv::start().await;

    let resp = post_json(&env.endpoint, "SendMessage", &spec_send_body(&env.url_of("orders"))).await;

    assert_json_error(&resp, 400, "AWS.SimpleQueueService.NonExistentQueue;Sender", "QueueDoesNotExist");
    assert_eq!(
        resp.json(),
        json!({
            "__type": "com.amazonaws.sqs#QueueDoesNotExist",
            "message": "The specified queue does not exist."
        })
    );
    env.shutdown().await;
}

#[tokio::test]
async fn queue_name_exists_error_carries_the_legacy_code_header() {
    let env = TestEnv::start().await;
    create_queue_raw(&env, "orders").await;

    let resp = post_json(
        &env.endpoint,
        "CreateQueue",
        &json!({"QueueName": "orders", "Attributes": {"VisibilityTimeout": "99"}}),
    )
    .await;

    assert_json_error(&resp, 400, "QueueAlreadyExists;Sender", "QueueNameExists");
    assert_eq!(resp.json()["__type"], "com.amazonaws.sqs#QueueNameExists");
    env.shutdown().await;
}

#[tokio::test]
async fn unknown_target_fails_with_unknown_operation_exception() {
    let env = TestEnv::start().await;

    let resp = post_json(&env.endpoint, "Frobnicate", &json!({})).await;

    assert_json_error(&resp, 400, "InvalidAction;Sender", "UnknownOperationException");
    env.shutdown().await;
}

#[tokio::test]
async fn unparseable_json_fails_with_serialization_exception() {
    let env = TestEnv::start().await;

    let resp = post_text(&env, "ListQueues", None, b"{\"QueueNamePrefix\": ").await;

    assert_json_error(&resp, 400, "MalformedInput;Sender", "SerializationException");
    env.shutdown().await;
}

#[tokio::test]
async fn missing_required_parameter_fails_with_missing_parameter() {
    let env = TestEnv::start().await;
    let url = create_queue_raw(&env, "orders").await;

    let resp = post_json(&env.endpoint, "SendMessage", &json!({"QueueUrl": url})).await;

    assert_json_error(&resp, 400, "MissingParameter;Sender", "MissingRequiredParameterException");
    assert_eq!(resp.json()["message"], "The request must contain the parameter MessageBody.");
    env.shutdown().await;
}

#[tokio::test]
async fn invalid_parameter_value_carries_the_legacy_code_header() {
    let env = TestEnv::start().await;

    let resp = post_json(&env.endpoint, "CreateQueue", &json!({"QueueName": "bad name"})).await;

    assert_json_error(&resp, 400, "InvalidParameterValue;Sender", "InvalidParameterValueException");
    env.shutdown().await;
}

#[tokio::test]
async fn null_members_are_treated_as_absent_and_unknown_members_are_ignored() {
    let env = TestEnv::start().await;
    let url = create_queue_raw(&env, "orders").await;

    let body = post_ok(
        &env.endpoint,
        "SendMessage",
        &json!({
            "QueueUrl": url,
            "MessageBody": "x",
            "DelaySeconds": null,
            "MessageAttributes": null,
            "SomethingNew": {"a": 1}
        }),
    )
    .await;

    assert_eq!(object_keys(&body), ["MD5OfMessageBody", "MessageId"]);
    env.shutdown().await;
}

#[tokio::test]
async fn returned_queue_urls_use_the_request_host() {
    let env = TestEnv::start().await;
    let port = env.endpoint.rsplit(':').next().unwrap().to_owned();
    let host = format!("localhost:{port}");

    let resp = post_text(&env, "CreateQueue", Some(("host", &host)), br#"{"QueueName":"orders"}"#).await;

    assert_eq!(resp.status, 200, "{resp:?}");
    let expected = format!("http://localhost:{port}/000000000000/orders");
    assert_eq!(resp.json()["QueueUrl"], expected);
    for (target, body) in [("GetQueueUrl", r#"{"QueueName":"orders"}"#), ("ListQueues", "{}")] {
        let resp = post_text(&env, target, Some(("host", &host)), body.as_bytes()).await;
        let got = resp.json();
        let url = got.get("QueueUrl").cloned().unwrap_or_else(|| got["QueueUrls"][0].clone());
        assert_eq!(url, expected, "{target}: {got}");
    }
    env.shutdown().await;
}

#[tokio::test]
async fn unpaired_surrogate_in_body_fails_with_invalid_message_contents() {
    let env = TestEnv::start().await;
    let url = create_queue_raw(&env, "orders").await;
    // serde_json cannot build this text, so write the JSON by hand: a lone high surrogate escape.
    let body = format!(r#"{{"QueueUrl":"{url}","MessageBody":"a\ud800b"}}"#);

    let resp = post_text(&env, "SendMessage", None, body.as_bytes()).await;

    // SPEC §8: unpaired surrogates are outside the allowed characters.
    assert_json_error(&resp, 400, "InvalidMessageContents;Sender", "InvalidMessageContents");
    env.shutdown().await;
}

#[tokio::test]
async fn health_endpoint_returns_200() {
    let env = TestEnv::start().await;

    let resp = raw_request(&env.endpoint, "GET", "/health", &[], Vec::new()).await;

    assert_eq!(resp.status, 200, "{resp:?}");
    env.shutdown().await;
}

#[tokio::test]
async fn request_body_over_the_server_cap_gets_an_error_status_not_a_hang() {
    let env = TestEnv::start().await;
    let addr = env.endpoint.trim_start_matches("http://").to_owned();
    let body_len = sqskit_emulator::http::DEFAULT_MAX_REQUEST_BYTES + 1024 * 1024;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {JSON_CT}\r\n\
         X-Amz-Target: AmazonSQS.ListQueues\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n"
    );
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();

    // The server may answer and close before reading the whole body, so write and read concurrently and
    // ignore write errors.
    let writer = tokio::spawn(async move {
        let _ignored = wr.write_all(head.as_bytes()).await;
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..(body_len / chunk.len()) {
            if wr.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    response.extend_from_slice(&buf[..n]);
                    if response.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    writer.abort();

    assert!(read.is_ok(), "no response within 10 s");
    let text = String::from_utf8_lossy(&response);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    assert!(matches!(status, 400 | 413), "status {status}: {text}");
    let health = raw_request(&env.endpoint, "GET", "/health", &[], Vec::new()).await;
    assert_eq!(health.status, 200, "server still serves after an oversized request");
    env.shutdown().await;
}
