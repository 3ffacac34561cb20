//! Which messages are live in the log, and where their records are: what compaction copies forward and what
//! decides that a segment can be recycled (docs/message-log.md, "Compaction, oldest segment first").
//!
//! The index follows the message events the writer puts into the log, in log order: a stored message is live
//! at the place of its record until a removal, a purge or its queue's deletion; an update leaves the record
//! where it is and remembers the state it set (compaction writes the message again with it). Each segment counts
//! the live records it holds (one that holds none has nothing compaction must keep) and lists the messages
//! stored in it, so that compaction finds a segment's live messages without a scan of the whole index (16 bytes
//! per record in the log, dropped with the segment).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::engine::{MessageState, QueueEvent, StorageEvent, StoredMessage, Timestamp};

/// Where an event's bytes are in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::storage) struct Location {
    /// The segment's number.
    pub(in crate::storage) segment: u64,
    /// The first byte of the event in the segment.
    pub(in crate::storage) offset: u64,
    /// The event's length in bytes.
    pub(in crate::storage) len: u32,
}

/// The state an update left a message in: what `QueueEvent::MessageUpdated` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::storage) struct LatestState {
    /// `ApproximateReceiveCount`.
    pub(in crate::storage) receive_count: u32,
    /// The first receive, if any.
    pub(in crate::storage) first_received_at: Option<Timestamp>,
    /// Visible, delayed or in flight.
    pub(in crate::storage) state: MessageState,
}

impl LatestState {
    /// Sets `message`'s receive state to this one.
    pub(in crate::storage) fn apply_to(self, message: &mut StoredMessage) {
        message.receive_count = self.receive_count;
        message.set_first_received_at(self.first_received_at);
        message.state = self.state;
    }
}

/// A live message that compaction must copy out of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::storage) struct LiveMessage {
    /// The queue's unique id.
    pub(in crate::storage) uid: u64,
    /// The message's sequence in its queue.
    pub(in crate::storage) sequence: u64,
    /// Where its stored-message record is.
    pub(in crate::storage) stored: Location,
    /// The state of its last update since that record, if any.
    pub(in crate::storage) latest: Option<LatestState>,
}

/// What the index knows of one segment's records.
#[derive(Debug, Default)]
struct SegmentRecords {
    /// How many of the messages stored in the segment are live there.
    live: usize,
    /// The messages stored in the segment, in log order. Some may have gone since (removed, or stored again
    /// elsewhere): [`MessageIndex::live_messages_in`] checks each against the index and drops those it passes.
    stored: Vec<(u64, u64)>,
}

/// The live messages of the log, by (queue uid, sequence).
#[derive(Debug, Default)]
pub(in crate::storage) struct MessageIndex {
    /// Where each live message's stored-message record is.
    messages: BTreeMap<(u64, u64), Location>,
    /// The last update of live messages updated since their record was written (most queued messages never are).
    latest: HashMap<(u64, u64), LatestState>,
    /// The records of each segment that holds a live one; segments without any are absent.
    segments: BTreeMap<u64, SegmentRecords>,
    /// Bytes of the live messages' records.
    live_bytes: u64,
    /// Segments that lost a live record since [`MessageIndex::take_released`] (a set: a few segments at most).
    released: BTreeSet<u64>,
}

impl MessageIndex {
    /// Follows one event the writer put into the log at `at`; events that are not about messages are ignored.
    pub(in crate::storage) fn follow(&mut self, event: &StorageEvent, at: Location) {
        match event {
            StorageEvent::Queue { uid, event } => match event {
                QueueEvent::MessageStored { sequence, .. } => self.stored(*uid, *sequence, at),
                QueueEvent::MessageUpdated { sequence, receive_count, first_received_at, state } => {
                    let latest = LatestState {
                        receive_count: *receive_count,
                        first_received_at: *first_received_at,
                        state: *state,
                    };
                    self.updated(*uid, *sequence, latest);
                }
                QueueEvent::MessageRemoved { sequence } => self.removed(*uid, *sequence),
                QueueEvent::Purged => self.remove_queue(*uid),
                QueueEvent::MetadataChanged { .. } | QueueEvent::DeduplicationRecorded { .. } => {}
            },
            StorageEvent::QueueDeleted { uid } => self.remove_queue(*uid),
            StorageEvent::QueueCreated { .. }
            | StorageEvent::QueueRenamed { .. }
            | StorageEvent::MoveTaskChanged { .. }
            | StorageEvent::MoveTasksForgotten { .. } => {}
        }
    }

