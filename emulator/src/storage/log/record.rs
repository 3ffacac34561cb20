//! Binary encoding of one [`StorageEvent`] for the message log (docs/message-log.md): a commit record's payload
//! is its events written back to back by [`encode_event`] and read back one at a time by [`decode_event`].
//!
//! There is no version byte: the segment header names the format version. Decoding checks every length against
//! the bytes left and every kind byte, presence flag and string, so a damaged or foreign record is a
//! [`RecordError`], never a panic, and never an allocation sized by a damaged count.
//!
//! # Format
//!
//! | Notation | Bytes                                                |
//! |----------|------------------------------------------------------|
//! | `u8`     | one byte                                             |
//! | `u32`    | four bytes, little-endian                            |
//! | `u64`    | eight bytes, little-endian                           |
//! | `time`   | `u64`: milliseconds since the Unix epoch             |
//! | `str`    | `u32` byte length, then that many bytes of UTF-8     |
//! | `bytes`  | `u32` byte length, then that many bytes              |
//! | `opt T`  | `u8` 0 (absent), or `u8` 1 followed by `T`           |
//! | `pairs`  | `u32` count, then per pair: name `str`, value `str`  |
//!
//! Every event starts with its kind byte (0 is never a kind, so zeroed bytes are not an event); a queue event
//! follows its queue's uid with a kind byte of its own:
//!
//! | Kind | Event                   | Fields, in order                                                        |
//! |------|-------------------------|-------------------------------------------------------------------------|
//! | 1    | `QueueCreated`          | uid `u64`, name `str`, attributes `pairs`, tags `pairs`, created_at `time` |
//! | 2    | `QueueRenamed`          | uid `u64`, name `str`                                                   |
//! | 3    | `QueueDeleted`          | uid `u64`                                                               |
//! | 4    | `MoveTaskChanged`       | handle `str`, task                                                      |
//! | 5    | `MoveTasksForgotten`    | source_arn `str`                                                        |
//! | 6    | `Queue`                 | uid `u64`, queue-event kind `u8`, the queue event's fields (below)     |
//! | 6, 1 | `MessageStored`         | sequence `u64`, message                                                 |
//! | 6, 2 | `MessageUpdated`        | sequence `u64`, receive_count `u32`, first_received_at `opt time`, state |
//! | 6, 3 | `MessageRemoved`        | sequence `u64`                                                          |
//! | 6, 4 | `Purged`                | (none)                                                                  |
//! | 6, 5 | `MetadataChanged`       | attributes `pairs`, tags `pairs`, last_modified_at `time`,              |
//! |      |                         | last_purge_at `opt time`                                                |
//! | 6, 6 | `DeduplicationRecorded` | scope_group `opt str`, deduplication_id `str`, message_id `str`,        |
//! |      |                         | sequence `u64`, expires_at `time`                                       |
//!
//! The nested values, fields in order:
//!
//! | Value     | Bytes                                                                                 |
//! |-----------|---------------------------------------------------------------------------------------|
//! | message   | id: 16 bytes (the UUID's), md5_of_body: 16 bytes, sent_at `time`,                     |
//! |           | retention_start `time`, first_received_at `opt time`, receive_count `u32`, state,     |
//! |           | sender_id `str`, body `str`, extra `opt` extra, attributes: `u32` count, attribute... |
//! | extra     | trace_header `opt str`, group_id `opt str`, deduplication_id `opt str`,               |
//! |           | dead_letter_source_arn `opt str`                                                      |
//! | attribute | name `str`, data_type `str`, then `u8` 1 and a text `str`, or `u8` 2 and a binary `bytes` |
//! | state     | `u8` 0: visible; 1: delayed, until `time`; 2: in flight, until `time`, received_at `time` |
//! | task      | task_handle `opt str`, status `u8` (0 running, 1 cancelling, 2 cancelled, 3 completed, |
//! |           | 4 failed), source_arn `str`, destination_arn `opt str`,                               |
//! |           | max_number_of_messages_per_second `opt u64`, approximate_number_of_messages_moved     |
//! |           | `u64`, approximate_number_of_messages_to_move `u64`, failure_reason `opt str`,        |
//! |           | started_timestamp `time`                                                              |
//!
//! State codes are those of SQLite's `state` column, attribute value codes those of `storage::codec` (and of
//! the attribute MD5). An extra that is present but empty stays present.
//!
//! Two things of a [`StoredMessage`] are not written, as in SQLite (`storage/sqlite/load.rs`): the MD5 of its
//! attributes, which [`StoredMessage::new`] computes again from the attributes, and its epoch, the engine's
//! bookkeeping of stale timers, which starts again at zero.
//!
//! Lengths and counts are `u32`: nothing the engine holds comes near 4 GiB (a message is at most a few MiB). A
//! longer string would be cut to its first 4 GiB − 1 bytes, so the record stays well-formed.

use std::sync::Arc;

use uuid::Uuid;

use crate::engine::{
    AttributeValue, Md5Digest, MessageAttribute, MessageAttributes, MessageBody, MessageExtra, MessageState,
    MoveTaskInfo, MoveTaskStatus, QueueEvent, StorageEvent, StoredMessage, Timestamp,
};
use crate::storage::shared_sender;

/// Kind byte of [`StorageEvent::QueueCreated`].
const EVENT_QUEUE_CREATED: u8 = 1;
/// Kind byte of [`StorageEvent::QueueRenamed`].
const EVENT_QUEUE_RENAMED: u8 = 2;
/// Kind byte of [`StorageEvent::QueueDeleted`].
const EVENT_QUEUE_DELETED: u8 = 3;
/// Kind byte of [`StorageEvent::MoveTaskChanged`].
const EVENT_MOVE_TASK_CHANGED: u8 = 4;
/// Kind byte of [`StorageEvent::MoveTasksForgotten`].
const EVENT_MOVE_TASKS_FORGOTTEN: u8 = 5;
/// Kind byte of [`StorageEvent::Queue`] (a queue-event kind byte follows the uid).
const EVENT_QUEUE: u8 = 6;

