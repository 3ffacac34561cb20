//! [`SqliteStorage`]: events written by one thread into SQLite (WAL, `synchronous=FULL`), one transaction and
//! one fsync per batch of whatever was appended meanwhile (group commit).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, Transaction, params};
use uuid::Uuid;

use super::StorageError;
use super::codec::{decode_attributes, encode_attributes};
use crate::engine::{
    DeduplicationRecord, Durable, EventSink, Md5Digest, MessageAttributes, MessageBody, MessageExtra, MessageState,
    MoveTaskInfo, MoveTaskStatus, QueueEvent, QueueSnapshot, Snapshot, StorageEvent, StorageFailure, StoredMessage,
    Timestamp,
};

/// `PRAGMA application_id` of our files ("SQKT"), so a foreign SQLite file is recognised.
const APPLICATION_ID: i32 = 0x5351_4B54;
/// `PRAGMA user_version`: the schema version this build reads and writes.
const FORMAT_VERSION: i32 = 1;
const FILE_NAME: &str = "sqskit.db";
/// FIFO deduplication windows last 5 minutes; older rows are pruned.
const DEDUPLICATION_WINDOW: Duration = Duration::from_secs(300);

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
    scope_group TEXT NOT NULL,
    deduplication_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue_uid, scope_group, deduplication_id)
) WITHOUT ROWID;
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

/// How far the writer has got.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// Appends (counted by `append` calls) that are committed.
    committed: u64,
    /// Set once a commit failed; every later `durable` fails with it.
    failure: Option<String>,
}

#[derive(Debug, Default)]
struct Pending {
    events: Vec<StorageEvent>,
    appended: u64,
    closing: bool,
}

#[derive(Debug)]
struct Inner {
    pending: Mutex<Pending>,
    wake: Condvar,
    progress: tokio::sync::watch::Sender<Progress>,
}

/// Durable storage in `DIR/sqskit.db`.
#[derive(Debug)]
pub struct SqliteStorage {
    inner: Arc<Inner>,
    path: PathBuf,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl SqliteStorage {
    /// Opens (or creates) the data file in `dir`, reads it back, and starts the writer.
    ///
    /// # Errors
    /// [`StorageError`] for a directory that cannot be created, a file that is not ours, or a damaged file.
    pub fn open(dir: &Path) -> Result<(Self, Snapshot), StorageError> {
        std::fs::create_dir_all(dir).map_err(|source| StorageError::Directory { path: dir.to_owned(), source })?;
        let path = dir.join(FILE_NAME);
        let connection = open_connection(&path)?;
        let snapshot = load(&connection).map_err(|reason| StorageError::Corrupt { path: path.clone(), reason })?;
        let inner = Arc::new(Inner {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            progress: tokio::sync::watch::Sender::new(Progress::default()),
        });
        let writer_inner = Arc::clone(&inner);
        let writer = std::thread::Builder::new()
            .name("sqskit-storage".to_owned())
            .spawn(move || run_writer(connection, &writer_inner))
            .map_err(StorageError::Writer)?;
        Ok((Self { inner, path, writer: Mutex::new(Some(writer)) }, snapshot))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes everything appended so far and stops the writer. Later appends are dropped.
    pub fn close(&self) {
        {
            let mut pending = self.inner.pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending.closing = true;
        }
        self.inner.wake.notify_all();
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(writer) = writer {
            if writer.join().is_err() {
                tracing::error!("the storage writer panicked");
            }
        }
    }
}

impl Drop for SqliteStorage {
    fn drop(&mut self) {
        self.close();
    }
}

impl EventSink for SqliteStorage {
    fn append(&self, events: Vec<StorageEvent>) {
        let mut pending = self.inner.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.closing {
            return;
        }
        pending.events.extend(events);
        pending.appended += 1;
        drop(pending);
        self.inner.wake.notify_one();
    }

    fn durable(&self) -> Durable {
        let target = self.inner.pending.lock().unwrap_or_else(PoisonError::into_inner).appended;
        let mut progress = self.inner.progress.subscribe();
        Box::pin(async move {
            let reached = progress
                .wait_for(|progress| progress.committed >= target || progress.failure.is_some())
                .await
                .map_err(|_| StorageFailure("the storage writer stopped".to_owned()))?;
            match &reached.failure {
                Some(failure) => Err(StorageFailure(failure.clone())),
                None => Ok(()),
            }
        })
    }
}

fn open_connection(path: &Path) -> Result<Connection, StorageError> {
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
        connection
            .execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {FORMAT_VERSION}; {SCHEMA}"
            ))
            .map_err(open_error)?;
    } else if application_id != APPLICATION_ID {
        return Err(foreign(format!("application id {application_id:#x}, expected {APPLICATION_ID:#x}")));
    } else if version != FORMAT_VERSION {
        return Err(StorageError::Corrupt {
            path: path.to_owned(),
            reason: format!("format version {version}, this build reads version {FORMAT_VERSION}"),
        });
    }
    // WAL with synchronous=FULL fsyncs the log at every commit: an acknowledged change survives a power cut.
    connection
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;")
        .map_err(open_error)?;
    Ok(connection)
}

