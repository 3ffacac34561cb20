//! The producer's side: deciding whether a message goes through S3, the pointer entry, the one upload, and the
//! clean-up of an object whose message SQS certainly did not store.

use tokio::sync::oneshot;

use super::{
    LEGACY_RESERVED_ATTRIBUTE_NAME, LargePayloads, MAX_ALLOWED_ATTRIBUTES, PayloadPointer, RESERVED_ATTRIBUTE_NAME,
};
use crate::backend::SendEntry;
use crate::error::{Error, Fault, Result};
use crate::types::MessageAttribute;

/// A payload taken out of its entry, to be uploaded before the entry is sent.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) pointer: PayloadPointer,
    payload: String,
}

impl LargePayloads {
    /// Turns `entry` into a pointer entry when it must go through S3 (its size above the threshold, which is at
    /// most `max_message_size`, or always): the body becomes the pointer and the marker attribute is added.
    /// Returns the payload to upload, or `None` when the entry is sent as it is.
    ///
    /// # Errors
    /// [`Error::InvalidMessage`] when the message carries a reserved attribute, or too many attributes to add
    /// the marker, or (offloaded) an empty body.
    pub(crate) fn plan(&self, entry: &mut SendEntry, max_message_size: usize) -> Result<Option<Pending>> {
        for reserved in [RESERVED_ATTRIBUTE_NAME, LEGACY_RESERVED_ATTRIBUTE_NAME] {
            if entry.attributes.get(reserved).is_some() {
                return Err(Error::invalid(format!(
                    "the message attribute name {reserved} is reserved for large payloads (it marks a message whose body is an S3 pointer)"
                )));
            }
        }
        let threshold = self.threshold.unwrap_or(max_message_size).min(max_message_size);
        if !(self.always || entry.size() > threshold) {
            return Ok(None);
        }
        if entry.body.is_empty() {
            return Err(Error::invalid("a message body must not be empty"));
        }
        if entry.attributes.len() > MAX_ALLOWED_ATTRIBUTES {
            return Err(Error::invalid(format!(
                "the message has {} attributes, but a message sent through S3 may carry at most {MAX_ALLOWED_ATTRIBUTES}: \
                 the {RESERVED_ATTRIBUTE_NAME} attribute counts toward SQS's limit of 10",
                entry.attributes.len()
            )));
        }
        let key = format!("{}{}", self.key_prefix, uuid::Uuid::new_v4());
        let pointer = PayloadPointer::new(self.bucket.clone(), key);
        let payload = std::mem::replace(&mut entry.body, pointer.to_body());
        let marker = if self.legacy_attribute { LEGACY_RESERVED_ATTRIBUTE_NAME } else { RESERVED_ATTRIBUTE_NAME };
        entry.attributes.insert(marker, MessageAttribute::number(payload.len()));
        Ok(Some(Pending { pointer, payload }))
    }

    /// Uploads a planned payload (once: the entry's retries resend the pointer).
    ///
    /// # Errors
    /// The store's [`Error::Payload`].
    pub(crate) async fn upload(&self, pending: Pending) -> Result<PayloadPointer> {
        let Pending { pointer, payload } = pending;
        self.store.put(&pointer.bucket, &pointer.key, payload).await?;
        Ok(pointer)
    }

    /// Deletes the object of a message that was not sent; a failure is logged (the object stays).
    pub(crate) async fn discard(&self, pointer: &PayloadPointer, why: &Error) {
        match self.store.delete(&pointer.bucket, &pointer.key).await {
            Ok(()) => tracing::debug!(%pointer, error = %why, "deleted the payload of a message that was not sent"),
            Err(error) => {
                tracing::warn!(%pointer, %error, send_error = %why, "could not delete the payload of a message that was not sent; the object stays")
            }
        }
    }
}

/// Whether a send's final error proves that SQS did not store the message, so its object can go. Answers that
/// refused the entry (a sender fault, throttling) and failures before any request do; timeouts, broken
/// connections, server faults (the request may have been applied) and digest mismatches (SQS answered
/// success) do not.
pub(crate) fn proves_not_stored(error: &Error) -> bool {
    match error {
        Error::Service { fault: Some(Fault::Sender), .. } => true,
        error @ Error::Service { .. } => error.is_throttling(),
        Error::InvalidMessage { .. } | Error::Encode { .. } | Error::Config { .. } | Error::Payload { .. } => true,
        _ => false,
    }
}

