//! The SQLite file's schema: its tables, opening and checking a file, and how engine values map into columns.

use std::path::Path;

use rusqlite::Connection;

use crate::engine::{MessageState, Timestamp};
use crate::storage::StorageError;

/// `PRAGMA application_id` of our files ("SQKT"), so a foreign SQLite file is recognised.
pub(super) const APPLICATION_ID: i32 = 0x5351_4B54;
/// `PRAGMA user_version`: the schema version this build reads and writes. Files of versions 1 to 5 are migrated.
/// Version 3 names queues `<region>/<account>/<name>`; versions 1 and 2 held `<name>` or `<account>/<name>`,
/// which the engine reads as queues of the default region and rewrites at start-up (a build that knows no
/// regions refuses a version 3 file instead of misreading its names). Version 4 keys messages by one integer
/// (see [`SEQUENCE_BITS`]); version 5 keys deduplication windows the same way (see [`migrate_to_version_5`]);
/// version 6 records how far the message log has been applied to the file (`log_state`, see
/// [`migrate_to_version_6`]).
pub(super) const FORMAT_VERSION: i32 = 6;

/// A message row's key is `(slot << SEQUENCE_BITS) | sequence`: the queue's storage slot (a small number
/// `queues.slot`, reused once its queue is deleted) above the message's sequence in its queue. One integer
/// key makes `messages` an ordinary rowid table: SQLite compares integers instead of records, and the writer
/// spends about a quarter less CPU per message than with the `(queue_uid, sequence)` key of versions 2 and 3
/// (`storage_bench`: 6.7–7.1 µs → 4.7–5.4 µs per sent message). Migrations and tests write the number out
/// (`<< 40`, `& 1099511627775`).
pub(super) const SEQUENCE_BITS: u32 = 40;
/// Sequences a queue can store over its life: 2^40, more than a trillion (at 100,000 messages a second on one
/// queue, about 127 days without a pause). A queue that reaches it cannot store more (the commit fails and the
/// storage refuses writes, fail-stop); a new queue starts again at 1.
pub(super) const SEQUENCE_LIMIT: u64 = 1 << SEQUENCE_BITS;

/// The tables of a new file before `messages` ([`MESSAGES_COLUMNS`]), and after it ([`LATER_TABLES`]).
/// `deduplications` is keyed like `messages`, by the key of the message that opened the window.
const QUEUES_TABLE: &str = "
CREATE TABLE queues (
    uid INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_modified_at INTEGER NOT NULL,
    last_purge_at INTEGER,
    next_sequence INTEGER NOT NULL,
    slot INTEGER NOT NULL DEFAULT 0 CHECK (slot BETWEEN 0 AND 8388607)
);
CREATE UNIQUE INDEX queues_by_slot ON queues (slot);
";
const LATER_TABLES: &str = "
CREATE TABLE deduplications (
    key INTEGER PRIMARY KEY,
    scope_group TEXT NOT NULL,
    deduplication_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE move_tasks (
    handle TEXT PRIMARY KEY,
    source_arn TEXT NOT NULL,
    destination_arn TEXT,
    rate INTEGER,
    started_at INTEGER NOT NULL,
    to_move INTEGER NOT NULL,
    moved INTEGER NOT NULL,
    status TEXT NOT NULL,
    failure_reason TEXT
);
";

/// The one-row table of format 6: the number of the last event of the message log (`docs/message-log.md`)
/// whose changes the file holds, 0 for none (a file that has never been written through the log). Created with
/// its row, for new files and by the migration to format 6.
const LOG_STATE_TABLE: &str = "
CREATE TABLE log_state (applied_through INTEGER NOT NULL);
INSERT INTO log_state (applied_through) VALUES (0);
";

/// The columns of the `messages` table (format 4), for new files and for the migration to format 4.
const MESSAGES_COLUMNS: &str = "(
    key INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes BLOB,
    trace_header TEXT,
    group_id TEXT,
    deduplication_id TEXT,
    dead_letter_source_arn TEXT,
    sender_id TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    retention_start INTEGER NOT NULL,
    first_received_at INTEGER,
    receive_count INTEGER NOT NULL,
    state INTEGER NOT NULL,
    until INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);";

