//! The consumer's side: recognising an offloaded message and fetching its payload.

use super::{LEGACY_RESERVED_ATTRIBUTE_NAME, LargePayloads, PayloadPointer, RESERVED_ATTRIBUTE_NAME};
use crate::backend::ReceivedMessage;
use crate::error::{Error, PayloadErrorKind, Result};

/// A received message's body, ready for decoding.
#[derive(Debug)]
pub(crate) enum Resolved {
    /// The message carries its body itself.
    Inline,
    /// The payload, fetched from where the pointer said.
    Fetched(String),
}

/// The pointer of an offloaded message: `None` for a message without the marker attribute (`ExtendedPayloadSize`
/// or `SQSLargePayloadSize`, the test the extended clients make), `Some(Err)` when it has the marker but its body
/// is no pointer.
pub(crate) fn pointer_of(message: &ReceivedMessage) -> Option<Result<PayloadPointer>> {
    let marked = [RESERVED_ATTRIBUTE_NAME, LEGACY_RESERVED_ATTRIBUTE_NAME]
        .iter()
        .any(|name| message.attributes.get(name).is_some());
    marked.then(|| {
        PayloadPointer::from_body(&message.body)
            .map_err(|reason| Error::payload("", "", PayloadErrorKind::Malformed, Some(reason)))
    })
}

impl LargePayloads {
    /// The message's payload: its body, or the object its pointer names.
    ///
    /// # Errors
    /// [`Error::Payload`]: `Malformed` for a marked message without a pointer body, else the store's error
    /// (`NotFound` for a missing object).
    pub(crate) async fn resolve(&self, message: &ReceivedMessage) -> Result<Resolved> {
        match pointer_of(message) {
            None => Ok(Resolved::Inline),
            Some(pointer) => {
                let pointer = pointer?;
                self.store.get(&pointer.bucket, &pointer.key).await.map(Resolved::Fetched)
            }
        }
    }
}
