//! Every supported action over the legacy Query protocol (form in, XML out; SPEC.md §4), with its results
//! checked as a Query client sees them, plus the error paths. MD5s are checked the way SDKs check them, and
//! against the same request over JSON.
#![allow(clippy::unwrap_used)]

mod query_support;

use base64::Engine as _;
use query_support::{ACCOUNT, Attr, NO_QUEUE_MESSAGE, QueryEnv, START_MILLIS, md5_hex, md5_of_attributes};
use serde_json::json;

/// A body that XML would mangle unless escaped: markup characters, quotes, CR, CRLF, a tab, non-ASCII.
const AWKWARD_BODY: &str = "line 1\r\nline 2\rline 3\n<tag attr=\"x\">a & b's</tag>\t]]> héllo ✓";

#[tokio::test]
async fn queues_are_created_found_listed_and_deleted() {
    let env = QueryEnv::start().await;

    let orders = env
        .create_queue(
            "orders",
            &[
                ("Attribute.1.Name", "VisibilityTimeout"),
                ("Attribute.1.Value", "45"),
                ("Attribute.2.Name", "DelaySeconds"),
                ("Attribute.2.Value", "2"),
                ("Tag.1.Key", "team"),
                ("Tag.1.Value", "shipping"),
            ],
        )
        .await;
    let other = env.create_queue("other", &[]).await;

    let found = env.call("GetQueueUrl", &[("QueueName", "orders")]).await.result("GetQueueUrl");
    assert_eq!(found.text("QueueUrl"), orders);

    let listed = env.call("ListQueues", &[]).await.result("ListQueues");
    let mut urls = listed.texts("QueueUrl");
    urls.sort();
    assert_eq!(urls, vec![orders.clone(), other.clone()]);

    let prefixed = env.call("ListQueues", &[("QueueNamePrefix", "ord")]).await.result("ListQueues");
    assert_eq!(prefixed.texts("QueueUrl"), vec![orders.clone()]);

    let paged = env.call("ListQueues", &[("MaxResults", "1")]).await.result("ListQueues");
    assert_eq!(paged.texts("QueueUrl").len(), 1);
    assert!(!paged.text("NextToken").is_empty());

    let attributes = env
        .call("GetQueueAttributes", &[("QueueUrl", &orders), ("AttributeName.1", "All")])
        .await
        .result("GetQueueAttributes");
    let pairs = attributes.pairs("Attribute", "Name", "Value");
    let get = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(get("VisibilityTimeout").as_deref(), Some("45"));
    assert_eq!(get("DelaySeconds").as_deref(), Some("2"));
    assert_eq!(get("QueueArn"), Some(format!("arn:aws:sqs:us-east-1:{ACCOUNT}:orders")));

    let tags = env.call("ListQueueTags", &[("QueueUrl", &orders)]).await.result("ListQueueTags");
    assert_eq!(tags.pairs("Tag", "Key", "Value"), vec![("team".to_owned(), "shipping".to_owned())]);

    let deleted = env.call("DeleteQueue", &[("QueueUrl", &other)]).await.success("DeleteQueue");
    assert!(!deleted.has("DeleteQueueResult"), "Unit outputs have no Result element");

    let message = env.call("GetQueueUrl", &[("QueueName", "other")]).await.error(
        400,
        "Sender",
        "AWS.SimpleQueueService.NonExistentQueue",
    );
    assert_eq!(message, NO_QUEUE_MESSAGE);
    env.shutdown().await;
}

