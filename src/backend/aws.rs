//! [`AwsBackend`]: the [`SqsBackend`] over `aws-sdk-sqs`, for real SQS or any endpoint that speaks the AWS
//! JSON protocol (such as `sqskit-emulator` over HTTP).
//!
//! The SDK's own retries are switched off: sqskit retries in one place (`crate::retry`), so both backends
//! behave the same and attempts never multiply. SDK errors become [`Error`]s here, by the code string
//! `ProvideErrorMetadata::code()` returns, parsed with [`ServiceErrorCode::parse`].

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::config::retry::RetryConfig;
use aws_sdk_sqs::config::timeout::TimeoutConfig;
use aws_sdk_sqs::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::operation::RequestId;
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, MessageSystemAttributeName, MessageSystemAttributeNameForSends, MessageSystemAttributeValue,
    QueueAttributeName as SdkQueueAttributeName, SendMessageBatchRequestEntry,
};

use super::integrity::{self, ReportedDigests};
use super::{
    BatchEntryFailure, BatchOutcome, DeleteEntry, ReceiveRequest, ReceivedMessage, SendEntry, SentMessage, SqsBackend,
    VisibilityEntry,
};
use crate::error::{Error, Fault, Result, ServiceErrorCode};
use crate::types::{
    AttributeValue, MessageAttribute, MessageAttributes, MessageId, QueueAttributeName, QueueAttributes, ReceiptHandle,
    SystemAttributeName, wire_seconds,
};

/// Connect timeout when none is configured (the SDK's own default since behavior version 2026-01-12).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3_100);
/// Operation timeout when none is configured: above the 20 s maximum long poll, so a receive that waits
/// its full time is never cut off.
const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The [`SqsBackend`] over `aws-sdk-sqs`.
///
/// # Examples
/// ```no_run
/// # async fn demo() -> Result<(), sqskit::Error> {
/// // Region, credentials and endpoint come from the usual places: AWS_REGION, AWS_PROFILE,
/// // AWS_ENDPOINT_URL_SQS (for example http://localhost:9324 for the emulator), ~/.aws/config ...
/// let backend = sqskit::backend::AwsBackend::from_env().await?;
/// # let _ = backend; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AwsBackend {
    client: Client,
    verify_checksums: bool,
}

impl AwsBackend {
    /// A backend configured by aws-config's default chain (environment, profiles, SSO, IMDS), honouring
    /// `AWS_ENDPOINT_URL_SQS` and `AWS_ENDPOINT_URL`.
    ///
    /// # Errors
    /// [`Error::Config`] when no region can be found.
    pub async fn from_env() -> Result<Self> {
        let sdk_config = aws_config::load_defaults(BehaviorVersion::latest()).await;
        if sdk_config.region().is_none() {
            return Err(Error::Config {
                reason: "no AWS region configured: set AWS_REGION (or a region in the AWS profile)".to_owned(),
            });
        }
        Ok(Self::builder(&sdk_config).build())
    }

    /// A backend over an already configured client. Its retry configuration is replaced by "disabled"
    /// (sqskit retries itself); when it has no operation timeout, sqskit's defaults (3.1 s connect, 30 s
    /// operation) are applied.
    pub fn new(client: Client) -> Self {
        Self::builder_from_client(&client).build()
    }

    /// A builder starting from an SDK configuration (for example from `aws_config::defaults(..).load()`).
    pub fn builder(sdk_config: &aws_config::SdkConfig) -> AwsBackendBuilder {
        let mut config = aws_sdk_sqs::config::Builder::from(sdk_config);
        if sdk_config.behavior_version().is_none() {
            config = config.behavior_version(BehaviorVersion::latest());
        }
        AwsBackendBuilder::new(config, sdk_config.timeout_config().cloned())
    }

    /// A builder starting from an existing client's configuration.
    pub fn builder_from_client(client: &Client) -> AwsBackendBuilder {
        AwsBackendBuilder::new(client.config().to_builder(), client.config().timeout_config().cloned())
    }

