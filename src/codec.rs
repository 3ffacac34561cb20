//! How typed values become message bodies and back: the [`Encode`] and [`Decode`] traits (together, a
//! [`Codec`]) and [`JsonCodec`], the serde_json default.
//!
//! Producers need only [`Encode`], consumers only [`Decode`], so a type that is only `Serialize` can still be
//! produced. Bodies are text because SQS bodies are text (SPEC §8).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Turns a value into a message body.
pub trait Encode<T: ?Sized>: Send + Sync + 'static {
    /// The body for `value`.
    ///
    /// # Errors
    /// [`Error::Encode`] when the value cannot be represented.
    fn encode(&self, value: &T) -> Result<String>;
}

/// Turns a message body back into a value.
pub trait Decode<T>: Send + Sync + 'static {
    /// The value in `body`.
    ///
    /// # Errors
    /// [`Error::Decode`] when the body is not a valid encoding (a poison message).
    fn decode(&self, body: &str) -> Result<T>;
}

/// A codec: encodes for producers and decodes for consumers. Implemented for everything that does both.
pub trait Codec<T>: Encode<T> + Decode<T> {}

impl<T, C: Encode<T> + Decode<T>> Codec<T> for C {}

/// The default codec: JSON through serde_json.
///
/// # Examples
/// ```
/// use sqskit::codec::{Decode, Encode, JsonCodec};
///
/// let body = JsonCodec.encode(&vec![1, 2, 3])?;
/// assert_eq!(body, "[1,2,3]");
/// let back: Vec<i32> = JsonCodec.decode(&body)?;
/// assert_eq!(back, [1, 2, 3]);
/// # Ok::<(), sqskit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonCodec;

impl<T: Serialize + ?Sized> Encode<T> for JsonCodec {
    fn encode(&self, value: &T) -> Result<String> {
        serde_json::to_string(value).map_err(Error::encode)
    }
}

impl<T: DeserializeOwned> Decode<T> for JsonCodec {
    fn decode(&self, body: &str) -> Result<T> {
        serde_json::from_str(body).map_err(Error::decode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_errors_are_decode_errors() {
        let result: Result<Vec<i32>> = JsonCodec.decode("not json");
        assert!(matches!(result, Err(Error::Decode { .. })));
    }
}