#[tokio::test]
async fn a_message_with_attributes_and_an_awkward_body_round_trips_with_matching_md5s() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("orders", &[]).await;

    let sent = env
        .call(
            "SendMessage",
            &[
                ("QueueUrl", &url),
                ("MessageBody", AWKWARD_BODY),
                ("MessageAttribute.1.Name", "OrderId"),
                ("MessageAttribute.1.Value.DataType", "String"),
                ("MessageAttribute.1.Value.StringValue", "A-1001 <&>"),
                ("MessageAttribute.2.Name", "Priority"),
                ("MessageAttribute.2.Value.DataType", "Number"),
                ("MessageAttribute.2.Value.StringValue", "5"),
                ("MessageAttribute.3.Name", "Blob"),
                ("MessageAttribute.3.Value.DataType", "Binary"),
                ("MessageAttribute.3.Value.BinaryValue", "AQID"),
                ("MessageSystemAttribute.1.Name", "AWSTraceHeader"),
                ("MessageSystemAttribute.1.Value.DataType", "String"),
                ("MessageSystemAttribute.1.Value.StringValue", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
            ],
        )
        .await
        .result("SendMessage");
    let attribute_md5 = md5_of_attributes(&[
        Attr::Text("OrderId", "String", "A-1001 <&>"),
        Attr::Text("Priority", "Number", "5"),
        Attr::Bytes("Blob", "Binary", &[1, 2, 3]),
    ]);
    assert_eq!(sent.text("MD5OfMessageBody"), md5_hex(AWKWARD_BODY.as_bytes()));
    assert_eq!(sent.text("MD5OfMessageAttributes"), attribute_md5);
    assert_eq!(sent.text("MD5OfMessageSystemAttributes"), "5f48eef650c1d0207456969c85af2fdd");
    let message_id = sent.text("MessageId");

    let received = env
        .call(
            "ReceiveMessage",
            &[
                ("QueueUrl", &url),
                ("AttributeName.1", "SentTimestamp"),
                ("AttributeName.2", "ApproximateReceiveCount"),
                ("MessageSystemAttributeName.1", "AWSTraceHeader"),
                ("MessageAttributeName.1", "All"),
            ],
        )
        .await
        .result("ReceiveMessage");

    let message = received.child("Message");
    assert_eq!(message.text("MessageId"), message_id);
    assert_eq!(message.text("Body"), AWKWARD_BODY, "CR must survive as &#xD;");
    assert_eq!(message.text("MD5OfBody"), md5_hex(message.text("Body").as_bytes()));
    assert_eq!(message.text("MD5OfMessageAttributes"), attribute_md5);
    let mut system = message.pairs("Attribute", "Name", "Value");
    system.sort();
    assert_eq!(
        system,
        vec![
            ("AWSTraceHeader".to_owned(), "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".to_owned()),
            ("ApproximateReceiveCount".to_owned(), "1".to_owned()),
            ("SentTimestamp".to_owned(), START_MILLIS.to_string()),
        ]
    );
    let attributes = message.all("MessageAttribute");
    let names: Vec<String> = attributes.iter().map(|a| a.text("Name")).collect();
    assert_eq!(names, ["Blob", "OrderId", "Priority"]);
    let blob = attributes[0].child("Value");
    assert_eq!(blob.text("DataType"), "Binary");
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(blob.text("BinaryValue")).unwrap(), [1, 2, 3]);
    assert!(!blob.has("StringValue"));
    let order = attributes[1].child("Value");
    assert_eq!((order.text("DataType"), order.text("StringValue")), ("String".to_owned(), "A-1001 <&>".to_owned()));
    assert!(!message.text("ReceiptHandle").is_empty());
    env.shutdown().await;
}

#[tokio::test]
async fn query_and_json_report_the_same_md5s_for_the_same_message() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("orders", &[]).await;

    let over_query = env
        .call(
            "SendMessage",
            &[
                ("QueueUrl", &url),
                ("MessageBody", AWKWARD_BODY),
                ("MessageAttribute.1.Name", "note"),
                ("MessageAttribute.1.Value.DataType", "String.utf8"),
                ("MessageAttribute.1.Value.StringValue", "héllo"),
            ],
        )
        .await
        .result("SendMessage");
    let (status, over_json) = env
        .json(
            "SendMessage",
            &json!({"QueueUrl": url, "MessageBody": AWKWARD_BODY,
                    "MessageAttributes": {"note": {"DataType": "String.utf8", "StringValue": "héllo"}}}),
        )
        .await;

    assert_eq!(status, 200, "{over_json}");
    assert_eq!(over_query.text("MD5OfMessageBody"), over_json["MD5OfMessageBody"]);
    assert_eq!(over_query.text("MD5OfMessageAttributes"), over_json["MD5OfMessageAttributes"]);
    assert_eq!(over_query.text("MD5OfMessageAttributes"), "82736dbcd91069d0953092b0e6fdaebc");
    assert!(!over_query.has("MD5OfMessageSystemAttributes"), "omitted when none were sent");
    env.shutdown().await;
}

