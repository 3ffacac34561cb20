//! MD5 verification of Query responses, as the SDKs do it and as `AwsBackend` does it for JSON: a send's
//! body, attribute and system-attribute digests, a received message's body and attribute digests. The digests
//! themselves come from the crate's public `sqskit::integrity`.

use sqskit::Error;
use sqskit::backend::{ReceivedMessage, SendEntry};
use sqskit::error::ChecksumField;
use sqskit::integrity::{md5_of_attributes, md5_of_body};
use sqskit::types::{MessageAttribute, MessageAttributes, MessageId};

use super::xml::SendResultEntry;

/// One digest to check: which one, what the bytes give, what SQS reported.
type Check<'a> = (ChecksumField, Option<String>, Option<&'a str>);

/// Checks a send result against the entry that was sent.
///
/// # Errors
/// [`Error::ChecksumMismatch`] for the first digest that does not match.
pub fn verify_sent(entry: &SendEntry, result: &SendResultEntry) -> Result<(), Error> {
    let trace_header = entry.trace_header.as_deref().and_then(|header| {
        md5_of_attributes(&MessageAttributes::new().with("AWSTraceHeader", MessageAttribute::string(header)))
    });
    first_mismatch(
        &result.sent.message_id,
        [
            (ChecksumField::MessageBody, Some(md5_of_body(&entry.body)), result.md5_of_body.as_deref()),
            (
                ChecksumField::MessageAttributes,
                md5_of_attributes(&entry.attributes),
                result.md5_of_attributes.as_deref(),
            ),
            (ChecksumField::MessageSystemAttributes, trace_header, result.md5_of_system_attributes.as_deref()),
        ],
    )
}

/// Checks a received message and records the outcome in its `checksum_error`.
pub fn verify_received(message: &mut ReceivedMessage) {
    let checks = [
        (ChecksumField::MessageBody, Some(md5_of_body(&message.body)), message.md5_of_body.as_deref()),
        (
            ChecksumField::MessageAttributes,
            md5_of_attributes(&message.attributes),
            message.md5_of_message_attributes.as_deref(),
        ),
    ];
    message.checksum_error = first_mismatch(&message.message_id, checks).err();
}

/// The first check whose digests differ (a digest expected but missing, or reported but not expected, too).
fn first_mismatch<const N: usize>(message_id: &MessageId, checks: [Check<'_>; N]) -> Result<(), Error> {
    let mismatch = checks.into_iter().find(|(_, expected, reported)| match (expected, reported) {
        (Some(expected), Some(reported)) => !expected.eq_ignore_ascii_case(reported),
        (expected, reported) => expected.is_some() != reported.is_some(),
    });
    match mismatch {
        None => Ok(()),
        Some((field, expected, reported)) => Err(Error::ChecksumMismatch {
            field,
            expected: expected.unwrap_or_else(|| "none".to_owned()),
            actual: reported.map(str::to_owned),
            message_id: Some(message_id.clone()),
        }),
    }
}