fn run_writer(mut connection: Connection, inner: &Inner) {
    loop {
        let (events, appended, closing) = {
            let mut pending = inner.pending.lock().unwrap_or_else(PoisonError::into_inner);
            while pending.events.is_empty() && !pending.closing {
                pending = inner.wake.wait(pending).unwrap_or_else(PoisonError::into_inner);
            }
            (std::mem::take(&mut pending.events), pending.appended, pending.closing)
        };
        if !events.is_empty() {
            match write_batch(&mut connection, &events) {
                Ok(()) => inner.progress.send_modify(|progress| progress.committed = appended),
                Err(error) => {
                    tracing::error!(%error, "storage commit failed");
                    inner.progress.send_modify(|progress| progress.failure = Some(error.to_string()));
                }
            }
        }
        if closing {
            let pending = inner.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.events.is_empty() {
                return;
            }
        }
    }
}

fn write_batch(connection: &mut Connection, events: &[StorageEvent]) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    let mut highest_sequence: HashMap<u64, u64> = HashMap::new();
    let mut newest_window_end: Option<Timestamp> = None;
    for event in events {
        match event {
            StorageEvent::QueueCreated { uid, name, attributes, tags, created_at } => {
                transaction
                    .prepare_cached(
                        "INSERT OR REPLACE INTO queues (uid, name, attributes, tags, created_at, last_modified_at, \
                     last_purge_at, next_sequence) VALUES (?1, ?2, ?3, ?4, ?5, ?5, NULL, 1)",
                    )?
                    .execute(params![
                        to_sql(*uid),
                        name,
                        pairs_json(attributes),
                        pairs_json(tags),
                        to_sql(created_at.as_millis())
                    ])?;
            }
            StorageEvent::QueueDeleted { uid } => {
                for table in ["messages", "deduplications"] {
                    transaction
                        .prepare_cached(&format!("DELETE FROM {table} WHERE queue_uid = ?1"))?
                        .execute([to_sql(*uid)])?;
                }
                transaction.prepare_cached("DELETE FROM queues WHERE uid = ?1")?.execute([to_sql(*uid)])?;
            }
            StorageEvent::MoveTaskChanged { handle, info } => {
                transaction
                    .prepare_cached(
                        "INSERT OR REPLACE INTO move_tasks (handle, source_arn, destination_arn, rate, started_at, \
                         to_move, moved, status, failure_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )?
                    .execute(params![
                        handle,
                        info.source_arn,
                        info.destination_arn,
                        info.max_number_of_messages_per_second.map(to_sql),
                        to_sql(info.started_timestamp.as_millis()),
                        to_sql(info.approximate_number_of_messages_to_move),
                        to_sql(info.approximate_number_of_messages_moved),
                        info.status.as_str(),
                        info.failure_reason,
                    ])?;
                // Keep the ten most recent tasks per source, as ListMessageMoveTasks shows.
                transaction
                    .prepare_cached(
                        "DELETE FROM move_tasks WHERE source_arn = ?1 AND handle NOT IN (SELECT handle FROM \
                         move_tasks WHERE source_arn = ?1 ORDER BY started_at DESC LIMIT 10)",
                    )?
                    .execute([&info.source_arn])?;
            }
            StorageEvent::Queue { uid, event } => {
                apply_queue_event(&transaction, *uid, event, &mut highest_sequence, &mut newest_window_end)?;
            }
        }
    }
    for (uid, sequence) in highest_sequence {
        transaction
            .prepare_cached("UPDATE queues SET next_sequence = max(next_sequence, ?2) WHERE uid = ?1")?
            .execute(params![to_sql(uid), to_sql(sequence + 1)])?;
    }
    if let Some(window_end) = newest_window_end {
        // Windows that closed before the newest one opened are over, whatever clock the engine runs on.
        let opened = window_end - DEDUPLICATION_WINDOW;
        transaction
            .prepare_cached("DELETE FROM deduplications WHERE expires_at <= ?1")?
            .execute([to_sql(opened.as_millis())])?;
    }
    transaction.commit()
}

