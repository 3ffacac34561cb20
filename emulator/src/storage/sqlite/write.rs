//! Writing: one batch of storage events as one transaction (the group commit of the writer thread).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rusqlite::{CachedStatement, Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::schema::{SEQUENCE_BITS, SEQUENCE_LIMIT, encode_first_received, encode_state, pairs_json, to_sql};
use crate::engine::{QueueEvent, StorageEvent, Timestamp};
use crate::storage::codec::encode_attributes;

/// FIFO deduplication windows last 5 minutes; older rows are pruned.
const DEDUPLICATION_WINDOW: Duration = Duration::from_secs(300);

/// The writer's connection, with the storage slots of the queues it has written to (a cache of
/// `queues.slot`: it goes with the connection, so a connection opened again after a failure reads them anew).
pub(super) struct Database {
    /// The connection.
    pub(super) connection: Connection,
    slots: Slots,
    /// The latest end of a deduplication window written through this connection.
    newest_window_end: Option<Timestamp>,
    /// The end of window the last pruning of every queue went by ([`Database::prune_every_queue`]).
    pruned_for: Option<Timestamp>,
}

impl Database {
    /// The writer's database on `connection`.
    pub(super) fn new(connection: Connection) -> Self {
        Self { connection, slots: Slots::default(), newest_window_end: None, pruned_for: None }
    }

    /// Deletes the closed deduplication windows of every queue, not only of those that opened new ones since
    /// (which each commit prunes), once newer windows have been written; returns how many went.
    pub(super) fn prune_every_queue(&mut self) -> rusqlite::Result<usize> {
        let Some(window_end) = self.newest_window_end.filter(|end| Some(*end) != self.pruned_for) else {
            return Ok(0);
        };
        let transaction = self.connection.transaction()?;
        let slots: Vec<i64> = transaction
            .prepare("SELECT slot FROM queues")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        let mut pruned = 0;
        for slot in slots {
            pruned += prune_windows(&transaction, slot, window_end)?;
        }
        transaction.commit()?;
        self.pruned_for = Some(window_end);
        Ok(pruned)
    }

    /// Writes `events` in one transaction (tests: the storage itself goes through [`Database::begin`]).
    #[cfg(test)]
    pub(super) fn write_batch<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a StorageEvent>,
    ) -> rusqlite::Result<()> {
        let mut transaction = self.begin()?;
        transaction.write(&events.into_iter().collect::<Vec<_>>())?;
        transaction.commit()
    }

    /// Begins a transaction that events can be written into in several parts.
    pub(super) fn begin(&mut self) -> rusqlite::Result<OpenTransaction<'_>> {
        OpenTransaction::begin(&mut self.connection, &mut self.slots, &mut self.newest_window_end)
    }
}

/// Queue uid → its storage slot, `None` for a queue the file does not hold; read from `queues` once per queue.
#[derive(Debug, Default)]
struct Slots(HashMap<u64, Option<i64>>);

impl Slots {
    /// The slot of queue `uid`, as `transaction` sees it.
    fn get(&mut self, transaction: &Transaction<'_>, uid: u64) -> rusqlite::Result<Option<i64>> {
        if let Some(slot) = self.0.get(&uid) {
            return Ok(*slot);
        }
        let slot = transaction
            .prepare_cached("SELECT slot FROM queues WHERE uid = ?1")?
            .query_row([to_sql(uid)], |row| row.get(0))
            .optional()?;
        self.0.insert(uid, slot);
        Ok(slot)
    }

    /// Queue `uid` was created or deleted: its slot is read again when next needed.
    fn forget(&mut self, uid: u64) {
        self.0.remove(&uid);
    }
}

/// The key of message `sequence` of the queue in `slot` (see [`SEQUENCE_BITS`]).
fn message_key(slot: i64, sequence: u64) -> i64 {
    (slot << SEQUENCE_BITS) | to_sql(sequence)
}

/// Refuses a sequence of queue `uid` that a row key cannot hold (see [`SEQUENCE_BITS`]): the commit fails.
fn within_key_limit(uid: u64, sequence: u64) -> rusqlite::Result<()> {
    if sequence < SEQUENCE_LIMIT {
        return Ok(());
    }
    Err(rusqlite::Error::ToSqlConversionFailure(
        format!(
            "message sequence {sequence} of queue {uid} is beyond the {SEQUENCE_LIMIT} a queue can store in this file \
             format; create a new queue (its sequences start again at 1)"
        )
        .into(),
    ))
}

