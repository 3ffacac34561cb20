//! `QueryBackend`: a test-only [`SqsBackend`] that speaks the legacy Query protocol (form-encoded requests,
//! XML responses; SPEC.md §4) over plain HTTP, unsigned (the emulator's default accepts that). The Rust AWS
//! SDK speaks only JSON, so this is what gives the emulator's Query protocol a row in the conformance suite.
//!
//! - `form.rs` builds the requests (`Action=…&Version=2012-11-05`, indexed lists and maps).
//! - `xml.rs` reads the `<{Action}Response>` documents and the `ErrorResponse` into sqskit's types and errors.
//! - `digests.rs` verifies MD5 digests with `sqskit::integrity`, as `AwsBackend` does for JSON.
//! - `base64.rs` encodes and decodes `BinaryValue`s.
//!
//! Like the other backends, every method makes exactly one request (ListQueues: one per page) and never
//! retries.

mod base64;
mod digests;
mod form;
mod xml;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use roxmltree::Node;
use sqskit::backend::{
    BatchEntryFailure, BatchOutcome, DeleteEntry, ReceiveRequest, ReceivedMessage, SendEntry, SentMessage, SqsBackend,
    VisibilityEntry,
};
use sqskit::types::{QueueAttributeName, QueueAttributes};
use sqskit::{Error, Result};

use form::QueryRequest;
use xml::MalformedReply;

/// The content type of a Query request body.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The [`SqsBackend`] over the Query protocol.
#[derive(Debug, Clone)]
pub struct QueryBackend {
    client: Client<HttpConnector, Full<Bytes>>,
    endpoint: String,
    timeout: Duration,
}

impl QueryBackend {
    /// A backend posting to `endpoint` (`http://host:port`), each request bounded by `timeout`.
    pub fn new(endpoint: impl Into<String>, timeout: Duration) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self { client, endpoint: endpoint.into(), timeout }
    }

    /// Sends `request` and reads its answer with `read` (see [`xml::Response::read`]).
    async fn call<T>(&self, request: QueryRequest, read: impl FnOnce(Node<'_, '_>) -> Result<T>) -> Result<T> {
        self.exchange(&request).await?.read(request.action(), read)
    }

    /// One POST to the endpoint's root, within the timeout.
    async fn exchange(&self, request: &QueryRequest) -> Result<xml::Response> {
        let http = hyper::Request::post(format!("{}/", self.endpoint))
            .header(hyper::header::CONTENT_TYPE, FORM_CONTENT_TYPE)
            .body(Full::new(Bytes::from(request.encode())))
            .map_err(|error| Error::Config { reason: format!("could not build the request: {error}") })?;
        let exchange = async {
            let response = self.client.request(http).await.map_err(Error::transport)?;
            let status = response.status().as_u16();
            let request_id =
                response.headers().get("x-amzn-requestid").and_then(|value| value.to_str().ok()).map(str::to_owned);
            let body = response.into_body().collect().await.map_err(Error::transport)?.to_bytes();
            let body = String::from_utf8(body.to_vec())
                .map_err(|error| Error::transport(MalformedReply::NotXml(error.to_string())))?;
            Ok(xml::Response { status, request_id, body })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| Error::Timeout { detail: "no response within the operation timeout".to_owned() })?
    }
}

/// Whole seconds, rounded up, as SQS counts them (as the other backends send them).
fn wire_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// The parameters of one `SendMessageBatchRequestEntry.N.`.
fn send_entry(request: QueryRequest, prefix: &str, entry: &SendEntry) -> QueryRequest {
    request
        .param(format!("{prefix}Id"), &entry.id)
        .param(format!("{prefix}MessageBody"), &entry.body)
        .optional(&format!("{prefix}DelaySeconds"), entry.delay.map(wire_seconds))
        .message_attributes(prefix, &entry.attributes)
        .trace_header(prefix, entry.trace_header.as_deref())
        .optional(&format!("{prefix}MessageGroupId"), entry.group_id.as_deref())
        .optional(&format!("{prefix}MessageDeduplicationId"), entry.deduplication_id.as_deref())
}

#[async_trait]
impl SqsBackend for QueryBackend {
    async fn create_queue(
        &self,
        name: &str,
        attributes: &QueueAttributes,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        let request = QueryRequest::new("CreateQueue")
            .param("QueueName", name)
            .map("Attribute", ("Name", "Value"), attributes.iter())
            .map("Tag", ("Key", "Value"), tags);
        self.call(request, xml::queue_url).await
    }

    async fn get_queue_url(&self, name: &str) -> Result<String> {
        self.call(QueryRequest::new("GetQueueUrl").param("QueueName", name), xml::queue_url).await
    }

