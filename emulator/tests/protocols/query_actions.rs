//! Every supported action over the legacy Query protocol (form in, XML out; SPEC.md §4), with its results
//! checked as a Query client sees them. MD5s are checked the way SDKs check them, and against the same request
//! over JSON.

use base64::Engine as _;
use serde_json::json;

use crate::common::{Val, md5_hex, md5_of_attributes};
use crate::support::{ACCOUNT, NO_QUEUE_MESSAGE, Params, QueryEnv, QueryResponse, START_MILLIS};

/// A body that XML would mangle unless escaped: markup characters, quotes, CR, CRLF, a tab, non-ASCII.
const AWKWARD_BODY: &str = "line 1\r\nline 2\rline 3\n<tag attr=\"x\">a & b's</tag>\t]]> héllo ✓";
/// An X-Ray trace header, the one message system attribute.
const TRACE_HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";

#[tokio::test]
async fn queues_are_created_found_listed_and_deleted() {
    let env = QueryEnv::start().await;

    let params = Params::default()
        .attributes(&[("VisibilityTimeout", "45"), ("DelaySeconds", "2")])
        .with("Tag.1.Key", "team")
        .with("Tag.1.Value", "shipping");
    let orders = env.create_queue("orders", &params.pairs()).await;
    let other = env.create_queue("other", &[]).await;

    let found = env.ok("GetQueueUrl", &[("QueueName", "orders")]).await;
    assert_eq!(found.text("QueueUrl"), orders);

    let listed = env.ok("ListQueues", &[]).await;
    let mut urls = listed.texts("QueueUrl");
    urls.sort();
    assert_eq!(urls, vec![orders.clone(), other.clone()]);

    let prefixed = env.ok("ListQueues", &[("QueueNamePrefix", "ord")]).await;
    assert_eq!(prefixed.texts("QueueUrl"), vec![orders.clone()]);

    let paged = env.ok("ListQueues", &[("MaxResults", "1")]).await;
    assert_eq!(paged.texts("QueueUrl").len(), 1);
    assert!(!paged.text("NextToken").is_empty());

    let attributes = env.ok("GetQueueAttributes", &[("QueueUrl", &orders), ("AttributeName.1", "All")]).await;
    let pairs = attributes.pairs("Attribute", "Name", "Value");
    let get = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(get("VisibilityTimeout").as_deref(), Some("45"));
    assert_eq!(get("DelaySeconds").as_deref(), Some("2"));
    assert_eq!(get("QueueArn"), Some(format!("arn:aws:sqs:us-east-1:{ACCOUNT}:orders")));

    let tags = env.ok("ListQueueTags", &[("QueueUrl", &orders)]).await;
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

    let params = Params::message(&url, AWKWARD_BODY)
        .message_attribute("", 1, "OrderId", "String", "A-1001 <&>")
        .message_attribute("", 2, "Priority", "Number", "5")
        .message_attribute("", 3, "Blob", "Binary", "AQID")
        .system_attribute(1, "AWSTraceHeader", "String", TRACE_HEADER);
    let sent = env.ok("SendMessage", &params.pairs()).await;
    let attribute_md5 = md5_of_attributes(&[
        ("OrderId", "String", Val::Text("A-1001 <&>")),
        ("Priority", "Number", Val::Text("5")),
        ("Blob", "Binary", Val::Bytes(&[1, 2, 3])),
    ]);
    assert_eq!(sent.text("MD5OfMessageBody"), md5_hex(AWKWARD_BODY.as_bytes()));
    assert_eq!(sent.text("MD5OfMessageAttributes"), attribute_md5);
    assert_eq!(sent.text("MD5OfMessageSystemAttributes"), "5f48eef650c1d0207456969c85af2fdd");
    let message_id = sent.text("MessageId");

    let received = env
        .ok(
            "ReceiveMessage",
            &[
                ("QueueUrl", &url),
                ("AttributeName.1", "SentTimestamp"),
                ("AttributeName.2", "ApproximateReceiveCount"),
                ("MessageSystemAttributeName.1", "AWSTraceHeader"),
                ("MessageAttributeName.1", "All"),
            ],
        )
        .await;

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
            ("AWSTraceHeader".to_owned(), TRACE_HEADER.to_owned()),
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

    let params = Params::message(&url, AWKWARD_BODY).message_attribute("", 1, "note", "String.utf8", "héllo");
    let over_query = env.ok("SendMessage", &params.pairs()).await;
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
        .ok(
            "SendMessageBatch",
            &Params::queue(&url)
                .entries(
                    "SendMessageBatchRequestEntry",
                    &[
                        &[("Id", "first"), ("MessageBody", "one & only")],
                        &[("Id", "second"), ("MessageBody", "two\r\n")],
                        &[("Id", "delayed"), ("MessageBody", "three"), ("DelaySeconds", "60")],
                    ],
                )
                .message_attribute("SendMessageBatchRequestEntry.1.", 1, "kind", "String", "a")
                .pairs(),
        )
        .await;
    let entries = sent.all("SendMessageBatchResultEntry");
    let ids: Vec<String> = entries.iter().map(|e| e.text("Id")).collect();
    assert_eq!(ids, ["first", "second", "delayed"]);
    assert_eq!(entries[0].text("MD5OfMessageBody"), md5_hex(b"one & only"));
    assert_eq!(entries[0].text("MD5OfMessageAttributes"), md5_of_attributes(&[("kind", "String", Val::Text("a"))]));
    assert_eq!(entries[1].text("MD5OfMessageBody"), md5_hex(b"two\r\n"));
    assert!(!entries[1].has("MD5OfMessageAttributes"));
    assert!(!sent.has("BatchResultErrorEntry"));

    let received = env
        .ok("ReceiveMessage", &[("QueueUrl", &url), ("MaxNumberOfMessages", "10"), ("VisibilityTimeout", "30")])
        .await;
    let messages = received.all("Message");
    let mut bodies: Vec<String> = messages.iter().map(|m| m.text("Body")).collect();
    bodies.sort();
    assert_eq!(bodies, ["one & only", "two\r\n"], "the delayed message stays hidden");
    for message in &messages {
        assert_eq!(message.text("MD5OfBody"), md5_hex(message.text("Body").as_bytes()));
    }
    let handles: Vec<String> = messages.iter().map(|m| m.text("ReceiptHandle")).collect();

    let params = Params::queue(&url).entries(
        "ChangeMessageVisibilityBatchRequestEntry",
        &[
            &[("Id", "a"), ("ReceiptHandle", &handles[0]), ("VisibilityTimeout", "0")],
            &[("Id", "bogus"), ("ReceiptHandle", "not-a-handle"), ("VisibilityTimeout", "0")],
        ],
    );
    let changed = env.ok("ChangeMessageVisibilityBatch", &params.pairs()).await;
    assert_eq!(changed.child("ChangeMessageVisibilityBatchResultEntry").text("Id"), "a");
    let failed = changed.child("BatchResultErrorEntry");
    assert_eq!(failed.text("Id"), "bogus");
    assert_eq!(failed.text("SenderFault"), "true");
    assert_eq!(failed.text("Code"), "ReceiptHandleIsInvalid");

    let again = env.ok("ReceiveMessage", &[("QueueUrl", &url)]).await;
    let visible_again = again.child("Message");
    assert_eq!(visible_again.text("MessageId"), messages[0].text("MessageId"), "visibility 0 shows it at once");

    let params = Params::queue(&url).entries(
        "DeleteMessageBatchRequestEntry",
        &[
            &[("Id", "x"), ("ReceiptHandle", &visible_again.text("ReceiptHandle"))],
            &[("Id", "y"), ("ReceiptHandle", &handles[1])],
        ],
    );
    let deleted = env.ok("DeleteMessageBatch", &params.pairs()).await;
    assert_eq!(deleted.texts("DeleteMessageBatchResultEntry").len(), 2);
    let ids: Vec<String> = deleted.all("DeleteMessageBatchResultEntry").iter().map(|e| e.text("Id")).collect();
    assert_eq!(ids, ["x", "y"]);
    assert!(!deleted.has("BatchResultErrorEntry"));

    env.advance(60);
    let last = env.ok("ReceiveMessage", &[("QueueUrl", &url)]).await;
    assert_eq!(last.child("Message").text("Body"), "three");
    env.shutdown().await;
}