/// The first and last keys a queue in `slot` can use.
fn slot_keys(slot: i64) -> (i64, i64) {
    (message_key(slot, 0), message_key(slot, SEQUENCE_LIMIT - 1))
}

/// Deletes the deduplication windows of the queue in `slot` that closed before the window ending at
/// `newest_window_end` opened (over, whatever clock the engine runs on); returns how many went. A queue opens its
/// windows in sequence order, all of the same length, so the closed ones are those before the first still open:
/// the cost is a seek plus the rows deleted. (A clock moved back can leave a closed window after an open one
/// until the windows before it close; the engine ignores closed windows when it restores them.)
fn prune_windows(transaction: &Transaction<'_>, slot: i64, newest_window_end: Timestamp) -> rusqlite::Result<usize> {
    let opened = newest_window_end - DEDUPLICATION_WINDOW;
    let (first, last) = slot_keys(slot);
    transaction
        .prepare_cached(
            "DELETE FROM deduplications WHERE key >= ?1 AND key < coalesce((SELECT key FROM deduplications \
             WHERE key BETWEEN ?1 AND ?2 AND expires_at > ?3 ORDER BY key LIMIT 1), ?2 + 1)",
        )?
        .execute(params![first, last, to_sql(opened.as_millis())])
}

/// A transaction the writer adds events to, in as many parts as they arrive, before it commits them together.
pub(super) struct OpenTransaction<'c> {
    /// Dropped before the transaction (fields drop in order), which a failure rolls back.
    statements: HotStatements<'c>,
    transaction: Transaction<'c>,
    slots: &'c mut Slots,
    /// The database's latest end of a deduplication window, raised at commit.
    database_window_end: &'c mut Option<Timestamp>,
    /// The highest message sequence stored per queue: `next_sequence` is raised past it at commit.
    highest_sequence: HashMap<u64, u64>,
    /// The latest end of a deduplication window recorded: older windows are pruned at commit.
    newest_window_end: Option<Timestamp>,
    /// The slots of the queues that opened deduplication windows: their closed ones are pruned at commit.
    deduplicated: HashSet<i64>,
    /// The number of the last log event the transaction applies, written into `log_state` at commit.
    applied_through: Option<u64>,
}

impl<'c> OpenTransaction<'c> {
    fn begin(
        connection: &'c mut Connection,
        slots: &'c mut Slots,
        database_window_end: &'c mut Option<Timestamp>,
    ) -> rusqlite::Result<Self> {
        // Shared, so that the statements held for the transaction can borrow the connection beside it.
        let connection: &'c Connection = connection;
        Ok(Self {
            statements: HotStatements::new(connection),
            transaction: Transaction::new_unchecked(connection, TransactionBehavior::Deferred)?,
            slots,
            database_window_end,
            highest_sequence: HashMap::new(),
            newest_window_end: None,
            deduplicated: HashSet::new(),
            applied_through: None,
        })
    }

    /// Notes that queue `uid` stored a message with `sequence` (in the message log, not in this file): its
    /// `next_sequence` is raised past it at commit, as for a message stored through [`OpenTransaction::write`].
    pub(super) fn raise_sequence(&mut self, uid: u64, sequence: u64) {
        let entry = self.highest_sequence.entry(uid).or_insert(0);
        *entry = (*entry).max(sequence);
    }

    /// Records at commit, in the same transaction, that the file holds the changes of the message log's events
    /// up to number `through` (`log_state`); the last call counts.
    pub(super) fn set_applied_through(&mut self, through: u64) {
        self.applied_through = Some(through);
    }