/// Kind byte of [`QueueEvent::MessageStored`].
const QUEUE_MESSAGE_STORED: u8 = 1;
/// Kind byte of [`QueueEvent::MessageUpdated`].
const QUEUE_MESSAGE_UPDATED: u8 = 2;
/// Kind byte of [`QueueEvent::MessageRemoved`].
const QUEUE_MESSAGE_REMOVED: u8 = 3;
/// Kind byte of [`QueueEvent::Purged`].
const QUEUE_PURGED: u8 = 4;
/// Kind byte of [`QueueEvent::MetadataChanged`].
const QUEUE_METADATA_CHANGED: u8 = 5;
/// Kind byte of [`QueueEvent::DeduplicationRecorded`].
const QUEUE_DEDUPLICATION_RECORDED: u8 = 6;

/// Code of [`MessageState::Visible`] (the codes of SQLite's `state` column).
const STATE_VISIBLE: u8 = 0;
/// Code of [`MessageState::Delayed`].
const STATE_DELAYED: u8 = 1;
/// Code of [`MessageState::InFlight`].
const STATE_IN_FLIGHT: u8 = 2;

/// Code of an [`AttributeValue::String`] (the codes of `storage::codec` and of the attribute MD5).
const VALUE_TEXT: u8 = 1;
/// Code of an [`AttributeValue::Binary`].
const VALUE_BINARY: u8 = 2;

/// Bytes of a kind byte, code or presence flag.
const U8_LEN: usize = 1;
/// Bytes of a `u32` (also of every length prefix and count).
const U32_LEN: usize = 4;
/// Bytes of a `u64` or a timestamp.
const U64_LEN: usize = 8;
/// Bytes of a UUID or an MD5 digest.
const DIGEST_LEN: usize = 16;
/// The fewest bytes a name–value pair takes (two empty strings), to bound what a count may reserve.
const MIN_PAIR_LEN: usize = 2 * U32_LEN;
/// The fewest bytes a message attribute takes (empty name, type and value), to bound what a count may reserve.
const MIN_ATTRIBUTE_LEN: usize = 3 * U32_LEN + U8_LEN;

/// Why bytes could not be decoded as an event: the record is damaged or was not written by this format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(in crate::storage) enum RecordError {
    /// The bytes end before a field does.
    #[error("record truncated: {field} needs {needed} bytes, only {left} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// The bytes it needs.
        needed: usize,
        /// The bytes left.
        left: usize,
    },
    /// The event kind byte is not one this format defines.
    #[error("unknown event kind {0}")]
    UnknownKind(u8),
    /// A nested kind or code (queue event, message state, attribute value, move task status) is unknown.
    #[error("unknown {field} code {code}")]
    UnknownCode {
        /// What the code selects.
        field: &'static str,
        /// The code read.
        code: u8,
    },
    /// An optional field's presence flag is neither 0 nor 1.
    #[error("presence flag of {field} is {flag}, not 0 or 1")]
    InvalidPresence {
        /// The optional field.
        field: &'static str,
        /// The flag read.
        flag: u8,
    },
    /// A string field holds bytes that are not UTF-8.
    #[error("{field} is not valid UTF-8")]
    InvalidUtf8 {
        /// The field.
        field: &'static str,
    },
}

/// Appends the encoding of `event` to `out` (the format is in the module documentation). It reserves the
/// event's exact length once and allocates nothing else.
pub(in crate::storage) fn encode_event(event: &StorageEvent, out: &mut Vec<u8>) {
    out.reserve(encoded_len(event));
    match event {
        StorageEvent::QueueCreated { uid, name, attributes, tags, created_at } => {
            out.push(EVENT_QUEUE_CREATED);
            put_u64(out, *uid);
            put_str(out, name);
            put_pairs(out, attributes);
            put_pairs(out, tags);
            put_time(out, *created_at);
        }
        StorageEvent::QueueRenamed { uid, name } => {
            out.push(EVENT_QUEUE_RENAMED);
            put_u64(out, *uid);
            put_str(out, name);
        }
        StorageEvent::QueueDeleted { uid } => {
            out.push(EVENT_QUEUE_DELETED);
            put_u64(out, *uid);
        }
        StorageEvent::MoveTaskChanged { handle, info } => {
            out.push(EVENT_MOVE_TASK_CHANGED);
            put_str(out, handle);
            put_move_task(out, info);
        }
        StorageEvent::MoveTasksForgotten { source_arn } => {
            out.push(EVENT_MOVE_TASKS_FORGOTTEN);
            put_str(out, source_arn);
        }
        StorageEvent::Queue { uid, event } => {
            out.push(EVENT_QUEUE);
            put_u64(out, *uid);
            put_queue_event(out, event);
        }
    }
}

/// Decodes one event from the front of `input` and advances `input` past it. On an error `input` is left as it
/// was.
///
/// # Errors
/// [`RecordError`] when the bytes do not hold a whole, well-formed event.
pub(in crate::storage) fn decode_event(input: &mut &[u8]) -> Result<StorageEvent, RecordError> {
    decode_event_sharing(input, &mut None)
}

/// [`decode_event`], reusing `sender` (the sender id of the last message decoded) for a message with the same
/// one and keeping the new one otherwise: most messages share their sender, so a replay of millions keeps one
/// copy, as the engine and the SQLite loader do.
///
/// # Errors
/// As [`decode_event`].
pub(in crate::storage) fn decode_event_sharing(
    input: &mut &[u8],
    sender: &mut Option<Arc<str>>,
) -> Result<StorageEvent, RecordError> {
    let mut reader = Reader { rest: input, sender: sender.take() };
    let event = reader.event();
    *sender = reader.sender.take();
    let event = event?;
    *input = reader.rest;
    Ok(event)
}

/// The exact number of bytes [`encode_event`] writes for `event`.
fn encoded_len(event: &StorageEvent) -> usize {
    U8_LEN
        + match event {
            StorageEvent::QueueCreated { name, attributes, tags, .. } => {
                U64_LEN + str_len(name) + pairs_len(attributes) + pairs_len(tags) + U64_LEN
            }
            StorageEvent::QueueRenamed { name, .. } => U64_LEN + str_len(name),
            StorageEvent::QueueDeleted { .. } => U64_LEN,
            StorageEvent::MoveTaskChanged { handle, info } => str_len(handle) + move_task_len(info),
            StorageEvent::MoveTasksForgotten { source_arn } => str_len(source_arn),
            StorageEvent::Queue { event, .. } => U64_LEN + queue_event_len(event),
        }
}

