//! AWS JSON 1.0 as SQS speaks it (SPEC.md §3): bodies are JSON objects with the model's member names;
//! responses are `application/x-amz-json-1.0`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Encoded;
use crate::error::{ErrorCode, SqsError};

/// The content type of JSON requests and responses.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// The `X-Amz-Target` prefix of SQS actions.
pub const TARGET_PREFIX: &str = "AmazonSQS.";

/// Decodes a JSON body; an empty body counts as `{}`.
///
/// # Errors
/// `SerializationException` when the body is not valid JSON of the expected shape.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, SqsError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|error| {
        // A lone UTF-16 surrogate (`"a\ud800b"`: serde_json reports "lone leading surrogate" or "unexpected end
        // of hex escape") is no character SQS accepts: answer as SQS answers for any character outside its
        // allowed set, not as a syntax error.
        let text = error.to_string();
        if text.contains("surrogate") || text.contains("end of hex escape") {
            return SqsError::new(
                ErrorCode::InvalidMessageContents,
                "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 \
                 to #xFFFD | #x10000 to #x10FFFF",
            );
        }
        let message = if error.is_data() {
            format!("Invalid request: {error}")
        } else {
            "The request body could not be parsed as JSON.".to_owned()
        };
        SqsError::new(ErrorCode::SerializationException, message)
    })
}

/// Encodes a successful response.
pub fn encode<T: Serialize>(response: &T) -> Encoded {
    // Sized for a full batch answer, so the buffer is not regrown several times on the hot path.
    let mut body = Vec::with_capacity(1024);
    match serde_json::to_writer(&mut body, response) {
        Ok(()) => Encoded { status: 200, content_type: CONTENT_TYPE, headers: Vec::new(), body, request_id_at: None },
        Err(error) => {
            tracing::error!(%error, "failed to encode a JSON response");
            encode_error(&SqsError::internal())
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "__type")]
    error_type: String,
    message: &'a str,
}

/// Encodes an error: `__type` is the namespaced shape name, and `x-amzn-query-error` carries the legacy code
/// and fault, which the Rust, Python and JS SDKs match their typed errors on.
pub fn encode_error(error: &SqsError) -> Encoded {
    let code = error.code;
    let body = ErrorBody { error_type: format!("{}#{}", code.namespace(), code.shape_name()), message: &error.message };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    Encoded {
        status: code.http_status(),
        content_type: CONTENT_TYPE,
        headers: vec![("x-amzn-query-error", format!("{};{}", code.query_code(), code.fault().as_str()))],
        body,
        request_id_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_does_not_exist_renders_as_aws_does() {
        let encoded = encode_error(&SqsError::queue_does_not_exist());

        assert_eq!(encoded.status, 400);
        assert_eq!(
            encoded.headers,
            vec![("x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender".to_owned())]
        );
        assert_eq!(
            String::from_utf8(encoded.body).expect("utf8"),
            r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#
        );
    }

    #[test]
    fn malformed_json_is_a_serialization_error() {
        let error = decode::<serde_json::Value>(b"{not json").expect_err("malformed");
        assert_eq!(error.code, ErrorCode::SerializationException);
    }
}