    /// The underlying SDK client (retries disabled).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Configures an [`AwsBackend`].
#[derive(Debug)]
pub struct AwsBackendBuilder {
    config: aws_sdk_sqs::config::Builder,
    existing_timeouts: Option<TimeoutConfig>,
    operation_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    verify_checksums: bool,
}

impl AwsBackendBuilder {
    fn new(config: aws_sdk_sqs::config::Builder, existing_timeouts: Option<TimeoutConfig>) -> Self {
        Self { config, existing_timeouts, operation_timeout: None, connect_timeout: None, verify_checksums: true }
    }

    /// Sends requests to this endpoint (e.g. `http://127.0.0.1:9324` for a local emulator).
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.config = self.config.endpoint_url(url);
        self
    }

    /// The whole-request timeout; keep it above the longest long poll (20 s) you use.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = Some(timeout);
        self
    }

    /// The TCP/TLS connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Whether to verify the MD5 digests SQS reports (default: on).
    pub fn verify_checksums(mut self, verify: bool) -> Self {
        self.verify_checksums = verify;
        self
    }

    /// Builds the backend with the SDK's retries disabled.
    pub fn build(self) -> AwsBackend {
        let existing = self.existing_timeouts.unwrap_or_else(TimeoutConfig::disabled);
        let operation = self.operation_timeout.or(existing.operation_timeout()).unwrap_or(DEFAULT_OPERATION_TIMEOUT);
        let connect = self.connect_timeout.or(existing.connect_timeout()).unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(connect)
            .operation_timeout(operation)
            .operation_attempt_timeout(operation)
            .build();
        let config = self.config.retry_config(RetryConfig::disabled()).timeout_config(timeouts);
        AwsBackend { client: Client::from_conf(config.build()), verify_checksums: self.verify_checksums }
    }
}

/// Converts any SDK error into sqskit's [`Error`].
fn sdk_error<E>(err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let request_id = err.request_id().map(str::to_owned);
    match err {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let error = context.err();
            let fault = Fault::of_response(error.meta().extra("type"), status);
            let code = match error.code() {
                Some(code) => ServiceErrorCode::parse(code),
                None => ServiceErrorCode::for_status(status),
            };
            let message = error.message().map(str::to_owned).unwrap_or_else(|| format!("HTTP status {status}"));
            Error::Service { code, message, request_id, fault }
        }
        SdkError::TimeoutError(_) => Error::Timeout { detail: "no response within the operation timeout".to_owned() },
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            Error::Timeout { detail: "connecting or sending timed out".to_owned() }
        }
        SdkError::ConstructionFailure(failure) => Error::Config {
            reason: format!(
                "could not build the request: {}",
                aws_sdk_sqs::error::DisplayErrorContext(&SdkError::<E, HttpResponse>::ConstructionFailure(failure))
            ),
        },
        other => match other.into_source() {
            Ok(source) => Error::Transport { source: source.into() },
            Err(other) => Error::Transport {
                source: std::sync::Arc::new(Malformed(aws_sdk_sqs::error::DisplayErrorContext(&other).to_string())),
            },
        },
    }
}

/// A response that lacks what SQS always sends.
#[derive(Debug, thiserror::Error)]
#[error("malformed SQS response: {0}")]
struct Malformed(String);

fn malformed(what: &str) -> Error {
    Error::transport(Malformed(what.to_owned()))
}

fn sdk_attribute(attribute: &MessageAttribute) -> Result<MessageAttributeValue> {
    let builder = MessageAttributeValue::builder().data_type(&attribute.data_type);
    let builder = match &attribute.value {
        AttributeValue::Text(text) => builder.string_value(text),
        AttributeValue::Binary(bytes) => builder.binary_value(Blob::new(bytes.clone())),
    };
    builder.build().map_err(|e| Error::invalid(format!("message attribute: {e}")))
}

fn from_sdk_attribute(value: &MessageAttributeValue) -> MessageAttribute {
    let attribute_value = match (value.binary_value(), value.string_value()) {
        (Some(blob), _) => AttributeValue::Binary(blob.as_ref().to_vec()),
        (None, text) => AttributeValue::Text(text.unwrap_or_default().to_owned()),
    };
    MessageAttribute::with_type(value.data_type(), attribute_value)
}

