//! Message content as only `aws-sdk-sqs` can send it: the deprecated `AttributeNames` receive parameter, an
//! attribute without any value, and the independent MD5 helper the wire tests use (checked against SPEC §9).
//! Message ids, digests, attribute filtering, system attributes and validation are conformance scenarios
//! (`tests/conformance/scenarios/{message_attributes,message_validation}.rs`).

use std::collections::BTreeSet;

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};

use crate::common::{TestEnv, Val, expect_service_error, md5_hex, md5_of_attributes, str_attr};

const TRACE: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";

#[test]
fn md5_helper_reproduces_the_spec_worked_example() {
    let all = md5_of_attributes(&[
        ("OrderId", "String", Val::Text("A-1001")),
        ("Priority", "Number", Val::Text("5")),
        ("Blob", "Binary", Val::Bytes(&[1, 2, 3])),
    ]);
    let order_only = md5_of_attributes(&[("OrderId", "String", Val::Text("A-1001"))]);
    let trace = md5_of_attributes(&[("AWSTraceHeader", "String", Val::Text(TRACE))]);
    let utf8 = md5_of_attributes(&[("note", "String.utf8", Val::Text("héllo"))]);
    let npm = md5_of_attributes(&[("attribName1", "String", Val::Text("attribValue 1"))]);

    assert_eq!(md5_hex(b"Hello from sqskit"), "09077c1cb05a9e73a1620c07e4bea548");
    assert_eq!(all, "55d9d49634bd05768defd42ef21e185d");
    assert_eq!(order_only, "7cc2e4344147578b847411f21bade715");
    assert_eq!(trace, "5f48eef650c1d0207456969c85af2fdd");
    assert_eq!(utf8, "82736dbcd91069d0953092b0e6fdaebc");
    assert_eq!(npm, "19e27d4e946b072f3f58da80d94fd778");
}

#[tokio::test]
#[allow(deprecated)] // AttributeNames is deprecated in the model but still sent by older clients.
async fn receive_with_deprecated_attribute_names_returns_system_attributes() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;
    env.send(&url, "y").await;

    let named = env
        .client
        .receive_message()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::from("SentTimestamp"))
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    let all = env
        .client
        .receive_message()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();

    let named_keys: Vec<&str> = named[0].attributes().unwrap().keys().map(MessageSystemAttributeName::as_str).collect();
    assert_eq!(named_keys, vec!["SentTimestamp"]);
    let all_attrs = all[0].attributes().unwrap();
    for n in ["SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp", "SenderId"] {
        assert!(all_attrs.contains_key(&MessageSystemAttributeName::from(n)), "{n} missing from {all_attrs:?}");
    }
    env.shutdown().await;
}

#[tokio::test]
async fn a_message_attribute_without_any_value_fails_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    // Empty values are a conformance scenario; sqskit's attribute type cannot omit the value altogether.
    let no_value = MessageAttributeValue::builder().data_type("String").build().unwrap();

    let err =
        env.client.send_message().queue_url(&url).message_body("x").message_attributes("attr", no_value).send().await;

    expect_service_error(err.unwrap_err(), 400, "InvalidParameterValue", "");
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
#[allow(deprecated)] // AttributeNames is deprecated in the model but still sent by older clients.
async fn system_attribute_names_and_deprecated_attribute_names_are_combined() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;

    let msgs = env
        .client
        .receive_message()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::from("SentTimestamp"))
        .message_system_attribute_names(MessageSystemAttributeName::SenderId)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();

    // SPEC §6 ReceiveMessage: the two lists mean the same thing; the union is returned.
    let names: BTreeSet<&str> = msgs[0].attributes().unwrap().keys().map(MessageSystemAttributeName::as_str).collect();
    assert_eq!(names, BTreeSet::from(["SenderId", "SentTimestamp"]));
    env.shutdown().await;
}

