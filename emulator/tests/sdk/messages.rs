//! Message content through `aws-sdk-sqs`: MessageIds, body and attribute MD5s (SPEC §9, checked against digests
//! computed here), attribute filtering on receive, system attributes, and body/attribute validation (SPEC §8).

use std::collections::{BTreeSet, HashMap};

use crate::common::{TestEnv, Val, bin_attr, expect_service_error, md5_hex, md5_of_attributes, now_ms, str_attr};
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::operation::send_message::SendMessageError;
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, MessageSystemAttributeNameForSends, MessageSystemAttributeValue,
    QueueAttributeName,
};

const TRACE: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";

fn trace_header() -> MessageSystemAttributeValue {
    MessageSystemAttributeValue::builder().data_type("String").string_value(TRACE).build().unwrap()
}

/// The three attributes of SPEC §3.4 / §9.
fn spec_attributes() -> HashMap<String, MessageAttributeValue> {
    HashMap::from([
        ("OrderId".to_owned(), str_attr("String", "A-1001")),
        ("Priority".to_owned(), str_attr("Number", "5")),
        ("Blob".to_owned(), bin_attr("Binary", &[1, 2, 3])),
    ])
}

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
async fn send_message_returns_uuid_message_id_and_body_md5_only() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let out = env.send(&url, "Hello from sqskit").await;

    let id = out.message_id().unwrap();
    assert_eq!(id.len(), 36, "{id}");
    uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("MessageId {id} is not a UUID: {e}"));
    assert_eq!(out.md5_of_message_body(), Some("09077c1cb05a9e73a1620c07e4bea548"));
    assert_eq!(out.md5_of_message_attributes(), None);
    assert_eq!(out.md5_of_message_system_attributes(), None);
    assert_eq!(out.sequence_number(), None);
    env.shutdown().await;
}

#[tokio::test]
async fn each_send_gets_a_distinct_message_id() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let mut ids = BTreeSet::new();
    for _ in 0..5 {
        ids.insert(env.send(&url, "same body").await.message_id.unwrap());
    }

    assert_eq!(ids.len(), 5);
    env.shutdown().await;
}

#[tokio::test]
async fn send_message_with_attributes_returns_md5s_of_the_spec_example() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let out = env
        .client
        .send_message()
        .queue_url(&url)
        .message_body("Hello from sqskit")
        .set_message_attributes(Some(spec_attributes()))
        .message_system_attributes(MessageSystemAttributeNameForSends::AwsTraceHeader, trace_header())
        .send()
        .await
        .unwrap();

    assert_eq!(out.md5_of_message_body(), Some("09077c1cb05a9e73a1620c07e4bea548"));
    assert_eq!(out.md5_of_message_attributes(), Some("55d9d49634bd05768defd42ef21e185d"));
    assert_eq!(out.md5_of_message_system_attributes(), Some("5f48eef650c1d0207456969c85af2fdd"));
    env.shutdown().await;
}

#[tokio::test]
async fn custom_type_labels_and_multibyte_values_are_hashed_by_full_type_and_byte_length() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let png = [0x89, b'P', b'N', b'G', 0, 0xff];
    let body = "größe 😀";

    let out = env
        .client
        .send_message()
        .queue_url(&url)
        .message_body(body)
        .message_attributes("price", str_attr("Number.float", "3.14"))
        .message_attributes("thumb", bin_attr("Binary.png", &png))
        .message_attributes("note", str_attr("String.utf8", "héllo"))
        .send()
        .await
        .unwrap();

    let expected = md5_of_attributes(&[
        ("price", "Number.float", Val::Text("3.14")),
        ("thumb", "Binary.png", Val::Bytes(&png)),
        ("note", "String.utf8", Val::Text("héllo")),
    ]);
    assert_eq!(out.md5_of_message_body(), Some(md5_hex(body.as_bytes()).as_str()));
    assert_eq!(out.md5_of_message_attributes(), Some(expected.as_str()));
    let received = env.receive_one(&url).await;
    assert_eq!(received.body(), Some(body));
    assert_eq!(received.md5_of_body(), Some(md5_hex(body.as_bytes()).as_str()));
    assert_eq!(received.md5_of_message_attributes(), Some(expected.as_str()));
    let attrs = received.message_attributes().unwrap();
    assert_eq!(attrs["price"], str_attr("Number.float", "3.14"));
    assert_eq!(attrs["thumb"], bin_attr("Binary.png", &png));
    assert_eq!(attrs["note"], str_attr("String.utf8", "héllo"));
    env.shutdown().await;
}