#[tokio::test]
async fn batches_send_receive_change_visibility_and_delete() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("batch", &[]).await;

    let sent = env
        .call(
            "SendMessageBatch",
            &[
                ("QueueUrl", &url),
                ("SendMessageBatchRequestEntry.1.Id", "first"),
                ("SendMessageBatchRequestEntry.1.MessageBody", "one & only"),
                ("SendMessageBatchRequestEntry.1.MessageAttribute.1.Name", "kind"),
                ("SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType", "String"),
                ("SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue", "a"),
                ("SendMessageBatchRequestEntry.2.Id", "second"),
                ("SendMessageBatchRequestEntry.2.MessageBody", "two\r\n"),
                ("SendMessageBatchRequestEntry.3.Id", "delayed"),
                ("SendMessageBatchRequestEntry.3.MessageBody", "three"),
                ("SendMessageBatchRequestEntry.3.DelaySeconds", "60"),
            ],
        )
        .await
        .result("SendMessageBatch");
    let entries = sent.all("SendMessageBatchResultEntry");
    let ids: Vec<String> = entries.iter().map(|e| e.text("Id")).collect();
    assert_eq!(ids, ["first", "second", "delayed"]);
    assert_eq!(entries[0].text("MD5OfMessageBody"), md5_hex(b"one & only"));
    assert_eq!(entries[0].text("MD5OfMessageAttributes"), md5_of_attributes(&[Attr::Text("kind", "String", "a")]));
    assert_eq!(entries[1].text("MD5OfMessageBody"), md5_hex(b"two\r\n"));
    assert!(!entries[1].has("MD5OfMessageAttributes"));
    assert!(!sent.has("BatchResultErrorEntry"));

    let received = env
        .call("ReceiveMessage", &[("QueueUrl", &url), ("MaxNumberOfMessages", "10"), ("VisibilityTimeout", "30")])
        .await
        .result("ReceiveMessage");
    let messages = received.all("Message");
    let mut bodies: Vec<String> = messages.iter().map(|m| m.text("Body")).collect();
    bodies.sort();
    assert_eq!(bodies, ["one & only", "two\r\n"], "the delayed message stays hidden");
    for message in &messages {
        assert_eq!(message.text("MD5OfBody"), md5_hex(message.text("Body").as_bytes()));
    }
    let handles: Vec<String> = messages.iter().map(|m| m.text("ReceiptHandle")).collect();

    let changed = env
        .call(
            "ChangeMessageVisibilityBatch",
            &[
                ("QueueUrl", &url),
                ("ChangeMessageVisibilityBatchRequestEntry.1.Id", "a"),
                ("ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle", &handles[0]),
                ("ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout", "0"),
                ("ChangeMessageVisibilityBatchRequestEntry.2.Id", "bogus"),
                ("ChangeMessageVisibilityBatchRequestEntry.2.ReceiptHandle", "not-a-handle"),
                ("ChangeMessageVisibilityBatchRequestEntry.2.VisibilityTimeout", "0"),
            ],
        )
        .await
        .result("ChangeMessageVisibilityBatch");
    assert_eq!(changed.child("ChangeMessageVisibilityBatchResultEntry").text("Id"), "a");
    let failed = changed.child("BatchResultErrorEntry");
    assert_eq!(failed.text("Id"), "bogus");
    assert_eq!(failed.text("SenderFault"), "true");
    assert_eq!(failed.text("Code"), "ReceiptHandleIsInvalid");

    let again = env.call("ReceiveMessage", &[("QueueUrl", &url)]).await.result("ReceiveMessage");
    let visible_again = again.child("Message");
    assert_eq!(visible_again.text("MessageId"), messages[0].text("MessageId"), "visibility 0 shows it at once");

    let deleted = env
        .call(
            "DeleteMessageBatch",
            &[
                ("QueueUrl", &url),
                ("DeleteMessageBatchRequestEntry.1.Id", "x"),
                ("DeleteMessageBatchRequestEntry.1.ReceiptHandle", &visible_again.text("ReceiptHandle")),
                ("DeleteMessageBatchRequestEntry.2.Id", "y"),
                ("DeleteMessageBatchRequestEntry.2.ReceiptHandle", &handles[1]),
            ],
        )
        .await
        .result("DeleteMessageBatch");
    assert_eq!(deleted.texts("DeleteMessageBatchResultEntry").len(), 2);
    let ids: Vec<String> = deleted.all("DeleteMessageBatchResultEntry").iter().map(|e| e.text("Id")).collect();
    assert_eq!(ids, ["x", "y"]);
    assert!(!deleted.has("BatchResultErrorEntry"));

    env.advance(60);
    let last = env.call("ReceiveMessage", &[("QueueUrl", &url)]).await.result("ReceiveMessage");
    assert_eq!(last.child("Message").text("Body"), "three");
    env.shutdown().await;
}