/// Opens (creating if new) the file at `path`, checks it is ours and of this format, and sets WAL mode.
pub(super) fn open_connection(path: &Path) -> Result<Connection, StorageError> {
    let open_error = |source| StorageError::Open { path: path.to_owned(), source };
    let foreign = |reason: String| StorageError::Foreign { path: path.to_owned(), reason };
    let connection = Connection::open(path).map_err(open_error)?;
    // The first read of the header fails for a file that is not SQLite at all.
    let application_id: i32 = connection
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(|error| foreign(format!("not an SQLite database: {error}")))?;
    let version: i32 = connection.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(open_error)?;
    let tables: i64 = connection
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |row| row.get(0))
        .map_err(open_error)?;
    if application_id == 0 && tables == 0 {
        // auto_vacuum must be chosen before the first table exists.
        connection
            .execute_batch(&format!(
                "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA application_id = {APPLICATION_ID}; \
                 PRAGMA user_version = {FORMAT_VERSION}; {QUEUES_TABLE} CREATE TABLE messages {MESSAGES_COLUMNS}; \
                 {LATER_TABLES} {LOG_STATE_TABLE}"
            ))
            .map_err(open_error)?;
    } else if application_id != APPLICATION_ID {
        return Err(foreign(format!("application id {application_id:#x}, expected {APPLICATION_ID:#x}")));
    } else if !(1..=FORMAT_VERSION).contains(&version) {
        return Err(StorageError::Corrupt {
            path: path.to_owned(),
            reason: format!("format version {version}, this build reads versions 1 to {FORMAT_VERSION}"),
        });
    } else {
        if version == 1 {
            migrate_from_version_1(&connection).map_err(open_error)?;
        }
        // Version 2 to 3 changes nothing in the tables: queue names without a region are completed by the engine.
        if version <= 3 {
            migrate_to_version_4(&connection)
                .map_err(|reason| StorageError::Corrupt { path: path.to_owned(), reason })?;
        }
        if version <= 4 {
            migrate_to_version_5(&connection).map_err(open_error)?;
        }
        if version <= 5 {
            migrate_to_version_6(&connection).map_err(open_error)?;
        }
    }
    // A file written before incremental vacuum was on is rebuilt once with it, so it can give space back.
    let auto_vacuum: i64 = connection.query_row("PRAGMA auto_vacuum", [], |row| row.get(0)).map_err(open_error)?;
    if auto_vacuum != AUTO_VACUUM_INCREMENTAL {
        connection.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;").map_err(open_error)?;
    }
    // WAL with synchronous=NORMAL and no automatic checkpoints for start-up work; the applier's connection (the
    // only one that writes afterwards, `apply.rs`) turns on synchronous=FULL and automatic checkpoints: what it
    // writes is durable in the message log already, and its commits are rare. The write-ahead log is cut back to
    // JOURNAL_SIZE_LIMIT after checkpoints, so it does not keep its largest size.
    connection
        .execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; \
             PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}; PRAGMA wal_autocheckpoint = 0;"
        ))
        .map_err(open_error)?;
    Ok(connection)
}

/// Version 1 keyed deduplication windows by their (random) deduplication id, so every FIFO send wrote into a
/// random B-tree leaf: a commit of n FIFO messages wrote about n pages to the log, and pruning expired windows
/// scanned the whole table. Version 2 keys them by the sequence of the message that opened them (appends) and
/// indexes their expiry. The engine, not the table, decides duplicates, so the id needs no unique key.
fn migrate_from_version_1(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(
        "BEGIN;
         CREATE TABLE deduplications_v2 (
             queue_uid INTEGER NOT NULL,
             sequence INTEGER NOT NULL,
             scope_group TEXT NOT NULL,
             deduplication_id TEXT NOT NULL,
             message_id TEXT NOT NULL,
             expires_at INTEGER NOT NULL,
             PRIMARY KEY (queue_uid, sequence)
         ) WITHOUT ROWID;
         INSERT OR REPLACE INTO deduplications_v2 (queue_uid, sequence, scope_group, deduplication_id, message_id,
             expires_at)
             SELECT queue_uid, sequence, scope_group, deduplication_id, message_id, expires_at FROM deduplications
             ORDER BY expires_at;
         DROP TABLE deduplications;
         ALTER TABLE deduplications_v2 RENAME TO deduplications;
         CREATE INDEX deduplications_by_expiry ON deduplications (expires_at);
         PRAGMA user_version = 2;
         COMMIT;",
    )
}