#[tokio::test]
async fn receive_with_all_attribute_names_returns_every_attribute_and_the_send_md5() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.client
        .send_message()
        .queue_url(&url)
        .message_body("Hello from sqskit")
        .set_message_attributes(Some(spec_attributes()))
        .send()
        .await
        .unwrap();

    let msg = env.receive_one(&url).await;

    assert_eq!(msg.body(), Some("Hello from sqskit"));
    assert_eq!(msg.md5_of_body(), Some("09077c1cb05a9e73a1620c07e4bea548"));
    assert_eq!(msg.md5_of_message_attributes(), Some("55d9d49634bd05768defd42ef21e185d"));
    assert_eq!(msg.message_attributes(), Some(&spec_attributes()));
    env.shutdown().await;
}

async fn receive_with_names(env: &TestEnv, url: &str, names: &[&str]) -> aws_sdk_sqs::types::Message {
    let msgs = env
        .client
        .receive_message()
        .queue_url(url)
        .set_message_attribute_names(Some(names.iter().map(|s| (*s).to_owned()).collect()))
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    msgs.into_iter().next().unwrap()
}

#[tokio::test]
async fn receive_filters_message_attributes_by_name_and_hashes_only_returned_ones() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .set_message_attributes(Some(spec_attributes()))
        .send()
        .await
        .unwrap();

    let msg = receive_with_names(&env, &url, &["OrderId", "NotThere"]).await;

    let attrs = msg.message_attributes().unwrap();
    assert_eq!(attrs.keys().collect::<Vec<_>>(), vec!["OrderId"]);
    assert_eq!(msg.md5_of_message_attributes(), Some("7cc2e4344147578b847411f21bade715"));
    env.shutdown().await;
}

#[tokio::test]
async fn receive_filters_message_attributes_by_prefix_wildcard() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_attributes("order.id", str_attr("String", "A-1"))
        .message_attributes("order.total", str_attr("Number", "12"))
        .message_attributes("orderly", str_attr("String", "no"))
        .message_attributes("customer", str_attr("String", "c-9"))
        .send()
        .await
        .unwrap();

    let msg = receive_with_names(&env, &url, &["order.*"]).await;

    let names: BTreeSet<&str> = msg.message_attributes().unwrap().keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(["order.id", "order.total"]));
    let expected =
        md5_of_attributes(&[("order.id", "String", Val::Text("A-1")), ("order.total", "Number", Val::Text("12"))]);
    assert_eq!(msg.md5_of_message_attributes(), Some(expected.as_str()));
    env.shutdown().await;
}

#[tokio::test]
async fn receive_with_dot_star_returns_all_message_attributes() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .set_message_attributes(Some(spec_attributes()))
        .send()
        .await
        .unwrap();

    let msg = receive_with_names(&env, &url, &[".*"]).await;

    assert_eq!(msg.message_attributes(), Some(&spec_attributes()));
    assert_eq!(msg.md5_of_message_attributes(), Some("55d9d49634bd05768defd42ef21e185d"));
    env.shutdown().await;
}

#[tokio::test]
async fn receive_without_matching_attribute_names_omits_attributes_and_their_md5() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    for _ in 0..2 {
        env.client
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .set_message_attributes(Some(spec_attributes()))
            .send()
            .await
            .unwrap();
    }

    let unmatched = receive_with_names(&env, &url, &["Missing"]).await;
    let unrequested = receive_with_names(&env, &url, &[]).await;

    for msg in [unmatched, unrequested] {
        assert!(msg.message_attributes().is_none_or(HashMap::is_empty), "{msg:?}");
        assert_eq!(msg.md5_of_message_attributes(), None, "{msg:?}");
        assert!(msg.attributes().is_none_or(HashMap::is_empty), "{msg:?}");
    }
    env.shutdown().await;
}