#[tokio::test]
async fn single_messages_change_visibility_and_are_deleted() {
    let env = QueryEnv::start().await;
    let url =
        env.create_queue("single", &[("Attribute.1.Name", "VisibilityTimeout"), ("Attribute.1.Value", "30")]).await;
    env.call("SendMessage", &[("QueueUrl", &url), ("MessageBody", "hello")]).await.result("SendMessage");

    let first = env.call("ReceiveMessage", &[("QueueUrl", &url)]).await.result("ReceiveMessage");
    let handle = first.child("Message").text("ReceiptHandle");
    let hidden = env.call("ReceiveMessage", &[("QueueUrl", &url)]).await.result("ReceiveMessage");
    assert!(!hidden.has("Message"), "in flight");

    let changed = env
        .call("ChangeMessageVisibility", &[("QueueUrl", &url), ("ReceiptHandle", &handle), ("VisibilityTimeout", "0")])
        .await
        .success("ChangeMessageVisibility");
    assert!(!changed.has("ChangeMessageVisibilityResult"));

    let second = env.call("ReceiveMessage", &[("QueueUrl", &url)]).await.result("ReceiveMessage");
    let handle = second.child("Message").text("ReceiptHandle");
    env.call("DeleteMessage", &[("QueueUrl", &url), ("ReceiptHandle", &handle)]).await.success("DeleteMessage");

    env.advance(31);
    let gone = env.call("ReceiveMessage", &[("QueueUrl", &url)]).await.result("ReceiveMessage");
    assert!(!gone.has("Message"), "deleted for good");
    env.shutdown().await;
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_a_message_arrives() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("poll", &[]).await;

    let poll = {
        let endpoint_env = &env;
        let url = url.clone();
        async move {
            endpoint_env
                .call("ReceiveMessage", &[("QueueUrl", &url), ("WaitTimeSeconds", "20"), ("AttributeName.1", "All")])
                .await
        }
    };
    let send = async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        env.call("SendMessage", &[("QueueUrl", &url), ("MessageBody", "late")]).await.result("SendMessage");
    };
    let (polled, ()) = tokio::time::timeout(std::time::Duration::from_secs(10), async { tokio::join!(poll, send) })
        .await
        .expect("the long poll ends when the message arrives");

    let message = polled.result("ReceiveMessage").child("Message").clone();
    assert_eq!(message.text("Body"), "late");
    assert!(message.pairs("Attribute", "Name", "Value").iter().any(|(name, _)| name == "SenderId"));
    env.shutdown().await;
}

#[tokio::test]
async fn queue_attributes_are_set_and_read_back_by_name() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("attrs", &[]).await;

    let set = env
        .call(
            "SetQueueAttributes",
            &[
                ("QueueUrl", &url),
                ("Attribute.1.Name", "VisibilityTimeout"),
                ("Attribute.1.Value", "120"),
                ("Attribute.2.Name", "MaximumMessageSize"),
                ("Attribute.2.Value", "2048"),
            ],
        )
        .await
        .success("SetQueueAttributes");
    assert!(!set.has("SetQueueAttributesResult"));

    let read = env
        .call(
            "GetQueueAttributes",
            &[("QueueUrl", &url), ("AttributeName.1", "VisibilityTimeout"), ("AttributeName.2", "MaximumMessageSize")],
        )
        .await
        .result("GetQueueAttributes");
    assert_eq!(
        read.pairs("Attribute", "Name", "Value"),
        vec![("MaximumMessageSize".to_owned(), "2048".to_owned()), ("VisibilityTimeout".to_owned(), "120".to_owned())]
    );

    let message = env
        .call("SetQueueAttributes", &[("QueueUrl", &url), ("Attribute.1.Name", "Bogus"), ("Attribute.1.Value", "1")])
        .await
        .error(400, "Sender", "InvalidAttributeName");
    assert!(message.contains("Bogus"), "{message}");
    env.shutdown().await;
}