/// Versions 2 and 3 keyed messages by `(queue_uid, sequence)` in a `WITHOUT ROWID` table; version 4 gives each
/// queue a slot and keys messages by one integer (see [`SEQUENCE_BITS`]). Rows of queues that no longer exist
/// are left behind (they were never loaded). Errors are descriptions for [`StorageError::Corrupt`].
fn migrate_to_version_4(connection: &Connection) -> Result<(), String> {
    let beyond: i64 = connection
        .query_row("SELECT count(*) FROM messages WHERE sequence >= ?1", [to_sql(SEQUENCE_LIMIT)], |row| row.get(0))
        .map_err(|error| error.to_string())?;
    if beyond > 0 {
        return Err(format!("{beyond} messages have sequences beyond {SEQUENCE_LIMIT}, which format 4 cannot key"));
    }
    connection
        .execute_batch(&format!(
            "BEGIN;
             ALTER TABLE queues ADD COLUMN slot INTEGER NOT NULL DEFAULT 0 CHECK (slot BETWEEN 0 AND 8388607);
             UPDATE queues SET slot = (SELECT count(*) FROM queues AS earlier WHERE earlier.uid <= queues.uid);
             CREATE UNIQUE INDEX queues_by_slot ON queues (slot);
             CREATE TABLE messages_v4 {MESSAGES_COLUMNS};
             INSERT INTO messages_v4 (key, message_id, body, attributes, trace_header, group_id, deduplication_id,
                 dead_letter_source_arn, sender_id, sent_at, retention_start, first_received_at, receive_count,
                 state, until, received_at)
                 SELECT (queues.slot << 40) | messages.sequence, message_id, body, messages.attributes,
                     trace_header, group_id, deduplication_id, dead_letter_source_arn, sender_id, sent_at,
                     retention_start, first_received_at, receive_count, state, until, received_at
                 FROM messages JOIN queues ON queues.uid = messages.queue_uid
                 ORDER BY queues.slot, messages.sequence;
             DROP TABLE messages;
             ALTER TABLE messages_v4 RENAME TO messages;
             PRAGMA user_version = 4;
             COMMIT;"
        ))
        .map_err(|error| error.to_string())
}

/// Versions 2 to 4 keyed deduplication windows by `(queue_uid, sequence)` in a `WITHOUT ROWID` table with an
/// index on their expiry; version 5 keys them like messages (`(slot << 40) | sequence`) in a rowid table without
/// the index. A FIFO send wrote a row into two B-trees, one of them with composite keys, which doubled the
/// writer's work per FIFO message (`storage_bench ... fifo`: 10.3–11.1 µs, against 5.1 for a standard message).
/// Windows are pruned by key instead: a queue's windows open in sequence order, so its expired ones come first
/// (see `write.rs`). Windows of queues that no longer exist are dropped.
fn migrate_to_version_5(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(
        "BEGIN;
         CREATE TABLE deduplications_v5 (
             key INTEGER PRIMARY KEY,
             scope_group TEXT NOT NULL,
             deduplication_id TEXT NOT NULL,
             message_id TEXT NOT NULL,
             expires_at INTEGER NOT NULL
         );
         INSERT OR REPLACE INTO deduplications_v5 (key, scope_group, deduplication_id, message_id, expires_at)
             SELECT (queues.slot << 40) | deduplications.sequence, scope_group, deduplication_id, message_id,
                 expires_at
             FROM deduplications JOIN queues ON queues.uid = deduplications.queue_uid
             WHERE deduplications.sequence BETWEEN 0 AND 1099511627775
             ORDER BY 1;
         DROP TABLE deduplications;
         ALTER TABLE deduplications_v5 RENAME TO deduplications;
         PRAGMA user_version = 5;
         COMMIT;",
    )
}

/// Version 6 adds `log_state` ([`LOG_STATE_TABLE`]) with nothing applied (0): the file's contents are what
/// earlier builds wrote directly, and the log starts empty.
fn migrate_to_version_6(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(&format!("BEGIN; {LOG_STATE_TABLE} PRAGMA user_version = 6; COMMIT;"))
}

/// The number of the last event of the message log whose changes the file holds (`log_state`; see
/// [`LOG_STATE_TABLE`]). Events up to it need not be applied again at start-up.
pub(super) fn read_applied_through(connection: &Connection) -> rusqlite::Result<u64> {
    connection.query_row("SELECT applied_through FROM log_state", [], |row| row.get(0)).map(from_sql)
}

/// `PRAGMA auto_vacuum` value of incremental mode.
const AUTO_VACUUM_INCREMENTAL: i64 = 2;
/// Bytes the write-ahead log is truncated to after a checkpoint.
const JOURNAL_SIZE_LIMIT: u64 = 16 * 1024 * 1024;
/// Free pages (4 KiB each) below which no vacuum is worth it.
const VACUUM_MIN_FREE_PAGES: i64 = 256;

