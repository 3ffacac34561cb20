//! [`EmbeddedBackend`]: the [`SqsBackend`] over `sqskit-emulator`'s engine, in process, without HTTP.
//!
//! Engine errors are turned into [`Error`]s through the same code string the emulator sends over HTTP (the
//! legacy Query code), parsed by [`ServiceErrorCode::parse`](crate::ServiceErrorCode::parse), so they
//! classify exactly as `AwsBackend` classifies the same error coming from the emulator's server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use sqskit_emulator::SqsError;
use sqskit_emulator::engine::{self, BatchEntry, Engine, RawMessageAttribute, ReceiveMessageInput, SendMessageInput};
use sqskit_emulator::error::Fault as EngineFault;

use super::integrity::{self, ReportedDigests};
use super::{
    BatchEntryFailure, BatchOutcome, DeleteEntry, ReceiveRequest, ReceivedMessage, SendEntry, SentMessage, SqsBackend,
    VisibilityEntry,
};
use crate::error::{Error, Fault, Result};
use crate::types::{
    AttributeValue, MessageAttribute, MessageAttributes, MessageId, QueueAttributeName, QueueAttributes, ReceiptHandle,
    SystemAttributeName,
};

/// The base of the queue URLs an [`EmbeddedBackend`] hands out (only the path `/<account>/<name>` matters).
pub const EMBEDDED_BASE_URL: &str = "http://sqskit.embedded";

/// The [`SqsBackend`] over an in-process emulator [`Engine`]: SQS semantics with no network, for tests,
/// examples and local development.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use sqskit::backend::{EmbeddedBackend, ReceiveRequest, SendEntry, SqsBackend};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), sqskit::Error> {
/// let backend: Arc<dyn SqsBackend> = Arc::new(EmbeddedBackend::new());
/// let queue_url = backend.create_queue("orders", &Default::default(), &Default::default()).await?;
///
/// let outcome = backend.send_message_batch(&queue_url, &[SendEntry::new("1", "hello")]).await?;
/// assert!(outcome.is_complete_success());
///
/// let received = backend.receive_message(&queue_url, &ReceiveRequest::new()).await?;
/// assert_eq!(received[0].body, "hello");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct EmbeddedBackend {
    engine: Engine,
    base_url: String,
    verify_checksums: bool,
    corrupt_next: Arc<AtomicUsize>,
}

impl Default for EmbeddedBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl EmbeddedBackend {
    /// A backend over a fresh engine (no queues, wall-clock time).
    pub fn new() -> Self {
        Self::with_engine(Engine::default())
    }

