//! How Query requests may arrive (SPEC.md §4.1): the queue named by the path, GET with a query string, URL-query
//! and form parameters merged; and the error paths: missing or unknown actions and the legacy error codes and
//! statuses of bad requests.

use crate::common::raw_request;
use crate::support::{ACCOUNT, NO_QUEUE_MESSAGE, Params, QueryEnv};

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

    let exists = Params::default().with("QueueName", "errors").attributes(&[("VisibilityTimeout", "99")]);
    let exists = env.call("CreateQueue", &exists.pairs()).await;
    exists.error(400, "Sender", "QueueAlreadyExists");

    let mut params = Params::queue(&url);
    for i in 1..=11 {
        let entry = format!("SendMessageBatchRequestEntry.{i}");
        params = params.with(&format!("{entry}.Id"), &format!("m{i}")).with(&format!("{entry}.MessageBody"), "x");
    }
    let too_many = env.call("SendMessageBatch", &params.pairs()).await;
    assert_eq!(
        too_many.error(400, "Sender", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
        "Maximum number of entries per request are 10. You have sent 11."
    );

    let gone = env.call("SendMessage", &[("QueueUrl", &env.url_of("nope")), ("MessageBody", "x")]).await;
    assert_eq!(gone.error(400, "Sender", "AWS.SimpleQueueService.NonExistentQueue"), NO_QUEUE_MESSAGE);
    env.shutdown().await;
}

/// STS `GetCallerIdentity` as the STS SDKs send it (a form POST of `Action=GetCallerIdentity&Version=2011-06-15`
/// to the endpoint's root), and as a GET: STS's XML document with the default account's root user; at a queue
/// URL it is no SQS action (<https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html>).
#[tokio::test]
async fn sts_get_caller_identity_answers_in_sts_xml_at_the_root_only() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("orders", &[]).await;

    for response in [
        env.call("GetCallerIdentity", &[("Version", "2011-06-15")]).await,
        env.get("/", "GetCallerIdentity", &[("Version", "2011-06-15")]).await,
    ] {
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.content_type.as_deref(), Some("text/xml"));
        let root = response.root();
        assert_eq!(root.name, "GetCallerIdentityResponse");
        assert_eq!(root.namespace.as_deref(), Some("https://sts.amazonaws.com/doc/2011-06-15/"));
        let result = root.child("GetCallerIdentityResult");
        assert_eq!(result.text("Account"), ACCOUNT);
        assert_eq!(result.text("UserId"), ACCOUNT);
        assert_eq!(result.text("Arn"), format!("arn:aws:iam::{ACCOUNT}:root"));
        let request_id = root.child("ResponseMetadata").text("RequestId");
        assert_eq!(response.request_id.as_deref(), Some(request_id.as_str()));
    }

    let path = url.trim_start_matches(&env.endpoint);
    let message = env.call_at(path, "GetCallerIdentity", &[]).await.error(400, "Sender", "InvalidAction");
    assert_eq!(message, "The action GetCallerIdentity is not valid for this endpoint.");
    env.shutdown().await;
}

/// Out-of-range numbers over Query, in AWS's words (see `sdk::errors::out_of_range_numbers_are_worded_as_aws_words_them`).
#[tokio::test]
async fn out_of_range_numbers_are_worded_as_aws_words_them() {
    let env = QueryEnv::start().await;
    let url = env.create_queue("orders", &[]).await;
    let cases = [
        (
            ("MaxNumberOfMessages", "0"),
            "Value 0 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.",
        ),
        (
            ("WaitTimeSeconds", "30"),
            "Value 30 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.",
        ),
    ];
    for (parameter, text) in cases {
        let message = env.call("ReceiveMessage", &[("QueueUrl", &url), parameter]).await.error(
            400,
            "Sender",
            "InvalidParameterValue",
        );
        assert_eq!(message, text);
    }
    env.shutdown().await;
}