/// Whether releasing `free` of the file's `total` pages is worth what it costs. An incremental vacuum cuts the
/// free pages off the end of the file by moving every page in use that lies beyond the new end into a free page
/// nearer the start (and fixing the pointers to it). A drain deletes the oldest messages, which sit near the
/// start, so the pages in use are the newest, at the end: each page released costs about one page moved, as many
/// as there are pages in use at most. Released when the free pages are at least three times those in use, a
/// vacuum moves at most one page for every three it releases, and a drain to empty costs about a third of a page
/// move per page freed in all (the file shrinks to a quarter each time). (Releasing whenever a quarter of the file
/// is free made a long drain pay a page move for every page it freed: about 2 µs of the writer's 6 per drained
/// message in `storage_bench`.) Between two releases the file keeps at most four times the pages it uses, and
/// later sends reuse the free ones.
pub(super) fn worth_releasing(free: i64, total: i64) -> bool {
    let in_use = total - free;
    free >= VACUUM_MIN_FREE_PAGES && free >= 3 * in_use
}

/// Free pages released in one step at most: about 4 MiB of pages moved, a pause of some tens of milliseconds for
/// the writer, instead of one pause as long as the whole release.
const RELEASE_STEP_PAGES: i64 = 1_024;

/// Gives free pages back to the file system, so that after a large drain the file shrinks instead of keeping its
/// largest size. A release starts once it is worth it ([`worth_releasing`]) and then goes on, one step of at most
/// [`RELEASE_STEP_PAGES`] per call (everything at once when `unbounded`), until fewer than
/// [`VACUUM_MIN_FREE_PAGES`] are free; `releasing` carries that between calls. Returns the pages released.
pub(super) fn release_free_pages(
    connection: &Connection,
    releasing: &mut bool,
    unbounded: bool,
) -> rusqlite::Result<i64> {
    let free: i64 = connection.query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
    let total: i64 = connection.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    *releasing = free >= VACUUM_MIN_FREE_PAGES && (*releasing || worth_releasing(free, total));
    if !*releasing {
        return Ok(0);
    }
    let pages = if unbounded { free } else { free.min(RELEASE_STEP_PAGES) };
    // The pragma frees one page per step: step it to the end (a single `execute` would free one page).
    let mut statement = connection.prepare(&format!("PRAGMA incremental_vacuum({pages})"))?;
    let mut rows = statement.query([])?;
    while rows.next()?.is_some() {}
    Ok(pages)
}

/// Deletes rows of queues that no longer exist (left by a send racing DeleteQueue in files written before
/// that race was closed): they would never be loaded nor deleted. Returns how many went.
pub(super) fn delete_orphans(connection: &Connection) -> rusqlite::Result<usize> {
    let messages = connection.execute("DELETE FROM messages WHERE (key >> 40) NOT IN (SELECT slot FROM queues)", [])?;
    let deduplications =
        connection.execute("DELETE FROM deduplications WHERE (key >> 40) NOT IN (SELECT slot FROM queues)", [])?;
    Ok(messages + deduplications)
}