#[tokio::test]
async fn receive_returns_all_system_attributes_when_all_requested() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let before = now_ms();
    env.client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_system_attributes(MessageSystemAttributeNameForSends::AwsTraceHeader, trace_header())
        .send()
        .await
        .unwrap();
    env.advance(5);

    let msg = env.receive_one(&url).await;

    let attrs = msg.attributes().unwrap();
    let get = |n: MessageSystemAttributeName| -> &str {
        attrs.get(&n).unwrap_or_else(|| panic!("{n:?} missing from {attrs:?}"))
    };
    let sent: u64 = get(MessageSystemAttributeName::SentTimestamp).parse().unwrap();
    let first: u64 = get(MessageSystemAttributeName::ApproximateFirstReceiveTimestamp).parse().unwrap();
    assert!(sent.abs_diff(before) < 120_000, "SentTimestamp {sent} should be epoch ms near {before}");
    assert!(
        (5_000..7_000).contains(&(first - sent)),
        "first receive {first} should be ~5 s of virtual time after send {sent}"
    );
    assert_eq!(get(MessageSystemAttributeName::ApproximateReceiveCount), "1");
    assert!(!get(MessageSystemAttributeName::SenderId).is_empty());
    assert_eq!(get(MessageSystemAttributeName::AwsTraceHeader), TRACE);
    let names: BTreeSet<&str> = attrs.keys().map(MessageSystemAttributeName::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "AWSTraceHeader",
            "ApproximateFirstReceiveTimestamp",
            "ApproximateReceiveCount",
            "SenderId",
            "SentTimestamp"
        ]),
        "standard-queue message without group id: no FIFO attributes"
    );
    env.shutdown().await;
}

#[tokio::test]
async fn receive_returns_only_the_requested_system_attributes() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;

    let msgs = env
        .client
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();

    let names: BTreeSet<&str> = msgs[0].attributes().unwrap().keys().map(MessageSystemAttributeName::as_str).collect();
    assert_eq!(names, BTreeSet::from(["ApproximateReceiveCount", "SentTimestamp"]));
    env.shutdown().await;
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
async fn bodies_with_characters_outside_the_xml_char_range_fail_with_invalid_message_contents() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    for body in ["a\u{0}b", "\u{1}", "bell\u{7}", "x\u{FFFF}", "\u{FFFE}"] {
        let err = env
            .client
            .send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .expect_err(&format!("{body:?} must be rejected"));

        let se = expect_service_error(err, 400, "InvalidMessageContents", "");
        assert!(matches!(se, SendMessageError::InvalidMessageContents(_)), "{se:?}");
    }
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn bodies_with_boundary_allowed_characters_round_trip_unchanged() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let body = "tab\t nl\n cr\r sp\u{20} \u{D7FF} \u{E000} \u{FFFD} \u{10000} \u{10FFFF} ✓";

    let sent = env.send(&url, body).await;
    let msg = env.receive_one(&url).await;

    assert_eq!(msg.body(), Some(body));
    assert_eq!(sent.md5_of_message_body(), Some(md5_hex(body.as_bytes()).as_str()));
    assert_eq!(msg.md5_of_body(), Some(md5_hex(body.as_bytes()).as_str()));
    env.shutdown().await;
}

