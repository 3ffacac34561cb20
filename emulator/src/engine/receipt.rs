//! Receipt handles: opaque to clients, but they let the engine tell which queue and which receive of which
//! message a handle belongs to, so stale and foreign handles are recognised (SPEC.md §8).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const VERSION: u8 = 1;
const ENCODED_LEN: usize = 1 + 8 + 8 + 4;

/// What a receipt handle identifies: one receive of one message of one queue incarnation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptHandle {
    /// The queue's unique id (a re-created queue of the same name gets a new one).
    pub queue_uid: u64,
    /// The message's sequence number within the queue.
    pub sequence: u64,
    /// Which receive of the message issued the handle (its receive count at that moment).
    pub receive: u32,
}

impl ReceiptHandle {
    /// The opaque string handed to clients.
    pub fn encode(&self) -> String {
        let mut bytes = [0u8; ENCODED_LEN];
        bytes[0] = VERSION;
        bytes[1..9].copy_from_slice(&self.queue_uid.to_be_bytes());
        bytes[9..17].copy_from_slice(&self.sequence.to_be_bytes());
        bytes[17..21].copy_from_slice(&self.receive.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a handle this engine issued; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        if bytes.len() != ENCODED_LEN || bytes[0] != VERSION {
            return None;
        }
        let u64_at = |at: usize| bytes.get(at..at + 8).and_then(|s| s.try_into().ok()).map(u64::from_be_bytes);
        let receive = bytes.get(17..21).and_then(|s| s.try_into().ok()).map(u32::from_be_bytes)?;
        Some(Self { queue_uid: u64_at(1)?, sequence: u64_at(9)?, receive })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_garbage_is_rejected() {
        let handle = ReceiptHandle { queue_uid: 7, sequence: 123_456, receive: 3 };

        assert_eq!(ReceiptHandle::decode(&handle.encode()), Some(handle));
        assert_eq!(ReceiptHandle::decode("garbage"), None);
        assert_eq!(ReceiptHandle::decode(""), None);
    }
}