#[tokio::test]
async fn single_messages_change_visibility_and_are_deleted() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("single", &Params::default().attributes(&[("VisibilityTimeout", "30")]).pairs()).await;
    env.ok("SendMessage", &[("QueueUrl", &url), ("MessageBody", "hello")]).await;

    let first = env.ok("ReceiveMessage", &[("QueueUrl", &url)]).await;
    let handle = first.child("Message").text("ReceiptHandle");
    let hidden = env.ok("ReceiveMessage", &[("QueueUrl", &url)]).await;
    assert!(!hidden.has("Message"), "in flight");

    let changed = env
        .call("ChangeMessageVisibility", &[("QueueUrl", &url), ("ReceiptHandle", &handle), ("VisibilityTimeout", "0")])
        .await
        .success("ChangeMessageVisibility");
    assert!(!changed.has("ChangeMessageVisibilityResult"));

    let second = env.ok("ReceiveMessage", &[("QueueUrl", &url)]).await;
    let handle = second.child("Message").text("ReceiptHandle");
    env.call("DeleteMessage", &[("QueueUrl", &url), ("ReceiptHandle", &handle)]).await.success("DeleteMessage");

    env.advance(31);
    let gone = env.ok("ReceiveMessage", &[("QueueUrl", &url)]).await;
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
        env.ok("SendMessage", &[("QueueUrl", &url), ("MessageBody", "late")]).await;
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

    let params = Params::queue(&url).attributes(&[("VisibilityTimeout", "120"), ("MaximumMessageSize", "2048")]);
    let set = env.call("SetQueueAttributes", &params.pairs()).await.success("SetQueueAttributes");
    assert!(!set.has("SetQueueAttributesResult"));

    let read = env
        .ok(
            "GetQueueAttributes",
            &[("QueueUrl", &url), ("AttributeName.1", "VisibilityTimeout"), ("AttributeName.2", "MaximumMessageSize")],
        )
        .await;
    assert_eq!(
        read.pairs("Attribute", "Name", "Value"),
        vec![("MaximumMessageSize".to_owned(), "2048".to_owned()), ("VisibilityTimeout".to_owned(), "120".to_owned())]
    );

    let bogus = Params::queue(&url).attributes(&[("Bogus", "1")]);
    let message = env.call("SetQueueAttributes", &bogus.pairs()).await.error(400, "Sender", "InvalidAttributeName");
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
    let listed = env.ok("ListQueueTags", &[("QueueUrl", &url)]).await;
    assert_eq!(
        listed.pairs("Tag", "Key", "Value"),
        vec![("env".to_owned(), String::new()), ("team".to_owned(), "a&b".to_owned())]
    );

    env.call("UntagQueue", &[("QueueUrl", &url), ("TagKey.1", "team")]).await.success("UntagQueue");
    let listed = env.ok("ListQueueTags", &[("QueueUrl", &url)]).await;
    assert_eq!(listed.pairs("Tag", "Key", "Value"), vec![("env".to_owned(), String::new())]);
    env.shutdown().await;
}