/// `MessageAttributeNames` selectors as AWS answers them (the recorded AWS responses of LocalStack's
/// AWS-validated `test_receive_message_message_attribute_names_filters`, tests/integration/test_sqs.snapshot.json
/// in <https://github.com/localstack/localstack>, and the API reference: "`All` or `.*` ... a prefix, for example
/// `bar.*`", <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html>):
/// `Hel.*` is the prefix `Hel` (so `Hello` and `Help.Me`), `*` and `.*` are every attribute, and names that
/// could never be attribute names (`AWS.`, `..foo`) select nothing without an error.
#[tokio::test]
async fn message_attribute_name_wildcards_select_as_aws_does() {
    let env = TestEnv::start().await;
    let url = env.create_queue_with("orders", &[("VisibilityTimeout", "0")]).await;
    env.client
        .send_message()
        .queue_url(&url)
        .message_body("msg")
        .message_attributes("Help.Me", str_attr("String", "Me"))
        .message_attributes("Hello", str_attr("String", "There"))
        .message_attributes("General", str_attr("String", "Kenobi"))
        .send()
        .await
        .unwrap();

    let cases: [(&[&str], &[&str]); 9] = [
        (&["All"], &["General", "Hello", "Help.Me"]),
        (&[".*"], &["General", "Hello", "Help.Me"]),
        (&["*"], &["General", "Hello", "Help.Me"]),
        (&["Hel.*"], &["Hello", "Help.Me"]),
        (&["Help.*"], &["Help.Me"]),
        (&["Foo", "Hello"], &["Hello"]),
        (&["G.*", "Help.Me"], &["General", "Help.Me"]),
        (&["Foo", "Help"], &[]),
        (&["AWS.", "..foo"], &[]),
    ];
    for (selectors, expected) in cases {
        let mut request = env.client.receive_message().queue_url(&url);
        for selector in selectors {
            request = request.message_attribute_names(*selector);
        }
        let messages = request.send().await.unwrap().messages.unwrap();
        let message = &messages[0];
        let names: BTreeSet<&str> =
            message.message_attributes().map(|attrs| attrs.keys().map(String::as_str).collect()).unwrap_or_default();
        assert_eq!(names, expected.iter().copied().collect::<BTreeSet<_>>(), "{selectors:?}");
        let values = [("General", "Kenobi"), ("Hello", "There"), ("Help.Me", "Me")];
        let returned: Vec<(&str, &str, Val<'_>)> = values
            .iter()
            .filter(|(name, _)| expected.contains(name))
            .map(|(name, value)| (*name, "String", Val::Text(value)))
            .collect();
        let md5 = (!returned.is_empty()).then(|| md5_of_attributes(&returned));
        assert_eq!(message.md5_of_message_attributes().map(str::to_owned), md5, "{selectors:?}");
    }
    env.shutdown().await;
}

/// An X-Ray trace header sent as the HTTP header `X-Amzn-Trace-Id` becomes the `AWSTraceHeader` of every message
/// of a SendMessage(Batch) that sets no `AWSTraceHeader` system attribute; one that does wins ("the message system
/// attribute overrides the HTTP trace header", <https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sqs.html>).
#[tokio::test]
async fn the_x_ray_http_trace_header_becomes_the_aws_trace_header_unless_the_message_sets_one() {
    use aws_sdk_sqs::types::{
        MessageSystemAttributeNameForSends, MessageSystemAttributeValue, SendMessageBatchRequestEntry,
    };
    const HTTP_TRACE: &str = "Root=1-67891233-abcdef012345678912345678;Parent=463ac35c9f6413ad;Sampled=1";
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let sent = env
        .client
        .send_message()
        .queue_url(&url)
        .message_body("from header")
        .customize()
        .mutate_request(|request| {
            request.headers_mut().insert("X-Amzn-Trace-Id", HTTP_TRACE);
        })
        .send()
        .await
        .unwrap();
    assert_eq!(sent.md5_of_message_system_attributes(), None, "no system attributes were sent");
    let own = MessageSystemAttributeValue::builder().data_type("String").string_value(TRACE).build().unwrap();
    env.client
        .send_message_batch()
        .queue_url(&url)
        .entries(SendMessageBatchRequestEntry::builder().id("a").message_body("batch header").build().unwrap())
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("b")
                .message_body("own attribute")
                .message_system_attributes(MessageSystemAttributeNameForSends::AwsTraceHeader, own)
                .build()
                .unwrap(),
        )
        .customize()
        .mutate_request(|request| {
            request.headers_mut().insert("X-Amzn-Trace-Id", HTTP_TRACE);
        })
        .send()
        .await
        .unwrap();
    env.send(&url, "untraced").await;

    let messages = env
        .client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    let trace_of = |body: &str| {
        let message = messages.iter().find(|m| m.body() == Some(body)).unwrap();
        message.attributes().and_then(|a| a.get(&MessageSystemAttributeName::AwsTraceHeader)).cloned()
    };
    assert_eq!(trace_of("from header").as_deref(), Some(HTTP_TRACE));
    assert_eq!(trace_of("batch header").as_deref(), Some(HTTP_TRACE));
    assert_eq!(trace_of("own attribute").as_deref(), Some(TRACE));
    assert_eq!(trace_of("untraced"), None);
    env.shutdown().await;
}

