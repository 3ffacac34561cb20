//! The message log read back at start-up (docs/message-log.md, "Replay at start-up"): the live messages in their
//! latest state with their index, the events SQLite has not applied yet, and where the writer continues.
//!
//! The log on disk is a suffix of the history in which every live message has a record, so replay applies the
//! message events in log order to a map keyed by (queue uid, sequence): a store inserts (a copy made by
//! compaction replaces the older record), an update sets the message's receive count, first receive and state,
//! and a removal, purge or queue deletion takes messages out. An update or removal of a message the map does not
//! hold was about a message stored in a recycled segment, and is ignored. Message events apply whatever their
//! number, since SQLite never holds messages; the other events are kept for SQLite only when they are numbered
//! above what it has already applied.
//!
//! Only one commit record's payload is held at a time beside the results, and stored messages are moved from the
//! decoded events into the map, never copied.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::index::{LatestState, Location, MessageIndex};
use super::record::{RecordError, decode_event_sharing};
use super::segments::{CommitRecord, LogEnd, LogReader, RECORD_HEADER_LEN};
use crate::engine::{QueueEvent, StorageEvent, StoredMessage};

/// Whether SQLite holds what `event` changes: everything except message stores, updates and removals, which live
/// only in the log. (Purges and queue deletions go to both.)
pub(in crate::storage) fn applies_to_sqlite(event: &StorageEvent) -> bool {
    match event {
        StorageEvent::Queue { event, .. } => match event {
            QueueEvent::MessageStored { .. }
            | QueueEvent::MessageUpdated { .. }
            | QueueEvent::MessageRemoved { .. } => false,
            QueueEvent::Purged | QueueEvent::MetadataChanged { .. } | QueueEvent::DeduplicationRecorded { .. } => true,
        },
        StorageEvent::QueueCreated { .. }
        | StorageEvent::QueueRenamed { .. }
        | StorageEvent::QueueDeleted { .. }
        | StorageEvent::MoveTaskChanged { .. }
        | StorageEvent::MoveTasksForgotten { .. } => true,
    }
}

/// The log read back at start-up.
#[derive(Debug)]
pub(in crate::storage) struct Replayed {
    /// Live messages by (queue uid, sequence), in their latest state (stores, then updates applied in log order;
    /// removals, purges and queue deletions applied).
    pub(in crate::storage) messages: BTreeMap<(u64, u64), Box<StoredMessage>>,
    /// The index of the live messages, with the location of each one's stored-message record (record start offset
    /// + [`RECORD_HEADER_LEN`] + the event's offset in the payload, its encoded length).
    pub(in crate::storage) index: MessageIndex,
    /// Events SQLite holds, numbered above `applied_through`, in log order (to be written into SQLite before it is
    /// read).
    pub(in crate::storage) to_apply: Vec<StorageEvent>,
    /// The highest sequence stored per queue over the whole log (raises next_sequence).
    pub(in crate::storage) highest_sequences: BTreeMap<u64, u64>,
    /// Where the writer continues (from [`LogReader::finish`]).
    pub(in crate::storage) end: LogEnd,
    /// The number of the log's last event (0 for an empty log): the event before [`LogEnd::next_event`].
    pub(in crate::storage) last_event: u64,
}

/// Why the log could not be replayed.
#[derive(Debug, thiserror::Error)]
pub(in crate::storage) enum ReplayError {
    /// The log could not be read: an I/O error, or damage the segment reader found (a lost segment, a damaged
    /// record that a later segment vouches for, an unsupported format).
    #[error("cannot read the message log in {}: {source}", dir.display())]
    Read {
        /// The log's directory.
        dir: PathBuf,
        /// What the reader reported.
        #[source]
        source: io::Error,
    },
    /// A commit record whose CRC is valid holds bytes that do not decode as its events: damage, not a torn tail
    /// (this build did not write it, or it was damaged before its CRC was computed).
    #[error(
        "message log in {} damaged: the commit record at offset {offset} of segment {segment} does not decode \
         (event {event}): {source}",
        dir.display()
    )]
    Undecodable {
        /// The log's directory.
        dir: PathBuf,
        /// The segment's number.
        segment: u64,
        /// Where the record starts in the segment's file.
        offset: u64,
        /// The number of the event that does not decode.
        event: u64,
        /// Why it does not decode.
        #[source]
        source: RecordError,
    },
    /// A commit record whose CRC is valid holds bytes after the events its header counts: damage.
    #[error(
        "message log in {} damaged: the commit record at offset {offset} of segment {segment} holds {left} bytes \
         after its {count} events",
        dir.display()
    )]
    TrailingBytes {
        /// The log's directory.
        dir: PathBuf,
        /// The segment's number.
        segment: u64,
        /// Where the record starts in the segment's file.
        offset: u64,
        /// The events the record's header counts.
        count: u32,
        /// The bytes left after them.
        left: usize,
    },
}