#[tokio::test]
async fn purge_empties_the_queue() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("purged", &[]).await;
    for body in ["a", "b", "c"] {
        env.ok("SendMessage", &[("QueueUrl", &url), ("MessageBody", body)]).await;
    }

    let purged = env.call("PurgeQueue", &[("QueueUrl", &url)]).await.success("PurgeQueue");

    assert!(!purged.has("PurgeQueueResult"));
    let after = env.ok("ReceiveMessage", &[("QueueUrl", &url)]).await;
    assert!(!after.has("Message"));
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
        .ok("GetQueueAttributes", &[("QueueUrl", &url), ("AttributeName.1", "Policy")])
        .await
        .child("Attribute")
        .text("Value");
    let policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Sid"], "partners", "{policy}");
    let text = statement.to_string();
    for expected in ["111122223333", "444455556666", "SQS:SendMessage", "SQS:ReceiveMessage"] {
        assert!(text.contains(expected), "{expected} in {text}");
    }

    // A single principal and action are strings, as AWS renders them (docs/aws-behaviour.md).
    let single = [("QueueUrl", url.as_str()), ("Label", "one"), ("AWSAccountId.1", "111122223333")];
    env.call("AddPermission", &[single.as_slice(), &[("ActionName.1", "SendMessage")]].concat())
        .await
        .success("AddPermission");
    let policy = env
        .ok("GetQueueAttributes", &[("QueueUrl", &url), ("AttributeName.1", "Policy")])
        .await
        .child("Attribute")
        .text("Value");
    let policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
    let one = &policy["Statement"][1];
    assert_eq!(one["Principal"]["AWS"], "arn:aws:iam::111122223333:root", "{policy}");
    assert_eq!(one["Action"], "SQS:SendMessage", "{policy}");
    let owner_only =
        env.call("AddPermission", &[single.as_slice(), &[("ActionName.1", "SetQueueAttributes")]].concat()).await;
    assert_eq!(
        owner_only.error(400, "Sender", "InvalidParameterValue"),
        "Value SQS:SetQueueAttributes for parameter ActionName is invalid. Reason: Only the queue owner is allowed to \
         invoke this action."
    );

    env.call("RemovePermission", &[("QueueUrl", &url), ("Label", "partners")]).await.success("RemovePermission");
    let again = env.call("RemovePermission", &[("QueueUrl", &url), ("Label", "partners")]).await;
    assert_eq!(
        again.error(400, "Sender", "InvalidParameterValue"),
        "Value partners for parameter Label is invalid. Reason: can't find label on existing policy."
    );
    env.shutdown().await;
}