    /// Message `sequence` of queue `uid` was stored at `at` (sent, moved in, or copied forward by compaction,
    /// which carries its latest state in the record: an earlier update is forgotten).
    fn stored(&mut self, uid: u64, sequence: u64, at: Location) {
        if let Some(before) = self.messages.insert((uid, sequence), at) {
            self.release(before);
        }
        self.live_bytes += u64::from(at.len);
        self.latest.remove(&(uid, sequence));
        let records = self.segments.entry(at.segment).or_default();
        records.live += 1;
        records.stored.push((uid, sequence));
    }

    /// A live message was received or its visibility changed; an update of a message the index does not hold
    /// (removed, or stored before the log's oldest segment) is ignored.
    fn updated(&mut self, uid: u64, sequence: u64, latest: LatestState) {
        if self.messages.contains_key(&(uid, sequence)) {
            self.latest.insert((uid, sequence), latest);
        }
    }

    /// A message was deleted, expired or moved away.
    fn removed(&mut self, uid: u64, sequence: u64) {
        if let Some(at) = self.messages.remove(&(uid, sequence)) {
            self.latest.remove(&(uid, sequence));
            self.release(at);
        }
    }

    /// Every message of queue `uid` went (a purge, or the queue's deletion).
    pub(in crate::storage) fn remove_queue(&mut self, uid: u64) {
        let gone: Vec<(u64, u64)> = self.messages.range((uid, 0)..=(uid, u64::MAX)).map(|(key, _)| *key).collect();
        for (uid, sequence) in gone {
            self.removed(uid, sequence);
        }
    }

    /// The segments that lost a live record (a removal, a purge, or a newer record of the same message) since
    /// the last call.
    pub(in crate::storage) fn take_released(&mut self) -> BTreeSet<u64> {
        std::mem::take(&mut self.released)
    }

    /// Live records in `segment`.
    pub(in crate::storage) fn live_in(&self, segment: u64) -> usize {
        self.segments.get(&segment).map_or(0, |records| records.live)
    }

    #[cfg(test)]
    /// Live messages in the whole log.
    pub(in crate::storage) fn len(&self) -> usize {
        self.messages.len()
    }

    /// Up to `limit` live messages whose records are in `segment`, in log order. It reads the segment's list of
    /// stored messages from the start and drops the entries it passes that are no longer live there, so that
    /// compaction, which calls it again once the copies it made are followed, reads each entry at most twice
    /// whatever the size of the index.
    pub(in crate::storage) fn live_messages_in(&mut self, segment: u64, limit: usize) -> Vec<LiveMessage> {
        let Self { messages, latest, segments, .. } = self;
        let Some(records) = segments.get_mut(&segment) else { return Vec::new() };
        let mut found = Vec::new();
        // A message stored twice in the segment (a migration that ran again) is listed twice.
        let mut listed = HashSet::new();
        let mut kept = Vec::new();
        let mut passed = 0;
        for &key in &records.stored {
            if found.len() == limit {
                break;
            }
            passed += 1;
            if let Some(&stored) = messages.get(&key).filter(|stored| stored.segment == segment) {
                kept.push(key);
                if listed.insert(key) {
                    let (uid, sequence) = key;
                    found.push(LiveMessage { uid, sequence, stored, latest: latest.get(&key).copied() });
                }
            }
        }
        records.stored.splice(..passed, kept);
        found
    }

    /// Bytes of the live messages' records (what compaction would keep).
    pub(in crate::storage) fn live_bytes(&self) -> u64 {
        self.live_bytes
    }