/// The bytes of a queue event, its kind byte included.
fn queue_event_len(event: &QueueEvent) -> usize {
    U8_LEN
        + match event {
            QueueEvent::MessageStored { message, .. } => U64_LEN + message_len(message),
            QueueEvent::MessageUpdated { first_received_at, state, .. } => {
                U64_LEN + U32_LEN + optional_len(first_received_at.as_ref(), |_| U64_LEN) + state_len(*state)
            }
            QueueEvent::MessageRemoved { .. } => U64_LEN,
            QueueEvent::Purged => 0,
            QueueEvent::MetadataChanged { attributes, tags, last_purge_at, .. } => {
                pairs_len(attributes) + pairs_len(tags) + U64_LEN + optional_len(last_purge_at.as_ref(), |_| U64_LEN)
            }
            QueueEvent::DeduplicationRecorded { scope_group, deduplication_id, message_id, .. } => {
                optional_str_len(scope_group.as_deref())
                    + str_len(deduplication_id)
                    + str_len(message_id)
                    + U64_LEN
                    + U64_LEN
            }
        }
}

/// The bytes of a stored message.
fn message_len(message: &StoredMessage) -> usize {
    let extra_len = optional_len(message.extra.as_deref(), |extra| {
        optional_str_len(extra.trace_header.as_deref())
            + optional_str_len(extra.group_id.as_deref())
            + optional_str_len(extra.deduplication_id.as_deref())
            + optional_str_len(extra.dead_letter_source_arn.as_deref())
    });
    let attributes_len = message.attributes().map_or(0, |attributes| {
        attributes
            .iter()
            .take(u32::MAX as usize)
            .map(|(name, attribute)| {
                let value_len = match &attribute.value {
                    AttributeValue::String(text) => str_len(text),
                    AttributeValue::Binary(bytes) => bytes_len(bytes),
                };
                str_len(name) + str_len(&attribute.data_type) + U8_LEN + value_len
            })
            .sum()
    });
    DIGEST_LEN
        + DIGEST_LEN
        + U64_LEN
        + U64_LEN
        + optional_len(message.first_received_at().as_ref(), |_| U64_LEN)
        + U32_LEN
        + state_len(message.state)
        + str_len(&message.sender_id)
        + str_len(&message.body)
        + extra_len
        + U32_LEN
        + attributes_len
}

/// The bytes of a move task's state.
fn move_task_len(info: &MoveTaskInfo) -> usize {
    optional_str_len(info.task_handle.as_deref())
        + U8_LEN
        + str_len(&info.source_arn)
        + optional_str_len(info.destination_arn.as_deref())
        + optional_len(info.max_number_of_messages_per_second.as_ref(), |_| U64_LEN)
        + U64_LEN
        + U64_LEN
        + optional_str_len(info.failure_reason.as_deref())
        + U64_LEN
}

/// The bytes of a message state, its code included.
fn state_len(state: MessageState) -> usize {
    U8_LEN
        + match state {
            MessageState::Visible => 0,
            MessageState::Delayed { .. } => U64_LEN,
            MessageState::InFlight { .. } => 2 * U64_LEN,
        }
}

/// The bytes of an optional value: its presence flag and, when present, `value_len` of it.
fn optional_len<T>(value: Option<&T>, value_len: impl FnOnce(&T) -> usize) -> usize
where
    T: ?Sized,
{
    U8_LEN + value.map_or(0, value_len)
}

/// The bytes of an optional string.
fn optional_str_len(text: Option<&str>) -> usize {
    optional_len(text, str_len)
}

/// The bytes of a string: its length prefix and the bytes it covers.
fn str_len(text: &str) -> usize {
    bytes_len(text.as_bytes())
}

/// The bytes of a byte string: its length prefix and the bytes it covers.
fn bytes_len(bytes: &[u8]) -> usize {
    U32_LEN + covered(bytes).1.len()
}

/// The bytes of name–value pairs: their count and each pair.
fn pairs_len(pairs: &[(String, String)]) -> usize {
    U32_LEN + pairs.iter().take(u32::MAX as usize).map(|(name, value)| str_len(name) + str_len(value)).sum::<usize>()
}

/// A byte string's length prefix and the bytes it covers: all of them, unless there are 4 GiB or more.
fn covered(bytes: &[u8]) -> (u32, &[u8]) {
    match u32::try_from(bytes.len()) {
        Ok(len) => (len, bytes),
        Err(_) => (u32::MAX, bytes.get(..u32::MAX as usize).unwrap_or(bytes)),
    }
}