#[tokio::test]
async fn fifo_queues_report_sequence_numbers_and_group_attributes() {
    let env = QueryEnv::start().await;
    let fifo = Params::default().attributes(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]);
    let url = env.create_queue("orders.fifo", &fifo.pairs()).await;

    let single = env.ok("SendMessage", &[("QueueUrl", &url), ("MessageBody", "first"), ("MessageGroupId", "g1")]).await;
    let entry =
        [("Id", "a"), ("MessageBody", "second"), ("MessageGroupId", "g1"), ("MessageDeduplicationId", "dedup-2")];
    let params = Params::queue(&url).entries("SendMessageBatchRequestEntry", &[&entry]);
    let batch = env.ok("SendMessageBatch", &params.pairs()).await;
    let missing_group = env.call("SendMessage", &[("QueueUrl", &url), ("MessageBody", "x")]).await;

    assert!(!single.text("SequenceNumber").is_empty());
    let entry = batch.child("SendMessageBatchResultEntry");
    let sequence = |text: String| text.parse::<u128>().unwrap_or_else(|e| panic!("sequence number {text}: {e}"));
    assert!(sequence(entry.text("SequenceNumber")) > sequence(single.text("SequenceNumber")));
    missing_group.error(400, "Sender", "MissingParameter");

    let received = env
        .ok(
            "ReceiveMessage",
            &[("QueueUrl", &url), ("MaxNumberOfMessages", "10"), ("MessageSystemAttributeName.1", "All")],
        )
        .await;
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
        env.create_queue("source", &Params::default().attributes(&[("RedrivePolicy", &redrive)]).pairs()).await;
    env.ok("SendMessage", &[("QueueUrl", &source), ("MessageBody", "poison")]).await;

    // One receive uses up maxReceiveCount; the next one dead-letters the message.
    let first = env.call("ReceiveMessage", &[("QueueUrl", &source), ("VisibilityTimeout", "0")]).await;
    assert!(first.result("ReceiveMessage").has("Message"));
    let second = env.ok("ReceiveMessage", &[("QueueUrl", &source)]).await;
    assert!(!second.has("Message"), "moved to the DLQ");

    let sources = env.call("ListDeadLetterSourceQueues", &[("QueueUrl", &dlq)]).await;
    assert_eq!(sources.result("ListDeadLetterSourceQueues").texts("QueueUrl"), vec![source.clone()]);

    let started = env.call("StartMessageMoveTask", &[("SourceArn", &dlq_arn)]).await;
    let handle = started.result("StartMessageMoveTask").text("TaskHandle");
    assert!(!handle.is_empty());

    let listed = env.ok("ListMessageMoveTasks", &[("SourceArn", &dlq_arn)]).await;
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