/// The size limit counts UTF-8 bytes, not characters: a body of multi-byte characters exactly at the queue's
/// `MaximumMessageSize` is accepted, one byte more is refused (SPEC §6 SendMessage; AWS's text
/// "Message must be shorter than <n> bytes").
#[tokio::test]
async fn the_size_limit_counts_bytes_of_multi_byte_bodies() {
    let env = TestEnv::start().await;
    let url = env.create_queue_with("small", &[("MaximumMessageSize", "1024")]).await;
    let at_limit = format!("{}{}", "é".repeat(200), "✓".repeat(208)); // 400 + 624 = 1024 bytes, 408 characters
    assert_eq!(at_limit.len(), 1024);

    env.client.send_message().queue_url(&url).message_body(&at_limit).send().await.unwrap();
    let over = format!("{at_limit}a");
    let err = env.client.send_message().queue_url(&url).message_body(&over).send().await.unwrap_err();
    expect_service_error(err, 400, "InvalidParameterValue", "Message must be shorter than 1024 bytes.");
    let received = env.receive_one(&url).await;
    assert_eq!(received.body(), Some(at_limit.as_str()));
    assert_eq!(received.md5_of_body(), Some(md5_hex(at_limit.as_bytes()).as_str()));
    env.shutdown().await;
}

/// Message attribute names may use letters and digits of any script (issue 21); the other rules still hold.
#[tokio::test]
async fn attribute_names_with_non_ascii_letters_are_accepted() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_attributes("José", str_attr("String", "1"))
        .message_attributes("注文.id", str_attr("String", "2"))
        .send()
        .await
        .unwrap();
    let message = env.receive_one(&url).await;
    let names: BTreeSet<&str> = message.message_attributes().unwrap().keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(["José", "注文.id"]));
    let expected = md5_of_attributes(&[("José", "String", Val::Text("1")), ("注文.id", "String", Val::Text("2"))]);
    assert_eq!(message.md5_of_message_attributes(), Some(expected.as_str()));

    let err = env
        .client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_attributes("no space", str_attr("String", "1"))
        .send()
        .await
        .unwrap_err();
    expect_service_error(err, 400, "InvalidParameterValue", "The message attribute name 'no space' is invalid.");
    env.shutdown().await;
}

/// A SendMessageBatch to a FIFO queue with an entry that has no MessageGroupId fails as a whole, with
/// `InvalidParameterValue` (AWS's answer quoted in Jimdo/sqs-dead-letter-handling#10), while SendMessage says
/// `MissingParameter`; nothing is stored.
#[tokio::test]
async fn a_fifo_batch_entry_without_a_group_id_fails_the_whole_request() {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    let env = TestEnv::start().await;
    let url =
        env.create_queue_with("orders.fifo", &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]).await;

    let err = env
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(
            SendMessageBatchRequestEntry::builder().id("a").message_body("a").message_group_id("g").build().unwrap(),
        )
        .entries(SendMessageBatchRequestEntry::builder().id("b").message_body("b").build().unwrap())
        .send()
        .await
        .unwrap_err();
    expect_service_error(err, 400, "InvalidParameterValue", "The request must contain the parameter MessageGroupId.");
    assert_eq!(env.counts(&url).await, (0, 0, 0));

    let err = env.client.send_message().queue_url(&url).message_body("c").send().await.unwrap_err();
    expect_service_error(err, 400, "MissingParameter", "The request must contain the parameter MessageGroupId.");
    env.shutdown().await;
}
