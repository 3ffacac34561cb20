//! The ceiling of an append-only message log on this machine's disk, for comparison with the SQLite storage
//! (`storage_bench`): what the writer and syncer threads would cost per message if each commit were one `pwrite`
//! of framed, checksummed records and one `fdatasync`, with no B-tree, no write-ahead log frames and no
//! checkpoint copy. It does not use the emulator: it only writes bytes the way such a log would.
//!
//! One writer thread encodes `PER_COMMIT` records of the size of a stored message (the body plus about 120 bytes
//! of id, sender, timestamps and state, a length and a CRC-32) and appends them with one `pwrite`; one syncer
//! thread `fdatasync`s whatever was appended. The writer stays at most one commit ahead of the syncer, as the
//! emulator's writer did when this was written (it now makes its fsyncs itself: BENCHMARKS.md, issue #20, round
//! ten); the bench keeps the two threads, so its figures stay comparable with round nine's. Two phases: into blocks written once before (as a log that recycles its segments
//! would write), then into a new file that grows with every commit.
//!
//! ```text
//! cargo run --release -p sqskit-emulator --example append_log_bench -- [MESSAGES] [PER_COMMIT] [BODY_BYTES] [DIR]
//! ```
//!
//! Prints, per phase, messages per second, the CPU time per message of each thread and per `fdatasync` of the
//! syncer (Linux: read from `/proc/thread-self/stat`). Run it pinned (`taskset -c 0`) like `storage_bench`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Bytes of a record besides the body: length, kind, queue and sequence, message id, sender id, sent and
/// retention timestamps, receive count, state, the body's length and CRC-32.
const RECORD_OVERHEAD: usize = 4 + 1 + 16 + 36 + 12 + 16 + 4 + 17 + 4 + 4;

/// Commits appended and commits on disk; `done` once the writer has appended its last.
#[derive(Default)]
struct Progress {
    appended: u64,
    synced: u64,
    done: bool,
}

/// What the writer and the syncer share.
#[derive(Default)]
struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    /// Waits until `ready` holds.
    fn wait_until(&self, ready: impl Fn(&Progress) -> bool) -> std::sync::MutexGuard<'_, Progress> {
        let mut progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        while !ready(&progress) {
            progress = self.changed.wait(progress).unwrap_or_else(PoisonError::into_inner);
        }
        progress
    }
}

/// CPU time of the calling thread so far (Linux: `/proc/thread-self/stat`; zero elsewhere).
fn own_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/thread-self/stat") else { return Duration::ZERO };
    let Some(close) = stat.rfind(')') else { return Duration::ZERO };
    let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
    let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<u32>().ok()).unwrap_or(0);
    // Clock ticks per second: 100 on every Linux we run on.
    Duration::from_millis(10) * (ticks(11) + ticks(12))
}

/// Appends one record for message `sequence` to `buffer`.
fn encode_record(buffer: &mut Vec<u8>, sequence: u64, body: &[u8]) {
    let start = buffer.len();
    buffer.extend_from_slice(&[0; 4]);
    buffer.push(1);
    buffer.extend_from_slice(&1_u64.to_le_bytes());
    buffer.extend_from_slice(&sequence.to_le_bytes());
    buffer.extend_from_slice(format!("{sequence:08x}-0000-4000-8000-000000000000").as_bytes());
    buffer.extend_from_slice(b"000000000000");
    buffer.extend_from_slice(&(1_700_000_000_000 + sequence).to_le_bytes());
    buffer.extend_from_slice(&(1_700_000_000_000 + sequence).to_le_bytes());
    buffer.extend_from_slice(&0_u32.to_le_bytes());
    buffer.extend_from_slice(&[0; 17]);
    buffer.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    buffer.extend_from_slice(body);
    let length = u32::try_from(buffer.len() - start + 4).unwrap_or(u32::MAX);
    buffer[start..start + 4].copy_from_slice(&length.to_le_bytes());
    let checksum = crc32fast::hash(&buffer[start..]);
    buffer.extend_from_slice(&checksum.to_le_bytes());
}

