//! The Query protocol on the wire, byte for byte (SPEC.md §4): the exact XML of SendMessage (the SPEC §4.4
//! request), ReceiveMessage with attributes and a body needing escaping, SendMessageBatch with a failed entry,
//! the NonExistentQueue `ErrorResponse`, and a few smaller documents. Ids that differ per run are masked.

use crate::common::md5_hex;
use crate::support::{
    FORM, NO_QUEUE_MESSAGE, Params, QueryEnv, QueryResponse, START_MILLIS, error_document, form, mask, success_document,
};

/// Asserts `response`'s status and that its body, with `MessageId`, `ReceiptHandle` and `RequestId` masked and
/// the endpoint replaced by `ENDPOINT`, is `expected` (after checking that the body's request id is the
/// header's).
fn assert_document(env: &QueryEnv, response: &QueryResponse, status: u16, expected: &str) {
    assert_eq!(response.status, status, "{}", response.body);
    assert_eq!(masked(env, response), expected);
}

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

    let result = concat!(
        "<MD5OfMessageBody>09077c1cb05a9e73a1620c07e4bea548</MD5OfMessageBody>",
        "<MD5OfMessageAttributes>55d9d49634bd05768defd42ef21e185d</MD5OfMessageAttributes>",
        "<MD5OfMessageSystemAttributes>5f48eef650c1d0207456969c85af2fdd</MD5OfMessageSystemAttributes>",
        "<MessageId>MESSAGE-ID</MessageId>",
    );
    assert_document(&env, &response, 200, &success_document("SendMessage", Some(result)));
    env.shutdown().await;
}

#[tokio::test]
async fn receive_message_escapes_the_body_and_lists_every_attribute() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("orders", &[]).await;
    let body = "a\r\nb & <c> \"d\" 'e'\tü\r";
    let params = Params::message(&url, body)
        .message_attribute("", 1, "OrderId", "String", "A-1001")
        .message_attribute("", 2, "Blob", "Binary", "AQID");
    env.ok("SendMessage", &params.pairs()).await;

    let response = env
        .call("ReceiveMessage", &[("QueueUrl", &url), ("AttributeName.1", "All"), ("MessageAttributeName.1", "All")])
        .await;

    let start = START_MILLIS.to_string();
    let result = [
        "<Message>",
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
        "</Message>",
    ]
    .concat();
    assert_document(&env, &response, 200, &success_document("ReceiveMessage", Some(&result)));
    let message = response.result("ReceiveMessage").child("Message").clone();
    assert_eq!(message.text("Body"), body, "a conforming XML parser gets the body back exactly");
    assert_eq!(md5_hex(message.text("Body").as_bytes()), message.text("MD5OfBody"), "the SDKs' own MD5 check");
    env.shutdown().await;
}

#[tokio::test]
async fn send_message_batch_reports_a_failed_entry_beside_the_successful_one() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("orders", &[]).await;

    let params = Params::queue(&url).entries(
        "SendMessageBatchRequestEntry",
        &[&[("Id", "ok"), ("MessageBody", "a")], &[("Id", "late"), ("MessageBody", "b"), ("DelaySeconds", "901")]],
    );
    let response = env.call("SendMessageBatch", &params.pairs()).await;

    let result = concat!(
        "<SendMessageBatchResultEntry><Id>ok</Id><MessageId>MESSAGE-ID</MessageId>",
        "<MD5OfMessageBody>0cc175b9c0f1b6a831c399e269772661</MD5OfMessageBody></SendMessageBatchResultEntry>",
        "<BatchResultErrorEntry><Id>late</Id><SenderFault>true</SenderFault><Code>InvalidParameterValue</Code>",
        "<Message>Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be &gt;= 0 and &lt;= 900.",
        "</Message></BatchResultErrorEntry>",
    );
    assert_document(&env, &response, 200, &success_document("SendMessageBatch", Some(result)));
    env.shutdown().await;
}

#[tokio::test]
async fn a_missing_queue_is_an_error_response_with_the_legacy_code() {
    let env = QueryEnv::start().await;

    let response = env.call("GetQueueUrl", &[("QueueName", "nope")]).await;

    let expected = error_document("AWS.SimpleQueueService.NonExistentQueue", NO_QUEUE_MESSAGE);
    assert_document(&env, &response, 400, &expected);
    env.shutdown().await;
}

