//! Query responses (SPEC.md §4.3–4.4): the XML `<{Action}Response>` documents, read into the client crate's
//! types, and the XML `ErrorResponse`, read into the same [`Error::Service`] the other backends produce
//! (code parsed from its legacy spelling, fault from `<Type>`, the request id from `x-amzn-RequestId`).

use roxmltree::{Document, Node};
use sqskit::backend::{BatchEntryFailure, BatchOutcome, ReceivedMessage, SentMessage};
use sqskit::types::{
    AttributeValue, MessageAttribute, MessageAttributes, MessageId, QueueAttributeName, QueueAttributes, ReceiptHandle,
    SystemAttributeName,
};
use sqskit::{Error, Fault, Result, ServiceErrorCode};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// A response that is not what an SQS Query endpoint sends.
#[derive(Debug, thiserror::Error)]
pub enum MalformedReply {
    /// The body is not well-formed XML.
    #[error("malformed Query response: not XML ({0})")]
    NotXml(String),
    /// The document element is not the expected one.
    #[error("malformed Query response: expected <{expected}>, got <{found}>")]
    UnexpectedRoot {
        /// The element the action answers with.
        expected: String,
        /// The element found.
        found: String,
    },
    /// A required element is missing.
    #[error("malformed Query response: <{parent}> without <{child}>")]
    Missing {
        /// The enclosing element.
        parent: String,
        /// The missing child.
        child: &'static str,
    },
    /// A `BinaryValue` that is not base64.
    #[error("malformed Query response: BinaryValue of attribute {0} is not base64")]
    NotBase64(String),
    /// A send result for an entry the request did not have.
    #[error("malformed Query response: SendMessageBatch answered for unknown entry {0}")]
    UnknownEntry(String),
}

/// One `<SendMessageBatchResultEntry>`: the sent message and the digests SQS reported for it.
#[derive(Debug, Clone)]
pub struct SendResultEntry {
    /// The entry id.
    pub id: String,
    /// Message id and sequence number.
    pub sent: SentMessage,
    /// `MD5OfMessageBody`.
    pub md5_of_body: Option<String>,
    /// `MD5OfMessageAttributes`.
    pub md5_of_attributes: Option<String>,
    /// `MD5OfMessageSystemAttributes`.
    pub md5_of_system_attributes: Option<String>,
}

/// An HTTP response to a Query request, as it came off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The `x-amzn-RequestId` header.
    pub request_id: Option<String>,
    /// The body text.
    pub body: String,
}

impl Response {
    /// Reads the answer to `action`: on HTTP 200, `read` gets the `<{action}Result>` element (the response
    /// element itself for actions without a result); otherwise the `ErrorResponse` becomes the error.
    ///
    /// # Errors
    /// The service error the response carries, or a transport error for a response SQS would not send.
    pub fn read<T>(&self, action: &str, read: impl FnOnce(Node<'_, '_>) -> Result<T>) -> Result<T> {
        let document = Document::parse(&self.body);
        if self.status != 200 {
            return Err(match &document {
                Ok(document) => service_error(document.root_element(), self.status, self.request_id.clone()),
                Err(_) => status_error(self.status, &self.body, self.request_id.clone()),
            });
        }
        let document = document.map_err(|error| Error::transport(MalformedReply::NotXml(error.to_string())))?;
        let root = document.root_element();
        let expected = format!("{action}Response");
        if root.tag_name().name() != expected {
            return Err(Error::transport(MalformedReply::UnexpectedRoot {
                expected,
                found: root.tag_name().name().to_owned(),
            }));
        }
        let result = format!("{action}Result");
        read(children(root, &result).next().unwrap_or(root))
    }
}