/// `MessageAttributeName` selectors over Query, as AWS answers them (see the SDK test
/// `message_attribute_name_wildcards_select_as_aws_does` for the sources): `All`, `.*` and `*` select all,
/// `Hel.*` the names starting with `Hel`; an unindexed `MessageAttributeName=…` (the form of the API reference's
/// Query sample requests) is a list of one name.
#[tokio::test]
async fn message_attribute_name_wildcards_select_as_aws_does() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("orders", &Params::default().attributes(&[("VisibilityTimeout", "0")]).pairs()).await;
    let send = Params::message(&url, "msg")
        .message_attribute("", 1, "Help.Me", "String", "Me")
        .message_attribute("", 2, "Hello", "String", "There")
        .message_attribute("", 3, "General", "String", "Kenobi");
    env.ok("SendMessage", &send.pairs()).await;

    /// The selector parameters of one receive, and the attribute names it must return.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case<'_>; 7] = [
        (&[("MessageAttributeName.1", "All")], &["General", "Hello", "Help.Me"]),
        (&[("MessageAttributeName.1", ".*")], &["General", "Hello", "Help.Me"]),
        (&[("MessageAttributeName.1", "*")], &["General", "Hello", "Help.Me"]),
        (&[("MessageAttributeName.1", "Hel.*")], &["Hello", "Help.Me"]),
        (&[("MessageAttributeName.1", "Foo"), ("MessageAttributeName.2", "G.*")], &["General"]),
        (&[("MessageAttributeName", "Help.*")], &["Help.Me"]),
        (&[("MessageAttributeName.1", "AWS."), ("MessageAttributeName.2", "Help")], &[]),
    ];
    for (selectors, expected) in cases {
        let mut params = vec![("QueueUrl", url.as_str())];
        params.extend_from_slice(selectors);
        let received = env.ok("ReceiveMessage", &params).await;
        let message = received.child("Message");
        let mut names: Vec<String> =
            message.all("MessageAttribute").iter().map(|attribute| attribute.text("Name")).collect();
        names.sort();
        assert_eq!(names, expected, "{selectors:?}");
        let values = [("General", "Kenobi"), ("Hello", "There"), ("Help.Me", "Me")];
        let returned: Vec<(&str, &str, Val<'_>)> = values
            .iter()
            .filter(|(name, _)| expected.contains(name))
            .map(|(name, value)| (*name, "String", Val::Text(value)))
            .collect();
        if returned.is_empty() {
            assert!(!message.has("MD5OfMessageAttributes"), "{selectors:?}");
        } else {
            assert_eq!(message.text("MD5OfMessageAttributes"), md5_of_attributes(&returned), "{selectors:?}");
        }
    }

    let all_system =
        env.ok("ReceiveMessage", &[("QueueUrl", &url), ("AttributeName", "All")]).await.child("Message").clone();
    let system: Vec<String> =
        all_system.pairs("Attribute", "Name", "Value").into_iter().map(|(name, _)| name).collect();
    assert!(system.contains(&"SentTimestamp".to_owned()) && system.contains(&"SenderId".to_owned()), "{system:?}");
    env.shutdown().await;
}

