//! The SQLite file's schema: its tables, opening and checking a file, and how engine values map into columns.

use std::path::Path;

use rusqlite::Connection;

use crate::engine::{MessageState, Timestamp};
use crate::storage::StorageError;

/// `PRAGMA application_id` of our files ("SQKT"), so a foreign SQLite file is recognised.
pub(super) const APPLICATION_ID: i32 = 0x5351_4B54;
/// `PRAGMA user_version`: the schema version this build reads and writes. Version 1 and 2 files are migrated.
/// Version 3 names queues `<region>/<account>/<name>`; versions 1 and 2 held `<name>` or `<account>/<name>`,
/// which the engine reads as queues of the default region and rewrites at start-up (a build that knows no
/// regions refuses a version 3 file instead of misreading its names).
pub(super) const FORMAT_VERSION: i32 = 3;

const SCHEMA: &str = "
CREATE TABLE queues (
    uid INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_modified_at INTEGER NOT NULL,
    last_purge_at INTEGER,
    next_sequence INTEGER NOT NULL
);
CREATE TABLE messages (
    queue_uid INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
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
    received_at INTEGER NOT NULL,
    PRIMARY KEY (queue_uid, sequence)
) WITHOUT ROWID;
CREATE TABLE deduplications (
    queue_uid INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    scope_group TEXT NOT NULL,
    deduplication_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue_uid, sequence)
) WITHOUT ROWID;
CREATE INDEX deduplications_by_expiry ON deduplications (expires_at);
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
                 PRAGMA user_version = {FORMAT_VERSION}; {SCHEMA}"
            ))
            .map_err(open_error)?;
    } else if application_id != APPLICATION_ID {
        return Err(foreign(format!("application id {application_id:#x}, expected {APPLICATION_ID:#x}")));
    } else if version == 1 {
        migrate_from_version_1(&connection).map_err(open_error)?;
    } else if version == 2 {
        // Nothing in the tables changes: queue names without a region are completed by the engine.
        connection.execute_batch(&format!("PRAGMA user_version = {FORMAT_VERSION};")).map_err(open_error)?;
    } else if version != FORMAT_VERSION {
        return Err(StorageError::Corrupt {
            path: path.to_owned(),
            reason: format!("format version {version}, this build reads version {FORMAT_VERSION}"),
        });
    }
    // A file written before incremental vacuum was on is rebuilt once with it, so it can give space back.
    let auto_vacuum: i64 = connection.query_row("PRAGMA auto_vacuum", [], |row| row.get(0)).map_err(open_error)?;
    if auto_vacuum != AUTO_VACUUM_INCREMENTAL {
        connection.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;").map_err(open_error)?;
    }
    // WAL with synchronous=NORMAL: a commit writes the log without fsyncing it, and the syncer thread
    // (`sync.rs`) fsyncs the log after each commit before any change in it is acknowledged, so an acknowledged
    // change survives a power cut as with FULL, while the next transaction is written during the fsync.
    // Checkpoints run on the checkpointer's own connection (`checkpoint.rs`), not in the writer
    // (wal_autocheckpoint = 0); they fsync the log before and the database after copying (NORMAL keeps those).
    // The log is cut back to JOURNAL_SIZE_LIMIT after each checkpoint, so it does not keep its largest size.
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
    connection.execute_batch(&format!(
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
         PRAGMA user_version = {FORMAT_VERSION};
         COMMIT;"
    ))
}

/// `PRAGMA auto_vacuum` value of incremental mode.
const AUTO_VACUUM_INCREMENTAL: i64 = 2;
/// Bytes the write-ahead log is truncated to after a checkpoint.
const JOURNAL_SIZE_LIMIT: u64 = 16 * 1024 * 1024;
/// Free pages (4 KiB each) below which no vacuum is worth it.
const VACUUM_MIN_FREE_PAGES: i64 = 256;

/// Gives free pages back to the file system when they are many (at least [`VACUUM_MIN_FREE_PAGES`] and a
/// quarter of the file): after a large drain the file shrinks instead of keeping its largest size. Returns the
/// pages released.
pub(super) fn release_free_pages(connection: &Connection) -> rusqlite::Result<i64> {
    let free: i64 = connection.query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
    let total: i64 = connection.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    if free < VACUUM_MIN_FREE_PAGES || free * 4 < total {
        return Ok(0);
    }
    // The pragma frees one page per step: step it to the end (a single `execute` would free one page).
    let mut statement = connection.prepare(&format!("PRAGMA incremental_vacuum({free})"))?;
    let mut rows = statement.query([])?;
    while rows.next()?.is_some() {}
    Ok(free)
}

/// Deletes rows of queues that no longer exist (left by a send racing DeleteQueue in files written before
/// that race was closed): they would never be loaded nor deleted. Returns how many went.
pub(super) fn delete_orphans(connection: &Connection) -> rusqlite::Result<usize> {
    let mut deleted = 0;
    for table in ["messages", "deduplications"] {
        deleted +=
            connection.execute(&format!("DELETE FROM {table} WHERE queue_uid NOT IN (SELECT uid FROM queues)"), [])?;
    }
    Ok(deleted)
}

/// SQLite integers are signed; every value stored here (ids, sequences, epoch milliseconds) fits.
pub(super) fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The inverse of [`to_sql`].
pub(super) fn from_sql(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

/// A message state as the `state`, `until` and `received_at` columns.
pub(super) fn encode_state(state: MessageState) -> (i64, i64, i64) {
    match state {
        MessageState::Visible => (0, 0, 0),
        MessageState::Delayed { until } => (1, to_sql(until.as_millis()), 0),
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