/// Reads the log in `dir` (a missing or empty directory is an empty log) up to its end, a torn tail included,
/// applying every message event to the live messages and keeping the events SQLite holds that are numbered above
/// `applied_through`.
///
/// # Errors
/// [`ReplayError::Read`] when the log cannot be read or the segment reader finds damage;
/// [`ReplayError::Undecodable`] or [`ReplayError::TrailingBytes`] when a valid commit record's payload is not the
/// events its header counts.
pub(in crate::storage) fn replay(dir: &Path, applied_through: u64) -> Result<Replayed, ReplayError> {
    let read_error = |source: io::Error| ReplayError::Read { dir: dir.to_path_buf(), source };
    let mut reader = LogReader::open(dir).map_err(read_error)?;
    let mut replaying = Replaying { applied_through, ..Replaying::default() };
    for record in reader.by_ref() {
        let record = record.map_err(read_error)?;
        replaying.record(dir, &record)?;
    }
    let end = reader.finish().map_err(read_error)?;
    let last_event = end.next_event.saturating_sub(1);
    let Replaying { messages, index, to_apply, highest_sequences, .. } = replaying;
    Ok(Replayed { messages, index, to_apply, highest_sequences, end, last_event })
}

/// The results so far, while the records are read.
#[derive(Debug, Default)]
struct Replaying {
    /// See [`Replayed::messages`].
    messages: BTreeMap<(u64, u64), Box<StoredMessage>>,
    /// See [`Replayed::index`].
    index: MessageIndex,
    /// See [`Replayed::to_apply`].
    to_apply: Vec<StorageEvent>,
    /// See [`Replayed::highest_sequences`].
    highest_sequences: BTreeMap<u64, u64>,
    /// The last event SQLite applied.
    applied_through: u64,
    /// The sender id of the last message decoded (see [`decode_event_sharing`]).
    sender: Option<std::sync::Arc<str>>,
}

impl Replaying {
    /// Decodes and applies the events of one commit record of the log in `dir`.
    fn record(&mut self, dir: &Path, record: &CommitRecord) -> Result<(), ReplayError> {
        let (segment, offset) = (record.start.segment, record.start.offset);
        let payload_at = offset + RECORD_HEADER_LEN;
        let total = record.payload.len();
        let mut rest = record.payload.as_slice();
        for index in 0..u64::from(record.count) {
            // The reader checked that the record's event numbers do not overflow.
            let number = record.first_event.saturating_add(index);
            let before = total - rest.len();
            let event = decode_event_sharing(&mut rest, &mut self.sender).map_err(|source| {
                ReplayError::Undecodable { dir: dir.to_path_buf(), segment, offset, event: number, source }
            })?;
            let len = total - rest.len() - before;
            // A payload's length is a `u32` in the record header, so an event's always fits.
            let at =
                Location { segment, offset: payload_at + before as u64, len: u32::try_from(len).unwrap_or(u32::MAX) };
            self.apply(event, number, at);
        }
        if !rest.is_empty() {
            return Err(ReplayError::TrailingBytes {
                dir: dir.to_path_buf(),
                segment,
                offset,
                count: record.count,
                left: rest.len(),
            });
        }
        Ok(())
    }

    /// Applies event `number`, whose bytes are at `at`.
    fn apply(&mut self, event: StorageEvent, number: u64, at: Location) {
        self.index.follow(&event, at);
        match event {
            StorageEvent::Queue { uid, event: QueueEvent::MessageStored { sequence, message } } => {
                let highest = self.highest_sequences.entry(uid).or_insert(sequence);
                *highest = (*highest).max(sequence);
                self.messages.insert((uid, sequence), Box::new(message));
            }
            StorageEvent::Queue {
                uid,
                event: QueueEvent::MessageUpdated { sequence, receive_count, first_received_at, state },
            } => {
                if let Some(message) = self.messages.get_mut(&(uid, sequence)) {
                    LatestState { receive_count, first_received_at, state }.apply_to(message);
                }
            }
            StorageEvent::Queue { uid, event: QueueEvent::MessageRemoved { sequence } } => {
                self.messages.remove(&(uid, sequence));
            }
            event => {
                if let StorageEvent::Queue { uid, event: QueueEvent::Purged } | StorageEvent::QueueDeleted { uid } =
                    &event
                {
                    self.remove_queue(*uid);
                }
                if number > self.applied_through && applies_to_sqlite(&event) {
                    self.to_apply.push(event);
                }
            }
        }
    }

