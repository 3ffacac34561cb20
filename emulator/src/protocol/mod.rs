//! Wire formats only: how a request's bytes become a typed request and how a typed response or an
//! [`SqsError`] becomes bytes. Nothing here touches a queue.
//!
//! - `json.rs`: AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Action>`).
//! - `query.rs`: the legacy Query protocol (form parameters in), decoded by the rules of `query_model.rs`
//!   (generated from the Query-era model into `query_model_gen.rs`); `xml.rs` writes its XML responses.
//! - `query_json.rs`: Query requests whose `Accept` header asks for JSON get their answers (and errors) as JSON.
//! - `error.rs`: the one error renderer, over the table in `crate::error`.
//! - `sts.rs`: STS `GetCallerIdentity` (Query in, XML out), answered on the same port.

pub mod error;
pub mod json;
pub mod query;
pub mod query_json;
mod query_model;
mod query_model_gen;
pub mod sts;
pub mod xml;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use query::QueryParams;

use crate::error::SqsError;

/// The wire protocol a request arrived in; responses go back in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON 1.0.
    Json,
    /// The legacy Query protocol: form-encoded parameters in, XML out.
    Query,
    /// The Query protocol from a client that asked for JSON answers (`Accept: application/json`).
    QueryJson,
}

/// Tells the protocols apart (SPEC.md §4.1): an `X-Amz-Target` header or a JSON content type means JSON;
/// anything else (a form body, or a `GET` with a query string) is Query.
pub fn detect(target: Option<&str>, content_type: Option<&str>) -> Protocol {
    let json_content = content_type.is_some_and(|value| value.trim_start().starts_with("application/x-amz-json"));
    if target.is_some() || json_content { Protocol::Json } else { Protocol::Query }
}

impl Protocol {
    /// The protocol answers go back in, given the request's `Accept` header: Query requests that ask for
    /// `application/json` get JSON (`query_json.rs`); the others are unaffected.
    pub fn answering(self, accept: Option<&str>) -> Protocol {
        match self {
            Protocol::Query if query_json::wants_json(accept) => Protocol::QueryJson,
            other => other,
        }
    }

    /// Whether requests in this protocol carry Query parameters.
    pub fn is_query(self) -> bool {
        matches!(self, Protocol::Query | Protocol::QueryJson)
    }
}

/// A request body not yet decoded into its action's request type.
#[derive(Debug, Clone)]
pub enum Payload {
    /// A JSON document.
    Json(Bytes),
    /// Query parameters (URL query and form body merged).
    Query(QueryParams),
    /// Query parameters from a client that asked for JSON answers.
    QueryAnsweredInJson(QueryParams),
}

impl Payload {
    /// The protocol this payload arrived in.
    pub fn protocol(&self) -> Protocol {
        match self {
            Payload::Json(_) => Protocol::Json,
            Payload::Query(_) => Protocol::Query,
            Payload::QueryAnsweredInJson(_) => Protocol::QueryJson,
        }
    }

    /// Decodes the payload into an action's request type.
    ///
    /// # Errors
    /// `SerializationException` when the body is not a valid document of that shape; for Query also
    /// `InvalidParameterValue` for numbers that do not parse and `InvalidAction` for an unknown action.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, SqsError> {
        match self {
            Payload::Json(body) => json::decode(body),
            Payload::Query(params) | Payload::QueryAnsweredInJson(params) => query::decode(params),
        }
    }
}

/// An encoded response: status, headers and body, independent of any HTTP library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// HTTP status code.
    pub status: u16,
    /// Content type of the body.
    pub content_type: &'static str,
    /// Extra headers (besides content type and request id).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Where in `body` the request id belongs, for protocols that carry it in the body (Query's
    /// `<RequestId>`); the HTTP layer, which owns the id, fills it in with [`Encoded::fill_request_id`].
    pub request_id_at: Option<usize>,
}

impl Encoded {
    /// Writes `request_id` into the body where the protocol wants it (a no-op for JSON, whose id travels only
    /// in the `x-amzn-RequestId` header).
    pub fn fill_request_id(&mut self, request_id: &str) {
        if let Some(at) = self.request_id_at.take().filter(|at| *at <= self.body.len()) {
            self.body.splice(at..at, request_id.bytes());
        }
    }
}

/// Encodes the successful response of `action` (e.g. `SendMessage`) in `protocol`.
pub fn encode_response<T: Serialize>(protocol: Protocol, action: &str, response: &T) -> Encoded {
    match protocol {
        Protocol::Json => json::encode(response),
        Protocol::Query => query::encode(action, response),
        Protocol::QueryJson => query_json::encode(action, response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_follows_the_target_header_and_content_type() {
        assert_eq!(detect(Some("AmazonSQS.SendMessage"), None), Protocol::Json);
        assert_eq!(detect(None, Some("application/x-amz-json-1.0")), Protocol::Json);
        assert_eq!(detect(None, Some("application/x-www-form-urlencoded; charset=utf-8")), Protocol::Query);
        assert_eq!(detect(None, None), Protocol::Query);
    }

    #[test]
    fn the_request_id_lands_in_its_slot() {
        let mut encoded = encode_response(Protocol::Query, "DeleteQueue", &serde_json::json!({}));
        encoded.fill_request_id("abc");
        let body = String::from_utf8(encoded.body).expect("utf8");
        assert!(body.ends_with("<RequestId>abc</RequestId></ResponseMetadata></DeleteQueueResponse>"), "{body}");
        assert_eq!(encoded.content_type, "text/xml");

        let mut encoded = encode_response(Protocol::Json, "DeleteQueue", &serde_json::json!({}));
        encoded.fill_request_id("abc");
        assert_eq!(encoded.body, b"{}");
    }
}