/// SQLite integers are signed; every value stored here (ids, sequences, epoch milliseconds) fits.
pub(super) fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The inverse of [`to_sql`].
pub(super) fn from_sql(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

/// What a time column holds while its time is not set (the `until` and `received_at` of a visible message, the
/// `first_received_at` of one never received): an integer that takes as many bytes as a timestamp (SQLite
/// stores integers in 0 to 8 bytes by size), so that the receive that sets them rewrites the row in place.
/// Rows appended in key order fill their B-tree pages, and a row that grows splits its page: a receive of every
/// message on a page then wrote a page more and rebalanced its parent. Readers ignore `until` and `received_at`
/// by state, and read a negative `first_received_at` as unset (as they always have).
pub(super) const UNSET_TIME: i64 = -(1 << 40);

/// A message's first receive as the `first_received_at` column.
pub(super) fn encode_first_received(at: Option<Timestamp>) -> i64 {
    at.map_or(UNSET_TIME, |at| to_sql(at.as_millis()))
}

/// A message state as the `state`, `until` and `received_at` columns.
pub(super) fn encode_state(state: MessageState) -> (i64, i64, i64) {
    match state {
        MessageState::Visible => (0, UNSET_TIME, UNSET_TIME),
        MessageState::Delayed { until } => (1, to_sql(until.as_millis()), UNSET_TIME),
        MessageState::InFlight { until, received_at } => {
            (2, to_sql(until.as_millis()), to_sql(received_at.as_millis()))
        }
    }
}

/// The message state the three columns hold; `None` for an unknown state code.
pub(super) fn decode_state(state: i64, until: i64, received_at: i64) -> Option<MessageState> {
    let at = |millis| Timestamp::from_millis(from_sql(millis));
    match state {
        0 => Some(MessageState::Visible),
        1 => Some(MessageState::Delayed { until: at(until) }),
        2 => Some(MessageState::InFlight { until: at(until), received_at: at(received_at) }),
        _ => None,
    }
}

/// Name–value pairs as a JSON object (attribute and tag columns).
pub(super) fn pairs_json(pairs: &[(String, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        pairs.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
    serde_json::Value::Object(map).to_string()
}

/// The pairs of a JSON object column; `None` when it is not one of strings.
pub(super) fn pairs_from_json(text: &str) -> Option<Vec<(String, String)>> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    map.into_iter().map(|(k, v)| v.as_str().map(|v| (k, v.to_owned()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_version(connection: &Connection) -> i32 {
        connection.query_row("PRAGMA user_version", [], |row| row.get(0)).expect("version")
    }

    fn log_state_rows(connection: &Connection) -> i64 {
        connection.query_row("SELECT count(*) FROM log_state", [], |row| row.get(0)).expect("count")
    }

    /// A new file is of format 6, with nothing of the log applied.
    #[test]
    fn a_new_file_has_one_log_state_row_with_nothing_applied() {
        let dir = tempfile::tempdir().expect("temp dir");
        let connection = open_connection(&dir.path().join("sqskit.db")).expect("create");
        assert_eq!(user_version(&connection), FORMAT_VERSION);
        assert_eq!(FORMAT_VERSION, 6);
        assert_eq!(log_state_rows(&connection), 1);
        assert_eq!(read_applied_through(&connection).expect("read"), 0);
    }

    /// Files of formats 4 and 5 (the tables this build writes, without `log_state`, and for format 4 with
    /// deduplication windows keyed by `(queue_uid, sequence)`) end at format 6 with nothing applied, their
    /// rows kept; opening the file again changes nothing. (Formats 1 and 3: the migration tests of `mod.rs`.)
    #[test]
    fn files_of_formats_4_and_5_are_migrated_to_format_6() {
        for version in [4, 5] {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("sqskit.db");
            {
                let connection = open_connection(&path).expect("create");
                connection
                    .execute_batch(
                        "INSERT INTO queues (uid, name, attributes, tags, created_at, last_modified_at, \
                             next_sequence, slot) VALUES (7, 'us-east-1/000000000000/q.fifo', '{}', '{}', 1, 1, 12, 1);
                         INSERT INTO deduplications VALUES ((1 << 40) | 11, '', 'dedup-11', 'id-11', 900000000000000);
                         DROP TABLE log_state;
                         PRAGMA user_version = 5;",
                    )
                    .expect("a format 5 file");
                if version == 4 {
                    connection
                        .execute_batch(
                            "CREATE TABLE deduplications_v4 (queue_uid INTEGER NOT NULL, sequence INTEGER NOT NULL,
                                 scope_group TEXT NOT NULL, deduplication_id TEXT NOT NULL, message_id TEXT NOT NULL,
                                 expires_at INTEGER NOT NULL, PRIMARY KEY (queue_uid, sequence)) WITHOUT ROWID;
                             INSERT INTO deduplications_v4 SELECT queues.uid, key & 1099511627775, scope_group,
                                 deduplication_id, message_id, expires_at FROM deduplications
                                 JOIN queues ON queues.slot = key >> 40;
                             DROP TABLE deduplications;
                             ALTER TABLE deduplications_v4 RENAME TO deduplications;
                             CREATE INDEX deduplications_by_expiry ON deduplications (expires_at);
                             PRAGMA user_version = 4;",
                        )
                        .expect("a format 4 file");
                }
            }
            let connection = open_connection(&path).expect("migrated");
            assert_eq!(user_version(&connection), FORMAT_VERSION, "from format {version}");
            assert_eq!(log_state_rows(&connection), 1, "from format {version}");
            assert_eq!(read_applied_through(&connection).expect("read"), 0, "from format {version}");
            let kept: (i64, i64) = connection
                .query_row(
                    "SELECT (SELECT next_sequence FROM queues WHERE uid = 7), \
                     (SELECT key FROM deduplications WHERE deduplication_id = 'dedup-11')",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .expect("rows");
            assert_eq!(kept, (12, (1 << 40) | 11), "from format {version}");
            connection.execute("UPDATE log_state SET applied_through = 42", []).expect("apply");
            drop(connection);
            let connection = open_connection(&path).expect("reopened");
            assert_eq!(log_state_rows(&connection), 1, "from format {version}");
            assert_eq!(read_applied_through(&connection).expect("read"), 42, "from format {version}");
        }
    }
}