/// Forwards a send's reply, first deleting the object when the send failed in a way that proves the message
/// was not stored. A task of its own, so that the clean-up happens even when the caller stops waiting.
pub(crate) fn clean_up_on_failure<T: Send + 'static>(
    payloads: LargePayloads,
    pointer: PayloadPointer,
    reply: oneshot::Receiver<Result<T>>,
) -> oneshot::Receiver<Result<T>> {
    let (forward, receiver) = oneshot::channel();
    tokio::spawn(async move {
        // A closed reply channel (the producer's task died) leaves the message's fate unknown: keep the object.
        let result = reply.await.unwrap_or(Err(Error::Shutdown));
        if let Err(error) = &result {
            if proves_not_stored(error) {
                payloads.discard(&pointer, error).await;
            } else {
                tracing::warn!(%pointer, %error, "send failed without proof that SQS did not store the message; keeping its payload");
            }
        }
        let _ = forward.send(result);
    });
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offload::PayloadStore;

    #[derive(Debug)]
    struct Nowhere;

    #[async_trait::async_trait]
    impl PayloadStore for Nowhere {
        async fn put(&self, _: &str, _: &str, _: String) -> Result<()> {
            Ok(())
        }
        async fn get(&self, _: &str, _: &str) -> Result<String> {
            Ok(String::new())
        }
        async fn delete(&self, _: &str, _: &str) -> Result<()> {
            Ok(())
        }
    }

    fn payloads() -> LargePayloads {
        LargePayloads::new(Nowhere, "bucket")
    }

    #[test]
    fn only_messages_above_the_threshold_counting_attributes_are_offloaded() {
        let mut small = SendEntry::new("0", "x".repeat(90));
        small.attributes.insert("a", MessageAttribute::string("1234"));
        // 90 + "a" + "String" + "1234" = 101 bytes.
        assert!(payloads().plan(&mut small.clone(), 101).expect("plan").is_none());
        let pending = payloads().plan(&mut small, 100).expect("plan").expect("offloaded");
        assert_eq!(pending.payload.len(), 90);
        assert_eq!(PayloadPointer::from_body(&small.body), Ok(pending.pointer.clone()));
        assert_eq!(small.attributes.get(RESERVED_ATTRIBUTE_NAME), Some(&MessageAttribute::number(90)));
        assert_eq!(pending.pointer.key.len(), 36, "a UUID");
    }

    #[test]
    fn the_threshold_never_exceeds_the_queue_maximum_and_always_offloads_everything() {
        let mut entry = SendEntry::new("0", "x".repeat(200));
        assert!(payloads().threshold(1000).plan(&mut entry, 100).expect("plan").is_some());
        let mut tiny = SendEntry::new("0", "x");
        let pending = payloads().always_through_s3(true).legacy_attribute(true).key_prefix("p/").plan(&mut tiny, 100);
        let pending = pending.expect("plan").expect("offloaded");
        assert!(pending.pointer.key.starts_with("p/"));
        assert!(tiny.attributes.get(LEGACY_RESERVED_ATTRIBUTE_NAME).is_some());
    }

    #[test]
    fn reserved_names_and_a_tenth_attribute_are_refused() {
        let mut reserved = SendEntry::new("0", "x");
        reserved.attributes.insert(RESERVED_ATTRIBUTE_NAME, MessageAttribute::number(1));
        let error = payloads().plan(&mut reserved, 100).expect_err("reserved");
        assert!(error.to_string().contains("reserved"), "{error}");
        let mut crowded = SendEntry::new("0", "x".repeat(200));
        for i in 0..10 {
            crowded.attributes.insert(format!("a{i}"), MessageAttribute::string("v"));
        }
        let error = payloads().plan(&mut crowded, 100).expect_err("ten attributes");
        assert!(error.to_string().contains("at most 9"), "{error}");
    }

    #[test]
    fn only_definite_failures_delete_the_object() {
        assert!(proves_not_stored(&Error::service("InvalidMessageContents", "bad", None, Some(Fault::Sender))));
        assert!(proves_not_stored(&Error::service("ThrottlingException", "slow", None, Some(Fault::Sender))));
        assert!(!proves_not_stored(&Error::service("InternalFailure", "oops", None, Some(Fault::Receiver))));
        assert!(!proves_not_stored(&Error::Timeout { detail: "t".to_owned() }));
        assert!(!proves_not_stored(&Error::Shutdown));
    }
}
