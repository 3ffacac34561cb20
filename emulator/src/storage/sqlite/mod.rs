//! [`SqliteStorage`]: events written by one thread into SQLite (WAL, `synchronous=FULL`), one transaction and
//! one fsync per batch of whatever was appended meanwhile (group commit).
//!
//! - `schema.rs`: the file's tables, opening and checking it, and how values map into columns;
//! - `write.rs`: one batch of events as one transaction; `load.rs`: reading everything back at start-up.

mod load;
mod schema;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::StorageError;
use crate::engine::{Durable, EventSink, Snapshot, StorageEvent, StorageFailure};
use load::load;
use schema::open_connection;
use write::write_batch;

const FILE_NAME: &str = "sqskit.db";

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
