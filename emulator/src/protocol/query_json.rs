//! Query requests answered in JSON: a Query client (form parameters in) whose `Accept` header asks for
//! `application/json` gets its answer as a JSON document instead of XML, as AWS's Query endpoint does.
//!
//! What AWS sends back is not in its documentation; the one recording we found (real SQS, `ListQueues`,
//! <https://github.com/JuliaCloud/AWS.jl/pull/127>) shows the XML document's outline carried over to JSON:
//! `{"ListQueuesResponse": {"ListQueuesResult": {...}, "ResponseMetadata": {"RequestId": "..."}}}`. Inside the
//! result AWS writes its service's internal member names (`queueUrls`, with `null` for absent members); those are
//! not published, so the emulator writes the result as the JSON protocol does, with the model's member names
//! (`QueueUrls`, `Messages`), and leaves absent members out. Errors keep the `ErrorResponse` outline with the
//! Query code, as the XML document has it. docs/aws-behaviour.md records the choice.
//! Nothing here touches a queue.

use serde::Serialize;
use serde_json::json;

use super::Encoded;
use super::query_model::operation;
use crate::error::SqsError;

/// The content type of JSON answers to Query requests.
pub const CONTENT_TYPE: &str = "application/json";

/// Whether an `Accept` header asks for JSON: its first media type that names XML or JSON decides (`*/*` and
/// anything else leave the Query protocol's XML). Quality values are not weighed; clients that ask for JSON
/// name it alone.
pub fn wants_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    for media_type in accept.split(',') {
        let essence = media_type.split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case("application/json") {
            return true;
        }
        if essence.eq_ignore_ascii_case("text/xml") || essence.eq_ignore_ascii_case("application/xml") {
            return false;
        }
    }
    false
}

/// Encodes the successful response of `action`; the request id is filled in later by
/// [`Encoded::fill_request_id`]. Actions without output (`DeleteMessage`) carry no `<Action>Result`, as in XML.
pub fn encode<T: Serialize>(action: &str, response: &T) -> Encoded {
    let Some(operation) = operation(action) else {
        tracing::error!(action, "no Query model for this action");
        return encode_error(&SqsError::internal());
    };
    let result = match serde_json::to_value(response) {
        Ok(value) => value,
        Err(error) => {
            tracing::error!(%error, "failed to encode a Query response as JSON");
            return encode_error(&SqsError::internal());
        }
    };
    let result = operation.output.map(|_| if result.is_object() { result } else { json!({}) });
    let action = operation.name;
    // Written around the serialized result, so the request id's place is known without searching the text.
    let mut body = format!(r#"{{"{action}Response":{{"#);
    if let Some(result) = result {
        body.push_str(&format!(r#""{action}Result":{result},"#));
    }
    body.push_str(r#""ResponseMetadata":{"RequestId":""#);
    let request_id_at = body.len();
    body.push_str(r#""}}}"#);
    Encoded {
        status: 200,
        content_type: CONTENT_TYPE,
        headers: Vec::new(),
        body: body.into_bytes(),
        request_id_at: Some(request_id_at),
    }
}

/// Encodes an error in the `ErrorResponse` outline of the Query protocol: `Type` (Sender or Receiver), the
/// Query-era `Code`, `Message`, and the request id.
pub fn encode_error(error: &SqsError) -> Encoded {
    let code = error.code;
    let message = super::error::query_message(error);
    let error = json!({ "Type": code.fault().as_str(), "Code": code.query_code(), "Message": message });
    let mut body = format!(r#"{{"ErrorResponse":{{"Error":{error},"RequestId":""#);
    let request_id_at = body.len();
    body.push_str(r#""}}"#);
    Encoded {
        status: code.http_status(),
        content_type: CONTENT_TYPE,
        headers: Vec::new(),
        body: body.into_bytes(),
        request_id_at: Some(request_id_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn parsed(mut encoded: Encoded) -> Value {
        encoded.fill_request_id("req-1");
        serde_json::from_slice(&encoded.body).expect("valid JSON")
    }

    #[test]
    fn accept_headers_that_ask_for_json() {
        assert!(wants_json(Some("application/json")));
        assert!(wants_json(Some("application/json; charset=utf-8")));
        assert!(wants_json(Some("text/html, application/json")));
        assert!(!wants_json(Some("text/xml, application/json")));
        assert!(!wants_json(Some("*/*")));
        assert!(!wants_json(Some("application/x-amz-json-1.0")));
        assert!(!wants_json(None));
    }

    #[test]
    fn a_result_sits_in_the_xml_documents_outline() {
        let body = parsed(encode("GetQueueUrl", &json!({ "QueueUrl": "http://h/1/q" })));
        assert_eq!(
            body,
            json!({ "GetQueueUrlResponse": {
                "GetQueueUrlResult": { "QueueUrl": "http://h/1/q" },
                "ResponseMetadata": { "RequestId": "req-1" },
            }})
        );
    }

    #[test]
    fn actions_without_output_carry_only_metadata_and_empty_results_stay_objects() {
        let body = parsed(encode("DeleteMessage", &json!({})));
        assert_eq!(body, json!({ "DeleteMessageResponse": { "ResponseMetadata": { "RequestId": "req-1" } } }));
        let body = parsed(encode("ListQueues", &json!({})));
        assert_eq!(body["ListQueuesResponse"]["ListQueuesResult"], json!({}));
    }

    #[test]
    fn errors_keep_the_query_code_and_the_wsdl_text() {
        let encoded = encode_error(&SqsError::queue_does_not_exist());
        assert_eq!(encoded.status, 400);
        let body = parsed(encoded);
        assert_eq!(
            body,
            json!({ "ErrorResponse": {
                "Error": {
                    "Type": "Sender",
                    "Code": "AWS.SimpleQueueService.NonExistentQueue",
                    "Message": "The specified queue does not exist for this wsdl version.",
                },
                "RequestId": "req-1",
            }})
        );
    }

    #[test]
    fn text_that_looks_like_the_request_id_member_does_not_move_it() {
        let body = parsed(encode("ListQueueTags", &json!({ "Tags": { "RequestId": "" } })));
        assert_eq!(body["ListQueueTagsResponse"]["ListQueueTagsResult"]["Tags"]["RequestId"], "");
        assert_eq!(body["ListQueueTagsResponse"]["ResponseMetadata"]["RequestId"], "req-1");
        let error = SqsError::invalid_parameter(r#"bad "RequestId":"" here"#);
        let body = parsed(encode_error(&error));
        assert_eq!(body["ErrorResponse"]["RequestId"], "req-1");
        assert_eq!(body["ErrorResponse"]["Error"]["Message"], r#"bad "RequestId":"" here"#);
    }
}
