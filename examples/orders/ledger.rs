//! The books of the outside world the consumer talks to: the payment provider's charges and the carrier's
//! shipments, each keyed by an idempotency key (the order id), optionally kept in a JSON-lines file so they
//! outlive a consumer process (as a real provider's records do). Only this file's records say whether an
//! order was charged twice; nothing here knows about SQS.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// What a ledger line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// The payment provider took `amount_cents`.
    Charge,
    /// The carrier accepted the parcel.
    Shipment,
}

/// One line of the ledger file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Charge or shipment.
    pub kind: EntryKind,
    /// The order (the idempotency key the caller gave).
    pub order_id: String,
    /// The amount charged (0 for shipments).
    pub amount_cents: u64,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// The answer to a charge or shipment request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Done now, for the first time.
    New,
    /// Already done under this idempotency key: nothing new happened (the provider answers with the earlier
    /// result, as payment APIs with idempotency keys do).
    Replayed,
}

#[derive(Debug, Default)]
struct Books {
    /// Every record, in order. A broken caller that bypassed the idempotency key would show up here as two
    /// records for one order: this is what the verification counts.
    entries: Vec<Entry>,
    /// Idempotency keys seen, per kind.
    charged: HashMap<String, usize>,
    shipped: HashMap<String, usize>,
    /// Requests answered from an earlier record.
    charge_replays: u64,
    shipment_replays: u64,
    /// Records read from the file at start-up.
    loaded: usize,
}

/// The payment provider's and the carrier's records.
#[derive(Debug, Default)]
pub struct Ledger {
    books: Mutex<Books>,
    file: Option<Mutex<File>>,
}

/// Counts from a [`Ledger`], for summaries and the verification.
#[derive(Debug, Clone, Default)]
pub struct LedgerSnapshot {
    /// Charges per order id (more than 1 is a double charge).
    pub charges: HashMap<String, u32>,
    /// Shipments per order id.
    pub shipments: HashMap<String, u32>,
    /// Sum of all charges.
    pub charged_cents: u64,
    /// Charge requests answered from an earlier charge (no money moved).
    pub charge_replays: u64,
    /// Shipment requests answered from an earlier shipment.
    pub shipment_replays: u64,
    /// Records read from the file at start-up (a previous consumer's).
    pub loaded: usize,
}

impl Ledger {
    /// A ledger in memory only.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// A ledger kept in `path` (JSON lines, appended): existing records are loaded first, so a restarted
    /// consumer sees what its predecessors charged.
    ///
    /// # Errors
    /// When the file cannot be opened or read, or a line other than a torn last one does not parse.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut books = Books::default();
        if path.exists() {
            let file = File::open(path).with_context(|| format!("cannot read ledger {}", path.display()))?;
            let lines: Vec<String> = BufReader::new(file).lines().collect::<Result<_, _>>()?;
            for (index, line) in lines.iter().enumerate() {
                match serde_json::from_str::<Entry>(line) {
                    Ok(entry) => books.record(entry),
                    // A process killed mid-write can leave a torn last line: that record never completed.
                    Err(_) if index + 1 == lines.len() => {}
                    Err(error) => anyhow::bail!("{}:{}: {error}", path.display(), index + 1),
                }
            }
            books.loaded = books.entries.len();
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open ledger {}", path.display()))?;
        Ok(Self { books: Mutex::new(books), file: Some(Mutex::new(file)) })
    }

    /// Charges `amount_cents` for `order_id`, once: a second request with the same key is a replay.
    ///
    /// # Errors
    /// When the ledger file cannot be written (nothing was charged).
    pub fn charge(&self, order_id: &str, amount_cents: u64) -> anyhow::Result<Recorded> {
        self.record(EntryKind::Charge, order_id, amount_cents)
    }

    /// Ships `order_id`, once.
    ///
    /// # Errors
    /// When the ledger file cannot be written (nothing was shipped).
    pub fn ship(&self, order_id: &str) -> anyhow::Result<Recorded> {
        self.record(EntryKind::Shipment, order_id, 0)
    }

    fn record(&self, kind: EntryKind, order_id: &str, amount_cents: u64) -> anyhow::Result<Recorded> {
        let mut books = lock(&self.books);
        if books.seen(kind, order_id) {
            match kind {
                EntryKind::Charge => books.charge_replays += 1,
                EntryKind::Shipment => books.shipment_replays += 1,
            }
            return Ok(Recorded::Replayed);
        }
        let at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default();
        let entry = Entry { kind, order_id: order_id.to_owned(), amount_cents, at_ms };
        if let Some(file) = &self.file {
            // One write per record, under the books' lock: the file's order is the books' order, and a killed
            // process leaves at most one torn line.
            let mut line = serde_json::to_vec(&entry)?;
            line.push(b'\n');
            lock(file).write_all(&line).context("cannot append to the ledger")?;
        }
        books.record(entry);
        Ok(Recorded::New)
    }

    /// Counts for summaries and the verification.
    pub fn snapshot(&self) -> LedgerSnapshot {
        let books = lock(&self.books);
        let mut snapshot = LedgerSnapshot {
            charge_replays: books.charge_replays,
            shipment_replays: books.shipment_replays,
            loaded: books.loaded,
            ..LedgerSnapshot::default()
        };
        for entry in &books.entries {
            match entry.kind {
                EntryKind::Charge => {
                    *snapshot.charges.entry(entry.order_id.clone()).or_default() += 1;
                    snapshot.charged_cents += entry.amount_cents;
                }
                EntryKind::Shipment => *snapshot.shipments.entry(entry.order_id.clone()).or_default() += 1,
            }
        }
        snapshot
    }

    /// Orders charged so far (distinct).
    pub fn charged_orders(&self) -> usize {
        lock(&self.books).charged.len()
    }

    /// Orders shipped so far (distinct).
    pub fn shipped_orders(&self) -> usize {
        lock(&self.books).shipped.len()
    }
}

impl Books {
    fn seen(&self, kind: EntryKind, order_id: &str) -> bool {
        match kind {
            EntryKind::Charge => self.charged.contains_key(order_id),
            EntryKind::Shipment => self.shipped.contains_key(order_id),
        }
    }

    fn record(&mut self, entry: Entry) {
        let index = self.entries.len();
        match entry.kind {
            EntryKind::Charge => self.charged.insert(entry.order_id.clone(), index),
            EntryKind::Shipment => self.shipped.insert(entry.order_id.clone(), index),
        };
        self.entries.push(entry);
    }
}

// A poisoned lock only means a panic elsewhere between two plain field updates; the books stay usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_charge_with_the_same_key_is_a_replay_and_the_file_survives_a_restart() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("sqskit-ledger-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("ledger.jsonl");
        let ledger = Ledger::open(&path)?;
        assert_eq!(ledger.charge("ORD-1", 500)?, Recorded::New);
        assert_eq!(ledger.charge("ORD-1", 500)?, Recorded::Replayed);
        drop(ledger);

        let restarted = Ledger::open(&path)?;
        assert_eq!(restarted.charge("ORD-1", 500)?, Recorded::Replayed);
        assert_eq!(restarted.snapshot().charges.get("ORD-1"), Some(&1));
        assert_eq!(restarted.snapshot().loaded, 1);
        std::fs::remove_dir_all(dir)?;
        Ok(())
    }
}