fn sdk_send_entry(entry: &SendEntry) -> Result<SendMessageBatchRequestEntry> {
    let mut builder = SendMessageBatchRequestEntry::builder()
        .id(&entry.id)
        .message_body(&entry.body)
        .set_delay_seconds(entry.delay.map(wire_seconds))
        .set_message_group_id(entry.group_id.clone())
        .set_message_deduplication_id(entry.deduplication_id.clone());
    for (name, attribute) in entry.attributes.iter() {
        builder = builder.message_attributes(name, sdk_attribute(attribute)?);
    }
    if let Some(header) = &entry.trace_header {
        let value = MessageSystemAttributeValue::builder()
            .data_type("String")
            .string_value(header)
            .build()
            .map_err(|e| Error::invalid(format!("AWSTraceHeader: {e}")))?;
        builder = builder.message_system_attributes(MessageSystemAttributeNameForSends::AwsTraceHeader, value);
    }
    builder.build().map_err(|e| Error::invalid(format!("send entry {}: {e}", entry.id)))
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value.filter(|v| !v.is_empty()).map(str::to_owned)
}

/// A request entry of a batch whose SDK entry can only fail to build for a missing required member.
trait SdkBatchEntry {
    /// The SDK's entry type.
    type Sdk;
    /// What kind of entry this is, for error messages.
    const KIND: &'static str;
    /// The entry id, unique within its batch.
    fn batch_id(&self) -> &str;
    /// The SDK entry.
    fn to_sdk(&self) -> std::result::Result<Self::Sdk, BuildError>;
}

impl SdkBatchEntry for DeleteEntry {
    type Sdk = DeleteMessageBatchRequestEntry;
    const KIND: &'static str = "delete";

    fn batch_id(&self) -> &str {
        &self.id
    }

    fn to_sdk(&self) -> std::result::Result<Self::Sdk, BuildError> {
        DeleteMessageBatchRequestEntry::builder().id(&self.id).receipt_handle(self.receipt_handle.as_str()).build()
    }
}

impl SdkBatchEntry for VisibilityEntry {
    type Sdk = ChangeMessageVisibilityBatchRequestEntry;
    const KIND: &'static str = "visibility";

    fn batch_id(&self) -> &str {
        &self.id
    }

    fn to_sdk(&self) -> std::result::Result<Self::Sdk, BuildError> {
        ChangeMessageVisibilityBatchRequestEntry::builder()
            .id(&self.id)
            .receipt_handle(self.receipt_handle.as_str())
            .visibility_timeout(wire_seconds(self.visibility_timeout))
            .build()
    }
}

/// The SDK entries of a batch request; a build failure names the kind of entry and its id.
fn sdk_entries<E: SdkBatchEntry>(entries: &[E]) -> Result<Vec<E::Sdk>> {
    entries
        .iter()
        .map(|entry| entry.to_sdk().map_err(|e| Error::invalid(format!("{} entry {}: {e}", E::KIND, entry.batch_id()))))
        .collect()
}

/// The entries a batch response lists as failed, each carrying `request_id` when one is given.
fn entry_failures(failed: &[BatchResultErrorEntry], request_id: Option<&str>) -> Vec<BatchEntryFailure> {
    failed
        .iter()
        .map(|failure| {
            let mut entry = BatchEntryFailure::from_sqs(
                failure.id(),
                failure.code(),
                failure.message().unwrap_or_default(),
                failure.sender_fault(),
            );
            if let (Error::Service { request_id: id, .. }, Some(request_id)) = (&mut entry.error, request_id) {
                *id = Some(request_id.to_owned());
            }
            entry
        })
        .collect()
}

/// The outcome of a batch request whose successful entries carry nothing but their id (delete, change
/// visibility).
fn unit_outcome<'a>(
    successful_ids: impl Iterator<Item = &'a str>,
    failed: &[BatchResultErrorEntry],
) -> BatchOutcome<()> {
    BatchOutcome {
        successful: successful_ids.map(|id| (id.to_owned(), ())).collect(),
        failed: entry_failures(failed, None),
    }
}