/// A count as written (at most `u32::MAX`; the writer writes no more items than that).
fn count(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Writes a queue event, its kind byte first.
fn put_queue_event(out: &mut Vec<u8>, event: &QueueEvent) {
    match event {
        QueueEvent::MessageStored { sequence, message } => {
            out.push(QUEUE_MESSAGE_STORED);
            put_u64(out, *sequence);
            put_message(out, message);
        }
        QueueEvent::MessageUpdated { sequence, receive_count, first_received_at, state } => {
            out.push(QUEUE_MESSAGE_UPDATED);
            put_u64(out, *sequence);
            put_u32(out, *receive_count);
            put_optional_time(out, *first_received_at);
            put_state(out, *state);
        }
        QueueEvent::MessageRemoved { sequence } => {
            out.push(QUEUE_MESSAGE_REMOVED);
            put_u64(out, *sequence);
        }
        QueueEvent::Purged => out.push(QUEUE_PURGED),
        QueueEvent::MetadataChanged { attributes, tags, last_modified_at, last_purge_at } => {
            out.push(QUEUE_METADATA_CHANGED);
            put_pairs(out, attributes);
            put_pairs(out, tags);
            put_time(out, *last_modified_at);
            put_optional_time(out, *last_purge_at);
        }
        QueueEvent::DeduplicationRecorded { scope_group, deduplication_id, message_id, sequence, expires_at } => {
            out.push(QUEUE_DEDUPLICATION_RECORDED);
            put_optional_str(out, scope_group.as_deref());
            put_str(out, deduplication_id);
            put_str(out, message_id);
            put_u64(out, *sequence);
            put_time(out, *expires_at);
        }
    }
}

/// Writes a stored message.
fn put_message(out: &mut Vec<u8>, message: &StoredMessage) {
    out.extend_from_slice(message.id.as_bytes());
    out.extend_from_slice(&message.md5_of_body.0);
    put_time(out, message.sent_at);
    put_time(out, message.retention_start);
    put_optional_time(out, message.first_received_at());
    put_u32(out, message.receive_count);
    put_state(out, message.state);
    put_str(out, &message.sender_id);
    put_str(out, &message.body);
    match message.extra.as_deref() {
        None => out.push(0),
        Some(extra) => {
            out.push(1);
            put_optional_str(out, extra.trace_header.as_deref());
            put_optional_str(out, extra.group_id.as_deref());
            put_optional_str(out, extra.deduplication_id.as_deref());
            put_optional_str(out, extra.dead_letter_source_arn.as_deref());
        }
    }
    match message.attributes() {
        None => put_u32(out, 0),
        Some(attributes) => {
            put_u32(out, count(attributes.iter().count()));
            for (name, attribute) in attributes.iter().take(u32::MAX as usize) {
                put_str(out, name);
                put_str(out, &attribute.data_type);
                match &attribute.value {
                    AttributeValue::String(text) => {
                        out.push(VALUE_TEXT);
                        put_str(out, text);
                    }
                    AttributeValue::Binary(bytes) => {
                        out.push(VALUE_BINARY);
                        put_bytes(out, bytes);
                    }
                }
            }
        }
    }
}

/// Writes a move task's state.
fn put_move_task(out: &mut Vec<u8>, info: &MoveTaskInfo) {
    put_optional_str(out, info.task_handle.as_deref());
    out.push(status_code(info.status));
    put_str(out, &info.source_arn);
    put_optional_str(out, info.destination_arn.as_deref());
    match info.max_number_of_messages_per_second {
        None => out.push(0),
        Some(rate) => {
            out.push(1);
            put_u64(out, rate);
        }
    }
    put_u64(out, info.approximate_number_of_messages_moved);
    put_u64(out, info.approximate_number_of_messages_to_move);
    put_optional_str(out, info.failure_reason.as_deref());
    put_time(out, info.started_timestamp);
}

/// The byte a move task status is written as.
fn status_code(status: MoveTaskStatus) -> u8 {
    match status {
        MoveTaskStatus::Running => 0,
        MoveTaskStatus::Cancelling => 1,
        MoveTaskStatus::Cancelled => 2,
        MoveTaskStatus::Completed => 3,
        MoveTaskStatus::Failed => 4,
    }
}

/// Writes a message state: its code, then its deadlines.
fn put_state(out: &mut Vec<u8>, state: MessageState) {
    match state {
        MessageState::Visible => out.push(STATE_VISIBLE),
        MessageState::Delayed { until } => {
            out.push(STATE_DELAYED);
            put_time(out, until);
        }
        MessageState::InFlight { until, received_at } => {
            out.push(STATE_IN_FLIGHT);
            put_time(out, until);
            put_time(out, received_at);
        }
    }
}

/// Writes name–value pairs: their count, then each name and value.
fn put_pairs(out: &mut Vec<u8>, pairs: &[(String, String)]) {
    put_u32(out, count(pairs.len()));
    for (name, value) in pairs.iter().take(u32::MAX as usize) {
        put_str(out, name);
        put_str(out, value);
    }
}

/// Writes an optional string: its presence flag, then the string if present.
fn put_optional_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => out.push(0),
        Some(text) => {
            out.push(1);
            put_str(out, text);
        }
    }
}

/// Writes an optional timestamp: its presence flag, then the timestamp if present.
fn put_optional_time(out: &mut Vec<u8>, at: Option<Timestamp>) {
    match at {
        None => out.push(0),
        Some(at) => {
            out.push(1);
            put_time(out, at);
        }
    }
}

/// Writes a string: its byte length, then its bytes.
fn put_str(out: &mut Vec<u8>, text: &str) {
    put_bytes(out, text.as_bytes());
}

/// Writes a byte string: its length, then its bytes.
fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let (len, bytes) = covered(bytes);
    put_u32(out, len);
    out.extend_from_slice(bytes);
}

/// Writes a timestamp as its milliseconds.
fn put_time(out: &mut Vec<u8>, at: Timestamp) {
    put_u64(out, at.as_millis());
}

/// Writes a little-endian `u32`.
fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Writes a little-endian `u64`.
fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Reads fields from the front of the bytes not yet decoded; every read checks what is left.
struct Reader<'a> {
    /// The bytes not yet decoded.
    rest: &'a [u8],
    /// The sender id of the last message decoded, shared with the next one that has the same.
    sender: Option<Arc<str>>,
}

impl<'a> Reader<'a> {
    /// Reads one event.
    fn event(&mut self) -> Result<StorageEvent, RecordError> {
        // Struct fields are evaluated in the order written, which is the order of the format.
        Ok(match self.u8("event kind")? {
            EVENT_QUEUE_CREATED => StorageEvent::QueueCreated {
                uid: self.u64("queue uid")?,
                name: self.string("queue name")?,
                attributes: self.pairs("queue attributes")?,
                tags: self.pairs("queue tags")?,
                created_at: self.time("queue created_at")?,
            },
            EVENT_QUEUE_RENAMED => {
                StorageEvent::QueueRenamed { uid: self.u64("queue uid")?, name: self.string("queue name")? }
            }
            EVENT_QUEUE_DELETED => StorageEvent::QueueDeleted { uid: self.u64("queue uid")? },
            EVENT_MOVE_TASK_CHANGED => {
                StorageEvent::MoveTaskChanged { handle: self.string("move task handle")?, info: self.move_task()? }
            }
            EVENT_MOVE_TASKS_FORGOTTEN => {
                StorageEvent::MoveTasksForgotten { source_arn: self.string("forgotten move tasks' source ARN")? }
            }
            EVENT_QUEUE => StorageEvent::Queue { uid: self.u64("queue uid")?, event: self.queue_event()? },
            kind => return Err(RecordError::UnknownKind(kind)),
        })
    }