    /// Writes `events`, in order, into the transaction.
    pub(super) fn write(&mut self, events: &[&StorageEvent]) -> rusqlite::Result<()> {
        let superseded = superseded(events);
        let (transaction, statements, slots) = (&self.transaction, &mut self.statements, &mut *self.slots);
        let (highest_sequence, newest_window_end) = (&mut self.highest_sequence, &mut self.newest_window_end);
        let deduplicated = &mut self.deduplicated;
        for (index, event) in events.iter().copied().enumerate() {
            if superseded.get(index).copied().unwrap_or(false) {
                if let StorageEvent::Queue { uid, event: QueueEvent::MessageStored { sequence, .. } } = event {
                    let entry = highest_sequence.entry(*uid).or_insert(0);
                    *entry = (*entry).max(*sequence);
                }
                continue;
            }
            match event {
                StorageEvent::QueueCreated { uid, name, attributes, tags, created_at } => {
                    transaction
                        .prepare_cached(
                            "INSERT OR REPLACE INTO queues (uid, name, attributes, tags, created_at, last_modified_at, \
                             last_purge_at, next_sequence, slot) VALUES (?1, ?2, ?3, ?4, ?5, ?5, NULL, 1, \
                             coalesce((SELECT slot FROM queues WHERE uid = ?1), (SELECT CASE WHEN NOT EXISTS \
                             (SELECT 1 FROM queues WHERE slot = 1) THEN 1 ELSE (SELECT min(slot) + 1 FROM queues AS q \
                             WHERE slot >= 1 AND NOT EXISTS (SELECT 1 FROM queues AS r WHERE r.slot = q.slot + 1)) END)))",
                        )?
                        .execute(params![
                            to_sql(*uid),
                            name,
                            pairs_json(attributes),
                            pairs_json(tags),
                            to_sql(created_at.as_millis())
                        ])?;
                    slots.forget(*uid);
                }
                StorageEvent::QueueRenamed { uid, name } => {
                    transaction
                        .prepare_cached("UPDATE queues SET name = ?2 WHERE uid = ?1")?
                        .execute(params![to_sql(*uid), name])?;
                }
                StorageEvent::QueueDeleted { uid } => {
                    // The messages first: their keys come from the queue's slot.
                    delete_queue_messages(transaction, slots, *uid)?;
                    if let Some(slot) = slots.get(transaction, *uid)? {
                        let (first, last) = slot_keys(slot);
                        transaction
                            .prepare_cached("DELETE FROM deduplications WHERE key BETWEEN ?1 AND ?2")?
                            .execute([first, last])?;
                        deduplicated.remove(&slot);
                    }
                    slots.forget(*uid);
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
                StorageEvent::MoveTasksForgotten { source_arn } => {
                    transaction
                        .prepare_cached("DELETE FROM move_tasks WHERE source_arn = ?1")?
                        .execute([source_arn])?;
                }
                StorageEvent::Queue { uid, event } => {
                    let written = Written { highest_sequence, newest_window_end, deduplicated };
                    apply_queue_event(transaction, statements, slots, *uid, event, written)?;
                }
            }
        }
        Ok(())
    }

    /// Raises the queues' next sequences, prunes the closed deduplication windows of the queues that opened new
    /// ones, records how far the log is applied (when set), and commits.
    pub(super) fn commit(self) -> rusqlite::Result<()> {
        drop(self.statements);
        let transaction = self.transaction;
        for (uid, sequence) in self.highest_sequence {
            transaction
                .prepare_cached("UPDATE queues SET next_sequence = max(next_sequence, ?2) WHERE uid = ?1")?
                .execute(params![to_sql(uid), to_sql(sequence.saturating_add(1))])?;
        }
        if let Some(window_end) = self.newest_window_end {
            for slot in self.deduplicated {
                prune_windows(&transaction, slot, window_end)?;
            }
        }
        if let Some(through) = self.applied_through {
            // One row; written back should it ever be missing.
            let through = to_sql(through);
            if transaction.prepare_cached("UPDATE log_state SET applied_through = ?1")?.execute([through])? == 0 {
                transaction
                    .prepare_cached("INSERT INTO log_state (applied_through) VALUES (?1)")?
                    .execute([through])?;
            }
        }
        transaction.commit()?;
        if let Some(window_end) = self.newest_window_end {
            let newest = self.database_window_end.get_or_insert(window_end);
            *newest = (*newest).max(window_end);
        }
        Ok(())
    }
}

/// Which events of a batch need not be written because a later event of the same transaction overwrites their
/// row: a message stored or updated and then removed (the removal's DELETE still runs), or updated again. The
/// transaction commits all or nothing, so the file never holds the state between them. Under load this is the
/// common case of a drain: a receive's update and the delete that follows it land in the same batch.
fn superseded(events: &[&StorageEvent]) -> Vec<bool> {
    let mut skip = vec![false; events.len()];
    // Rows a later event of the batch removes, or rewrites completely (an update sets every column it writes).
    let mut removed_later: HashSet<(u64, u64)> = HashSet::new();
    let mut updated_later: HashSet<(u64, u64)> = HashSet::new();
    for (index, event) in events.iter().enumerate().rev() {
        let StorageEvent::Queue { uid, event } = event else { continue };
        match event {
            QueueEvent::MessageRemoved { sequence } => {
                removed_later.insert((*uid, *sequence));
            }
            QueueEvent::MessageUpdated { sequence, .. } => {
                let key = (*uid, *sequence);
                if removed_later.contains(&key) || !updated_later.insert(key) {
                    skip[index] = true;
                }
            }
            QueueEvent::MessageStored { sequence, .. } => {
                // A store before an update must stay: the update writes only some columns.
                if removed_later.contains(&(*uid, *sequence)) {
                    skip[index] = true;
                }
                updated_later.remove(&(*uid, *sequence));
            }
            // A purge removes every row of the queue: whatever comes before it is removed too, but the engine
            // purges rarely, so nothing is skipped for it.
            QueueEvent::Purged | QueueEvent::MetadataChanged { .. } | QueueEvent::DeduplicationRecorded { .. } => {}
        }
    }
    skip
}

/// Deletes every message of queue `uid` (none when the file does not hold the queue).
fn delete_queue_messages(transaction: &Transaction<'_>, slots: &mut Slots, uid: u64) -> rusqlite::Result<()> {
    if let Some(slot) = slots.get(transaction, uid)? {
        let (first, last) = slot_keys(slot);
        transaction.prepare_cached("DELETE FROM messages WHERE key BETWEEN ?1 AND ?2")?.execute([first, last])?;
    }
    Ok(())
}

/// The statements of the events a busy queue writes most (sends, receives, deletes, FIFO windows), prepared at
/// their first use in a transaction and held until it ends: looked up in the connection's statement cache once per
/// transaction instead of once per event (a lookup hashes the statement's whole text).
struct HotStatements<'c> {
    connection: &'c Connection,
    store_message: Option<CachedStatement<'c>>,
    update_message: Option<CachedStatement<'c>>,
    remove_message: Option<CachedStatement<'c>>,
    record_window: Option<CachedStatement<'c>>,
}

