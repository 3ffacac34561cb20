//! Reading back: the snapshot of queues, messages, deduplication records and move tasks a restart restores.

use std::sync::Arc;

use rusqlite::Connection;
use uuid::Uuid;

use super::schema::{SEQUENCE_BITS, SEQUENCE_LIMIT, decode_state, from_sql, pairs_from_json, to_sql};
use crate::engine::{
    DeduplicationRecord, Md5Digest, MessageAttributes, MessageBody, MessageExtra, MoveTaskInfo, MoveTaskStatus,
    QueueSnapshot, Snapshot, StoredMessage, Timestamp,
};
use crate::storage::codec::decode_attributes;
use crate::storage::shared_sender;

/// Reads everything back. Errors are descriptions for [`StorageError::Corrupt`].
pub(super) fn load(connection: &Connection) -> Result<Snapshot, String> {
    let mut queues = Vec::new();
    let mut statement = connection
        .prepare(
            "SELECT uid, name, attributes, tags, created_at, last_modified_at, last_purge_at, next_sequence, \
             slot FROM queues ORDER BY uid",
        )
        .map_err(|e| e.to_string())?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, i64>(5)?,
                row.get::<_, Option<i64>>(6)?,
                row.get::<_, i64>(7)?,
                row.get::<_, i64>(8)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    for row in rows {
        let (uid, name, attributes, tags, created_at, last_modified_at, last_purge_at, next_sequence, slot) =
            row.map_err(|e| e.to_string())?;
        let damaged = |what: &str| format!("queue {name}: unreadable {what}");
        queues.push(QueueSnapshot {
            uid: from_sql(uid),
            attributes: pairs_from_json(&attributes).ok_or_else(|| damaged("attributes"))?,
            tags: pairs_from_json(&tags).ok_or_else(|| damaged("tags"))?,
            created_at: Timestamp::from_millis(from_sql(created_at)),
            last_modified_at: Timestamp::from_millis(from_sql(last_modified_at)),
            last_purge_at: last_purge_at.map(|at| Timestamp::from_millis(from_sql(at))),
            next_sequence: from_sql(next_sequence),
            // The messages come from the message log (`attach_messages`); the start-up migration emptied this
            // file's `messages` table before this reads it.
            messages: Vec::new(),
            deduplications: load_deduplications(connection, slot).map_err(|e| e.to_string())?,
            name,
        });
    }
    let move_tasks = load_move_tasks(connection).map_err(|e| format!("move tasks: {e}"))?;
    Ok(Snapshot { queues, move_tasks })
}