    /// Takes every message of queue `uid` out of the map.
    fn remove_queue(&mut self, uid: u64) {
        let gone: Vec<(u64, u64)> = self.messages.range((uid, 0)..=(uid, u64::MAX)).map(|(key, _)| *key).collect();
        for key in gone {
            self.messages.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::storage::test_events::created;
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use uuid::Uuid;

    use super::*;
    use crate::engine::{Md5Digest, MessageAttributes, MessageExtra, MessageState, Timestamp};
    use crate::storage::log::record::decode_event;
    use crate::storage::log::record::encode_event;
    use crate::storage::log::segments::{LogConfig, Position, SegmentLog};

    /// Segments of a few messages each, so that a short history spans many.
    const SMALL: LogConfig = LogConfig { segment_size: 1024, spare_segments: 2, prepare_segments: false };

    /// The message `sequence` of queue `uid` as sent: visible, never received, its id made of both.
    fn message(uid: u64, sequence: u64) -> StoredMessage {
        let id = uid * 1_000 + sequence;
        let mut message = StoredMessage::new(
            format!("body {id}").as_str().into(),
            Md5Digest([3; 16]),
            MessageAttributes::default(),
            MessageExtra::default(),
            Arc::from("me"),
            Timestamp::from_millis(1),
        );
        message.id = Uuid::from_u128(u128::from(id));
        message
    }

    /// The state of the `count`th receive.
    fn in_flight(count: u32) -> MessageState {
        MessageState::InFlight {
            until: Timestamp::from_millis(1_000 + u64::from(count)),
            received_at: Timestamp::from_millis(u64::from(count)),
        }
    }

    /// `event` of queue `uid`.
    fn queue(uid: u64, event: QueueEvent) -> StorageEvent {
        StorageEvent::Queue { uid, event }
    }

    /// Message `sequence` was sent to queue `uid`.
    fn store(uid: u64, sequence: u64) -> StorageEvent {
        queue(uid, QueueEvent::MessageStored { sequence, message: message(uid, sequence) })
    }

    /// A copy made by compaction: the same message, carrying its `count`th receive.
    fn copy(uid: u64, sequence: u64, count: u32) -> StorageEvent {
        let mut message = message(uid, sequence);
        message.receive_count = count;
        message.set_first_received_at(Some(Timestamp::from_millis(1)));
        message.state = in_flight(count);
        queue(uid, QueueEvent::MessageStored { sequence, message })
    }

    /// Message `sequence` of queue `uid` was received for the `count`th time.
    fn update(uid: u64, sequence: u64, count: u32) -> StorageEvent {
        queue(
            uid,
            QueueEvent::MessageUpdated {
                sequence,
                receive_count: count,
                first_received_at: Some(Timestamp::from_millis(1)),
                state: in_flight(count),
            },
        )
    }

    /// Message `sequence` of queue `uid` was deleted.
    fn remove(uid: u64, sequence: u64) -> StorageEvent {
        queue(uid, QueueEvent::MessageRemoved { sequence })
    }

    /// Queue `uid`'s attributes changed.
    fn metadata(uid: u64) -> StorageEvent {
        queue(
            uid,
            QueueEvent::MetadataChanged {
                attributes: vec![("VisibilityTimeout".to_owned(), "30".to_owned())],
                tags: Vec::new(),
                last_modified_at: Timestamp::from_millis(2),
                last_purge_at: None,
            },
        )
    }

    /// A send of message `sequence` to queue `uid` opened a deduplication window.
    fn deduplication(uid: u64, sequence: u64) -> StorageEvent {
        queue(
            uid,
            QueueEvent::DeduplicationRecorded {
                scope_group: None,
                deduplication_id: format!("d{sequence}"),
                message_id: Uuid::from_u128(u128::from(sequence)).to_string(),
                sequence,
                expires_at: Timestamp::from_millis(300_000),
            },
        )
    }

    /// Stores, updates, removals, purges and a queue deletion over three queues, one commit per inner vector.
    fn history() -> Vec<Vec<StorageEvent>> {
        let mut commits = vec![vec![created(1), created(2), created(3)]];
        for uid in 1..=3 {
            commits.push((1..=4).map(|sequence| store(uid, sequence)).collect());
            commits.push(vec![deduplication(uid, 4)]);
        }
        for sequence in 5..=8 {
            for uid in 1..=3 {
                commits.push(vec![store(uid, sequence)]);
            }
        }
        commits.extend([
            vec![update(1, 2, 1)],
            vec![update(1, 2, 2), update(2, 3, 1)],
            vec![remove(1, 1), remove(2, 5), metadata(1)],
            // A message already removed, and one never stored: ignored.
            vec![update(1, 1, 1), remove(1, 999), update(1, 999, 1)],
            vec![queue(3, QueueEvent::Purged)],
            vec![store(3, 9)],
            vec![copy(1, 4, 3)],
            vec![StorageEvent::QueueDeleted { uid: 2 }],
            vec![update(1, 4, 4)],
            vec![store(1, 9), remove(1, 9)],
        ]);
        commits
    }

    /// Appends `events` as one commit record.
    fn append(log: &mut SegmentLog, events: &[StorageEvent]) -> Position {
        let mut payload = Vec::new();
        for event in events {
            encode_event(event, &mut payload);
        }
        log.append(log.next_event(), u32::try_from(events.len()).unwrap(), &payload).unwrap()
    }

    /// Opens the log in `dir`, appends `commits`, one record each, and syncs them.
    fn write(dir: &Path, commits: &[Vec<StorageEvent>]) -> SegmentLog {
        let end = LogReader::open(dir).unwrap().finish().unwrap();
        let mut log = SegmentLog::open(dir, SMALL, end).unwrap();
        for events in commits {
            append(&mut log, events);
        }
        log.sync().unwrap();
        log
    }

    /// The events of `commits` SQLite must still apply after `applied_through`, as text.
    fn expected_to_apply(commits: &[Vec<StorageEvent>], applied_through: u64) -> Vec<String> {
        (1..)
            .zip(commits.iter().flatten())
            .filter(|(number, event)| *number > applied_through && applies_to_sqlite(event))
            .map(|(_, event)| format!("{event:?}"))
            .collect()
    }

    /// Checks that the index holds exactly the replayed messages and that each location reads back, through the
    /// writer, as the stored-message event of its key.
    fn check_index(log: &SegmentLog, replayed: &mut Replayed) {
        let mut indexed = BTreeSet::new();
        for (segment, _) in log.segments() {
            for live in replayed.index.live_messages_in(segment, usize::MAX) {
                let key = (live.uid, live.sequence);
                assert!(indexed.insert(key), "{key:?} indexed twice");
                let bytes = log.read_at(live.stored.segment, live.stored.offset, live.stored.len as usize).unwrap();
                let mut input = bytes.as_slice();
                let event = decode_event(&mut input).unwrap();
                assert!(input.is_empty(), "{key:?}: the location is longer than its event");
                let StorageEvent::Queue { uid, event: QueueEvent::MessageStored { sequence, message } } = event else {
                    panic!("{key:?}: the location holds {event:?}");
                };
                assert_eq!((uid, sequence), key);
                assert_eq!(Some(message.id), replayed.messages.get(&key).map(|stored| stored.id));
            }
        }
        assert_eq!(indexed, replayed.messages.keys().copied().collect::<BTreeSet<_>>());
        assert_eq!(replayed.index.len(), replayed.messages.len());
    }

    /// A replayed message's key, receive count, first receive and state.
    type Summary = ((u64, u64), u32, Option<Timestamp>, MessageState);

    /// The summaries of the replayed messages, by key.
    fn summary(replayed: &Replayed) -> Vec<Summary> {
        replayed
            .messages
            .iter()
            .map(|(key, message)| (*key, message.receive_count, message.first_received_at(), message.state))
            .collect()
    }

    #[test]
    fn messages_and_index_follow_the_log_across_commits_and_segments() {
        let dir = tempfile::tempdir().unwrap();
        let commits = history();
        let log = write(dir.path(), &commits);
        assert!(log.segments().count() >= 4, "the history spans several segments");

        let mut replayed = replay(dir.path(), 0).unwrap();

        let received = Some(Timestamp::from_millis(1));
        let mut expected = vec![((1, 2), 2, received, in_flight(2))];
        expected.extend([3, 5, 6, 7, 8].map(|sequence| ((1, sequence), 0, None, MessageState::Visible)));
        // The copy replaced the first record, and the update after it applies to it.
        expected.push(((1, 4), 4, received, in_flight(4)));
        expected.push(((3, 9), 0, None, MessageState::Visible));
        expected.sort_by_key(|(key, ..)| *key);
        assert_eq!(summary(&replayed), expected);
        for (&(uid, sequence), message) in &replayed.messages {
            let sent = self::message(uid, sequence);
            assert_eq!((message.id, message.body.as_str()), (sent.id, sent.body.as_str()));
        }
        assert_eq!(replayed.highest_sequences, BTreeMap::from([(1, 9), (2, 8), (3, 9)]));
        let events = commits.iter().map(Vec::len).sum::<usize>() as u64;
        assert_eq!(replayed.last_event, events);
        assert_eq!(replayed.end.next_event, events + 1);
        assert_eq!(replayed.end.position, log.position());

        check_index(&log, &mut replayed);
        let updated =
            replayed.index.live_messages_in(1, usize::MAX).into_iter().find(|live| (live.uid, live.sequence) == (1, 2));
        assert_eq!(updated.and_then(|live| live.latest).map(|latest| latest.receive_count), Some(2));
    }

    #[test]
    fn to_apply_holds_the_sqlite_events_above_applied_through_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let commits = history();
        write(dir.path(), &commits);
        let events = commits.iter().map(Vec::len).sum::<usize>() as u64;

        let everything = replay(dir.path(), 0).unwrap();
        // 2 is inside the first record: its events are numbered one by one.
        for applied_through in [0, 2, 3, 20, events - 1, events, events + 5] {
            let replayed = replay(dir.path(), applied_through).unwrap();
            let to_apply: Vec<String> = replayed.to_apply.iter().map(|event| format!("{event:?}")).collect();
            assert_eq!(to_apply, expected_to_apply(&commits, applied_through), "applied through {applied_through}");
            // Message events apply whatever their number.
            assert_eq!(summary(&replayed), summary(&everything));
            assert_eq!(replayed.highest_sequences, everything.highest_sequences);
        }
        assert_eq!(everything.to_apply.len(), 3 + 3 + 1 + 1 + 1, "creations, windows, metadata, purge, deletion");
    }

    #[test]
    fn updates_and_removals_of_messages_stored_in_recycled_segments_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = write(dir.path(), &[vec![created(1)], vec![store(1, 1)], vec![store(1, 2)]]);
        while log.position().segment < 3 {
            append(&mut log, &[metadata(1)]);
        }
        log.sync().unwrap();
        assert!(log.recycle_oldest().unwrap());
        append(&mut log, &[update(1, 1, 1), remove(1, 2), store(1, 3)]);
        log.sync().unwrap();

        let mut replayed = replay(dir.path(), 0).unwrap();

        assert_eq!(replayed.messages.keys().copied().collect::<Vec<_>>(), vec![(1, 3)]);
        assert_eq!(replayed.highest_sequences, BTreeMap::from([(1, 3)]));
        assert!(replayed.to_apply.iter().all(|event| matches!(event, StorageEvent::Queue { .. })));
        assert_eq!(replayed.end.segments.first().map(|segment| segment.number), Some(2));
        assert_eq!(replayed.last_event, log.next_event() - 1);
        check_index(&log, &mut replayed);
    }

