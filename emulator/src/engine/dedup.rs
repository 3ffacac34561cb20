//! The FIFO deduplication window of one queue: which deduplication ids were sent in the last five minutes, and
//! what their sends answered.
//!
//! A busy FIFO queue remembers hundreds of thousands of ids. In one hash map, every doubling of the map rehashes
//! all of them inside a single send, which stalls every request on that worker: filling a FIFO queue with 470,000
//! messages (`sqskit-loadgen --scenario fill --fifo-groups 1000`, emulator on one pinned worker) saw a slowest
//! request of 127–148 ms. The window is therefore split into [`SHARDS`] maps chosen by a cheap hash of the id:
//! each grows on its own, so a growth step moves 1/64 of the ids (same fill: 10–29 ms).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::clock::Timestamp;

/// How long a deduplication id and a receive request attempt id are remembered (SQS: 5 minutes).
pub const DEDUPLICATION_WINDOW: Duration = Duration::from_secs(300);

/// What a deduplicated send answers: the original message's id and sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeduplicatedSend {
    /// The original `MessageId`.
    pub message_id: String,
    /// The original `SequenceNumber`.
    pub sequence: u64,
}

/// Number of independently growing maps.
const SHARDS: usize = 64;

/// A deduplication key: the group (with `DeduplicationScope=messageGroup`) and the deduplication id.
type Key = (Option<Arc<str>>, Box<str>);

/// Deduplication ids remembered for [`DEDUPLICATION_WINDOW`], with the send each one answers.
#[derive(Debug)]
pub struct DeduplicationWindow {
    shards: Vec<HashMap<Key, (DeduplicatedSend, Timestamp)>>,
    /// Every remembered key with its expiry, oldest first.
    expiry: VecDeque<(Timestamp, Key)>,
}

impl Default for DeduplicationWindow {
    fn default() -> Self {
        Self { shards: (0..SHARDS).map(|_| HashMap::new()).collect(), expiry: VecDeque::new() }
    }
}

impl DeduplicationWindow {
    /// Forgets the ids whose window has passed at `now`.
    pub fn expire(&mut self, now: Timestamp) {
        while let Some((expires_at, _)) = self.expiry.front() {
            if *expires_at > now {
                break;
            }
            if let Some((_, key)) = self.expiry.pop_front() {
                let shard = &mut self.shards[shard_of(key.0.as_deref(), &key.1)];
                // A later send may have remembered the same key again, with a later expiry.
                if shard.get(&key).is_some_and(|(_, at)| *at <= now) {
                    shard.remove(&key);
                }
            }
        }
    }

    /// The original send for a key still inside its window.
    pub fn original(&self, scope_group: Option<&str>, deduplication_id: &str) -> Option<&DeduplicatedSend> {
        let key = (scope_group.map(Arc::from), Box::from(deduplication_id));
        self.shards[shard_of(scope_group, deduplication_id)].get(&key).map(|(send, _)| send)
    }

    /// Remembers a send from `now` for the window.
    pub fn remember(
        &mut self,
        scope_group: Option<&str>,
        deduplication_id: &str,
        send: DeduplicatedSend,
        now: Timestamp,
    ) {
        let key: Key = (scope_group.map(Arc::from), Box::from(deduplication_id));
        let expires_at = now + DEDUPLICATION_WINDOW;
        self.expiry.push_back((expires_at, key.clone()));
        self.shards[shard_of(scope_group, deduplication_id)].insert(key, (send, expires_at));
    }
}

/// The shard of a key: FNV-1a over the group and the id, which spreads sequential ids (`order-1`, `order-2`)
/// as well as hex digests.
fn shard_of(scope_group: Option<&str>, deduplication_id: &str) -> usize {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let group = scope_group.unwrap_or_default().bytes();
    // 0xff never occurs in UTF-8, so it separates the group from the id unambiguously.
    let bytes = group.chain(std::iter::once(0xff)).chain(deduplication_id.bytes());
    let hash = bytes.fold(OFFSET, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(PRIME));
    (hash % SHARDS as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(sequence: u64) -> DeduplicatedSend {
        DeduplicatedSend { message_id: format!("m{sequence}"), sequence }
    }

    #[test]
    fn ids_are_remembered_for_five_minutes_per_scope() {
        let mut window = DeduplicationWindow::default();
        window.remember(None, "d", send(1), Timestamp::from_millis(0));
        window.remember(Some("g"), "d", send(2), Timestamp::from_millis(1_000));

        assert_eq!(window.original(None, "d"), Some(&send(1)));
        assert_eq!(window.original(Some("g"), "d"), Some(&send(2)));
        assert_eq!(window.original(Some("h"), "d"), None);
        window.expire(Timestamp::from_millis(300_000));
        assert_eq!(window.original(None, "d"), None);
        assert_eq!(window.original(Some("g"), "d"), Some(&send(2)));
        window.expire(Timestamp::from_millis(301_000));
        assert!(window.shards.iter().all(HashMap::is_empty) && window.expiry.is_empty());
    }

    #[test]
    fn sequential_ids_spread_over_all_shards() {
        let mut window = DeduplicationWindow::default();
        for sequence in 0..64_000 {
            window.remember(None, &format!("order-{sequence}"), send(sequence), Timestamp::from_millis(0));
        }
        let sizes: Vec<usize> = window.shards.iter().map(HashMap::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 64_000);
        let (smallest, largest) = (sizes.iter().min().copied(), sizes.iter().max().copied());
        assert!(smallest >= Some(800) && largest <= Some(1_200), "shard sizes {smallest:?}..{largest:?}");
    }
}
