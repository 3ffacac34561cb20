//! Messages of files written before the message log (format 5 and older kept them in the `messages` table)
//! move into the log at start-up: written as stored-message records, made durable, and only then deleted from
//! SQLite. A crash in between leaves both; replay lets the log's copy win (the same message).

use std::path::Path;

use rusqlite::Connection;

use super::load::load_messages;
use super::schema::from_sql;
use crate::engine::{QueueEvent, StorageEvent};
use crate::storage::log::{LogConfig, LogReader, SegmentLog, encode_event};

/// Messages per commit record while migrating (a commit's payload is held in memory once).
const MESSAGES_PER_COMMIT: usize = 4_096;

/// Moves every row of `messages` into the log in `log_dir`; does nothing when the table is empty. Errors are
/// descriptions for [`StorageError::Corrupt`](crate::storage::StorageError::Corrupt).
pub(super) fn messages_into_log(connection: &Connection, log_dir: &Path, config: LogConfig) -> Result<(), String> {
    let rows: i64 =
        connection.query_row("SELECT count(*) FROM messages", [], |row| row.get(0)).map_err(|e| e.to_string())?;
    if rows == 0 {
        return Ok(());
    }
    let queues: Vec<(u64, i64)> = connection
        .prepare("SELECT uid, slot FROM queues ORDER BY uid")
        .and_then(|mut statement| {
            statement.query_map([], |row| Ok((from_sql(row.get(0)?), row.get(1)?)))?.collect::<Result<_, _>>()
        })
        .map_err(|e| e.to_string())?;
    let log_error = |error: std::io::Error| format!("message log in {}: {error}", log_dir.display());
    std::fs::create_dir_all(log_dir).map_err(log_error)?;
    let mut reader = LogReader::open(log_dir).map_err(log_error)?;
    for record in reader.by_ref() {
        record.map_err(log_error)?;
    }
    let mut log = SegmentLog::open(log_dir, config, reader.finish().map_err(log_error)?).map_err(log_error)?;
    let mut moved = 0_usize;
    for (uid, slot) in queues {
        // One queue at a time: the migration holds at most one queue's messages beside the log's buffers.
        let mut messages = load_messages(connection, slot)?.into_iter().peekable();
        while messages.peek().is_some() {
            let mut payload = Vec::new();
            let mut count = 0_u32;
            for (sequence, message) in messages.by_ref().take(MESSAGES_PER_COMMIT) {
                let event =
                    StorageEvent::Queue { uid, event: QueueEvent::MessageStored { sequence, message: *message } };
                encode_event(&event, &mut payload);
                count += 1;
            }
            log.append(log.next_event(), count, &payload).map_err(log_error)?;
            moved += count as usize;
        }
    }
    log.sync().map_err(log_error)?;
    connection.execute("DELETE FROM messages", []).map_err(|e| e.to_string())?;
    tracing::info!(messages = moved, "moved the stored messages of an older data file into the message log");
    Ok(())
}