/// The syncer: `fdatasync` whenever the writer appended more than the last one covered; returns the number of
/// `fdatasync` calls and the CPU time it spent.
fn sync_loop(file: &File, shared: &Shared) -> io::Result<(u64, Duration)> {
    let (mut calls, start) = (0, own_cpu());
    loop {
        let target = {
            let progress = shared.wait_until(|progress| progress.appended > progress.synced || progress.done);
            if progress.appended == progress.synced {
                return Ok((calls, own_cpu().saturating_sub(start)));
            }
            progress.appended
        };
        file.sync_data()?;
        calls += 1;
        shared.progress.lock().unwrap_or_else(PoisonError::into_inner).synced = target;
        shared.changed.notify_all();
    }
}

/// One phase: `messages` messages in commits of `per_commit` into `path` (written full of zeros first when
/// `preallocated`).
fn phase(path: &Path, messages: u64, per_commit: u64, body: &[u8], preallocated: bool) -> io::Result<()> {
    let file = Arc::new(OpenOptions::new().create(true).truncate(true).read(true).write(true).open(path)?);
    if preallocated {
        let size = messages * (body.len() + RECORD_OVERHEAD) as u64;
        let zeros = vec![0_u8; 1 << 20];
        for offset in (0..size + (1 << 20)).step_by(1 << 20) {
            file.write_all_at(&zeros, offset)?;
        }
        file.sync_all()?;
    }
    let shared = Arc::new(Shared::default());
    let syncer = {
        let (file, shared) = (Arc::clone(&file), Arc::clone(&shared));
        std::thread::Builder::new().name("log-syncer".to_owned()).spawn(move || sync_loop(&file, &shared))?
    };
    let started = Instant::now();
    let writer = {
        let (file, shared, body) = (Arc::clone(&file), Arc::clone(&shared), body.to_vec());
        std::thread::Builder::new().name("log-writer".to_owned()).spawn(move || -> io::Result<Duration> {
            let start = own_cpu();
            let mut buffer = Vec::new();
            let (mut offset, mut sequence, mut commits) = (0_u64, 0_u64, 0_u64);
            while sequence < messages {
                buffer.clear();
                for _ in 0..per_commit.min(messages - sequence) {
                    encode_record(&mut buffer, sequence, &body);
                    sequence += 1;
                }
                file.write_all_at(&buffer, offset)?;
                offset += buffer.len() as u64;
                commits += 1;
                let mut progress = shared.progress.lock().unwrap_or_else(PoisonError::into_inner);
                progress.appended = commits;
                drop(progress);
                shared.changed.notify_all();
                // At most one commit ahead of the syncer.
                drop(shared.wait_until(|progress| progress.synced + 1 >= commits));
            }
            let mut progress = shared.wait_until(|progress| progress.synced == commits);
            progress.done = true;
            drop(progress);
            shared.changed.notify_all();
            Ok(own_cpu().saturating_sub(start))
        })?
    };
    let writer_cpu = writer.join().unwrap_or_else(|_| Err(io::Error::other("the writer thread panicked")))?;
    let (calls, syncer_cpu) = syncer.join().unwrap_or_else(|_| Err(io::Error::other("the syncer thread panicked")))?;
    let elapsed = started.elapsed();
    let per_message = |spent: Duration| spent.as_secs_f64() * 1e6 / messages as f64;
    println!(
        "{:>12}: {messages} messages in commits of {per_commit}, {:.0} msg/s; CPU µs per message: writer {:.2}, \
         syncer {:.2}; {calls} fdatasync calls, {:.0} µs of syncer CPU each",
        if preallocated { "preallocated" } else { "growing" },
        messages as f64 / elapsed.as_secs_f64(),
        per_message(writer_cpu),
        per_message(syncer_cpu),
        syncer_cpu.as_secs_f64() * 1e6 / calls.max(1) as f64,
    );
    std::fs::remove_file(path)
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut number = |default: u64| args.next().and_then(|arg| arg.parse().ok()).unwrap_or(default);
    let (messages, per_commit, body_bytes) = (number(300_000), number(60), number(256));
    let dir = std::env::args().nth(4).map_or_else(std::env::temp_dir, PathBuf::from);
    let body = vec![b'x'; usize::try_from(body_bytes).unwrap_or(256)];
    let path = dir.join(format!("append-log-bench-{}.log", std::process::id()));
    phase(&path, messages, per_commit.max(1), &body, true)?;
    phase(&path, messages, per_commit.max(1), &body, false)
}