    /// A backend over an existing engine, for example one built with a `ManualClock`, or the engine behind a
    /// running HTTP emulator (both then see the same queues). The backend acts in the engine handle's region:
    /// the default region, or the one of a handle made with `Engine::in_region` (each region is its own
    /// namespace of queues, as on AWS).
    ///
    /// # Examples
    /// ```
    /// use std::sync::Arc;
    /// use sqskit_emulator::{Engine, EngineConfig, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// let engine = Engine::new(EngineConfig::default(), Arc::new(clock.clone()));
    /// let backend = sqskit::backend::EmbeddedBackend::with_engine(engine);
    /// # let _ = backend;
    /// ```
    pub fn with_engine(engine: Engine) -> Self {
        Self {
            engine,
            base_url: EMBEDDED_BASE_URL.to_owned(),
            verify_checksums: true,
            corrupt_next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Uses `base_url` in the queue URLs this backend returns (for example the address of an HTTP emulator
    /// serving the same engine).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Whether to verify the MD5 digests the engine reports (default: on; the engine is then checked too).
    pub fn verify_checksums(mut self, verify: bool) -> Self {
        self.verify_checksums = verify;
        self
    }

    /// The engine behind this backend.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Fault injection: damages the body digest of the next `count` messages this backend reports (sent
    /// entries and received messages), as if bytes had been corrupted in transit. Lets you test offline how
    /// your code handles [`Error::ChecksumMismatch`].
    pub fn corrupt_next_checksums(&self, count: usize) {
        self.corrupt_next.store(count, Ordering::SeqCst);
    }

    /// Takes one pending corruption, if any.
    fn take_corruption(&self) -> bool {
        self.corrupt_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    fn damaged(&self, digest: String) -> String {
        if self.take_corruption() { flip_first_hex_digit(&digest) } else { digest }
    }
}

fn flip_first_hex_digit(digest: &str) -> String {
    let mut chars: Vec<char> = digest.chars().collect();
    if let Some(first) = chars.first_mut() {
        *first = if *first == '0' { '1' } else { '0' };
    }
    chars.into_iter().collect()
}

/// The single conversion of engine errors: through the legacy code string, like the HTTP path.
fn engine_error(error: SqsError) -> Error {
    let fault = match error.code.fault() {
        EngineFault::Sender => Fault::Sender,
        EngineFault::Receiver => Fault::Receiver,
    };
    Error::service(error.code.query_code(), error.message, None, Some(fault))
}

fn raw_attribute(attribute: &MessageAttribute) -> RawMessageAttribute {
    let (string_value, binary_value) = match &attribute.value {
        AttributeValue::Text(text) => (Some(text.clone()), None),
        AttributeValue::Binary(bytes) => (None, Some(bytes.clone())),
    };
    RawMessageAttribute {
        data_type: Some(attribute.data_type.clone()),
        string_value,
        binary_value,
        has_list_values: false,
    }
}

fn engine_send_input(entry: &SendEntry) -> SendMessageInput {
    SendMessageInput {
        body: Some(entry.body.clone()),
        delay_seconds: entry.delay.map(|d| i64::from(crate::types::wire_seconds(d))),
        message_attributes: entry.attributes.iter().map(|(name, a)| (name.to_owned(), raw_attribute(a))).collect(),
        system_attributes: entry
            .trace_header
            .iter()
            .map(|header| ("AWSTraceHeader".to_owned(), raw_attribute(&MessageAttribute::string(header.clone()))))
            .collect(),
        deduplication_id: entry.deduplication_id.clone(),
        group_id: entry.group_id.clone(),
    }
}

fn from_engine_attributes(attributes: &engine::MessageAttributes) -> MessageAttributes {
    attributes
        .iter()
        .map(|(name, attribute)| {
            let value = match &attribute.value {
                engine::AttributeValue::String(text) => AttributeValue::Text(text.clone()),
                engine::AttributeValue::Binary(bytes) => AttributeValue::Binary(bytes.clone()),
            };
            (name.to_owned(), MessageAttribute::with_type(attribute.data_type.clone(), value))
        })
        .collect()
}

fn unit_outcome(results: Vec<engine::BatchResult<()>>) -> BatchOutcome<()> {
    let mut outcome = BatchOutcome::default();
    for result in results {
        match result.result {
            Ok(()) => outcome.successful.push((result.id, ())),
            Err(error) => outcome.failed.push(BatchEntryFailure { id: result.id, error: engine_error(error) }),
        }
    }
    outcome
}

fn pairs(attributes: &QueueAttributes) -> Vec<(String, String)> {
    attributes.iter().map(|(name, value)| (name.as_str().to_owned(), value.to_owned())).collect()
}

#[async_trait]
impl SqsBackend for EmbeddedBackend {
    async fn create_queue(
        &self,
        name: &str,
        attributes: &QueueAttributes,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        let tags: Vec<(String, String)> = tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        self.engine.create_queue(name, &pairs(attributes), &tags).map_err(engine_error)?;
        Ok(self.engine.queue_url(&self.base_url, name))
    }

    async fn get_queue_url(&self, name: &str) -> Result<String> {
        self.engine.get_queue_url(name, None).map_err(engine_error)?;
        Ok(self.engine.queue_url(&self.base_url, name))
    }

    async fn list_queues(&self, prefix: Option<&str>) -> Result<Vec<String>> {
        let mut urls = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.engine.list_queues(prefix, Some(1000), token.as_deref()).map_err(engine_error)?;
            urls.extend(page.names.iter().map(|name| self.engine.queue_url(&self.base_url, name)));
            match page.next_token {
                Some(next) => token = Some(next),
                None => return Ok(urls),
            }
        }
    }

    async fn delete_queue(&self, queue_url: &str) -> Result<()> {
        self.engine.delete_queue(queue_url).map_err(engine_error)
    }

    async fn purge_queue(&self, queue_url: &str) -> Result<()> {
        self.engine.purge_queue(queue_url).map_err(engine_error)
    }

    async fn get_queue_attributes(&self, queue_url: &str, names: &[QueueAttributeName]) -> Result<QueueAttributes> {
        let names: Vec<String> = names.iter().map(|name| name.as_str().to_owned()).collect();
        let values = self.engine.get_queue_attributes(queue_url, &names).map_err(engine_error)?;
        Ok(values.into_iter().map(|(name, value)| (QueueAttributeName::parse(name.as_str()), value)).collect())
    }

    async fn set_queue_attributes(&self, queue_url: &str, attributes: &QueueAttributes) -> Result<()> {
        self.engine.set_queue_attributes(queue_url, &pairs(attributes)).map_err(engine_error)
    }

    async fn send_message_batch(&self, queue_url: &str, entries: &[SendEntry]) -> Result<BatchOutcome<SentMessage>> {
        let inputs =
            entries.iter().map(|entry| BatchEntry { id: entry.id.clone(), input: engine_send_input(entry) }).collect();
        let results = self.engine.send_message_batch(queue_url, inputs).map_err(engine_error)?;
        let mut outcome = BatchOutcome::default();
        for result in results {
            let output = match result.result {
                Ok(output) => output,
                Err(error) => {
                    outcome.failed.push(BatchEntryFailure { id: result.id, error: engine_error(error) });
                    continue;
                }
            };
            let sent =
                SentMessage { message_id: MessageId::new(output.message_id), sequence_number: output.sequence_number };
            let reported = ReportedDigests {
                body: Some(self.damaged(output.md5_of_body.to_string())),
                attributes: output.md5_of_message_attributes.map(|d| d.to_string()),
                system_attributes: output.md5_of_system_attributes.map(|d| d.to_string()),
            };
            let verified = match entries.iter().find(|entry| entry.id == result.id) {
                Some(entry) if self.verify_checksums => integrity::verify_sent(entry, &sent, &reported),
                _ => Ok(()),
            };
            match verified {
                Ok(()) => outcome.successful.push((result.id, sent)),
                Err(error) => outcome.failed.push(BatchEntryFailure { id: result.id, error }),
            }
        }
        Ok(outcome)
    }

    async fn receive_message(&self, queue_url: &str, request: &ReceiveRequest) -> Result<Vec<ReceivedMessage>> {
        let input = ReceiveMessageInput {
            max_number_of_messages: Some(i64::from(request.max_messages)),
            visibility_timeout: request.visibility_timeout.map(|d| i64::from(crate::types::wire_seconds(d))),
            wait_time_seconds: request.wait_time.map(|d| i64::from(crate::types::wire_seconds(d))),
            system_attribute_names: request.system_attribute_names.iter().map(|n| n.as_str().to_owned()).collect(),
            message_attribute_names: request.message_attribute_names.clone(),
            receive_request_attempt_id: request.receive_request_attempt_id.clone(),
        };
        let messages = self.engine.receive_message(queue_url, input).await.map_err(engine_error)?;
        Ok(messages
            .into_iter()
            .map(|message| {
                let mut received = ReceivedMessage {
                    message_id: MessageId::new(message.message_id),
                    receipt_handle: ReceiptHandle::new(message.receipt_handle),
                    body: message.body.to_string(),
                    attributes: from_engine_attributes(&message.message_attributes),
                    system_attributes: message
                        .attributes
                        .into_iter()
                        .map(|(name, value)| (SystemAttributeName::parse(name), value))
                        .collect(),
                    md5_of_body: Some(self.damaged(message.md5_of_body.to_string())),
                    md5_of_message_attributes: message.md5_of_message_attributes.map(|d| d.to_string()),
                    checksum_error: None,
                };
                if self.verify_checksums {
                    integrity::verify_received(&mut received);
                }
                received
            })
            .collect())
    }

    async fn delete_message_batch(&self, queue_url: &str, entries: &[DeleteEntry]) -> Result<BatchOutcome<()>> {
        let inputs = entries
            .iter()
            .map(|entry| BatchEntry { id: entry.id.clone(), input: Some(entry.receipt_handle.as_str().to_owned()) })
            .collect();
        let results = self.engine.delete_message_batch(queue_url, inputs).map_err(engine_error)?;
        Ok(unit_outcome(results))
    }

    async fn change_message_visibility_batch(
        &self,
        queue_url: &str,
        entries: &[VisibilityEntry],
    ) -> Result<BatchOutcome<()>> {
        let inputs = entries
            .iter()
            .map(|entry| BatchEntry {
                id: entry.id.clone(),
                input: (
                    Some(entry.receipt_handle.as_str().to_owned()),
                    Some(i64::from(crate::types::wire_seconds(entry.visibility_timeout))),
                ),
            })
            .collect();
        let results = self.engine.change_message_visibility_batch(queue_url, inputs).map_err(engine_error)?;
        Ok(unit_outcome(results))
    }
}