/// The stored messages of the queue in storage slot `slot`, by sequence.
pub(super) fn load_messages(connection: &Connection, slot: i64) -> Result<Vec<(u64, Box<StoredMessage>)>, String> {
    let first = slot << SEQUENCE_BITS;
    let last = first | to_sql(SEQUENCE_LIMIT - 1);
    // Sized once: a vector growing by doubling would hold up to twice its entries and copy them each time.
    let count: i64 = connection
        .query_row("SELECT count(*) FROM messages WHERE key BETWEEN ?1 AND ?2", [first, last], |row| row.get(0))
        .map_err(|e| e.to_string())?;
    let mut statement = connection
        .prepare(
            "SELECT key, message_id, body, attributes, trace_header, group_id, deduplication_id, \
             dead_letter_source_arn, sender_id, sent_at, retention_start, first_received_at, receive_count, state, \
             until, received_at FROM messages WHERE key BETWEEN ?1 AND ?2 ORDER BY key",
        )
        .map_err(|e| e.to_string())?;
    let mut rows = statement.query([first, last]).map_err(|e| e.to_string())?;
    let mut messages = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
    let mut sender: Option<Arc<str>> = None;
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let sequence = from_sql(row.get(0).map_err(|e| e.to_string())?) & (SEQUENCE_LIMIT - 1);
        let text = |index: usize| row.get::<_, String>(index).map_err(|e| e.to_string());
        let optional = |index: usize| row.get::<_, Option<String>>(index).map_err(|e| e.to_string());
        let (message_id, body, sender_id) = (text(1)?, text(2)?, text(8)?);
        let attributes: Option<Vec<u8>> = row.get(3).map_err(|e| e.to_string())?;
        let extra = MessageExtra {
            trace_header: optional(4)?,
            group_id: optional(5)?,
            deduplication_id: optional(6)?,
            dead_letter_source_arn: optional(7)?,
        };
        let number = |index: usize| row.get::<_, i64>(index).map_err(|e| e.to_string());
        let (sent_at, retention_start, receive_count) = (number(9)?, number(10)?, number(12)?);
        let (state, until, received_at) = (number(13)?, number(14)?, number(15)?);
        let first_received_at: i64 = row.get::<_, Option<i64>>(11).map_err(|e| e.to_string())?.unwrap_or(-1);
        let damaged = |what: &str| format!("message {sequence}: unreadable {what}");
        let attributes = match attributes {
            Some(bytes) => decode_attributes(&bytes).ok_or_else(|| damaged("attributes"))?,
            None => MessageAttributes::default(),
        };
        let sender_id = shared_sender(&mut sender, &sender_id);
        let md5_of_body = Md5Digest::of(body.as_bytes());
        let mut message = StoredMessage::new(
            MessageBody::new(body),
            md5_of_body,
            attributes,
            extra,
            sender_id,
            Timestamp::from_millis(from_sql(sent_at)),
        );
        message.id = Uuid::parse_str(&message_id).map_err(|_| damaged("message id"))?;
        message.retention_start = Timestamp::from_millis(from_sql(retention_start));
        message.set_first_received_at(u64::try_from(first_received_at).ok().map(Timestamp::from_millis));
        message.receive_count = u32::try_from(receive_count).map_err(|_| damaged("receive count"))?;
        message.state = decode_state(state, until, received_at).ok_or_else(|| damaged("state"))?;
        messages.push((sequence, Box::new(message)));
    }
    Ok(messages)
}

/// Every stored move task with its handle.
pub(super) fn load_move_tasks(connection: &Connection) -> rusqlite::Result<Vec<(String, MoveTaskInfo)>> {
    let mut statement = connection.prepare(
        "SELECT handle, source_arn, destination_arn, rate, started_at, to_move, moved, status, failure_reason \
         FROM move_tasks ORDER BY started_at",
    )?;
    let rows = statement.query_map([], |row| {
        let status: String = row.get(7)?;
        let status = MoveTaskStatus::ALL.into_iter().find(|known| known.as_str() == status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, format!("status {status}").into())
        })?;
        Ok((
            row.get(0)?,
            MoveTaskInfo {
                task_handle: None,
                status,
                source_arn: row.get(1)?,
                destination_arn: row.get(2)?,
                max_number_of_messages_per_second: row.get::<_, Option<i64>>(3)?.map(from_sql),
                started_timestamp: Timestamp::from_millis(from_sql(row.get(4)?)),
                approximate_number_of_messages_to_move: from_sql(row.get(5)?),
                approximate_number_of_messages_moved: from_sql(row.get(6)?),
                failure_reason: row.get(8)?,
            },
        ))
    })?;
    rows.collect()
}

/// The deduplication records of the queue in storage slot `slot`, by expiry.
pub(super) fn load_deduplications(connection: &Connection, slot: i64) -> rusqlite::Result<Vec<DeduplicationRecord>> {
    let first = slot << SEQUENCE_BITS;
    let last = first | to_sql(SEQUENCE_LIMIT - 1);
    let mut statement = connection.prepare(
        "SELECT key, scope_group, deduplication_id, message_id, expires_at FROM deduplications \
         WHERE key BETWEEN ?1 AND ?2 ORDER BY key",
    )?;
    let rows = statement.query_map([first, last], |row| {
        let scope_group: String = row.get(1)?;
        Ok(DeduplicationRecord {
            scope_group: (!scope_group.is_empty()).then_some(scope_group),
            deduplication_id: row.get(2)?,
            message_id: row.get(3)?,
            sequence: from_sql(row.get(0)?) & (SEQUENCE_LIMIT - 1),
            expires_at: Timestamp::from_millis(from_sql(row.get(4)?)),
        })
    })?;
    let mut records = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    // In sequence order they are nearly in expiry order already (a clock moved back is the exception).
    records.sort_by_key(|record| record.expires_at);
    Ok(records)
}