/// A queue URL takes that queue's actions only: CreateQueue and ListQueues sent there, by POST or GET, are
/// invalid actions for that endpoint, as AWS answers (docs/aws-behaviour.md); at the root they work.
#[tokio::test]
async fn account_level_actions_are_refused_at_a_queue_url() {
    let env = QueryEnv::start().await;
    env.create_queue("orders", &[]).await;
    let path = format!("/{ACCOUNT}/orders");

    for (action, params) in [("CreateQueue", vec![("QueueName", "other")]), ("ListQueues", vec![])] {
        for response in [env.call_at(&path, action, &params).await, env.get(&path, action, &params).await] {
            let message = response.error(400, "Sender", "InvalidAction");
            assert_eq!(message, format!("The action {action} is not valid for this endpoint."));
        }
    }
    let listed = env.get("/", "ListQueues", &[]).await.result("ListQueues");
    assert_eq!(listed.texts("QueueUrl").len(), 1, "nothing was created at the queue URL");
    env.get(&path, "GetQueueAttributes", &[("AttributeName.1", "All")]).await.result("GetQueueAttributes");
    env.shutdown().await;
}

/// The in-flight quota over Query (lowered to 2): a short poll at the quota is `OverLimit` with status 403, as
/// the error table has it (docs/aws-behaviour.md).
#[tokio::test]
async fn a_short_poll_at_the_in_flight_quota_is_over_limit() {
    let env = QueryEnv::start_with(|builder| builder.max_in_flight_messages(2)).await;
    let url = env.create_queue("busy", &[]).await;
    for body in ["1", "2", "3"] {
        env.ok("SendMessage", &[("QueueUrl", &url), ("MessageBody", body)]).await;
    }
    let taken = env.ok("ReceiveMessage", &[("QueueUrl", &url), ("MaxNumberOfMessages", "10")]).await;
    assert_eq!(taken.all("Message").len(), 2);

    let message = env.call("ReceiveMessage", &[("QueueUrl", &url)]).await.error(403, "Sender", "OverLimit");
    assert!(message.contains("2 in flight messages"), "{message}");
    env.shutdown().await;
}

/// Over Query too, a FIFO SendMessageBatch entry without a MessageGroupId fails the whole request.
#[tokio::test]
async fn a_fifo_batch_entry_without_a_group_id_fails_the_whole_request() {
    let env = QueryEnv::start().await;
    let fifo = Params::default().attributes(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]);
    let url = env.create_queue("orders.fifo", &fifo.pairs()).await;
    let grouped = [("Id", "a"), ("MessageBody", "a"), ("MessageGroupId", "g")];
    let ungrouped = [("Id", "b"), ("MessageBody", "b")];
    let params = Params::queue(&url).entries("SendMessageBatchRequestEntry", &[&grouped, &ungrouped]);

    let message = env.call("SendMessageBatch", &params.pairs()).await.error(400, "Sender", "InvalidParameterValue");
    assert_eq!(message, "The request must contain the parameter MessageGroupId.");
    env.shutdown().await;
}

/// Over Query: CreateQueue of an existing standard queue with a FIFO-only attribute is an unknown attribute.
#[tokio::test]
async fn creating_an_existing_standard_queue_with_a_fifo_only_attribute_is_an_unknown_attribute() {
    let env = QueryEnv::start().await;
    env.create_queue("plain", &[]).await;
    let params = Params::default().with("QueueName", "plain").attributes(&[("ContentBasedDeduplication", "true")]);
    let message = env.call("CreateQueue", &params.pairs()).await.error(400, "Sender", "InvalidAttributeName");
    assert_eq!(message, "Unknown Attribute ContentBasedDeduplication.");
    env.shutdown().await;
}