    /// Reads a queue event, its kind byte first.
    fn queue_event(&mut self) -> Result<QueueEvent, RecordError> {
        Ok(match self.u8("queue event kind")? {
            QUEUE_MESSAGE_STORED => {
                QueueEvent::MessageStored { sequence: self.u64("message sequence")?, message: self.message()? }
            }
            QUEUE_MESSAGE_UPDATED => QueueEvent::MessageUpdated {
                sequence: self.u64("message sequence")?,
                receive_count: self.u32("receive count")?,
                first_received_at: self.optional("first_received_at", |reader| reader.time("first_received_at"))?,
                state: self.state()?,
            },
            QUEUE_MESSAGE_REMOVED => QueueEvent::MessageRemoved { sequence: self.u64("message sequence")? },
            QUEUE_PURGED => QueueEvent::Purged,
            QUEUE_METADATA_CHANGED => QueueEvent::MetadataChanged {
                attributes: self.pairs("queue attributes")?,
                tags: self.pairs("queue tags")?,
                last_modified_at: self.time("last_modified_at")?,
                last_purge_at: self.optional("last_purge_at", |reader| reader.time("last_purge_at"))?,
            },
            QUEUE_DEDUPLICATION_RECORDED => QueueEvent::DeduplicationRecorded {
                scope_group: self.optional_string("deduplication scope group")?,
                deduplication_id: self.string("deduplication id")?,
                message_id: self.string("deduplicated message id")?,
                sequence: self.u64("deduplicated message sequence")?,
                expires_at: self.time("deduplication expires_at")?,
            },
            code => return Err(RecordError::UnknownCode { field: "queue event kind", code }),
        })
    }

    /// Reads a stored message and rebuilds it as `storage/sqlite/load.rs` does.
    fn message(&mut self) -> Result<StoredMessage, RecordError> {
        let id = Uuid::from_bytes(self.array("message id")?);
        let md5_of_body = Md5Digest(self.array("body MD5")?);
        let sent_at = self.time("sent_at")?;
        let retention_start = self.time("retention_start")?;
        let first_received_at = self.optional("first_received_at", |reader| reader.time("first_received_at"))?;
        let receive_count = self.u32("receive count")?;
        let state = self.state()?;
        let sender_text = self.str("sender id")?;
        let sender_id = shared_sender(&mut self.sender, sender_text);
        let body = MessageBody::new(self.string("message body")?);
        let extra = self.optional("message extra", Self::extra)?;
        let attributes = self.message_attributes()?;
        let mut message =
            StoredMessage::new(body, md5_of_body, attributes, MessageExtra::default(), sender_id, sent_at);
        message.id = id;
        message.retention_start = retention_start;
        message.set_first_received_at(first_received_at);
        message.receive_count = receive_count;
        message.state = state;
        // Set directly, so that an empty extra that was present stays present.
        message.extra = extra.map(Box::new);
        Ok(message)
    }

    /// Reads a message's rarely present metadata.
    fn extra(&mut self) -> Result<MessageExtra, RecordError> {
        Ok(MessageExtra {
            trace_header: self.optional_string("trace header")?,
            group_id: self.optional_string("message group id")?,
            deduplication_id: self.optional_string("message deduplication id")?,
            dead_letter_source_arn: self.optional_string("dead-letter source ARN")?,
        })
    }

    /// Reads a message's attributes: their count, then each attribute.
    fn message_attributes(&mut self) -> Result<MessageAttributes, RecordError> {
        let count = self.count("message attribute count", MIN_ATTRIBUTE_LEN)?;
        if count == 0 {
            return Ok(MessageAttributes::default());
        }
        let mut attributes = Vec::with_capacity(count);
        for _ in 0..count {
            let name = self.string("message attribute name")?;
            let data_type = self.string("message attribute data type")?;
            let value = match self.u8("message attribute value kind")? {
                VALUE_TEXT => AttributeValue::String(self.string("message attribute text value")?),
                VALUE_BINARY => AttributeValue::Binary(self.bytes("message attribute binary value")?.to_vec()),
                code => return Err(RecordError::UnknownCode { field: "message attribute value kind", code }),
            };
            attributes.push((name, MessageAttribute { data_type, value }));
        }
        Ok(MessageAttributes::from_valid(attributes))
    }

    /// Reads a move task's state.
    fn move_task(&mut self) -> Result<MoveTaskInfo, RecordError> {
        Ok(MoveTaskInfo {
            task_handle: self.optional_string("move task's task handle")?,
            status: match self.u8("move task status")? {
                0 => MoveTaskStatus::Running,
                1 => MoveTaskStatus::Cancelling,
                2 => MoveTaskStatus::Cancelled,
                3 => MoveTaskStatus::Completed,
                4 => MoveTaskStatus::Failed,
                code => return Err(RecordError::UnknownCode { field: "move task status", code }),
            },
            source_arn: self.string("move task source ARN")?,
            destination_arn: self.optional_string("move task destination ARN")?,
            max_number_of_messages_per_second: self
                .optional("move task rate", |reader| reader.u64("move task rate"))?,
            approximate_number_of_messages_moved: self.u64("messages moved")?,
            approximate_number_of_messages_to_move: self.u64("messages to move")?,
            failure_reason: self.optional_string("move task failure reason")?,
            started_timestamp: self.time("move task started_timestamp")?,
        })
    }

    /// Reads a message state: its code, then its deadlines.
    fn state(&mut self) -> Result<MessageState, RecordError> {
        Ok(match self.u8("message state")? {
            STATE_VISIBLE => MessageState::Visible,
            STATE_DELAYED => MessageState::Delayed { until: self.time("delayed until")? },
            STATE_IN_FLIGHT => MessageState::InFlight {
                until: self.time("in flight until")?,
                received_at: self.time("in flight received_at")?,
            },
            code => return Err(RecordError::UnknownCode { field: "message state", code }),
        })
    }

    /// Reads name–value pairs: their count, then each pair.
    fn pairs(&mut self, field: &'static str) -> Result<Vec<(String, String)>, RecordError> {
        let count = self.count(field, MIN_PAIR_LEN)?;
        let mut pairs = Vec::with_capacity(count);
        for _ in 0..count {
            pairs.push((self.string(field)?, self.string(field)?));
        }
        Ok(pairs)
    }

    /// Reads a count of items that take at least `min_item_len` bytes each, checked against the bytes left, so
    /// that a damaged count never sizes an allocation.
    fn count(&mut self, field: &'static str, min_item_len: usize) -> Result<usize, RecordError> {
        let count = usize::try_from(self.u32(field)?).unwrap_or(usize::MAX);
        // A count the bytes left cannot hold is damage: report it now rather than after reading what there is.
        let needed = count.saturating_mul(min_item_len);
        if needed > self.rest.len() {
            return Err(RecordError::Truncated { field, needed, left: self.rest.len() });
        }
        Ok(count)
    }