    #[test]
    fn a_torn_tail_ends_the_replay_cleanly() {
        let commits = history();
        let events = commits.iter().map(Vec::len).sum::<usize>() as u64;
        let tail = vec![store(1, 20), metadata(1)];
        let record_len = RECORD_HEADER_LEN
            + {
                let mut payload = Vec::new();
                tail.iter().for_each(|event| encode_event(event, &mut payload));
                payload.len() as u64
            }
            + 4;
        // Cut inside the header, inside the payload, and just before the CRC's last byte; or a flipped byte.
        for damage in [Some(1), Some(RECORD_HEADER_LEN), Some(RECORD_HEADER_LEN + 5), Some(record_len - 1), None] {
            let dir = tempfile::tempdir().unwrap();
            let mut log = write(dir.path(), &commits);
            let at = append(&mut log, &tail);
            log.sync().unwrap();
            let path = dir.path().join(format!("{:020}.seg", at.segment));
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            match damage {
                Some(cut) => file.set_len(at.offset + cut).unwrap(),
                None => {
                    use std::os::unix::fs::FileExt;
                    file.write_all_at(&[0xEE], at.offset + RECORD_HEADER_LEN + 3).unwrap();
                }
            }

            let replayed = replay(dir.path(), 0).unwrap();

            assert!(!replayed.messages.contains_key(&(1, 20)), "{damage:?}");
            assert_eq!(replayed.messages.len(), 8, "{damage:?}");
            assert_eq!(replayed.highest_sequences.get(&1), Some(&9), "{damage:?}");
            assert_eq!(replayed.last_event, events, "{damage:?}");
            assert_eq!(replayed.end.position, at, "{damage:?}");
            assert_eq!(replayed.to_apply.len(), expected_to_apply(&commits, 0).len(), "{damage:?}");
        }
    }

