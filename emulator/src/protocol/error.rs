//! The one place errors become bytes, for whichever protocol the request used.

use super::{Encoded, Protocol, json};
use crate::error::SqsError;

/// Renders an error in the request's protocol.
pub fn render(protocol: Protocol, error: &SqsError) -> Encoded {
    match protocol {
        Protocol::Json => json::encode_error(error),
    }
}