#[tokio::test]
async fn body_larger_than_queue_maximum_message_size_fails_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue_with("small", &[("MaximumMessageSize", "1024")]).await;

    let err = env.client.send_message().queue_url(&url).message_body("x".repeat(1025)).send().await.unwrap_err();
    env.send(&url, &"y".repeat(1024)).await;

    expect_service_error(err, 400, "InvalidParameterValue", "1024");
    assert_eq!(env.counts(&url).await, (1, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn message_attributes_count_toward_maximum_message_size() {
    let env = TestEnv::start().await;
    let url = env.create_queue_with("small", &[("MaximumMessageSize", "1024")]).await;

    // 1000 (body) + 1 (name) + 6 ("String") + 20 (value) = 1027 bytes > 1024.
    let err = env
        .client
        .send_message()
        .queue_url(&url)
        .message_body("x".repeat(1000))
        .message_attributes("a", str_attr("String", &"v".repeat(20)))
        .send()
        .await
        .unwrap_err();

    expect_service_error(err, 400, "InvalidParameterValue", "1024");
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn more_than_ten_message_attributes_fail_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let attrs = |n: usize| -> HashMap<String, MessageAttributeValue> {
        (0..n).map(|i| (format!("a{i}"), str_attr("String", "v"))).collect()
    };

    let ten = env
        .client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .set_message_attributes(Some(attrs(10)))
        .send()
        .await;
    let eleven = env
        .client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .set_message_attributes(Some(attrs(11)))
        .send()
        .await;

    assert!(ten.is_ok(), "10 attributes must be accepted: {ten:?}");
    expect_service_error(eleven.unwrap_err(), 400, "InvalidParameterValue", "");
    assert_eq!(env.counts(&url).await, (1, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn message_attributes_with_invalid_names_fail_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    for name in
        ["AWS.thing", "aws.thing", "Amazon.thing", "amazon.x", "a..b", ".lead", "trail.", "bad name", "bad!", "ü"]
    {
        let err = env
            .client
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .message_attributes(name, str_attr("String", "v"))
            .send()
            .await
            .expect_err(&format!("attribute name {name:?} must be rejected"));

        assert_eq!(crate::common::status_of(&err), 400, "{name}");
        let se = err.into_service_error();
        assert_eq!(se.code(), Some("InvalidParameterValue"), "{name}: {se:?}");
    }
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn message_attributes_with_valid_unusual_names_are_accepted() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    env.client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_attributes("a.b-c_D9", str_attr("String", "v"))
        .message_attributes("AWSish", str_attr("String", "v"))
        .message_attributes("n".repeat(256), str_attr("String", "v"))
        .send()
        .await
        .unwrap();

    let msg = env.receive_one(&url).await;
    assert_eq!(msg.message_attributes().unwrap().len(), 3);
    env.shutdown().await;
}

#[tokio::test]
async fn message_attributes_with_invalid_data_types_fail_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    for data_type in ["Integer", "string", "STRING", "Strings", "Bin"] {
        let err = env
            .client
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .message_attributes("attr", str_attr(data_type, "1"))
            .send()
            .await
            .expect_err(&format!("data type {data_type:?} must be rejected"));

        assert_eq!(crate::common::status_of(&err), 400, "{data_type}");
        let se = err.into_service_error();
        assert_eq!(se.code(), Some("InvalidParameterValue"), "{data_type}: {se:?}");
    }
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn message_attributes_with_empty_values_fail_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let cases = [
        str_attr("String", ""),
        str_attr("Number", ""),
        MessageAttributeValue::builder().data_type("Binary").binary_value(Blob::new(Vec::new())).build().unwrap(),
        MessageAttributeValue::builder().data_type("String").build().unwrap(),
    ];

    for value in cases {
        let err = env
            .client
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .message_attributes("attr", value.clone())
            .send()
            .await
            .expect_err(&format!("{value:?} must be rejected"));

        assert_eq!(crate::common::status_of(&err), 400, "{value:?}");
        let se = err.into_service_error();
        assert_eq!(se.code(), Some("InvalidParameterValue"), "{value:?}: {se:?}");
    }
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn deleted_message_is_never_received_again() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    env.send(&url, "x").await;
    let msg = env.receive_one(&url).await;

    env.client.delete_message().queue_url(&url).receipt_handle(msg.receipt_handle().unwrap()).send().await.unwrap();

    env.advance(31);
    assert!(env.receive(&url, 10).await.is_empty());
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn receive_never_returns_more_than_max_number_of_messages() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;
    let mut sent = BTreeSet::new();
    for i in 0..5 {
        sent.insert(env.send(&url, &format!("m{i}")).await.message_id.unwrap());
    }

    let first = env.receive(&url, 3).await;
    let rest = env.drain(&url).await;

    assert!((1..=3).contains(&first.len()), "got {}", first.len());
    let got: Vec<String> = first.iter().chain(rest.iter()).map(|m| m.message_id().unwrap().to_owned()).collect();
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(unique.len(), got.len(), "a message was delivered twice: {got:?}");
    assert_eq!(unique, sent);
    env.shutdown().await;
}

#[tokio::test]
async fn number_attribute_with_a_non_numeric_value_fails_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let err = env
        .client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_attributes("n", str_attr("Number", "twelve"))
        .send()
        .await
        .unwrap_err();

    expect_service_error(err, 400, "InvalidParameterValue", "");
    assert_eq!(env.counts(&url).await, (0, 0, 0));
    env.shutdown().await;
}

#[tokio::test]
async fn message_deduplication_id_on_a_standard_queue_fails_with_invalid_parameter_value() {
    let env = TestEnv::start().await;
    let url = env.create_queue("orders").await;

    let err = env
        .client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_deduplication_id("d-1")
        .send()
        .await
        .unwrap_err();

    expect_service_error(err, 400, "InvalidParameterValue", "MessageDeduplicationId");
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