    /// Reads an optional value: its presence flag, then the value with `read` if present.
    fn optional<T>(
        &mut self,
        field: &'static str,
        read: impl FnOnce(&mut Self) -> Result<T, RecordError>,
    ) -> Result<Option<T>, RecordError> {
        match self.u8(field)? {
            0 => Ok(None),
            1 => read(self).map(Some),
            flag => Err(RecordError::InvalidPresence { field, flag }),
        }
    }

    /// Reads an optional string.
    fn optional_string(&mut self, field: &'static str) -> Result<Option<String>, RecordError> {
        self.optional(field, |reader| reader.string(field))
    }

    /// Reads a string into an owned `String` (its one allocation).
    fn string(&mut self, field: &'static str) -> Result<String, RecordError> {
        self.str(field).map(str::to_owned)
    }

    /// Reads a string, borrowed from the input.
    fn str(&mut self, field: &'static str) -> Result<&'a str, RecordError> {
        std::str::from_utf8(self.bytes(field)?).map_err(|_| RecordError::InvalidUtf8 { field })
    }

    /// Reads a byte string, borrowed from the input.
    fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], RecordError> {
        let len = usize::try_from(self.u32(field)?).unwrap_or(usize::MAX);
        self.take(len, field)
    }

    /// Reads a timestamp.
    fn time(&mut self, field: &'static str) -> Result<Timestamp, RecordError> {
        self.u64(field).map(Timestamp::from_millis)
    }

    /// Reads a little-endian `u64`.
    fn u64(&mut self, field: &'static str) -> Result<u64, RecordError> {
        self.array(field).map(u64::from_le_bytes)
    }

    /// Reads a little-endian `u32`.
    fn u32(&mut self, field: &'static str) -> Result<u32, RecordError> {
        self.array(field).map(u32::from_le_bytes)
    }

    /// Reads one byte.
    fn u8(&mut self, field: &'static str) -> Result<u8, RecordError> {
        self.array(field).map(|[byte]| byte)
    }