#[tokio::test]
async fn tags_are_added_listed_and_removed() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("tagged", &[]).await;

    env.call(
        "TagQueue",
        &[("QueueUrl", &url), ("Tag.1.Key", "team"), ("Tag.1.Value", "a&b"), ("Tag.2.Key", "env"), ("Tag.2.Value", "")],
    )
    .await
    .success("TagQueue");
    let listed = env.call("ListQueueTags", &[("QueueUrl", &url)]).await.result("ListQueueTags");
    assert_eq!(
        listed.pairs("Tag", "Key", "Value"),
        vec![("env".to_owned(), String::new()), ("team".to_owned(), "a&b".to_owned())]
    );

    env.call("UntagQueue", &[("QueueUrl", &url), ("TagKey.1", "team")]).await.success("UntagQueue");
    let listed = env.call("ListQueueTags", &[("QueueUrl", &url)]).await.result("ListQueueTags");
    assert_eq!(listed.pairs("Tag", "Key", "Value"), vec![("env".to_owned(), String::new())]);
    env.shutdown().await;
}

#[tokio::test]
async fn purge_empties_the_queue() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("purged", &[]).await;
    for body in ["a", "b", "c"] {
        env.call("SendMessage", &[("QueueUrl", &url), ("MessageBody", body)]).await.result("SendMessage");
    }

    let purged = env.call("PurgeQueue", &[("QueueUrl", &url)]).await.success("PurgeQueue");

    assert!(!purged.has("PurgeQueueResult"));
    let after = env.call("ReceiveMessage", &[("QueueUrl", &url)]).await.result("ReceiveMessage");
    assert!(!after.has("Message"));
    env.shutdown().await;
}

#[tokio::test]
async fn the_queue_can_be_named_by_the_path_and_requests_can_be_gets() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("by-path", &[]).await;
    let path = format!("/{ACCOUNT}/by-path");

    env.call_at(&path, "SendMessage", &[("MessageBody", "via path")]).await.result("SendMessage");
    let via_get = env.get(&path, "ReceiveMessage", &[]).await.result("ReceiveMessage");
    assert_eq!(via_get.child("Message").text("Body"), "via path");

    let listed = env.get("/", "ListQueues", &[("QueueNamePrefix", "by")]).await.result("ListQueues");
    assert_eq!(listed.texts("QueueUrl"), vec![url]);

    // URL-query and form parameters merge (SPEC §4.1).
    let merged = env
        .raw(
            "POST",
            "/?Action=GetQueueUrl&Version=2012-11-05",
            Some("application/x-www-form-urlencoded"),
            b"QueueName=by-path".to_vec(),
        )
        .await
        .result("GetQueueUrl");
    assert_eq!(merged.text("QueueUrl"), env.url_of("by-path"));

    let missing = env.get(&format!("/{ACCOUNT}/nope"), "ReceiveMessage", &[]).await;
    assert_eq!(missing.error(400, "Sender", "AWS.SimpleQueueService.NonExistentQueue"), NO_QUEUE_MESSAGE);
    env.shutdown().await;
}

#[tokio::test]
async fn missing_and_unknown_actions_are_invalid_action_errors() {
    let env = QueryEnv::start().await;

    let missing = env.raw("POST", "/", Some("application/x-www-form-urlencoded"), b"Version=2012-11-05".to_vec()).await;
    let unknown = env.call("FlyToTheMoon", &[]).await;
    let bare_get = env.raw("GET", "/", None, Vec::new()).await;

    assert!(!missing.error(400, "Sender", "InvalidAction").is_empty());
    assert_eq!(
        unknown.error(400, "Sender", "InvalidAction"),
        "The action FlyToTheMoon is not valid for this endpoint."
    );
    bare_get.error(400, "Sender", "InvalidAction");
    env.shutdown().await;
}

