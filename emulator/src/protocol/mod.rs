//! Wire formats only: how a request's bytes become a typed request and how a typed response or an
//! [`SqsError`] becomes bytes. Nothing here touches a queue.
//!
//! - `json.rs`: AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Action>`).
//! - `error.rs`: the one error renderer, over the table in `crate::error`.

pub mod error;
pub mod json;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::SqsError;

/// The wire protocol a request arrived in; responses go back in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON 1.0.
    Json,
}

/// A request body not yet decoded into its action's request type.
#[derive(Debug, Clone)]
pub enum Payload {
    /// A JSON document.
    Json(Bytes),
}

impl Payload {
    /// The protocol this payload arrived in.
    pub fn protocol(&self) -> Protocol {
        match self {
            Payload::Json(_) => Protocol::Json,
        }
    }

    /// Decodes the payload into an action's request type.
    ///
    /// # Errors
    /// `SerializationException` when the body is not a valid document of that shape.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, SqsError> {
        match self {
            Payload::Json(body) => json::decode(body),
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
}

/// Encodes a successful response in `protocol`.
pub fn encode_response<T: Serialize>(protocol: Protocol, response: &T) -> Encoded {
    match protocol {
        Protocol::Json => json::encode(response),
    }
}
