//! The one place errors become bytes, for whichever protocol the request used: JSON `__type` plus
//! `x-amzn-query-error`, or the Query protocol's XML `ErrorResponse` (SPEC.md §3.3, §4.3).

use super::{Encoded, Protocol, json, query_json, xml};
use crate::error::{ErrorCode, SqsError};

/// The Query-era text of `QueueDoesNotExist` (SPEC.md §4.3, §5.3 [obs]). The one message that differs between
/// the protocols, so it is special-cased here rather than carried by every error.
pub const QUERY_NON_EXISTENT_QUEUE_MESSAGE: &str = "The specified queue does not exist for this wsdl version.";

/// The text of `error` in a Query answer (XML or JSON): its message, but the Query-era text of
/// `QueueDoesNotExist`.
pub fn query_message(error: &SqsError) -> &str {
    if error.code == ErrorCode::QueueDoesNotExist { QUERY_NON_EXISTENT_QUEUE_MESSAGE } else { error.message.as_str() }
}

/// Renders an error in the request's protocol. For Query the request id is filled in later, by
/// [`Encoded::fill_request_id`].
pub fn render(protocol: Protocol, error: &SqsError) -> Encoded {
    match protocol {
        Protocol::Json => json::encode_error(error),
        Protocol::QueryJson => query_json::encode_error(error),
        Protocol::Query => {
            let code = error.code;
            let document = xml::error_document(code.fault().as_str(), code.query_code(), query_message(error));
            Encoded {
                status: code.http_status(),
                content_type: xml::CONTENT_TYPE,
                headers: Vec::new(),
                body: document.text.into_bytes(),
                request_id_at: Some(document.request_id_at),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_errors_carry_the_legacy_code_and_the_wsdl_text() {
        let mut encoded = render(Protocol::Query, &SqsError::queue_does_not_exist());
        encoded.fill_request_id("42d59b56-7407-4c4a-be0f-4c88daeea257");

        assert_eq!(encoded.status, 400);
        assert_eq!(encoded.content_type, "text/xml");
        assert_eq!(
            String::from_utf8(encoded.body).expect("utf8"),
            "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><Error>\
             <Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code>\
             <Message>The specified queue does not exist for this wsdl version.</Message><Detail/></Error>\
             <RequestId>42d59b56-7407-4c4a-be0f-4c88daeea257</RequestId></ErrorResponse>"
        );
    }

    #[test]
    fn query_errors_keep_status_fault_and_message() {
        let mut encoded = render(Protocol::Query, &SqsError::internal());
        encoded.fill_request_id("r");
        let body = String::from_utf8(encoded.body).expect("utf8");

        assert_eq!(encoded.status, 500);
        assert!(body.contains("<Type>Receiver</Type><Code>InternalError</Code>"), "{body}");
        assert!(body.contains("<Message>We encountered an internal error. Please try again.</Message>"), "{body}");
    }
}
