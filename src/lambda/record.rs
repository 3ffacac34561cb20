//! One record of a Lambda SQS event as a [`ReceivedMessage`], its digests checked.
//!
//! The record's fields, from "Example standard queue message event" and "Example FIFO queue message event" in
//! <https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html>: `messageId`, `receiptHandle`, `body`,
//! `attributes` (the system attributes: `ApproximateReceiveCount`, `SentTimestamp`, `SenderId`,
//! `ApproximateFirstReceiveTimestamp`, and on FIFO queues `SequenceNumber`, `MessageGroupId`,
//! `MessageDeduplicationId`), `messageAttributes` (`dataType` with `stringValue` or base64 `binaryValue`),
//! `md5OfBody`, `md5OfMessageAttributes` (when the message has attributes), `eventSource`, `eventSourceARN` and
//! `awsRegion`.

use std::collections::BTreeMap;

use aws_lambda_events::encodings::Base64Data;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};

use crate::backend::ReceivedMessage;
use crate::backend::integrity::verify_received;
use crate::types::{
    AttributeValue, MessageAttribute, MessageAttributes, MessageId, ReceiptHandle, SystemAttributeName,
};

/// The record as a received message. `checksum_error` is set when `md5OfBody` (always present in events
/// Lambda sends) or `md5OfMessageAttributes` (present when the message has attributes) does not match; a digest
/// the record does not carry is not checked (events written by hand, like AWS's own samples, often omit the
/// attributes digest).
pub(crate) fn received(record: &SqsMessage) -> ReceivedMessage {
    let mut attributes = MessageAttributes::new();
    for (name, attribute) in &record.message_attributes {
        let data_type = attribute.data_type.clone().unwrap_or_else(|| "String".to_owned());
        let value = match (&attribute.string_value, &attribute.binary_value) {
            (Some(text), _) if !data_type.starts_with("Binary") => AttributeValue::Text(text.clone()),
            (_, Some(bytes)) => AttributeValue::Binary(bytes.0.clone()),
            (Some(text), None) => AttributeValue::Text(text.clone()),
            (None, None) => AttributeValue::Text(String::new()),
        };
        attributes.insert(name.clone(), MessageAttribute::with_type(data_type, value));
    }
    let system_attributes: BTreeMap<SystemAttributeName, String> =
        record.attributes.iter().map(|(name, value)| (SystemAttributeName::parse(name), value.clone())).collect();
    let mut message = ReceivedMessage {
        message_id: MessageId::new(record.message_id.clone().unwrap_or_default()),
        receipt_handle: ReceiptHandle::new(record.receipt_handle.clone().unwrap_or_default()),
        body: record.body.clone().unwrap_or_default(),
        attributes,
        system_attributes,
        md5_of_body: record.md5_of_body.clone(),
        md5_of_message_attributes: record.md5_of_message_attributes.clone(),
        checksum_error: None,
    };
    let reported_attributes_digest = message.md5_of_message_attributes.is_some();
    verify_received(&mut message);
    // A record without `md5OfMessageAttributes` but with attributes: nothing was reported to check against.
    if !reported_attributes_digest
        && matches!(
            &message.checksum_error,
            Some(crate::Error::ChecksumMismatch { field: crate::error::ChecksumField::MessageAttributes, .. })
        )
    {
        message.checksum_error = None;
    }
    message
}

/// Whether the record comes from a FIFO queue (its source ARN ends in `.fifo`, or it has a group id).
pub(crate) fn is_fifo(record: &SqsMessage) -> bool {
    record.event_source_arn.as_deref().is_some_and(|arn| arn.ends_with(".fifo"))
        || record.attributes.contains_key("MessageGroupId")
}

/// The event Lambda would send for `messages` received from the queue `queue_arn` (in `region`): for running
/// a function locally or in tests against messages received from the emulator or from SQS (receive them with
/// all attributes, so receive counts, timestamps, group ids and attribute digests are carried over).
///
/// Each record carries the message's id, receipt handle, body, system attributes, message attributes and the
/// MD5 digests SQS reported, `eventSource` `aws:sqs`, the queue ARN and the region, as in the documented
/// example events.
pub fn sqs_event(queue_arn: &str, region: &str, messages: &[ReceivedMessage]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|message| {
            let mut record = SqsMessage::default();
            record.message_id = Some(message.message_id.as_str().to_owned());
            record.receipt_handle = Some(message.receipt_handle.as_str().to_owned());
            record.body = Some(message.body.clone());
            record.md5_of_body = message.md5_of_body.clone();
            record.md5_of_message_attributes = message.md5_of_message_attributes.clone();
            record.attributes = message
                .system_attributes
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                .collect();
            record.message_attributes = message
                .attributes
                .iter()
                .map(|(name, attribute)| {
                    let mut wire = SqsMessageAttribute::default();
                    wire.data_type = Some(attribute.data_type.clone());
                    match &attribute.value {
                        AttributeValue::Text(text) => wire.string_value = Some(text.clone()),
                        AttributeValue::Binary(bytes) => {
                            let mut data = Base64Data::default();
                            data.extend_from_slice(bytes);
                            wire.binary_value = Some(data);
                        }
                    }
                    (name.to_owned(), wire)
                })
                .collect();
            record.event_source = Some("aws:sqs".to_owned());
            record.event_source_arn = Some(queue_arn.to_owned());
            record.aws_region = Some(region.to_owned());
            record
        })
        .collect();
    event
}
