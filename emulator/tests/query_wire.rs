//! The Query protocol on the wire, byte for byte (SPEC.md §4): the exact XML of SendMessage (the SPEC §4.4
//! request), ReceiveMessage with attributes and a body needing escaping, SendMessageBatch with a failed entry,
//! the NonExistentQueue `ErrorResponse`, and a few smaller documents. Ids that differ per run are masked.
#![allow(clippy::unwrap_used)]

mod query_support;

use query_support::{NO_QUEUE_MESSAGE, QueryEnv, QueryResponse, START_MILLIS, form, mask, md5_hex};

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The body with `MessageId`, `ReceiptHandle` and `RequestId` masked and the endpoint replaced by `ENDPOINT`,
/// after checking that the body's request id is the header's.
fn masked(env: &QueryEnv, response: &QueryResponse) -> String {
    let request_id = response.request_id.as_deref().expect("x-amzn-RequestId header");
    assert!(response.body.contains(&format!("<RequestId>{request_id}</RequestId>")), "{}", response.body);
    assert_eq!(response.content_type.as_deref(), Some("text/xml"));
    let body = mask(&response.body, "MessageId", "MESSAGE-ID");
    let body = mask(&body, "ReceiptHandle", "RECEIPT-HANDLE");
    let body = mask(&body, "RequestId", "REQUEST-ID");
    body.replace(&env.endpoint, "ENDPOINT")
}

#[tokio::test]
async fn send_message_of_spec_4_4_answers_with_the_spec_document() {
    let env = QueryEnv::start().await;
    env.create_queue("orders", &[]).await;
    let url = form_urlencoded::byte_serialize(env.url_of("orders").as_bytes()).collect::<String>();
    // SPEC §4.4's request, byte for byte but for the queue URL's port.
    let request = format!(
        "Action=SendMessage&Version=2012-11-05&QueueUrl={url}\
         &MessageBody=Hello+from+sqskit&MessageAttribute.1.Name=OrderId&MessageAttribute.1.Value.DataType=String\
         &MessageAttribute.1.Value.StringValue=A-1001&MessageAttribute.2.Name=Priority\
         &MessageAttribute.2.Value.DataType=Number&MessageAttribute.2.Value.StringValue=5\
         &MessageAttribute.3.Name=Blob&MessageAttribute.3.Value.DataType=Binary&MessageAttribute.3.Value.BinaryValue=AQID\
         &MessageSystemAttribute.1.Name=AWSTraceHeader&MessageSystemAttribute.1.Value.DataType=String\
         &MessageSystemAttribute.1.Value.StringValue=Root%3D1-5759e988-bd862e3fe1be46a994272793%3BSampled%3D1"
    );

    let response = env.raw("POST", "/", Some(FORM), request.into_bytes()).await;

    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        masked(&env, &response),
        concat!(
            r#"<?xml version="1.0"?>"#,
            r#"<SendMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">"#,
            "<SendMessageResult>",
            "<MD5OfMessageBody>09077c1cb05a9e73a1620c07e4bea548</MD5OfMessageBody>",
            "<MD5OfMessageAttributes>55d9d49634bd05768defd42ef21e185d</MD5OfMessageAttributes>",
            "<MD5OfMessageSystemAttributes>5f48eef650c1d0207456969c85af2fdd</MD5OfMessageSystemAttributes>",
            "<MessageId>MESSAGE-ID</MessageId>",
            "</SendMessageResult>",
            "<ResponseMetadata><RequestId>REQUEST-ID</RequestId></ResponseMetadata>",
            "</SendMessageResponse>",
        )
    );
    env.shutdown().await;
}

#[tokio::test]
async fn receive_message_escapes_the_body_and_lists_every_attribute() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("orders", &[]).await;
    let body = "a\r\nb & <c> \"d\" 'e'\tü\r";
    env.call(
        "SendMessage",
        &[
            ("QueueUrl", &url),
            ("MessageBody", body),
            ("MessageAttribute.1.Name", "OrderId"),
            ("MessageAttribute.1.Value.DataType", "String"),
            ("MessageAttribute.1.Value.StringValue", "A-1001"),
            ("MessageAttribute.2.Name", "Blob"),
            ("MessageAttribute.2.Value.DataType", "Binary"),
            ("MessageAttribute.2.Value.BinaryValue", "AQID"),
        ],
    )
    .await
    .result("SendMessage");

    let response = env
        .call("ReceiveMessage", &[("QueueUrl", &url), ("AttributeName.1", "All"), ("MessageAttributeName.1", "All")])
        .await;

    assert_eq!(response.status, 200, "{}", response.body);
    let start = START_MILLIS.to_string();
    let expected = [
        r#"<?xml version="1.0"?>"#,
        r#"<ReceiveMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">"#,
        "<ReceiveMessageResult><Message>",
        "<MessageId>MESSAGE-ID</MessageId>",
        "<ReceiptHandle>RECEIPT-HANDLE</ReceiptHandle>",
        "<MD5OfBody>190f64f0f5f99b3128cc430ddef437d8</MD5OfBody>",
        "<Body>a&#xD;\nb &amp; &lt;c&gt; &quot;d&quot; &apos;e&apos;\tü&#xD;</Body>",
        &format!("<Attribute><Name>ApproximateFirstReceiveTimestamp</Name><Value>{start}</Value></Attribute>"),
        "<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>",
        "<Attribute><Name>SenderId</Name><Value>000000000000</Value></Attribute>",
        &format!("<Attribute><Name>SentTimestamp</Name><Value>{start}</Value></Attribute>"),
        "<MD5OfMessageAttributes>4ca3a1d83cf8fff0a9c31fad25e9bbe1</MD5OfMessageAttributes>",
        "<MessageAttribute><Name>Blob</Name><Value><BinaryValue>AQID</BinaryValue><DataType>Binary</DataType></Value>",
        "</MessageAttribute>",
        "<MessageAttribute><Name>OrderId</Name><Value><StringValue>A-1001</StringValue><DataType>String</DataType>",
        "</Value></MessageAttribute>",
        "</Message></ReceiveMessageResult>",
        "<ResponseMetadata><RequestId>REQUEST-ID</RequestId></ResponseMetadata>",
        "</ReceiveMessageResponse>",
    ]
    .concat();
    assert_eq!(masked(&env, &response), expected);
    let message = response.result("ReceiveMessage").child("Message").clone();
    assert_eq!(message.text("Body"), body, "a conforming XML parser gets the body back exactly");
    assert_eq!(md5_hex(message.text("Body").as_bytes()), message.text("MD5OfBody"), "the SDKs' own MD5 check");
    env.shutdown().await;
}