    /// Reads `N` bytes.
    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], RecordError> {
        let (array, rest) = self.rest.split_first_chunk::<N>().ok_or(RecordError::Truncated {
            field,
            needed: N,
            left: self.rest.len(),
        })?;
        self.rest = rest;
        Ok(*array)
    }

    /// Reads `len` bytes.
    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], RecordError> {
        let (taken, rest) = self.rest.split_at_checked(len).ok_or(RecordError::Truncated {
            field,
            needed: len,
            left: self.rest.len(),
        })?;
        self.rest = rest;
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    /// Strings of any characters (multi-byte ones included), empty more often than chance would make them.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![1 => Just(String::new()), 4 => vec(any::<char>(), 1..12).prop_map(String::from_iter)]
    }

    /// Optional strings: absent, empty and non-empty.
    fn optional_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(text())
    }

    /// Timestamps, the extremes included.
    fn time() -> impl Strategy<Value = Timestamp> {
        prop_oneof![Just(0), Just(u64::MAX), any::<u64>()].prop_map(Timestamp::from_millis)
    }

    /// Name–value pairs (queue attributes and tags).
    fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
        vec((text(), text()), 0..4)
    }

    /// Every message state.
    fn state() -> BoxedStrategy<MessageState> {
        prop_oneof![
            Just(MessageState::Visible),
            time().prop_map(|until| MessageState::Delayed { until }),
            (time(), time()).prop_map(|(until, received_at)| MessageState::InFlight { until, received_at }),
        ]
        .boxed()
    }

    /// Message attributes of both value kinds (names may repeat: storage keeps what the engine had).
    fn message_attributes() -> BoxedStrategy<MessageAttributes> {
        let value = prop_oneof![
            text().prop_map(AttributeValue::String),
            vec(any::<u8>(), 0..16).prop_map(AttributeValue::Binary),
        ];
        vec((text(), text(), value), 0..4)
            .prop_map(|attributes| {
                MessageAttributes::from_valid(
                    attributes
                        .into_iter()
                        .map(|(name, data_type, value)| (name, MessageAttribute { data_type, value }))
                        .collect(),
                )
            })
            .boxed()
    }

    /// Message metadata, absent or present (present and empty included).
    fn extra() -> BoxedStrategy<Option<MessageExtra>> {
        proptest::option::of((optional_text(), optional_text(), optional_text(), optional_text()).prop_map(
            |(trace_header, group_id, deduplication_id, dead_letter_source_arn)| MessageExtra {
                trace_header,
                group_id,
                deduplication_id,
                dead_letter_source_arn,
            },
        ))
        .boxed()
    }

    /// Stored messages with every field arbitrary, bodies up to 300 characters.
    fn message() -> BoxedStrategy<StoredMessage> {
        (
            (any::<u128>(), vec(any::<char>(), 0..300).prop_map(String::from_iter), any::<[u8; 16]>()),
            (message_attributes(), extra(), text()),
            (time(), time(), proptest::option::of(time()), any::<u32>(), state()),
        )
            .prop_map(
                |(
                    (id, body, md5),
                    (attributes, extra, sender_id),
                    (sent_at, retention_start, first_received_at, receive_count, state),
                )| {
                    let mut message = StoredMessage::new(
                        MessageBody::new(body),
                        Md5Digest(md5),
                        attributes,
                        MessageExtra::default(),
                        Arc::from(sender_id),
                        sent_at,
                    );
                    message.id = Uuid::from_u128(id);
                    message.retention_start = retention_start;
                    message.set_first_received_at(first_received_at);
                    message.receive_count = receive_count;
                    message.state = state;
                    message.extra = extra.map(Box::new);
                    message
                },
            )
            .boxed()
    }

    /// Move task states with every status and optional field.
    fn move_task() -> BoxedStrategy<MoveTaskInfo> {
        (
            (optional_text(), proptest::sample::select(MoveTaskStatus::ALL.to_vec()), text(), optional_text()),
            (proptest::option::of(any::<u64>()), any::<u64>(), any::<u64>(), optional_text(), time()),
        )
            .prop_map(
                |(
                    (task_handle, status, source_arn, destination_arn),
                    (rate, moved, to_move, failure_reason, started_timestamp),
                )| MoveTaskInfo {
                    task_handle,
                    status,
                    source_arn,
                    destination_arn,
                    max_number_of_messages_per_second: rate,
                    approximate_number_of_messages_moved: moved,
                    approximate_number_of_messages_to_move: to_move,
                    failure_reason,
                    started_timestamp,
                },
            )
            .boxed()
    }

    /// Every queue event.
    fn queue_event() -> BoxedStrategy<QueueEvent> {
        prop_oneof![
            (any::<u64>(), message()).prop_map(|(sequence, message)| QueueEvent::MessageStored { sequence, message }),
            (any::<u64>(), any::<u32>(), proptest::option::of(time()), state()).prop_map(
                |(sequence, receive_count, first_received_at, state)| QueueEvent::MessageUpdated {
                    sequence,
                    receive_count,
                    first_received_at,
                    state,
                }
            ),
            any::<u64>().prop_map(|sequence| QueueEvent::MessageRemoved { sequence }),
            Just(QueueEvent::Purged),
            (pairs(), pairs(), time(), proptest::option::of(time())).prop_map(
                |(attributes, tags, last_modified_at, last_purge_at)| QueueEvent::MetadataChanged {
                    attributes,
                    tags,
                    last_modified_at,
                    last_purge_at,
                }
            ),
            (optional_text(), text(), text(), any::<u64>(), time()).prop_map(
                |(scope_group, deduplication_id, message_id, sequence, expires_at)| {
                    QueueEvent::DeduplicationRecorded {
                        scope_group,
                        deduplication_id,
                        message_id,
                        sequence,
                        expires_at,
                    }
                }
            ),
        ]
        .boxed()
    }

    /// Every storage event, queue events weighted as they come (most events are message events).
    fn event() -> BoxedStrategy<StorageEvent> {
        prop_oneof![
            1 => (any::<u64>(), text(), pairs(), pairs(), time()).prop_map(
                |(uid, name, attributes, tags, created_at)| StorageEvent::QueueCreated {
                    uid,
                    name,
                    attributes,
                    tags,
                    created_at,
                }
            ),
            1 => (any::<u64>(), text()).prop_map(|(uid, name)| StorageEvent::QueueRenamed { uid, name }),
            1 => any::<u64>().prop_map(|uid| StorageEvent::QueueDeleted { uid }),
            1 => (text(), move_task()).prop_map(|(handle, info)| StorageEvent::MoveTaskChanged { handle, info }),
            1 => text().prop_map(|source_arn| StorageEvent::MoveTasksForgotten { source_arn }),
            6 => (any::<u64>(), queue_event()).prop_map(|(uid, event)| StorageEvent::Queue { uid, event }),
        ]
        .boxed()
    }

    /// `event` encoded on its own.
    fn encoded(event: &StorageEvent) -> Vec<u8> {
        let mut out = Vec::new();
        encode_event(event, &mut out);
        out
    }

    /// A field's name and a change of that field alone.
    type FieldChange = (&'static str, fn(&mut StoredMessage));

    /// A message with every field set, for the Debug check.
    fn full_message() -> StoredMessage {
        full_message_with(MessageAttributes::from_valid(vec![("a".to_owned(), MessageAttribute::string("x"))]))
    }

    /// The same message as [`full_message`] with other attributes (the only way to set them is the constructor).
    fn full_message_with(attributes: MessageAttributes) -> StoredMessage {
        let extra = MessageExtra {
            trace_header: Some("t".to_owned()),
            group_id: Some("g".to_owned()),
            deduplication_id: Some("d".to_owned()),
            dead_letter_source_arn: Some("s".to_owned()),
        };
        let mut message = StoredMessage::new(
            "body".into(),
            Md5Digest([1; 16]),
            attributes,
            extra,
            Arc::from("me"),
            Timestamp::from_millis(5),
        );
        message.id = Uuid::from_u128(7);
        message.set_first_received_at(Some(Timestamp::from_millis(6)));
        message.receive_count = 2;
        message.state =
            MessageState::InFlight { until: Timestamp::from_millis(7), received_at: Timestamp::from_millis(6) };
        message
    }

    proptest! {
        #[test]
        fn every_event_round_trips(event in event()) {
            let bytes = encoded(&event);
            let mut input = bytes.as_slice();
            let decoded = decode_event(&mut input).map_err(|error| TestCaseError::fail(error.to_string()))?;
            prop_assert!(input.is_empty());
            prop_assert_eq!(format!("{decoded:?}"), format!("{event:?}"));
        }

        #[test]
        fn events_back_to_back_decode_in_order(events in vec(event(), 0..6)) {
            let mut bytes = Vec::new();
            for event in &events {
                encode_event(event, &mut bytes);
            }
            let mut input = bytes.as_slice();
            for event in &events {
                let decoded = decode_event(&mut input).map_err(|error| TestCaseError::fail(error.to_string()))?;
                prop_assert_eq!(format!("{decoded:?}"), format!("{event:?}"));
            }
            prop_assert!(input.is_empty());
        }

        #[test]
        fn encoding_fills_exactly_the_room_it_reserves(event in event(), before in vec(any::<u8>(), 0..8)) {
            let expected = encoded_len(&event);
            let mut out = before.clone();
            out.reserve_exact(expected);
            let (buffer, capacity) = (out.as_ptr(), out.capacity());
            encode_event(&event, &mut out);
            prop_assert_eq!(out.len(), before.len() + expected);
            prop_assert_eq!(out.capacity(), capacity);
            prop_assert_eq!(out.as_ptr(), buffer);
            prop_assert_eq!(&out[..before.len()], &before[..]);
        }

        #[test]
        fn every_truncation_is_an_error_and_consumes_nothing(event in event()) {
            let bytes = encoded(&event);
            for len in 0..bytes.len() {
                let mut input = &bytes[..len];
                let result = decode_event(&mut input);
                prop_assert!(matches!(result, Err(RecordError::Truncated { .. })), "{len}: {result:?}");
                prop_assert_eq!(input.len(), len);
            }
        }

        #[test]
        fn damaged_encodings_never_panic(
            events in vec(event(), 1..4),
            damage in vec((any::<Index>(), any::<u8>()), 1..6),
        ) {
            let mut bytes = Vec::new();
            for event in &events {
                encode_event(event, &mut bytes);
            }
            for (at, byte) in damage {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            let mut input = bytes.as_slice();
            while !input.is_empty() {
                let left = input.len();
                if decode_event(&mut input).is_err() {
                    prop_assert_eq!(input.len(), left);
                    break;
                }
                prop_assert!(input.len() < left);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(kind in 0u8..8, rest in vec(any::<u8>(), 0..256)) {
            let bytes: Vec<u8> = std::iter::once(kind).chain(rest).collect();
            let mut input = bytes.as_slice();
            while let Ok(_event) = decode_event(&mut input) {}
        }
    }

    #[test]
    fn the_format_is_pinned() {
        assert_eq!(encoded(&StorageEvent::QueueDeleted { uid: 0x0807_0605_0403_0201 }), [3, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            encoded(&StorageEvent::MoveTasksForgotten { source_arn: "ab".to_owned() }),
            [5, 2, 0, 0, 0, b'a', b'b']
        );
        let updated = StorageEvent::Queue {
            uid: 1,
            event: QueueEvent::MessageUpdated {
                sequence: 2,
                receive_count: 3,
                first_received_at: Some(Timestamp::from_millis(4)),
                state: MessageState::InFlight {
                    until: Timestamp::from_millis(5),
                    received_at: Timestamp::from_millis(6),
                },
            },
        };
        let expected: Vec<u8> = [&[6][..], &1u64.to_le_bytes(), &[2], &2u64.to_le_bytes(), &3u32.to_le_bytes(), &[1]]
            .into_iter()
            .chain([&4u64.to_le_bytes()[..], &[2], &5u64.to_le_bytes(), &6u64.to_le_bytes()])
            .flatten()
            .copied()
            .collect();
        assert_eq!(encoded(&updated), expected);
    }

    #[test]
    fn a_256_byte_message_takes_its_body_and_a_fixed_overhead() {
        let mut message = full_message();
        message.body = MessageBody::new("x".repeat(256));
        message.extra = None;
        let event = StorageEvent::Queue { uid: 1, event: QueueEvent::MessageStored { sequence: 9, message } };
        let bytes = encoded(&event);
        // Kinds, uid, sequence, id, MD5, three times, receive count, state, sender, body, extra flag, attributes.
        let attributes = 4 + (4 + 1) + (4 + 6) + 1 + (4 + 1);
        assert_eq!(bytes.len(), 2 + 8 + 8 + 16 + 16 + 8 + 8 + 9 + 4 + 17 + (4 + 2) + (4 + 256) + 1 + attributes);
    }

    #[test]
    fn debug_output_shows_every_message_field() {
        let shown = |message: &StoredMessage| format!("{message:?}");
        let base = shown(&full_message());
        let changes: Vec<FieldChange> = vec![
            ("id", |m| m.id = Uuid::from_u128(1)),
            ("body", |m| m.body = "other".into()),
            ("md5_of_body", |m| m.md5_of_body = Md5Digest([2; 16])),
            ("extra absent", |m| m.extra = None),
            ("extra empty", |m| m.extra = Some(Box::default())),
            ("trace header", |m| m.extra_mut().trace_header = None),
            ("group id", |m| m.extra_mut().group_id = Some(String::new())),
            ("deduplication id", |m| m.extra_mut().deduplication_id = None),
            ("dead-letter source", |m| m.extra_mut().dead_letter_source_arn = None),
            ("sender id", |m| m.sender_id = Arc::from("you")),
            ("sent_at", |m| m.sent_at = Timestamp::from_millis(50)),
            ("retention_start", |m| m.retention_start = Timestamp::from_millis(50)),
            ("first_received_at", |m| m.set_first_received_at(None)),
            ("receive_count", |m| m.receive_count = 3),
            ("state until", |m| {
                m.state =
                    MessageState::InFlight { until: Timestamp::from_millis(8), received_at: Timestamp::from_millis(6) }
            }),
            ("state received_at", |m| {
                m.state =
                    MessageState::InFlight { until: Timestamp::from_millis(7), received_at: Timestamp::from_millis(1) }
            }),
        ];
        for (field, change) in changes {
            let mut message = full_message();
            change(&mut message);
            assert_ne!(shown(&message), base, "{field}");
        }
        // Attributes and their MD5 both show: without attributes the text differs, and with the one value that
        // differs made equal in the text, the MD5s still tell the two messages apart.
        assert_ne!(shown(&full_message_with(MessageAttributes::default())), base);
        let other =
            full_message_with(MessageAttributes::from_valid(vec![("a".to_owned(), MessageAttribute::string("y"))]));
        assert_ne!(shown(&other).replace("\"y\"", "\"x\""), base);
        assert_eq!(shown(&full_message()), base);
    }

    #[test]
    fn unknown_kinds_and_codes_are_errors() {
        let decode = |bytes: &[u8]| decode_event(&mut &bytes[..]).err();
        assert_eq!(decode(&[]), Some(RecordError::Truncated { field: "event kind", needed: 1, left: 0 }));
        assert_eq!(decode(&[0]), Some(RecordError::UnknownKind(0)));
        assert_eq!(decode(&[7]), Some(RecordError::UnknownKind(7)));
        let queue = |rest: &[u8]| [&[6][..], &[0; 8], rest].concat();
        assert_eq!(decode(&queue(&[9])), Some(RecordError::UnknownCode { field: "queue event kind", code: 9 }));
        let updated = [&[2][..], &[0; 8], &[0; 4], &[0]].concat();
        assert_eq!(
            decode(&queue(&[&updated[..], &[3]].concat())),
            Some(RecordError::UnknownCode { field: "message state", code: 3 })
        );
        assert_eq!(
            decode(&queue(&[&[2][..], &[0; 8], &[0; 4], &[2]].concat())),
            Some(RecordError::InvalidPresence { field: "first_received_at", flag: 2 })
        );
    }

    #[test]
    fn invalid_utf8_names_its_field() {
        let bytes = [&[2][..], &[0; 8], &1u32.to_le_bytes(), &[0xFF]].concat();
        let error = decode_event(&mut &bytes[..]).err();
        assert_eq!(error, Some(RecordError::InvalidUtf8 { field: "queue name" }));
        assert_eq!(error.map(|error| error.to_string()).as_deref(), Some("queue name is not valid UTF-8"));
    }

    #[test]
    fn a_huge_count_is_an_error_before_any_allocation() {
        let bytes = [&[1][..], &[0; 8], &0u32.to_le_bytes(), &u32::MAX.to_le_bytes(), &[0; 16]].concat();
        assert_eq!(
            decode_event(&mut &bytes[..]).err(),
            Some(RecordError::Truncated { field: "queue attributes", needed: 8 * u32::MAX as usize, left: 16 })
        );
    }
}