    #[test]
    fn an_empty_directory_gives_an_empty_result() {
        let dir = tempfile::tempdir().unwrap();
        for path in [dir.path().to_path_buf(), dir.path().join("missing")] {
            let replayed = replay(&path, 0).unwrap();
            assert!(replayed.messages.is_empty());
            assert_eq!(replayed.index.len(), 0);
            assert!(replayed.to_apply.is_empty());
            assert!(replayed.highest_sequences.is_empty());
            assert_eq!(replayed.last_event, 0);
            assert_eq!(replayed.end.next_event, 1);
            assert!(replayed.end.segments.is_empty());
        }
    }

    #[test]
    fn a_valid_record_whose_payload_does_not_decode_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = write(dir.path(), &[vec![created(1), store(1, 1)]]);
        let at = log.append(3, 1, &[0xFF; 7]).unwrap();
        log.sync().unwrap();

        let error = replay(dir.path(), 0).unwrap_err();

        let ReplayError::Undecodable { segment, offset, event, source, .. } = &error else {
            panic!("not damage: {error}");
        };
        assert_eq!((*segment, *offset, *event), (at.segment, at.offset, 3));
        assert_eq!(*source, RecordError::UnknownKind(0xFF));
        let text = error.to_string();
        assert!(text.contains(&format!("offset {} of segment {}", at.offset, at.segment)), "{text}");
    }

    #[test]
    fn a_valid_record_with_fewer_or_more_events_than_it_counts_is_damage() {
        let mut payload = Vec::new();
        encode_event(&store(1, 1), &mut payload);

        let dir = tempfile::tempdir().unwrap();
        let mut log = write(dir.path(), &[]);
        let at = log.append(1, 2, &payload).unwrap();
        log.sync().unwrap();
        let error = replay(dir.path(), 0).unwrap_err();
        assert!(
            matches!(error, ReplayError::Undecodable { offset, event: 2, source: RecordError::Truncated { .. }, .. }
                if offset == at.offset),
            "{error}"
        );

        let dir = tempfile::tempdir().unwrap();
        let mut log = write(dir.path(), &[]);
        payload.extend([0, 0, 0]);
        let at = log.append(1, 1, &payload).unwrap();
        log.sync().unwrap();
        let error = replay(dir.path(), 0).unwrap_err();
        assert!(
            matches!(error, ReplayError::TrailingBytes { offset, count: 1, left: 3, .. } if offset == at.offset),
            "{error}"
        );
    }

    #[test]
    fn an_unreadable_directory_is_a_read_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-directory");
        std::fs::write(&file, b"x").unwrap();

        let error = replay(&file, 0).unwrap_err();

        assert!(matches!(&error, ReplayError::Read { dir, .. } if *dir == file), "{error}");
        assert!(error.to_string().contains("not-a-directory"), "{error}");
    }

    #[test]
    fn only_message_stores_updates_and_removals_stay_out_of_sqlite() {
        assert!(!applies_to_sqlite(&store(1, 1)));
        assert!(!applies_to_sqlite(&update(1, 1, 1)));
        assert!(!applies_to_sqlite(&remove(1, 1)));
        for event in [
            created(1),
            StorageEvent::QueueRenamed { uid: 1, name: "n".to_owned() },
            StorageEvent::QueueDeleted { uid: 1 },
            StorageEvent::MoveTasksForgotten { source_arn: "arn".to_owned() },
            queue(1, QueueEvent::Purged),
            metadata(1),
            deduplication(1, 1),
        ] {
            assert!(applies_to_sqlite(&event), "{event:?}");
        }
    }
}
