//! Segment files written through before the log needs them (docs/message-log.md, "Segments").
//!
//! An append into blocks of a file that were never written makes the `fdatasync` after it write the file's new
//! block allocation as well as the data, one more write the disk must complete before the flush returns. An
//! append over blocks already written costs the data alone: on the 2-vCPU VM of BENCHMARKS.md an 8 KiB
//! `O_DSYNC` write takes about 130 µs over written blocks and 220 µs into a new file (or a sparse or
//! `fallocate`d one: unwritten extents must be converted, which is a metadata write too).
//!
//! Recycled segments are written through already. When the log grows past them, [`Preparer`]'s thread fills the
//! next segment's file with zeros and syncs it, in chunks so that the log's own flushes never queue behind much
//! of it, while the writer fills the second half of the current segment. The writer renames the file into place
//! when it starts the next segment ([`super::SegmentLog`]), or creates a sparse file if the prepared one is not
//! ready. PostgreSQL fills new WAL files with zeros for the same reason (its `wal_init_zero` setting).
//!
//! What the prepared file holds never matters for correctness: the writer writes the segment's header and records
//! over it, and the reader tells records from anything else by their CRC and event numbers. So a prepared file is
//! kept only while the log is open: one left by a crash is deleted when the log is opened again.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;

/// Name of the file being prepared, or prepared and not yet taken, in the log's directory (the reader ignores it:
/// it is neither a `.seg` nor a `.spare` file).
pub(super) const PREPARED_FILE: &str = "next-segment.prepared";

/// Bytes written (and synced) at a time: a flush of the log queued behind one waits about half a millisecond.
const CHUNK: usize = 256 << 10;

/// The writer's side of the thread that prepares segment files. At most one file is requested, being prepared or
/// ready at a time. Dropping it stops the thread (cutting a fill short) and deletes the prepared file.
#[derive(Debug)]
pub(super) struct Preparer {
    /// The prepared file's path.
    path: PathBuf,
    /// Sizes of the files to prepare; `None` once the thread is told to stop.
    requests: Option<Sender<u64>>,
    /// Each request's outcome.
    outcomes: Receiver<io::Result<File>>,
    /// Tells a fill to stop early.
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// A file is requested and its outcome not received yet.
    requested: bool,
    /// A prepared file, ready to be renamed into place.
    ready: Option<File>,
}

impl Preparer {
    /// Starts the thread for the log in `dir`, deleting a prepared file a crash left there.
    ///
    /// # Errors
    /// I/O errors deleting the file or starting the thread.
    pub(super) fn start(dir: &Path) -> io::Result<Self> {
        let path = dir.join(PREPARED_FILE);
        remove_if_present(&path)?;
        let (requests, requested) = mpsc::channel::<u64>();
        let (outcome, outcomes) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new().name("sqskit-segments".to_owned()).spawn({
            let (path, stop) = (path.clone(), Arc::clone(&stop));
            move || {
                for size in requested {
                    let filled = fill(&path, size, &stop);
                    if filled.is_err() {
                        // A part-filled file would only hold disk space (perhaps what made it fail).
                        let _ = remove_if_present(&path);
                    }
                    if outcome.send(filled).is_err() {
                        break;
                    }
                }
            }
        })?;
        Ok(Self { path, requests: Some(requests), outcomes, stop, thread: Some(thread), requested: false, ready: None })
    }

    /// Asks for a file of `size` bytes, unless one is requested or ready already.
    pub(super) fn request(&mut self, size: u64) {
        self.receive();
        if self.requested || self.ready.is_some() {
            return;
        }
        if let Some(requests) = &self.requests {
            self.requested = requests.send(size).is_ok();
        }
    }

    /// The prepared file, renamed to `path`, if it is ready; `None` while none is, when preparing it failed, or
    /// when the rename fails (then the file is dropped, and the caller creates the file itself: a prepared file
    /// only saves time, so nothing is refused for want of one).
    pub(super) fn take_as(&mut self, path: &Path) -> Option<File> {
        self.receive();
        let file = self.ready.take()?;
        match std::fs::rename(&self.path, path) {
            Ok(()) => Some(file),
            Err(error) => {
                tracing::warn!(%error, from = %self.path.display(), to = %path.display(),
                    "could not rename the prepared segment file into place; creating the segment file instead");
                None
            }
        }
    }

    #[cfg(test)]
    /// Tests: waits for the outcome of the request, if there is one; whether a file is ready then.
    pub(super) fn wait(&mut self) -> bool {
        if self.requested {
            self.requested = false;
            match self.outcomes.recv() {
                Ok(Ok(file)) => self.ready = Some(file),
                Ok(Err(error)) => panic!("preparing failed: {error}"),
                Err(_) => {}
            }
        }
        self.ready.is_some()
    }

    /// Takes the outcome of the request, if it has come.
    fn receive(&mut self) {
        if !self.requested {
            return;
        }
        match self.outcomes.try_recv() {
            Ok(Ok(file)) => {
                self.requested = false;
                self.ready = Some(file);
            }
            Ok(Err(error)) => {
                self.requested = false;
                tracing::warn!(%error, path = %self.path.display(), "could not prepare the next segment file; it is \
                    created when it is needed, which makes the first syncs into it slower");
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => self.requested = false,
        }
    }
}

impl Drop for Preparer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            // The thread has nothing that can panic; were it to, there is nothing more to clean up than below.
            let _ = thread.join();
        }
        if let Err(error) = remove_if_present(&self.path) {
            tracing::warn!(%error, path = %self.path.display(), "could not delete the prepared segment file");
        }
    }
}

/// Creates (or empties) the file at `path` and writes `size` zero bytes to it, syncing each chunk; stops early,
/// with an `Interrupted` error, once `stop` is set.
fn fill(path: &Path, size: u64, stop: &AtomicBool) -> io::Result<File> {
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path)?;
    let zeros = vec![0; CHUNK];
    let mut written = 0;
    while written < size {
        if stop.load(Ordering::Relaxed) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "the log closed"));
        }
        let len = usize::try_from(size - written).map_or(CHUNK, |rest| rest.min(CHUNK));
        file.write_all_at(zeros.get(..len).unwrap_or(&zeros), written)?;
        file.sync_data()?;
        written += len as u64;
    }
    Ok(file)
}

/// Deletes `path`; a missing file is not an error.
fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}