    async fn list_queues(&self, prefix: Option<&str>) -> Result<Vec<String>> {
        let mut urls = Vec::new();
        let mut next_token = None;
        loop {
            let request = QueryRequest::new("ListQueues")
                .optional("QueueNamePrefix", prefix)
                .param("MaxResults", 1000)
                .optional("NextToken", next_token.take());
            let (page, token) = self.call(request, xml::queue_urls).await?;
            urls.extend(page);
            match token {
                Some(token) => next_token = Some(token),
                None => return Ok(urls),
            }
        }
    }

    async fn delete_queue(&self, queue_url: &str) -> Result<()> {
        self.call(QueryRequest::new("DeleteQueue").param("QueueUrl", queue_url), |_| Ok(())).await
    }

    async fn purge_queue(&self, queue_url: &str) -> Result<()> {
        self.call(QueryRequest::new("PurgeQueue").param("QueueUrl", queue_url), |_| Ok(())).await
    }

    async fn get_queue_attributes(&self, queue_url: &str, names: &[QueueAttributeName]) -> Result<QueueAttributes> {
        let request = QueryRequest::new("GetQueueAttributes")
            .param("QueueUrl", queue_url)
            .list("AttributeName", names.iter().map(QueueAttributeName::as_str));
        self.call(request, xml::queue_attributes).await
    }

    async fn set_queue_attributes(&self, queue_url: &str, attributes: &QueueAttributes) -> Result<()> {
        let request = QueryRequest::new("SetQueueAttributes").param("QueueUrl", queue_url).map(
            "Attribute",
            ("Name", "Value"),
            attributes.iter(),
        );
        self.call(request, |_| Ok(())).await
    }

    async fn send_message_batch(&self, queue_url: &str, entries: &[SendEntry]) -> Result<BatchOutcome<SentMessage>> {
        let request = QueryRequest::new("SendMessageBatch").param("QueueUrl", queue_url).entries(
            "SendMessageBatchRequestEntry",
            entries,
            send_entry,
        );
        let response = self.exchange(&request).await?;
        let (results, failed) =
            response.read(request.action(), |result| xml::send_results(result, response.request_id.as_deref()))?;
        let mut outcome = BatchOutcome { successful: Vec::new(), failed };
        for result in results {
            let verified = match entries.iter().find(|entry| entry.id == result.id) {
                Some(entry) => digests::verify_sent(entry, &result),
                None => Err(Error::transport(MalformedReply::UnknownEntry(result.id.clone()))),
            };
            match verified {
                Ok(()) => outcome.successful.push((result.id, result.sent)),
                Err(error) => outcome.failed.push(BatchEntryFailure { id: result.id, error }),
            }
        }
        Ok(outcome)
    }

    async fn receive_message(&self, queue_url: &str, request: &ReceiveRequest) -> Result<Vec<ReceivedMessage>> {
        let query = QueryRequest::new("ReceiveMessage")
            .param("QueueUrl", queue_url)
            .param("MaxNumberOfMessages", request.max_messages)
            .optional("WaitTimeSeconds", request.wait_time.map(wire_seconds))
            .optional("VisibilityTimeout", request.visibility_timeout.map(wire_seconds))
            .list("MessageSystemAttributeName", request.system_attribute_names.iter().map(|name| name.as_str()))
            .list("MessageAttributeName", &request.message_attribute_names)
            .optional("ReceiveRequestAttemptId", request.receive_request_attempt_id.as_deref());
        let mut messages = self.call(query, xml::messages).await?;
        messages.iter_mut().for_each(digests::verify_received);
        Ok(messages)
    }

    async fn delete_message_batch(&self, queue_url: &str, entries: &[DeleteEntry]) -> Result<BatchOutcome<()>> {
        let request = QueryRequest::new("DeleteMessageBatch").param("QueueUrl", queue_url).entries(
            "DeleteMessageBatchRequestEntry",
            entries,
            |request, prefix, entry| {
                request
                    .param(format!("{prefix}Id"), &entry.id)
                    .param(format!("{prefix}ReceiptHandle"), &entry.receipt_handle)
            },
        );
        self.call(request, |result| xml::unit_outcome(result, "DeleteMessageBatchResultEntry")).await
    }

    async fn change_message_visibility_batch(
        &self,
        queue_url: &str,
        entries: &[VisibilityEntry],
    ) -> Result<BatchOutcome<()>> {
        let request = QueryRequest::new("ChangeMessageVisibilityBatch").param("QueueUrl", queue_url).entries(
            "ChangeMessageVisibilityBatchRequestEntry",
            entries,
            |request, prefix, entry| {
                request
                    .param(format!("{prefix}Id"), &entry.id)
                    .param(format!("{prefix}ReceiptHandle"), &entry.receipt_handle)
                    .param(format!("{prefix}VisibilityTimeout"), wire_seconds(entry.visibility_timeout))
            },
        );
        self.call(request, |result| xml::unit_outcome(result, "ChangeMessageVisibilityBatchResultEntry")).await
    }
}