impl<'c> HotStatements<'c> {
    fn new(connection: &'c Connection) -> Self {
        Self { connection, store_message: None, update_message: None, remove_message: None, record_window: None }
    }

    /// The statement held in `held`, prepared now if it is not yet.
    fn held<'s>(
        connection: &'c Connection,
        held: &'s mut Option<CachedStatement<'c>>,
        sql: &str,
    ) -> rusqlite::Result<&'s mut CachedStatement<'c>> {
        match held {
            Some(statement) => Ok(statement),
            None => Ok(held.insert(connection.prepare_cached(sql)?)),
        }
    }

    fn store_message(&mut self) -> rusqlite::Result<&mut CachedStatement<'c>> {
        Self::held(
            self.connection,
            &mut self.store_message,
            "INSERT OR REPLACE INTO messages (key, message_id, body, attributes, trace_header, group_id, \
             deduplication_id, dead_letter_source_arn, sender_id, sent_at, retention_start, first_received_at, \
             receive_count, state, until, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )
    }

    fn update_message(&mut self) -> rusqlite::Result<&mut CachedStatement<'c>> {
        Self::held(
            self.connection,
            &mut self.update_message,
            "UPDATE messages SET receive_count = ?2, first_received_at = ?3, state = ?4, until = ?5, \
             received_at = ?6 WHERE key = ?1",
        )
    }

    fn remove_message(&mut self) -> rusqlite::Result<&mut CachedStatement<'c>> {
        Self::held(self.connection, &mut self.remove_message, "DELETE FROM messages WHERE key = ?1")
    }

    fn record_window(&mut self) -> rusqlite::Result<&mut CachedStatement<'c>> {
        Self::held(
            self.connection,
            &mut self.record_window,
            "INSERT OR REPLACE INTO deduplications (key, scope_group, deduplication_id, message_id, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
    }
}

/// What a transaction notes of the rows it writes, for its commit.
struct Written<'t> {
    highest_sequence: &'t mut HashMap<u64, u64>,
    newest_window_end: &'t mut Option<Timestamp>,
    deduplicated: &'t mut HashSet<i64>,
}