    /// The record at `at` is no longer live.
    fn release(&mut self, at: Location) {
        self.released.insert(at.segment);
        self.live_bytes = self.live_bytes.saturating_sub(u64::from(at.len));
        if let Some(records) = self.segments.get_mut(&at.segment) {
            records.live -= 1;
            if records.live == 0 {
                self.segments.remove(&at.segment);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    fn at(segment: u64, offset: u64) -> Location {
        Location { segment, offset, len: 100 }
    }

    fn in_flight(count: u32) -> LatestState {
        LatestState {
            receive_count: count,
            first_received_at: Some(Timestamp::from_millis(5)),
            state: MessageState::InFlight {
                until: Timestamp::from_millis(30_005),
                received_at: Timestamp::from_millis(5),
            },
        }
    }

    #[test]
    fn a_segment_counts_its_live_records_until_they_are_removed_or_copied() {
        let mut index = MessageIndex::default();
        index.stored(1, 1, at(1, 0));
        index.stored(1, 2, at(1, 100));
        index.stored(2, 1, at(2, 0));
        assert_eq!((index.live_in(1), index.live_in(2)), (2, 1));

        index.removed(1, 1);
        // Copied forward by compaction: the old record no longer counts.
        index.stored(1, 2, at(3, 0));

        assert_eq!((index.live_in(1), index.live_in(2), index.live_in(3)), (0, 1, 1));
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn compaction_sees_the_latest_update_until_a_copy_carries_it() {
        let mut index = MessageIndex::default();
        index.stored(1, 1, at(1, 0));
        index.stored(1, 2, at(1, 100));
        index.updated(1, 2, in_flight(1));
        index.updated(1, 2, in_flight(2));
        // An update of a message the index does not hold is ignored.
        index.updated(1, 3, in_flight(1));

        let live = index.live_messages_in(1, usize::MAX);
        assert_eq!(live.len(), 2);
        assert_eq!(live[0], LiveMessage { uid: 1, sequence: 1, stored: at(1, 0), latest: None });
        assert_eq!(live[1].latest, Some(in_flight(2)));

        index.stored(1, 2, at(2, 0));
        assert_eq!(index.live_messages_in(2, usize::MAX)[0].latest, None, "the copy's record holds the state");
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn a_purge_and_a_queue_deletion_remove_only_that_queue() {
        let mut index = MessageIndex::default();
        for sequence in 1..=3 {
            index.stored(1, sequence, at(1, sequence * 100));
            index.stored(2, sequence, at(1, 1_000 + sequence * 100));
            index.stored(3, sequence, at(2, sequence * 100));
        }
        let purge = StorageEvent::Queue { uid: 1, event: QueueEvent::Purged };
        index.follow(&purge, at(2, 900));
        index.follow(&StorageEvent::QueueDeleted { uid: 3 }, at(2, 1_000));

        assert_eq!(index.len(), 3);
        assert_eq!((index.live_in(1), index.live_in(2)), (3, 0));
        assert!(index.live_messages_in(1, usize::MAX).iter().all(|live| live.uid == 2));
    }

    /// One operation of the model test.
    #[derive(Debug, Clone)]
    enum Operation {
        Store { uid: u64, sequence: u64, segment: u64 },
        Update { uid: u64, sequence: u64 },
        Remove { uid: u64, sequence: u64 },
        RemoveQueue { uid: u64 },
    }

    fn operation() -> impl Strategy<Value = Operation> {
        prop_oneof![
            (1..4_u64, 1..20_u64, 1..6_u64).prop_map(|(uid, sequence, segment)| Operation::Store {
                uid,
                sequence,
                segment
            }),
            (1..4_u64, 1..20_u64).prop_map(|(uid, sequence)| Operation::Update { uid, sequence }),
            (1..4_u64, 1..20_u64).prop_map(|(uid, sequence)| Operation::Remove { uid, sequence }),
            (1..4_u64).prop_map(|uid| Operation::RemoveQueue { uid }),
        ]
    }

    proptest! {
        /// The counts per segment always equal the live messages whose records are there.
        #[test]
        fn live_counts_agree_with_the_live_messages(operations in proptest::collection::vec(operation(), 0..200)) {
            let mut index = MessageIndex::default();
            let mut model: BTreeMap<(u64, u64), u64> = BTreeMap::new();
            for (offset, operation) in operations.into_iter().enumerate() {
                match operation {
                    Operation::Store { uid, sequence, segment } => {
                        index.stored(uid, sequence, at(segment, offset as u64));
                        model.insert((uid, sequence), segment);
                    }
                    Operation::Update { uid, sequence } => index.updated(uid, sequence, in_flight(1)),
                    Operation::Remove { uid, sequence } => {
                        index.removed(uid, sequence);
                        model.remove(&(uid, sequence));
                    }
                    Operation::RemoveQueue { uid } => {
                        index.remove_queue(uid);
                        model.retain(|(queue, _), _| *queue != uid);
                    }
                }
            }
            prop_assert_eq!(index.len(), model.len());
            let segments: BTreeSet<u64> = (1..6).collect();
            for segment in segments {
                let expected = model.values().filter(|&&at| at == segment).count();
                prop_assert_eq!(index.live_in(segment), expected);
                prop_assert_eq!(index.live_messages_in(segment, usize::MAX).len(), expected);
            }
            // Compaction of each segment in small batches, each batch copied to segment 99 before the next:
            // every live message comes exactly once, and the segment is empty after.
            for segment in 1..6 {
                let expected: BTreeSet<(u64, u64)> =
                    model.iter().filter(|&(_, &at)| at == segment).map(|(&key, _)| key).collect();
                let mut copied = BTreeSet::new();
                loop {
                    let batch = index.live_messages_in(segment, 3);
                    if batch.is_empty() {
                        break;
                    }
                    prop_assert!(batch.len() <= 3);
                    for live in batch {
                        prop_assert!(copied.insert((live.uid, live.sequence)), "listed twice: {:?}", live);
                        index.stored(live.uid, live.sequence, at(99, copied.len() as u64));
                    }
                }
                prop_assert_eq!(&copied, &expected);
                prop_assert_eq!(index.live_in(segment), 0);
            }
        }
    }
}