/// The `<Error>` of an `ErrorResponse` as an [`Error::Service`].
fn service_error(root: Node<'_, '_>, status: u16, request_id: Option<String>) -> Error {
    let Some(error) = children(root, "Error").next() else {
        return status_error(status, "", request_id);
    };
    let fault = Fault::of_response(text(error, "Type").as_deref(), status);
    let message = text(error, "Message").unwrap_or_else(|| format!("HTTP status {status}"));
    let request_id = request_id.or_else(|| text(root, "RequestId"));
    match text(error, "Code") {
        Some(code) => Error::service(&code, message, request_id, fault),
        None => Error::Service { code: ServiceErrorCode::for_status(status), message, request_id, fault },
    }
}

/// An error response without an SQS document (a proxy or load balancer answered), classified by status the
/// way `AwsBackend` classifies it.
fn status_error(status: u16, body: &str, request_id: Option<String>) -> Error {
    let message = if body.is_empty() { format!("HTTP status {status}") } else { body.to_owned() };
    Error::Service {
        code: ServiceErrorCode::for_status(status),
        message,
        request_id,
        fault: Fault::of_response(None, status),
    }
}

/// The child elements of `node` named `name`.
fn children<'a, 'input>(node: Node<'a, 'input>, name: &str) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(move |child| child.is_element() && child.tag_name().name() == name)
}

/// The text of the first child named `name` (all its text nodes), when there is one and it is not empty.
fn text(node: Node<'_, '_>, name: &str) -> Option<String> {
    let element = children(node, name).next()?;
    let text: String = element.children().filter(Node::is_text).filter_map(|child| child.text()).collect();
    (!text.is_empty()).then_some(text)
}

/// The text of the required child `name`.
fn required(node: Node<'_, '_>, name: &'static str) -> Result<String> {
    text(node, name).ok_or_else(|| {
        Error::transport(MalformedReply::Missing { parent: node.tag_name().name().to_owned(), child: name })
    })
}

/// `<QueueUrl>` of CreateQueue and GetQueueUrl.
pub fn queue_url(result: Node<'_, '_>) -> Result<String> {
    required(result, "QueueUrl")
}

/// ListQueues: the `<QueueUrl>`s of this page and the `<NextToken>`, if more follow.
pub fn queue_urls(result: Node<'_, '_>) -> Result<(Vec<String>, Option<String>)> {
    let urls = children(result, "QueueUrl").filter_map(|url| url.text()).map(str::to_owned).collect();
    Ok((urls, text(result, "NextToken")))
}

/// GetQueueAttributes: the flattened `<Attribute><Name/><Value/></Attribute>` map.
pub fn queue_attributes(result: Node<'_, '_>) -> Result<QueueAttributes> {
    children(result, "Attribute")
        .map(|attribute| {
            let name = required(attribute, "Name")?;
            Ok((QueueAttributeName::parse(&name), text(attribute, "Value").unwrap_or_default()))
        })
        .collect()
}

/// SendMessageBatch: each successful entry with its digests, and the failed entries.
pub fn send_results(
    result: Node<'_, '_>,
    request_id: Option<&str>,
) -> Result<(Vec<SendResultEntry>, Vec<BatchEntryFailure>)> {
    let successful = children(result, "SendMessageBatchResultEntry")
        .map(|entry| {
            Ok(SendResultEntry {
                id: required(entry, "Id")?,
                sent: SentMessage {
                    message_id: MessageId::new(required(entry, "MessageId")?),
                    sequence_number: text(entry, "SequenceNumber"),
                },
                md5_of_body: text(entry, "MD5OfMessageBody"),
                md5_of_attributes: text(entry, "MD5OfMessageAttributes"),
                md5_of_system_attributes: text(entry, "MD5OfMessageSystemAttributes"),
            })
        })
        .collect::<Result<_>>()?;
    let mut failed = failures(result)?;
    for failure in &mut failed {
        if let Error::Service { request_id: id, .. } = &mut failure.error {
            *id = request_id.map(str::to_owned);
        }
    }
    Ok((successful, failed))
}

/// DeleteMessageBatch and ChangeMessageVisibilityBatch: the ids of the `<{entry}>` results and the failures.
pub fn unit_outcome(result: Node<'_, '_>, entry: &str) -> Result<BatchOutcome<()>> {
    let successful = children(result, entry).map(|entry| Ok((required(entry, "Id")?, ()))).collect::<Result<_>>()?;
    Ok(BatchOutcome { successful, failed: failures(result)? })
}