/// Writes one change of queue `uid` within `transaction`. Rows of a queue the file does not hold (a send that
/// raced DeleteQueue) are not written.
fn apply_queue_event(
    transaction: &Transaction<'_>,
    statements: &mut HotStatements<'_>,
    slots: &mut Slots,
    uid: u64,
    event: &QueueEvent,
    written: Written<'_>,
) -> rusqlite::Result<()> {
    let Written { highest_sequence, newest_window_end, deduplicated } = written;
    let uid_sql = to_sql(uid);
    match event {
        QueueEvent::MessageStored { sequence, message } => {
            let entry = highest_sequence.entry(uid).or_insert(0);
            *entry = (*entry).max(*sequence);
            let (state, until, received_at) = encode_state(message.state);
            let extra = message.extra.as_deref();
            let attributes = message.attributes().map(encode_attributes);
            within_key_limit(uid, *sequence)?;
            let Some(slot) = slots.get(transaction, uid)? else { return Ok(()) };
            statements.store_message()?.execute(params![
                message_key(slot, *sequence),
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
                encode_first_received(message.first_received_at()),
                message.receive_count,
                state,
                until,
                received_at,
            ])?;
        }
        QueueEvent::MessageUpdated { sequence, receive_count, first_received_at, state } => {
            let (state, until, received_at) = encode_state(*state);
            let Some(slot) = slots.get(transaction, uid)? else { return Ok(()) };
            statements.update_message()?.execute(params![
                message_key(slot, *sequence),
                receive_count,
                encode_first_received(*first_received_at),
                state,
                until,
                received_at
            ])?;
        }
        QueueEvent::MessageRemoved { sequence } => {
            if let Some(slot) = slots.get(transaction, uid)? {
                statements.remove_message()?.execute([message_key(slot, *sequence)])?;
            }
        }
        QueueEvent::Purged => delete_queue_messages(transaction, slots, uid)?,
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
            within_key_limit(uid, *sequence)?;
            let Some(slot) = slots.get(transaction, uid)? else { return Ok(()) };
            deduplicated.insert(slot);
            // Group ids are never empty, so "" stands for "no group scope".
            statements.record_window()?.execute(params![
                message_key(slot, *sequence),
                scope_group.as_deref().unwrap_or_default(),
                deduplication_id,
                message_id,
                to_sql(expires_at.as_millis())
            ])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::MessageState;

    fn queue(uid: u64, event: QueueEvent) -> StorageEvent {
        StorageEvent::Queue { uid, event }
    }

    fn updated(sequence: u64) -> QueueEvent {
        QueueEvent::MessageUpdated { sequence, receive_count: 1, first_received_at: None, state: MessageState::Visible }
    }

    #[test]
    fn only_rows_a_later_event_overwrites_are_skipped() {
        let events = [
            queue(1, updated(1)),                                 // removed later: skipped
            queue(1, updated(2)),                                 // updated again later: skipped
            queue(2, updated(1)),                                 // another queue: kept
            queue(1, QueueEvent::MessageRemoved { sequence: 1 }), // kept (the DELETE runs)
            queue(1, updated(2)),                                 // the last update: kept
            queue(1, updated(3)),                                 // removed later: skipped
            queue(1, QueueEvent::Purged),                         // kept
            queue(1, QueueEvent::MessageRemoved { sequence: 3 }), // kept
        ];
        let references: Vec<&StorageEvent> = events.iter().collect();

        let skip = superseded(&references);

        assert_eq!(skip, [true, true, false, false, false, true, false, false]);
    }

    /// Sequences stored elsewhere (the message log) raise `next_sequence` at commit, like stored rows, and
    /// `log_state` records how far the log is applied, in the same transaction: a rolled-back one leaves both.
    #[test]
    fn raised_sequences_and_applied_through_are_written_at_commit() {
        let dir = tempfile::tempdir().expect("temp dir");
        let connection = super::super::schema::open_connection(&dir.path().join("sqskit.db")).expect("open");
        let mut database = Database::new(connection);
        let created = StorageEvent::QueueCreated {
            uid: 1,
            name: "q1".to_owned(),
            attributes: Vec::new(),
            tags: Vec::new(),
            created_at: Timestamp::from_millis(1),
        };
        let state = |database: &Database| -> (i64, u64) {
            let next: i64 = database
                .connection
                .query_row("SELECT next_sequence FROM queues WHERE uid = 1", [], |row| row.get(0))
                .expect("next_sequence");
            (next, super::super::schema::read_applied_through(&database.connection).expect("applied_through"))
        };
        let mut transaction = database.begin().expect("begin");
        transaction.write(&[&created]).expect("created");
        transaction.raise_sequence(1, 9);
        transaction.raise_sequence(1, 4);
        transaction.raise_sequence(2, 5);
        transaction.set_applied_through(6);
        transaction.set_applied_through(7);
        transaction.commit().expect("commit");
        assert_eq!(state(&database), (10, 7));

        let mut transaction = database.begin().expect("begin");
        transaction.raise_sequence(1, 3);
        transaction.set_applied_through(8);
        transaction.commit().expect("commit");
        assert_eq!(state(&database), (10, 8), "never lowered");

        let mut transaction = database.begin().expect("begin");
        transaction.raise_sequence(1, 50);
        transaction.set_applied_through(9);
        drop(transaction);
        assert_eq!(state(&database), (10, 8), "rolled back");
    }
}