fn apply_queue_event(
    transaction: &Transaction<'_>,
    uid: u64,
    event: &QueueEvent,
    highest_sequence: &mut HashMap<u64, u64>,
    newest_window_end: &mut Option<Timestamp>,
) -> rusqlite::Result<()> {
    let uid_sql = to_sql(uid);
    match event {
        QueueEvent::MessageStored { sequence, message } => {
            let entry = highest_sequence.entry(uid).or_insert(0);
            *entry = (*entry).max(*sequence);
            let (state, until, received_at) = encode_state(message.state);
            let extra = message.extra.as_deref();
            let attributes = message.attributes().map(encode_attributes);
            transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO messages (queue_uid, sequence, message_id, body, attributes, \
                     trace_header, group_id, deduplication_id, dead_letter_source_arn, sender_id, sent_at, \
                     retention_start, first_received_at, receive_count, state, until, received_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                )?
                .execute(params![
                    uid_sql,
                    to_sql(*sequence),
                    message.message_id(),
                    &*message.body,
                    attributes,
                    extra.and_then(|extra| extra.trace_header.as_deref()),
                    extra.and_then(|extra| extra.group_id.as_deref()),
                    extra.and_then(|extra| extra.deduplication_id.as_deref()),
                    extra.and_then(|extra| extra.dead_letter_source_arn.as_deref()),
                    &*message.sender_id,
                    to_sql(message.sent_at.as_millis()),
                    to_sql(message.retention_start.as_millis()),
                    message.first_received_at().map(|at| to_sql(at.as_millis())),
                    message.receive_count,
                    state,
                    until,
                    received_at,
                ])?;
        }
        QueueEvent::MessageUpdated { sequence, receive_count, first_received_at, state } => {
            let (state, until, received_at) = encode_state(*state);
            transaction
                .prepare_cached(
                    "UPDATE messages SET receive_count = ?3, first_received_at = ?4, state = ?5, until = ?6, \
                     received_at = ?7 WHERE queue_uid = ?1 AND sequence = ?2",
                )?
                .execute(params![
                    uid_sql,
                    to_sql(*sequence),
                    receive_count,
                    first_received_at.map(|at| to_sql(at.as_millis())),
                    state,
                    until,
                    received_at
                ])?;
        }
        QueueEvent::MessageRemoved { sequence } => {
            transaction
                .prepare_cached("DELETE FROM messages WHERE queue_uid = ?1 AND sequence = ?2")?
                .execute(params![uid_sql, to_sql(*sequence)])?;
        }
        QueueEvent::Purged => {
            transaction.prepare_cached("DELETE FROM messages WHERE queue_uid = ?1")?.execute([uid_sql])?;
        }
        QueueEvent::MetadataChanged { attributes, tags, last_modified_at, last_purge_at } => {
            transaction
                .prepare_cached(
                    "UPDATE queues SET attributes = ?2, tags = ?3, last_modified_at = ?4, last_purge_at = ?5 \
                     WHERE uid = ?1",
                )?
                .execute(params![
                    uid_sql,
                    pairs_json(attributes),
                    pairs_json(tags),
                    to_sql(last_modified_at.as_millis()),
                    last_purge_at.map(|at| to_sql(at.as_millis()))
                ])?;
        }
        QueueEvent::DeduplicationRecorded { scope_group, deduplication_id, message_id, sequence, expires_at } => {
            *newest_window_end = Some(newest_window_end.map_or(*expires_at, |end| end.max(*expires_at)));
            // Group ids are never empty, so "" stands for "no group scope".
            transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO deduplications (queue_uid, scope_group, deduplication_id, message_id, \
                     sequence, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    uid_sql,
                    scope_group.as_deref().unwrap_or_default(),
                    deduplication_id,
                    message_id,
                    to_sql(*sequence),
                    to_sql(expires_at.as_millis())
                ])?;
        }
    }
    Ok(())
}