/// The HTTP `X-Amzn-Trace-Id` header over Query: the `AWSTraceHeader` of a message that sets none itself
/// (<https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sqs.html>).
#[tokio::test]
async fn the_x_ray_http_trace_header_becomes_the_aws_trace_header() {
    const HTTP_TRACE: &str = "Root=1-67891233-abcdef012345678912345678;Sampled=0";
    let env = QueryEnv::start().await;
    let url = env.create_queue("orders", &[]).await;
    let body = crate::support::form("SendMessage", &Params::message(&url, "traced").pairs());
    let headers = [("content-type", crate::support::FORM), ("x-amzn-trace-id", HTTP_TRACE)];
    let sent =
        QueryResponse::from(crate::common::raw_request(&env.endpoint, "POST", "/", &headers, body.into_bytes()).await)
            .result("SendMessage");
    assert!(!sent.has("MD5OfMessageSystemAttributes"));
    let body = crate::support::form(
        "SendMessage",
        &Params::message(&url, "own").system_attribute(1, "AWSTraceHeader", "String", TRACE_HEADER).pairs(),
    );
    QueryResponse::from(crate::common::raw_request(&env.endpoint, "POST", "/", &headers, body.into_bytes()).await)
        .result("SendMessage");

    let received = env
        .ok(
            "ReceiveMessage",
            &[("QueueUrl", &url), ("MaxNumberOfMessages", "10"), ("AttributeName.1", "AWSTraceHeader")],
        )
        .await;
    let mut traces: Vec<(String, String)> = received
        .all("Message")
        .iter()
        .map(|message| (message.text("Body"), message.pairs("Attribute", "Name", "Value")[0].1.clone()))
        .collect();
    traces.sort();
    assert_eq!(traces, vec![("own".to_owned(), TRACE_HEADER.to_owned()), ("traced".to_owned(), HTTP_TRACE.to_owned())]);
    env.shutdown().await;
}

/// The size limit counts UTF-8 bytes over Query too: 1024 bytes of two- and three-byte characters pass a
/// 1024-byte `MaximumMessageSize`, one byte more does not.
#[tokio::test]
async fn the_size_limit_counts_bytes_of_multi_byte_bodies() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("small", &Params::default().attributes(&[("MaximumMessageSize", "1024")]).pairs()).await;
    let at_limit = format!("{}{}", "é".repeat(200), "✓".repeat(208));
    assert_eq!(at_limit.len(), 1024);

    let sent = env.ok("SendMessage", &[("QueueUrl", &url), ("MessageBody", &at_limit)]).await;
    assert_eq!(sent.text("MD5OfMessageBody"), md5_hex(at_limit.as_bytes()));
    let over = format!("{at_limit}a");
    let message = env.call("SendMessage", &[("QueueUrl", &url), ("MessageBody", &over)]).await.error(
        400,
        "Sender",
        "InvalidParameterValue",
    );
    assert_eq!(message, "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.");
    env.shutdown().await;
}

/// Over Query: SSE-KMS with SSE-SQS in one request fails as AWS answers it, and a non-ASCII attribute name round
/// trips (docs/aws-behaviour.md).
#[tokio::test]
async fn encryption_exclusivity_and_non_ascii_attribute_names() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("secret", &[]).await;
    let both = Params::queue(&url).attributes(&[("KmsMasterKeyId", "alias/aws/sqs"), ("SqsManagedSseEnabled", "true")]);
    let message = env.call("SetQueueAttributes", &both.pairs()).await.error(400, "Sender", "InvalidAttributeName");
    assert_eq!(
        message,
        "You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE."
    );

    let send = Params::message(&url, "x").message_attribute("", 1, "注文.id", "String", "42");
    let sent = env.ok("SendMessage", &send.pairs()).await;
    let digest = md5_of_attributes(&[("注文.id", "String", Val::Text("42"))]);
    assert_eq!(sent.text("MD5OfMessageAttributes"), digest);
    let received = env.ok("ReceiveMessage", &[("QueueUrl", &url), ("MessageAttributeName.1", "All")]).await;
    let attribute = received.child("Message").child("MessageAttribute").clone();
    assert_eq!(attribute.text("Name"), "注文.id");
    env.shutdown().await;
}
