//! Idempotency keys on the wire: the message attribute that carries them (its name is defined here, once)
//! and the FIFO deduplication id derived from them.
//!
//! A key names one logical message. On FIFO queues the producer derives `MessageDeduplicationId` from it, so
//! SQS itself drops a resend within its 5-minute deduplication window (for example after a timeout whose
//! first attempt did land). On every queue the key also travels in [`IDEMPOTENCY_KEY_ATTRIBUTE`], so
//! consumers can deduplicate on standard queues. Without a key a resend may be delivered twice.

use sha2::{Digest, Sha256};

use crate::types::IdempotencyKey;

/// The message attribute (type `String`) that carries a message's idempotency key.
pub const IDEMPOTENCY_KEY_ATTRIBUTE: &str = "sqskit.idempotency-key";

/// The FIFO `MessageDeduplicationId` for a key: the hex SHA-256 of the key (64 characters, within SQS's
/// 128-character limit and alphabet whatever the key contains). Stable across processes and versions.
///
/// # Examples
/// ```
/// use sqskit::IdempotencyKey;
/// use sqskit::idempotency::deduplication_id;
///
/// let id = deduplication_id(&IdempotencyKey::from("order-42"));
/// assert_eq!(id.len(), 64);
/// assert_eq!(id, deduplication_id(&IdempotencyKey::from("order-42")));
/// ```
pub fn deduplication_id(key: &IdempotencyKey) -> String {
    use std::fmt::Write;
    Sha256::digest(key.as_str().as_bytes()).iter().fold(String::with_capacity(64), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deduplication_id_is_the_hex_sha256_of_the_key() {
        // SHA-256("abc"), the FIPS 180-2 test vector.
        assert_eq!(
            deduplication_id(&IdempotencyKey::from("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