/// Over Query with `--fifo-quotas`: the 301st call in a second to a normal FIFO queue is throttled, a
/// high-throughput FIFO queue takes it.
#[tokio::test]
async fn high_throughput_fifo_queues_get_the_higher_quota() {
    let env = QueryEnv::start_with(|builder| builder.fifo_quotas(true)).await;
    let fifo = [("FifoQueue", "true"), ("ContentBasedDeduplication", "true")];
    let normal = env.create_queue("normal.fifo", &Params::default().attributes(&fifo).pairs()).await;
    let high_attributes =
        [fifo.as_slice(), &[("DeduplicationScope", "messageGroup"), ("FifoThroughputLimit", "perMessageGroupId")]]
            .concat();
    let high = env.create_queue("high.fifo", &Params::default().attributes(&high_attributes).pairs()).await;

    for (url, limited) in [(&normal, true), (&high, false)] {
        let mut statuses = Vec::new();
        for i in 0..301 {
            let body = format!("m{i}");
            let response =
                env.call("SendMessage", &[("QueueUrl", url), ("MessageBody", &body), ("MessageGroupId", "g")]).await;
            statuses.push(response.status);
        }
        let throttled = statuses.iter().filter(|status| **status != 200).count();
        assert_eq!(throttled, usize::from(limited), "{url}");
    }
    env.shutdown().await;
}

/// Query requests act in the region of their SigV4 credential scope: a presigned GET's `X-Amz-Credential`, or
/// the `Authorization` header of a form POST (signatures are not checked with authentication off, the scope
/// still names the region); without one, a regional `Host` names it. See docs/aws-behaviour.md, "Regions".
#[tokio::test]
async fn query_requests_act_in_the_region_of_their_credential_scope() {
    let env = QueryEnv::start().await;
    let ireland = ("X-Amz-Credential", "AKIDEXAMPLE/20250101/eu-west-1/sqs/aws4_request");
    let created = env.get("/", "CreateQueue", &[("QueueName", "regional"), ireland]).await;
    assert_eq!(created.result("CreateQueue").text("QueueUrl"), env.url_of("regional"));

    assert!(!env.ok("ListQueues", &[]).await.has("QueueUrl"), "the default region (us-east-1) has no queue");
    let listed = env.get("/", "ListQueues", &[ireland]).await.result("ListQueues").texts("QueueUrl");
    assert_eq!(listed, [env.url_of("regional")]);
    let path = format!("/{ACCOUNT}/regional");
    let arn = env.get(&path, "GetQueueAttributes", &[("AttributeName.1", "QueueArn"), ireland]).await;
    assert_eq!(
        arn.result("GetQueueAttributes").pairs("Attribute", "Name", "Value"),
        [("QueueArn".to_owned(), format!("arn:aws:sqs:eu-west-1:{ACCOUNT}:regional"))]
    );
    let missing = env.call_at(&path, "GetQueueAttributes", &[("AttributeName.1", "QueueArn")]).await;
    assert!(missing.error(400, "Sender", "AWS.SimpleQueueService.NonExistentQueue").contains(NO_QUEUE_MESSAGE));

    // A form POST signed for eu-west-1 (Authorization header), and an unsigned one to a regional host.
    let signed = raw_request(
        &env.endpoint,
        "POST",
        "/",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-amz-date", "20250101T000000Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/eu-west-1/sqs/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=00",
            ),
        ],
        b"Action=GetQueueUrl&Version=2012-11-05&QueueName=regional".to_vec(),
    )
    .await;
    assert_eq!(signed.status, 200, "{}", String::from_utf8_lossy(&signed.body));
    let hosted = raw_request(
        &env.endpoint,
        "POST",
        "/",
        &[("content-type", "application/x-www-form-urlencoded"), ("host", "sqs.eu-west-1.localhost:9324")],
        b"Action=GetQueueUrl&Version=2012-11-05&QueueName=regional".to_vec(),
    )
    .await;
    let body = String::from_utf8_lossy(&hosted.body).into_owned();
    assert!(
        body.contains(&format!("<QueueUrl>http://sqs.eu-west-1.localhost:9324/{ACCOUNT}/regional</QueueUrl>")),
        "{body}"
    );
    env.shutdown().await;
}
