//! Durable storage behind the engine's [`EventSink`](crate::engine::EventSink): the engine describes changes,
//! storage writes them; the engine never builds SQL.
//!
//! Write-behind with group commit, decided once here: [`SqliteStorage`] appends events to an in-memory queue
//! under the engine's queue lock (cheap), and one writer thread drains everything queued so far into one commit
//! record of the message log (`log/`) and one fsync; SQLite keeps what is not a message, applied later.
//! Requests that must be durable before they are acknowledged wait for the commit that covers them
//! ([`EventSink::durable`](crate::engine::EventSink::durable)), so concurrent requests share one fsync. See
//! ARCHITECTURE.md for what is durable when.

mod codec;
mod log;
mod sqlite;
#[cfg(test)]
mod test_events;

use std::path::PathBuf;
use std::sync::Arc;

pub use sqlite::SqliteStorage;

/// The sender id `text` of a message read back, as the `Arc` of the message read before it (`last`) when it is
/// the same, and as a new one (kept in `last` for the next) otherwise: most messages share their sender, so a
/// restore of millions keeps one copy, as the engine does.
fn shared_sender(last: &mut Option<Arc<str>>, text: &str) -> Arc<str> {
    match last {
        Some(shared) if **shared == *text => Arc::clone(shared),
        _ => Arc::clone(last.insert(Arc::from(text))),
    }
}

/// Why the data directory could not be used. Every variant names the file, so the operator can act on it.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened or read.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// The file is not an sqskit-emulator data file; it is left untouched.
    #[error(
        "{path} is not an sqskit-emulator data file ({reason}); refusing to use it. Point --data-dir at an empty \
         directory or one written by sqskit-emulator"
    )]
    Foreign {
        /// The database file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// The file is an sqskit-emulator data file that cannot be read back.
    #[error("{path} is damaged: {reason}; restore it from a backup or move it away to start empty")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The writer thread could not be started.
    #[error("cannot start the storage writer: {0}")]
    Writer(std::io::Error),
}