/// SQLite integers are signed; every value stored here (ids, sequences, epoch milliseconds) fits.
fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn from_sql(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

fn encode_state(state: MessageState) -> (i64, i64, i64) {
    match state {
        MessageState::Visible => (0, 0, 0),
        MessageState::Delayed { until } => (1, to_sql(until.as_millis()), 0),
        MessageState::InFlight { until, received_at } => {
            (2, to_sql(until.as_millis()), to_sql(received_at.as_millis()))
        }
    }
}

fn decode_state(state: i64, until: i64, received_at: i64) -> Option<MessageState> {
    let at = |millis| Timestamp::from_millis(from_sql(millis));
    match state {
        0 => Some(MessageState::Visible),
        1 => Some(MessageState::Delayed { until: at(until) }),
        2 => Some(MessageState::InFlight { until: at(until), received_at: at(received_at) }),
        _ => None,
    }
}

fn pairs_json(pairs: &[(String, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        pairs.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
    serde_json::Value::Object(map).to_string()
}

fn pairs_from_json(text: &str) -> Option<Vec<(String, String)>> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    map.into_iter().map(|(k, v)| v.as_str().map(|v| (k, v.to_owned()))).collect()
}

/// Reads everything back. Errors are descriptions for [`StorageError::Corrupt`].
fn load(connection: &Connection) -> Result<Snapshot, String> {
    let mut queues = Vec::new();
    let mut statement = connection
        .prepare(
            "SELECT uid, name, attributes, tags, created_at, last_modified_at, last_purge_at, next_sequence \
             FROM queues ORDER BY uid",
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
            ))
        })
        .map_err(|e| e.to_string())?;
    for row in rows {
        let (uid, name, attributes, tags, created_at, last_modified_at, last_purge_at, next_sequence) =
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
            messages: load_messages(connection, uid).map_err(|reason| format!("queue {name}: {reason}"))?,
            deduplications: load_deduplications(connection, uid).map_err(|e| e.to_string())?,
            name,
        });
    }
    let move_tasks = load_move_tasks(connection).map_err(|e| format!("move tasks: {e}"))?;
    Ok(Snapshot { queues, move_tasks })
}

fn load_messages(connection: &Connection, uid: i64) -> Result<Vec<(u64, StoredMessage)>, String> {
    let mut statement = connection
        .prepare(
            "SELECT sequence, message_id, body, attributes, trace_header, group_id, deduplication_id, \
             dead_letter_source_arn, sender_id, sent_at, retention_start, first_received_at, receive_count, state, \
             until, received_at FROM messages WHERE queue_uid = ?1 ORDER BY sequence",
        )
        .map_err(|e| e.to_string())?;
    let mut rows = statement.query([uid]).map_err(|e| e.to_string())?;
    let mut messages = Vec::new();
    let mut sender: Option<Arc<str>> = None;
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let sequence = from_sql(row.get(0).map_err(|e| e.to_string())?);
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
        let sender_id = match &sender {
            Some(shared) if **shared == *sender_id => Arc::clone(shared),
            _ => {
                let shared: Arc<str> = Arc::from(sender_id.as_str());
                sender = Some(Arc::clone(&shared));
                shared
            }
        };
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
        messages.push((sequence, message));
    }
    Ok(messages)
}

fn load_move_tasks(connection: &Connection) -> rusqlite::Result<Vec<(String, MoveTaskInfo)>> {
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

fn load_deduplications(connection: &Connection, uid: i64) -> rusqlite::Result<Vec<DeduplicationRecord>> {
    let mut statement = connection.prepare(
        "SELECT scope_group, deduplication_id, message_id, sequence, expires_at FROM deduplications \
         WHERE queue_uid = ?1",
    )?;
    let rows = statement.query_map([uid], |row| {
        let scope_group: String = row.get(0)?;
        Ok(DeduplicationRecord {
            scope_group: (!scope_group.is_empty()).then_some(scope_group),
            deduplication_id: row.get(1)?,
            message_id: row.get(2)?,
            sequence: from_sql(row.get(3)?),
            expires_at: Timestamp::from_millis(from_sql(row.get(4)?)),
        })
    })?;
    rows.collect()
}
