//! MD5 digests of message bodies and attributes (SPEC §9) and their verification against what SQS reports.
//!
//! The Rust SDK checks none of these digests; both backends call the functions here on every send response
//! and every received message, so a mismatch is detected the same way whichever backend is in use. The
//! public digest functions are also reachable as `sqskit::integrity`.

use md5::{Digest, Md5};

use super::{ReceivedMessage, SendEntry, SentMessage};
use crate::error::{ChecksumField, Error};
use crate::types::{AttributeValue, MessageAttributes, MessageId};

/// Lower-case hex MD5 of a message body, as SQS reports it in `MD5OfMessageBody` / `MD5OfBody`.
pub fn md5_of_body(body: &str) -> String {
    hex(&Md5::digest(body.as_bytes()))
}

/// Lower-case hex `MD5OfMessageAttributes` of `attributes`, or `None` when there are none (SQS then omits
/// the member).
pub fn md5_of_attributes(attributes: &MessageAttributes) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut hasher = Md5::new();
    // MessageAttributes iterates in name order, the order SQS hashes in.
    for (name, attribute) in attributes.iter() {
        length_prefixed(&mut hasher, name.as_bytes());
        length_prefixed(&mut hasher, attribute.data_type.as_bytes());
        match &attribute.value {
            AttributeValue::Text(text) => {
                hasher.update([1u8]);
                length_prefixed(&mut hasher, text.as_bytes());
            }
            AttributeValue::Binary(bytes) => {
                hasher.update([2u8]);
                length_prefixed(&mut hasher, bytes);
            }
        }
    }
    Some(hex(&hasher.finalize()))
}

/// `MD5OfMessageSystemAttributes` for a send that carries an `AWSTraceHeader`.
pub(crate) fn md5_of_trace_header(trace_header: &str) -> String {
    let system = MessageAttributes::new().with("AWSTraceHeader", crate::types::MessageAttribute::string(trace_header));
    md5_of_attributes(&system).unwrap_or_default()
}

fn length_prefixed(hasher: &mut Md5, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    hasher.update(len.to_be_bytes());
    hasher.update(bytes);
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// The digests SQS reported for one sent message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReportedDigests {
    pub(crate) body: Option<String>,
    pub(crate) attributes: Option<String>,
    pub(crate) system_attributes: Option<String>,
}

fn compare(
    field: ChecksumField,
    expected: Option<String>,
    reported: Option<&str>,
    message_id: Option<&MessageId>,
) -> Result<(), Error> {
    let matches = match (&expected, reported) {
        (Some(expected), Some(reported)) => expected.eq_ignore_ascii_case(reported),
        (None, None) => true,
        _ => false,
    };
    if matches {
        Ok(())
    } else {
        Err(Error::ChecksumMismatch {
            field,
            expected: expected.unwrap_or_else(|| "none".to_owned()),
            actual: reported.map(str::to_owned),
            message_id: message_id.cloned(),
        })
    }
}

/// Checks the digests SQS reported for a sent entry against what was sent.
pub(crate) fn verify_sent(entry: &SendEntry, sent: &SentMessage, reported: &ReportedDigests) -> Result<(), Error> {
    let id = Some(&sent.message_id);
    compare(ChecksumField::MessageBody, Some(md5_of_body(&entry.body)), reported.body.as_deref(), id)?;
    compare(
        ChecksumField::MessageAttributes,
        md5_of_attributes(&entry.attributes),
        reported.attributes.as_deref(),
        id,
    )?;
    compare(
        ChecksumField::MessageSystemAttributes,
        entry.trace_header.as_deref().map(md5_of_trace_header),
        reported.system_attributes.as_deref(),
        id,
    )
}

/// Checks a received message's body and attribute digests; the outcome is stored in
/// [`ReceivedMessage::checksum_error`].
pub(crate) fn verify_received(message: &mut ReceivedMessage) {
    let id = Some(&message.message_id);
    let result =
        compare(ChecksumField::MessageBody, Some(md5_of_body(&message.body)), message.md5_of_body.as_deref(), id)
            .and_then(|()| {
                compare(
                    ChecksumField::MessageAttributes,
                    md5_of_attributes(&message.attributes),
                    message.md5_of_message_attributes.as_deref(),
                    id,
                )
            });
    message.checksum_error = result.err();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::MessageAttribute;

    #[test]
    fn spec_worked_example() {
        assert_eq!(md5_of_body("Hello from sqskit"), "09077c1cb05a9e73a1620c07e4bea548");
        let attributes = MessageAttributes::new()
            .with("OrderId", MessageAttribute::string("A-1001"))
            .with("Priority", MessageAttribute::number(5))
            .with("Blob", MessageAttribute::binary(vec![1, 2, 3]));
        assert_eq!(md5_of_attributes(&attributes).as_deref(), Some("55d9d49634bd05768defd42ef21e185d"));
        assert_eq!(
            md5_of_trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
            "5f48eef650c1d0207456969c85af2fdd"
        );
        let utf8 = MessageAttributes::new()
            .with("note", MessageAttribute::with_type("String.utf8", AttributeValue::Text("héllo".to_owned())));
        assert_eq!(md5_of_attributes(&utf8).as_deref(), Some("82736dbcd91069d0953092b0e6fdaebc"));
        assert_eq!(md5_of_attributes(&MessageAttributes::new()), None);
    }

    #[test]
    fn missing_or_unexpected_digests_are_mismatches() {
        let entry = SendEntry::new("1", "body");
        let sent = SentMessage { message_id: MessageId::new("m"), sequence_number: None };
        let good = ReportedDigests { body: Some(md5_of_body("body")), ..Default::default() };
        assert!(verify_sent(&entry, &sent, &good).is_ok());

        let missing = ReportedDigests::default();
        let err = verify_sent(&entry, &sent, &missing).expect_err("missing digest");
        assert!(matches!(err, Error::ChecksumMismatch { field: ChecksumField::MessageBody, .. }));

        let unexpected = ReportedDigests { attributes: Some("abc".to_owned()), ..good };
        let err = verify_sent(&entry, &sent, &unexpected).expect_err("unexpected digest");
        assert!(matches!(err, Error::ChecksumMismatch { field: ChecksumField::MessageAttributes, .. }));
    }
}