/// The `<BatchResultErrorEntry>`s of a batch result.
fn failures(result: Node<'_, '_>) -> Result<Vec<BatchEntryFailure>> {
    children(result, "BatchResultErrorEntry")
        .map(|failure| {
            let sender_fault = text(failure, "SenderFault").is_some_and(|flag| flag.eq_ignore_ascii_case("true"));
            Ok(BatchEntryFailure::from_sqs(
                required(failure, "Id")?,
                &required(failure, "Code")?,
                text(failure, "Message").unwrap_or_default(),
                sender_fault,
            ))
        })
        .collect()
}

/// ReceiveMessage: the `<Message>`s, digests not yet verified.
pub fn messages(result: Node<'_, '_>) -> Result<Vec<ReceivedMessage>> {
    children(result, "Message").map(message).collect()
}

fn message(node: Node<'_, '_>) -> Result<ReceivedMessage> {
    let system_attributes = children(node, "Attribute")
        .map(|attribute| {
            let name = required(attribute, "Name")?;
            Ok((SystemAttributeName::parse(&name), text(attribute, "Value").unwrap_or_default()))
        })
        .collect::<Result<_>>()?;
    Ok(ReceivedMessage {
        message_id: MessageId::new(required(node, "MessageId")?),
        receipt_handle: ReceiptHandle::new(required(node, "ReceiptHandle")?),
        body: text(node, "Body").unwrap_or_default(),
        attributes: message_attributes(node)?,
        system_attributes,
        md5_of_body: text(node, "MD5OfBody"),
        md5_of_message_attributes: text(node, "MD5OfMessageAttributes"),
        checksum_error: None,
    })
}

/// The flattened `<MessageAttribute><Name/><Value><DataType/><StringValue/>|<BinaryValue/></Value>` map.
fn message_attributes(node: Node<'_, '_>) -> Result<MessageAttributes> {
    children(node, "MessageAttribute")
        .map(|attribute| {
            let name = required(attribute, "Name")?;
            let value = children(attribute, "Value").next().ok_or_else(|| {
                Error::transport(MalformedReply::Missing { parent: "MessageAttribute".to_owned(), child: "Value" })
            })?;
            let data_type = required(value, "DataType")?;
            let attribute_value = match text(value, "BinaryValue") {
                Some(encoded) => AttributeValue::Binary(
                    BASE64
                        .decode(encoded.trim())
                        .map_err(|_| Error::transport(MalformedReply::NotBase64(name.clone())))?,
                ),
                None => AttributeValue::Text(text(value, "StringValue").unwrap_or_default()),
            };
            Ok((name, MessageAttribute::with_type(data_type, attribute_value)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use sqskit::{Error, Fault, ServiceErrorCode};

    use super::Response;

    fn error_of(status: u16, body: &str) -> Error {
        let response = Response { status, request_id: Some("r-1".to_owned()), body: body.to_owned() };
        response.read("GetQueueUrl", |_| Ok(())).expect_err("an error response")
    }

    #[test]
    fn error_responses_classify_like_the_other_backends() {
        let missing = error_of(
            400,
            r#"<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>The specified queue does not exist for this wsdl version.</Message><Detail/></Error><RequestId>r-2</RequestId></ErrorResponse>"#,
        );
        assert!(
            matches!(&missing, Error::Service { code: ServiceErrorCode::QueueDoesNotExist, fault: Some(Fault::Sender), request_id: Some(id), .. } if id == "r-1"),
            "{missing:?}"
        );

        let unavailable = error_of(503, "upstream went away");
        assert!(
            matches!(
                &unavailable,
                Error::Service { code: ServiceErrorCode::ServiceUnavailable, fault: Some(Fault::Receiver), .. }
            ),
            "{unavailable:?}"
        );
        assert!(unavailable.is_retryable());
    }
}
