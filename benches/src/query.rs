//! The legacy Query protocol side of the benchmarks (SPEC.md §4): form-encoding `SendMessage` and
//! `SendMessageBatch` requests, and reading from the XML responses the few facts a benchmark needs.
//!
//! There is no XML parser here on purpose: the element names are fixed by the SQS model, and counting
//! `<SendMessageBatchResultEntry>` elements costs the load generator far less than building a tree would.

use bytes::Bytes;

use crate::wire::{Action, QUERY_API_VERSION};
use crate::{Error, Result};

/// One message to send: its body and, on FIFO queues, its message group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage<'a> {
    /// The message body.
    pub body: &'a str,
    /// The `MessageGroupId`, for FIFO queues.
    pub group: Option<&'a str>,
}

/// The form of a `SendMessage` request.
pub fn send_message_form(queue_url: &str, message: &OutgoingMessage<'_>) -> Bytes {
    let mut form = form_for(Action::SendMessage, queue_url);
    form.append_pair("MessageBody", message.body);
    if let Some(group) = message.group {
        form.append_pair("MessageGroupId", group);
    }
    Bytes::from(form.finish())
}

/// The form of a `SendMessageBatch` request; entry `n` (1-based on the wire) gets the id `n - 1`, as in the JSON
/// requests.
pub fn send_message_batch_form(queue_url: &str, messages: &[OutgoingMessage<'_>]) -> Bytes {
    let mut form = form_for(Action::SendMessageBatch, queue_url);
    for (index, message) in messages.iter().enumerate() {
        let prefix = format!("SendMessageBatchRequestEntry.{}", index + 1);
        form.append_pair(&format!("{prefix}.Id"), &index.to_string());
        form.append_pair(&format!("{prefix}.MessageBody"), message.body);
        if let Some(group) = message.group {
            form.append_pair(&format!("{prefix}.MessageGroupId"), group);
        }
    }
    Bytes::from(form.finish())
}

fn form_for(action: Action, queue_url: &str) -> form_urlencoded::Serializer<'static, String> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", action.as_str())
        .append_pair("Version", QUERY_API_VERSION)
        .append_pair("QueueUrl", queue_url);
    form
}

/// What a `SendMessageBatch` response reports, in either protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Entries the server accepted.
    pub succeeded: u64,
    /// Entries the server refused inside the 200 response.
    pub failed: u64,
    /// The error code of the first refused entry.
    pub first_failure: Option<String>,
}

/// Counts the entries of a Query `SendMessageBatchResponse`.
///
/// # Errors
///
/// [`Error::Xml`] if the body is not a `SendMessageBatchResponse`.
pub fn read_send_message_batch(body: &[u8]) -> Result<BatchCounts> {
    let xml = as_xml(Action::SendMessageBatch, body)?;
    if !xml.contains("<SendMessageBatchResponse") {
        return Err(unexpected(Action::SendMessageBatch, "no <SendMessageBatchResponse>", body));
    }
    let failure = xml.find("<BatchResultErrorEntry>").map(|at| &xml[at..]);
    Ok(BatchCounts {
        succeeded: xml.matches("<SendMessageBatchResultEntry>").count() as u64,
        failed: xml.matches("<BatchResultErrorEntry>").count() as u64,
        first_failure: failure.map(|entry| element_text(entry, "Code").unwrap_or("(no code)").to_owned()),
    })
}

/// Checks that a Query `SendMessage` response carries a message id.
///
/// # Errors
///
/// [`Error::Xml`] if the body is not a `SendMessageResponse` with a `<MessageId>`.
pub fn read_send_message(body: &[u8]) -> Result<()> {
    let xml = as_xml(Action::SendMessage, body)?;
    if xml.contains("<SendMessageResponse") && element_text(xml, "MessageId").is_some() {
        Ok(())
    } else {
        Err(unexpected(Action::SendMessage, "no <MessageId> in a <SendMessageResponse>", body))
    }
}

fn as_xml(action: Action, body: &[u8]) -> Result<&str> {
    std::str::from_utf8(body).map_err(|_| unexpected(action, "not UTF-8", body))
}

/// The text of the first `<name>` element in `xml`, without unescaping.
fn element_text<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..start + len])
}

fn unexpected(action: Action, reason: &'static str, body: &[u8]) -> Error {
    Error::Xml { action, reason, body: String::from_utf8_lossy(body).into_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_form_numbers_entries_from_one_and_encodes_the_queue_url() {
        let messages = [OutgoingMessage { body: "a b", group: None }, OutgoingMessage { body: "c", group: Some("g1") }];

        let form = send_message_batch_form("http://127.0.0.1:9324/000000000000/q", &messages);

        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(&form).map(|(name, value)| (name.into_owned(), value.into_owned())).collect();
        let expected = [
            ("Action", "SendMessageBatch"),
            ("Version", "2012-11-05"),
            ("QueueUrl", "http://127.0.0.1:9324/000000000000/q"),
            ("SendMessageBatchRequestEntry.1.Id", "0"),
            ("SendMessageBatchRequestEntry.1.MessageBody", "a b"),
            ("SendMessageBatchRequestEntry.2.Id", "1"),
            ("SendMessageBatchRequestEntry.2.MessageBody", "c"),
            ("SendMessageBatchRequestEntry.2.MessageGroupId", "g1"),
        ];
        assert_eq!(pairs, expected.map(|(name, value)| (name.to_owned(), value.to_owned())));
        assert!(std::str::from_utf8(&form).expect("ascii").contains("QueueUrl=http%3A%2F%2F127.0.0.1"));
    }

    #[test]
    fn batch_response_counts_successes_and_failures() {
        let xml = r#"<?xml version="1.0"?><SendMessageBatchResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><SendMessageBatchResult><SendMessageBatchResultEntry><Id>0</Id><MessageId>m</MessageId></SendMessageBatchResultEntry><SendMessageBatchResultEntry><Id>1</Id></SendMessageBatchResultEntry><BatchResultErrorEntry><Id>2</Id><SenderFault>true</SenderFault><Code>InvalidParameterValue</Code></BatchResultErrorEntry></SendMessageBatchResult></SendMessageBatchResponse>"#;

        let counts = read_send_message_batch(xml.as_bytes()).expect("a batch response");

        assert_eq!(
            counts,
            BatchCounts { succeeded: 2, failed: 1, first_failure: Some("InvalidParameterValue".to_owned()) }
        );
    }

    #[test]
    fn other_responses_are_rejected() {
        let error = read_send_message_batch(b"<ErrorResponse/>").expect_err("not a batch response");
        assert!(matches!(error, Error::Xml { action: Action::SendMessageBatch, .. }), "{error}");

        assert!(read_send_message(b"<SendMessageResponse><MessageId>x</MessageId></SendMessageResponse>").is_ok());
        assert!(read_send_message(b"<SendMessageResponse></SendMessageResponse>").is_err());
    }
}