#[tokio::test]
async fn request_errors_carry_their_legacy_codes_and_statuses() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("errors", &[]).await;

    let empty_batch = env.call("SendMessageBatch", &[("QueueUrl", &url), ("Entries", "")]).await;
    assert_eq!(
        empty_batch.error(400, "Sender", "AWS.SimpleQueueService.EmptyBatchRequest"),
        "There should be at least one SendMessageBatchRequestEntry in the request."
    );
    let empty_delete = env.call("DeleteMessageBatch", &[("QueueUrl", &url), ("Entries", "")]).await;
    empty_delete.error(400, "Sender", "AWS.SimpleQueueService.EmptyBatchRequest");

    let no_body = env.call("SendMessage", &[("QueueUrl", &url)]).await;
    assert!(no_body.error(400, "Sender", "MissingParameter").contains("MessageBody"));

    let bad_number = env.call("ReceiveMessage", &[("QueueUrl", &url), ("MaxNumberOfMessages", "lots")]).await;
    assert!(bad_number.error(400, "Sender", "InvalidParameterValue").contains("MaxNumberOfMessages"));
    let out_of_range = env.call("ReceiveMessage", &[("QueueUrl", &url), ("MaxNumberOfMessages", "11")]).await;
    out_of_range.error(400, "Sender", "InvalidParameterValue");

    let bad_handle = env.call("DeleteMessage", &[("QueueUrl", &url), ("ReceiptHandle", "garbage")]).await;
    bad_handle.error(404, "Sender", "ReceiptHandleIsInvalid");

    let exists = env
        .call(
            "CreateQueue",
            &[("QueueName", "errors"), ("Attribute.1.Name", "VisibilityTimeout"), ("Attribute.1.Value", "99")],
        )
        .await;
    exists.error(400, "Sender", "QueueAlreadyExists");

    let too_many: Vec<(String, String)> = (1..=11)
        .flat_map(|i| {
            [
                (format!("SendMessageBatchRequestEntry.{i}.Id"), format!("m{i}")),
                (format!("SendMessageBatchRequestEntry.{i}.MessageBody"), "x".to_owned()),
            ]
        })
        .collect();
    let mut params: Vec<(&str, &str)> = vec![("QueueUrl", &url)];
    params.extend(too_many.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let too_many = env.call("SendMessageBatch", &params).await;
    assert_eq!(
        too_many.error(400, "Sender", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
        "Maximum number of entries per request are 10. You have sent 11."
    );

    let gone = env.call("SendMessage", &[("QueueUrl", &env.url_of("nope")), ("MessageBody", "x")]).await;
    assert_eq!(gone.error(400, "Sender", "AWS.SimpleQueueService.NonExistentQueue"), NO_QUEUE_MESSAGE);
    env.shutdown().await;
}

#[tokio::test]
async fn permissions_are_added_to_and_removed_from_the_policy() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("shared", &[]).await;

    let added = env
        .call(
            "AddPermission",
            &[
                ("QueueUrl", &url),
                ("Label", "partners"),
                ("AWSAccountId.1", "111122223333"),
                ("AWSAccountId.2", "444455556666"),
                ("ActionName.1", "SendMessage"),
                ("ActionName.2", "ReceiveMessage"),
            ],
        )
        .await
        .success("AddPermission");
    assert!(!added.has("AddPermissionResult"));

    let policy = env
        .call("GetQueueAttributes", &[("QueueUrl", &url), ("AttributeName.1", "Policy")])
        .await
        .result("GetQueueAttributes")
        .child("Attribute")
        .text("Value");
    let policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Sid"], "partners", "{policy}");
    let text = statement.to_string();
    for expected in ["111122223333", "444455556666", "SQS:SendMessage", "SQS:ReceiveMessage"] {
        assert!(text.contains(expected), "{expected} in {text}");
    }

    env.call("RemovePermission", &[("QueueUrl", &url), ("Label", "partners")]).await.success("RemovePermission");
    let again = env.call("RemovePermission", &[("QueueUrl", &url), ("Label", "partners")]).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert_eq!(again.root().name, "ErrorResponse");
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_queues_report_sequence_numbers_and_group_attributes() {
    let env = QueryEnv::start().await;
    let url = env
        .create_queue(
            "orders.fifo",
            &[
                ("Attribute.1.Name", "FifoQueue"),
                ("Attribute.1.Value", "true"),
                ("Attribute.2.Name", "ContentBasedDeduplication"),
                ("Attribute.2.Value", "true"),
            ],
        )
        .await;

    let single = env
        .call("SendMessage", &[("QueueUrl", &url), ("MessageBody", "first"), ("MessageGroupId", "g1")])
        .await
        .result("SendMessage");
    let batch = env
        .call(
            "SendMessageBatch",
            &[
                ("QueueUrl", &url),
                ("SendMessageBatchRequestEntry.1.Id", "a"),
                ("SendMessageBatchRequestEntry.1.MessageBody", "second"),
                ("SendMessageBatchRequestEntry.1.MessageGroupId", "g1"),
                ("SendMessageBatchRequestEntry.1.MessageDeduplicationId", "dedup-2"),
            ],
        )
        .await
        .result("SendMessageBatch");
    let missing_group = env.call("SendMessage", &[("QueueUrl", &url), ("MessageBody", "x")]).await;

    assert!(!single.text("SequenceNumber").is_empty());
    let entry = batch.child("SendMessageBatchResultEntry");
    let sequence = |text: String| text.parse::<u128>().unwrap_or_else(|e| panic!("sequence number {text}: {e}"));
    assert!(sequence(entry.text("SequenceNumber")) > sequence(single.text("SequenceNumber")));
    missing_group.error(400, "Sender", "MissingParameter");

    let received = env
        .call(
            "ReceiveMessage",
            &[("QueueUrl", &url), ("MaxNumberOfMessages", "10"), ("MessageSystemAttributeName.1", "All")],
        )
        .await
        .result("ReceiveMessage");
    let messages = received.all("Message");
    let bodies: Vec<String> = messages.iter().map(|m| m.text("Body")).collect();
    assert_eq!(bodies, ["first", "second"], "FIFO order within the group");
    let attributes = messages[1].pairs("Attribute", "Name", "Value");
    let get = |name: &str| attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(get("MessageGroupId").as_deref(), Some("g1"));
    assert_eq!(get("MessageDeduplicationId").as_deref(), Some("dedup-2"));
    assert_eq!(get("SequenceNumber"), Some(entry.text("SequenceNumber")));
    env.shutdown().await;
}

#[tokio::test]
async fn dead_letter_sources_are_listed_and_move_tasks_run() {
    let env = QueryEnv::start().await;
    let dlq = env.create_queue("dlq", &[]).await;
    let dlq_arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:dlq");
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":1}}"#);
    let source =
        env.create_queue("source", &[("Attribute.1.Name", "RedrivePolicy"), ("Attribute.1.Value", &redrive)]).await;
    env.call("SendMessage", &[("QueueUrl", &source), ("MessageBody", "poison")]).await.result("SendMessage");

    // One receive uses up maxReceiveCount; the next one dead-letters the message.
    let first = env.call("ReceiveMessage", &[("QueueUrl", &source), ("VisibilityTimeout", "0")]).await;
    assert!(first.result("ReceiveMessage").has("Message"));
    let second = env.call("ReceiveMessage", &[("QueueUrl", &source)]).await.result("ReceiveMessage");
    assert!(!second.has("Message"), "moved to the DLQ");

    let sources = env.call("ListDeadLetterSourceQueues", &[("QueueUrl", &dlq)]).await;
    assert_eq!(sources.result("ListDeadLetterSourceQueues").texts("QueueUrl"), vec![source.clone()]);

    let started = env.call("StartMessageMoveTask", &[("SourceArn", &dlq_arn)]).await;
    let handle = started.result("StartMessageMoveTask").text("TaskHandle");
    assert!(!handle.is_empty());

    let listed = env.call("ListMessageMoveTasks", &[("SourceArn", &dlq_arn)]).await.result("ListMessageMoveTasks");
    let task = listed.child("ListMessageMoveTasksResultEntry");
    assert_eq!(task.text("SourceArn"), dlq_arn);
    assert!(["RUNNING", "COMPLETED"].contains(&task.text("Status").as_str()), "{task:?}");
    assert!(task.text("ApproximateNumberOfMessagesMoved").parse::<u64>().is_ok(), "{task:?}");
    assert!(task.text("StartedTimestamp").parse::<u64>().is_ok(), "{task:?}");

    let cancelled = env.call("CancelMessageMoveTask", &[("TaskHandle", &handle)]).await;
    if cancelled.status == 200 {
        let moved = cancelled.result("CancelMessageMoveTask").text("ApproximateNumberOfMessagesMoved");
        assert!(moved.parse::<u64>().is_ok(), "{moved}");
    } else {
        // The task may already have finished: only a running task can be cancelled.
        cancelled.error(404, "Sender", "ResourceNotFoundException");
    }
    let unknown = env.call("CancelMessageMoveTask", &[("TaskHandle", "no-such-task")]).await;
    assert_eq!(unknown.root().name, "ErrorResponse", "{}", unknown.body);
    env.shutdown().await;
}