#[tokio::test]
async fn smaller_documents_create_queue_empty_receive_unit_output_and_invalid_action() {
    let env = QueryEnv::start().await;

    let created = env.call("CreateQueue", &[("QueueName", "small")]).await;
    let empty = env.call("ReceiveMessage", &[("QueueUrl", &env.url_of("small"))]).await;
    let purged = env.call("PurgeQueue", &[("QueueUrl", &env.url_of("small"))]).await;
    let invalid = env.raw("GET", &format!("/?{}", form("Explode", &[])), None, Vec::new()).await;

    let url = "<QueueUrl>ENDPOINT/000000000000/small</QueueUrl>";
    assert_document(&env, &created, 200, &success_document("CreateQueue", Some(url)));
    assert_document(&env, &empty, 200, &success_document("ReceiveMessage", Some("")));
    assert_document(&env, &purged, 200, &success_document("PurgeQueue", None));
    let message = "The action Explode is not valid for this endpoint.";
    assert_document(&env, &invalid, 400, &error_document("InvalidAction", message));
    env.shutdown().await;
}

/// A Query request sent with `Accept: application/json`, through `common::raw_request`.
async fn query_asking_for_json(env: &QueryEnv, action: &str, params: &[(&str, &str)]) -> crate::common::RawResponse {
    let headers = [("content-type", FORM), ("accept", "application/json")];
    crate::common::raw_request(&env.endpoint, "POST", "/", &headers, form(action, params).into_bytes()).await
}

#[tokio::test]
async fn a_query_client_that_accepts_json_gets_json_in_the_xml_documents_outline() {
    let env = QueryEnv::start().await;
    let url = env.url_of("asks-json");

    let created = query_asking_for_json(&env, "CreateQueue", &[("QueueName", "asks-json")]).await;
    let sent = query_asking_for_json(
        &env,
        "SendMessage",
        &[
            ("QueueUrl", &url),
            ("MessageBody", "Hello <json> & \"friends\""),
            ("MessageAttribute.1.Name", "OrderId"),
            ("MessageAttribute.1.Value.DataType", "String"),
            ("MessageAttribute.1.Value.StringValue", "A-1001"),
        ],
    )
    .await;
    let received = query_asking_for_json(
        &env,
        "ReceiveMessage",
        &[("QueueUrl", &url), ("MessageAttributeName.1", "All"), ("AttributeName.1", "SenderId")],
    )
    .await;
    let missing = query_asking_for_json(&env, "GetQueueUrl", &[("QueueName", "nope")]).await;
    let deleted = query_asking_for_json(&env, "DeleteQueue", &[("QueueUrl", &url)]).await;

    for (response, status) in [(&created, 200), (&sent, 200), (&received, 200), (&missing, 400), (&deleted, 200)] {
        assert_eq!(response.status, status, "{:?}", String::from_utf8_lossy(&response.body));
        assert_eq!(response.header("content-type"), Some("application/json"));
    }
    let request_id = |response: &crate::common::RawResponse| response.header("x-amzn-requestid").map(str::to_owned);
    let created_json = created.json();
    assert_eq!(created_json["CreateQueueResponse"]["CreateQueueResult"]["QueueUrl"], url.as_str());
    assert_eq!(
        created_json["CreateQueueResponse"]["ResponseMetadata"]["RequestId"].as_str(),
        request_id(&created).as_deref()
    );

    let sent_json = sent.json();
    let sent_result = &sent_json["SendMessageResponse"]["SendMessageResult"];
    assert_eq!(sent_result["MD5OfMessageBody"], md5_hex("Hello <json> & \"friends\"".as_bytes()));
    let message_id = sent_result["MessageId"].as_str().expect("a message id");

    let received_json = received.json();
    let messages = &received_json["ReceiveMessageResponse"]["ReceiveMessageResult"]["Messages"];
    assert_eq!(messages.as_array().map(Vec::len), Some(1), "{received_json}");
    let message = &messages[0];
    assert_eq!(message["MessageId"], message_id);
    assert_eq!(message["Body"], "Hello <json> & \"friends\"");
    assert_eq!(message["MessageAttributes"]["OrderId"]["StringValue"], "A-1001");
    assert_eq!(message["Attributes"]["SenderId"], crate::support::ACCOUNT);

    let missing_json = missing.json();
    assert_eq!(missing_json["ErrorResponse"]["Error"]["Code"], "AWS.SimpleQueueService.NonExistentQueue");
    assert_eq!(missing_json["ErrorResponse"]["Error"]["Type"], "Sender");
    assert_eq!(missing_json["ErrorResponse"]["Error"]["Message"], NO_QUEUE_MESSAGE);
    assert_eq!(missing_json["ErrorResponse"]["RequestId"].as_str(), request_id(&missing).as_deref());

    // No output shape: only the metadata, as in the XML document.
    let deleted_json = deleted.json();
    assert_eq!(deleted_json["DeleteQueueResponse"].as_object().map(|o| o.len()), Some(1), "{deleted_json}");

    // Without the header, the same client still gets XML.
    let xml = env.call("ListQueues", &[]).await;
    assert_eq!(xml.content_type.as_deref(), Some("text/xml"));
    env.shutdown().await;
}