#[tokio::test]
async fn send_message_batch_reports_a_failed_entry_beside_the_successful_one() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("orders", &[]).await;

    let response = env
        .call(
            "SendMessageBatch",
            &[
                ("QueueUrl", &url),
                ("SendMessageBatchRequestEntry.1.Id", "ok"),
                ("SendMessageBatchRequestEntry.1.MessageBody", "a"),
                ("SendMessageBatchRequestEntry.2.Id", "late"),
                ("SendMessageBatchRequestEntry.2.MessageBody", "b"),
                ("SendMessageBatchRequestEntry.2.DelaySeconds", "901"),
            ],
        )
        .await;

    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        masked(&env, &response),
        concat!(
            r#"<?xml version="1.0"?>"#,
            r#"<SendMessageBatchResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">"#,
            "<SendMessageBatchResult>",
            "<SendMessageBatchResultEntry><Id>ok</Id><MessageId>MESSAGE-ID</MessageId>",
            "<MD5OfMessageBody>0cc175b9c0f1b6a831c399e269772661</MD5OfMessageBody></SendMessageBatchResultEntry>",
            "<BatchResultErrorEntry><Id>late</Id><SenderFault>true</SenderFault><Code>InvalidParameterValue</Code>",
            "<Message>Value 901 for parameter DelaySeconds is invalid. Reason: must be between 0 and 900, if provided.",
            "</Message></BatchResultErrorEntry>",
            "</SendMessageBatchResult>",
            "<ResponseMetadata><RequestId>REQUEST-ID</RequestId></ResponseMetadata>",
            "</SendMessageBatchResponse>",
        )
    );
    env.shutdown().await;
}

#[tokio::test]
async fn a_missing_queue_is_an_error_response_with_the_legacy_code() {
    let env = QueryEnv::start().await;

    let response = env.call("GetQueueUrl", &[("QueueName", "nope")]).await;

    assert_eq!(response.status, 400);
    assert_eq!(
        masked(&env, &response),
        [
            r#"<?xml version="1.0"?>"#,
            r#"<ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">"#,
            "<Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code>",
            &format!("<Message>{NO_QUEUE_MESSAGE}</Message><Detail/></Error>"),
            "<RequestId>REQUEST-ID</RequestId>",
            "</ErrorResponse>",
        ]
        .concat()
    );
    env.shutdown().await;
}

#[tokio::test]
async fn smaller_documents_create_queue_empty_receive_unit_output_and_invalid_action() {
    let env = QueryEnv::start().await;

    let created = env.call("CreateQueue", &[("QueueName", "small")]).await;
    let empty = env.call("ReceiveMessage", &[("QueueUrl", &env.url_of("small"))]).await;
    let purged = env.call("PurgeQueue", &[("QueueUrl", &env.url_of("small"))]).await;
    let invalid = env.raw("GET", &format!("/?{}", form("Explode", &[])), None, Vec::new()).await;

    let ns = r#" xmlns="http://queue.amazonaws.com/doc/2012-11-05/""#;
    let metadata = "<ResponseMetadata><RequestId>REQUEST-ID</RequestId></ResponseMetadata>";
    assert_eq!(
        masked(&env, &created),
        format!(
            r#"<?xml version="1.0"?><CreateQueueResponse{ns}><CreateQueueResult><QueueUrl>ENDPOINT/000000000000/small</QueueUrl></CreateQueueResult>{metadata}</CreateQueueResponse>"#
        )
    );
    assert_eq!(
        masked(&env, &empty),
        format!(
            r#"<?xml version="1.0"?><ReceiveMessageResponse{ns}><ReceiveMessageResult/>{metadata}</ReceiveMessageResponse>"#
        )
    );
    assert_eq!(
        masked(&env, &purged),
        format!(r#"<?xml version="1.0"?><PurgeQueueResponse{ns}>{metadata}</PurgeQueueResponse>"#)
    );
    assert_eq!(invalid.status, 400);
    assert_eq!(
        masked(&env, &invalid),
        format!(
            r#"<?xml version="1.0"?><ErrorResponse{ns}><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>The action Explode is not valid for this endpoint.</Message><Detail/></Error><RequestId>REQUEST-ID</RequestId></ErrorResponse>"#
        )
    );
    env.shutdown().await;
}