#[async_trait]
impl SqsBackend for AwsBackend {
    async fn create_queue(
        &self,
        name: &str,
        attributes: &QueueAttributes,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        let mut request = self.client.create_queue().queue_name(name);
        for (attribute, value) in attributes.iter() {
            request = request.attributes(SdkQueueAttributeName::from(attribute.as_str()), value);
        }
        for (key, value) in tags {
            request = request.tags(key, value);
        }
        let output = request.send().await.map_err(sdk_error)?;
        output.queue_url().map(str::to_owned).ok_or_else(|| malformed("CreateQueue without QueueUrl"))
    }

    async fn get_queue_url(&self, name: &str) -> Result<String> {
        let output = self.client.get_queue_url().queue_name(name).send().await.map_err(sdk_error)?;
        output.queue_url().map(str::to_owned).ok_or_else(|| malformed("GetQueueUrl without QueueUrl"))
    }

    async fn list_queues(&self, prefix: Option<&str>) -> Result<Vec<String>> {
        let mut urls = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let output = self
                .client
                .list_queues()
                .set_queue_name_prefix(prefix.map(str::to_owned))
                .max_results(1000)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(sdk_error)?;
            urls.extend(output.queue_urls().iter().cloned());
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => return Ok(urls),
            }
        }
    }

    async fn delete_queue(&self, queue_url: &str) -> Result<()> {
        self.client.delete_queue().queue_url(queue_url).send().await.map_err(sdk_error)?;
        Ok(())
    }

    async fn purge_queue(&self, queue_url: &str) -> Result<()> {
        self.client.purge_queue().queue_url(queue_url).send().await.map_err(sdk_error)?;
        Ok(())
    }

    async fn get_queue_attributes(&self, queue_url: &str, names: &[QueueAttributeName]) -> Result<QueueAttributes> {
        let names = names.iter().map(|name| SdkQueueAttributeName::from(name.as_str())).collect();
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .set_attribute_names(Some(names))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(output
            .attributes()
            .into_iter()
            .flatten()
            .map(|(name, value)| (QueueAttributeName::parse(name.as_str()), value.clone()))
            .collect())
    }

    async fn set_queue_attributes(&self, queue_url: &str, attributes: &QueueAttributes) -> Result<()> {
        let mut request = self.client.set_queue_attributes().queue_url(queue_url);
        for (attribute, value) in attributes.iter() {
            request = request.attributes(SdkQueueAttributeName::from(attribute.as_str()), value);
        }
        request.send().await.map_err(sdk_error)?;
        Ok(())
    }

    async fn send_message_batch(&self, queue_url: &str, entries: &[SendEntry]) -> Result<BatchOutcome<SentMessage>> {
        let sdk_entries = entries.iter().map(sdk_send_entry).collect::<Result<Vec<_>>>()?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(sdk_entries))
            .send()
            .await
            .map_err(sdk_error)?;
        let request_id = output.request_id().map(str::to_owned);
        let mut outcome = BatchOutcome::default();
        for result in output.successful() {
            let sent = SentMessage {
                message_id: MessageId::new(result.message_id()),
                sequence_number: non_empty(result.sequence_number()),
            };
            let reported = ReportedDigests {
                body: non_empty(Some(result.md5_of_message_body())),
                attributes: non_empty(result.md5_of_message_attributes()),
                system_attributes: non_empty(result.md5_of_message_system_attributes()),
            };
            let verified = match entries.iter().find(|entry| entry.id == result.id()) {
                Some(entry) if self.verify_checksums => integrity::verify_sent(entry, &sent, &reported),
                Some(_) => Ok(()),
                None => Err(malformed(&format!("SendMessageBatch answered for unknown entry {}", result.id()))),
            };
            match verified {
                Ok(()) => outcome.successful.push((result.id().to_owned(), sent)),
                Err(error) => outcome.failed.push(BatchEntryFailure { id: result.id().to_owned(), error }),
            }
        }
        outcome.failed.extend(entry_failures(output.failed(), request_id.as_deref()));
        Ok(outcome)
    }

    async fn receive_message(&self, queue_url: &str, request: &ReceiveRequest) -> Result<Vec<ReceivedMessage>> {
        let system_names = request
            .system_attribute_names
            .iter()
            .map(|name| MessageSystemAttributeName::from(name.as_str()))
            .collect::<Vec<_>>();
        let output = self
            .client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(i32::from(request.max_messages))
            .set_wait_time_seconds(request.wait_time.map(wire_seconds))
            .set_visibility_timeout(request.visibility_timeout.map(wire_seconds))
            .set_message_system_attribute_names((!system_names.is_empty()).then_some(system_names))
            .set_message_attribute_names(
                (!request.message_attribute_names.is_empty()).then(|| request.message_attribute_names.clone()),
            )
            .set_receive_request_attempt_id(request.receive_request_attempt_id.clone())
            .send()
            .await
            .map_err(sdk_error)?;
        output
            .messages()
            .iter()
            .map(|message| {
                let message_id = message.message_id().ok_or_else(|| malformed("message without MessageId"))?;
                let receipt_handle =
                    message.receipt_handle().ok_or_else(|| malformed("message without ReceiptHandle"))?;
                let attributes: MessageAttributes = message
                    .message_attributes()
                    .into_iter()
                    .flatten()
                    .map(|(name, value)| (name.clone(), from_sdk_attribute(value)))
                    .collect();
                let system_attributes = message
                    .attributes()
                    .into_iter()
                    .flatten()
                    .map(|(name, value)| (SystemAttributeName::parse(name.as_str()), value.clone()))
                    .collect();
                let mut received = ReceivedMessage {
                    message_id: MessageId::new(message_id),
                    receipt_handle: ReceiptHandle::new(receipt_handle),
                    body: message.body().unwrap_or_default().to_owned(),
                    attributes,
                    system_attributes,
                    md5_of_body: non_empty(message.md5_of_body()),
                    md5_of_message_attributes: non_empty(message.md5_of_message_attributes()),
                    checksum_error: None,
                };
                if self.verify_checksums {
                    integrity::verify_received(&mut received);
                }
                Ok(received)
            })
            .collect()
    }

    async fn delete_message_batch(&self, queue_url: &str, entries: &[DeleteEntry]) -> Result<BatchOutcome<()>> {
        let output = self
            .client
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(sdk_entries(entries)?))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(unit_outcome(output.successful().iter().map(|entry| entry.id()), output.failed()))
    }

    async fn change_message_visibility_batch(
        &self,
        queue_url: &str,
        entries: &[VisibilityEntry],
    ) -> Result<BatchOutcome<()>> {
        let output = self
            .client
            .change_message_visibility_batch()
            .queue_url(queue_url)
            .set_entries(Some(sdk_entries(entries)?))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(unit_outcome(output.successful().iter().map(|entry| entry.id()), output.failed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured_client(retries: RetryConfig, timeouts: Option<TimeoutConfig>) -> Client {
        let mut builder = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .retry_config(retries);
        builder.set_timeout_config(timeouts);
        Client::from_conf(builder.build())
    }

    #[test]
    fn a_given_client_loses_its_retries_and_gains_timeouts() {
        let client = configured_client(RetryConfig::standard().with_max_attempts(5), None);

        let backend = AwsBackend::new(client);

        let config = backend.client().config();
        assert_eq!(config.retry_config().map(RetryConfig::max_attempts), Some(1));
        let timeouts = config.timeout_config().expect("timeouts set");
        assert_eq!(timeouts.operation_timeout(), Some(DEFAULT_OPERATION_TIMEOUT));
        assert_eq!(timeouts.connect_timeout(), Some(DEFAULT_CONNECT_TIMEOUT));
    }

    #[test]
    fn configured_timeouts_are_kept() {
        let mine = TimeoutConfig::builder().operation_timeout(Duration::from_secs(45)).build();
        let client = configured_client(RetryConfig::standard(), Some(mine));

        let backend = AwsBackend::new(client);

        let timeouts = backend.client().config().timeout_config().cloned().expect("timeouts set");
        assert_eq!(timeouts.operation_timeout(), Some(Duration::from_secs(45)));
    }
}
