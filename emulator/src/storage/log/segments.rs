//! Segment files and commit records of the message log (docs/message-log.md): where the bytes of the log go, how
//! they are found again at start-up, and what an `fdatasync` must cover. What a record's payload means is not
//! this module's business (`record.rs` encodes the events).
//!
//! # On disk
//!
//! The log is a directory of segment files named by their number, `{number:020}.seg` (`…0001.seg` first).
//! Numbers only grow over the life of the directory. Each file starts with a 40-byte header, all integers
//! little-endian:
//!
//! | Bytes  | Field                                                                                   |
//! |--------|-----------------------------------------------------------------------------------------|
//! | 0..8   | magic `sqskseg\0`                                                                       |
//! | 8..12  | format version, `u32` 1                                                                 |
//! | 12..20 | segment number, `u64` (must be the one in the file's name)                              |
//! | 20..28 | number of the first event the segment holds, `u64`                                      |
//! | 28..36 | *vouched*, `u64`: the newest segment known on disk when this header was written (below) |
//! | 36..40 | CRC-32 of bytes 0..36                                                                   |
//!
//! Commit records follow back to back from byte 40, each written with one positioned write:
//!
//! | Bytes        | Field                                                       |
//! |--------------|-------------------------------------------------------------|
//! | 0..4         | magic `sqkr`                                                |
//! | 4..8         | payload length `n`, `u32`                                   |
//! | 8..16        | number of the record's first event, `u64`                   |
//! | 16..20       | event count, `u32` (at least 1)                             |
//! | 20..20+n     | payload (the encoded events)                                |
//! | 20+n..24+n   | CRC-32 of bytes 0..20+n                                     |
//!
//! The CRCs are CRC-32 (IEEE, `crc32fast`, hardware-accelerated), not the CRC-32C docs/message-log.md names.
//!
//! A record is valid when its magic and CRC check, it fits in the file, its count is not zero and its first event
//! is the number expected next (the first event of the log's first segment, then each record's first event plus
//! its count). A new segment is the file `prepare.rs` filled with zeros beforehand when it is ready (then appends
//! overwrite written blocks), else a new file sized to the segment size up front (`set_len`, sparse); a record
//! larger than a segment gets a segment of its own sized to fit. Recycled segments are renamed
//! `{number:020}.spare` (their old number: unique, as numbers are never live twice once recycled) and renamed back
//! to the next number when reused, with a new header; their old records stay in place and are rejected by the
//! event-number rule, since all of them are older than anything the log holds. Files with other names are not the
//! log's.
//!
//! # Replay
//!
//! [`LogReader`] starts at the oldest `.seg` file and reads records in order. When the next record of a segment
//! is not valid, the log continues in the next segment if the file with the next number has a valid header
//! (magic, version, CRC, number of its name) whose first event is the number expected; otherwise the log ends
//! there. Every `.seg` file after the end is a spare for the writer, whatever it holds.
//!
//! # Torn tail or damage
//!
//! A crash can leave, after the last record made durable, any mix of written and lost pages: a torn record, a new
//! segment whose header was lost while its records were written, or the other way round. None of that was
//! acknowledged, and it all reads as the end of the log. Damage is what a crash cannot produce, that is, losing
//! something that was known to be on disk. The writer records what was known on disk in every header it writes:
//! *vouched* is the newest segment `V` such that the start of every segment up to `V` and every record before `V`'s
//! first event were covered by a successful sync (of this writer, or made durable when it was opened). So the end
//! of the log is reported as an error ([`io::ErrorKind::InvalidData`], naming the file where the log breaks and
//! the file that vouched for more) when:
//!
//! - a valid header anywhere in the directory vouches for a segment after the one the log ends in (a damaged or
//!   missing header in the middle of the log, a damaged record in a segment that is followed by a vouched one);
//! - the oldest `.seg` file's header is not valid and it is not segment 1 (a log that was recycled always starts
//!   with a segment known on disk: [`SegmentLog::recycle_oldest`] makes sure of it), or something vouches for it;
//! - there are `.spare` files but no `.seg` file (the event numbering would be lost);
//! - a header with a valid CRC names a format version other than 1.
//!
//! What no header vouches for reads as a torn tail, damage included: damage at or after the start of the newest
//! vouched segment (the last segment, or the last two when a crash came between a commit that started a segment
//! and its fsync) cannot be
//! told from a crash. I/O errors while reading are errors, never an end.
//!
//! # Writing and syncing
//!
//! [`SegmentLog`] appends and syncs on the writer thread. [`SegmentLog::sync`] makes everything appended so far
//! durable: the directory when a segment file was created or renamed into place since the last sync that
//! succeeded, then every segment written since. A failed sync is not retried on the same data (a failed writeback
//! may have dropped the pages, and a later fsync can succeed without them): the caller rewinds
//! ([`SegmentLog::rewind`]) to the first record not known on disk and appends the same records again, and only
//! the sync after that counts: until the rewind the log refuses to sync or recycle.
//!
//! When the writer is opened, nothing stale can be reached any more: the current segment is cut at the end of the
//! log and the `.seg` files after the end are emptied, and all of it and every segment of the log is synced, with
//! the directory. So a later record can never make never-acknowledged bytes of an earlier run valid again by
//! happening to end where one of them started.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

#[cfg(test)]
use super::prepare::PREPARED_FILE;
use super::prepare::Preparer;

/// Magic of a segment header.
const SEGMENT_MAGIC: [u8; 8] = *b"sqskseg\0";
/// The only format version this module reads and writes.
const FORMAT_VERSION: u32 = 1;
/// Bytes of a segment header; the first record starts here.
pub(in crate::storage) const SEGMENT_HEADER_LEN: u64 = 40;
/// Bytes of a segment header covered by its CRC.
const SEGMENT_CRC_AT: usize = 36;
/// Magic of a commit record.
const RECORD_MAGIC: [u8; 4] = *b"sqkr";
/// Bytes of a commit record's header: its payload starts this far after [`CommitRecord::start`].
pub(in crate::storage) const RECORD_HEADER_LEN: u64 = 20;
/// Bytes of a commit record's CRC, after the payload.
const RECORD_CRC_LEN: u64 = 4;
/// Name suffix of a segment file.
const SEGMENT_SUFFIX: &str = ".seg";
/// Name suffix of a spare (recycled) segment file.
const SPARE_SUFFIX: &str = ".spare";
/// Bytes the reader reads at once (records are cut from this window).
const READ_WINDOW: u64 = 64 << 10;

/// Sizes of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::storage) struct LogConfig {
    /// Bytes of a segment file, header included (a larger record gets a segment of its own, sized to fit).
    pub(in crate::storage) segment_size: u64,
    /// Recycled segment files kept for reuse; more are deleted.
    pub(in crate::storage) spare_segments: usize,
    /// When no spare is left, the next segment's file is filled with zeros in the background once the current
    /// segment is half full (`prepare.rs`), so that appends to it overwrite written blocks.
    pub(in crate::storage) prepare_segments: bool,
}

impl Default for LogConfig {
    /// Production sizes: 32 MiB segments, one spare, so a drained log keeps at most its current segment and the
    /// spare (64 MiB), plus, while it is open, a prepared file that was not used (see
    /// [`LogConfig::prepare_segments`]).
    fn default() -> Self {
        Self { segment_size: 32 << 20, spare_segments: 1, prepare_segments: true }
    }
}

/// A place in the log: a segment and a byte offset in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(in crate::storage) struct Position {
    /// Number of the segment.
    pub(in crate::storage) segment: u64,
    /// Byte offset in the segment's file.
    pub(in crate::storage) offset: u64,
}

/// One commit record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::storage) struct CommitRecord {
    /// Where the record starts (its payload starts [`RECORD_HEADER_LEN`] bytes later).
    pub(in crate::storage) start: Position,
    /// Number of its first event.
    pub(in crate::storage) first_event: u64,
    /// Number of events it holds.
    pub(in crate::storage) count: u32,
    /// The encoded events.
    pub(in crate::storage) payload: Vec<u8>,
}

/// A segment of the log as the reader found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::storage) struct SegmentSummary {
    /// Its number.
    pub(in crate::storage) number: u64,
    /// Number of its first event.
    pub(in crate::storage) first_event: u64,
    /// Offset just after its last valid record.
    pub(in crate::storage) end: u64,
}

/// Where the log ends, from [`LogReader::finish`]: what [`SegmentLog::open`] continues from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::storage) struct LogEnd {
    /// The segments of the log, oldest first (empty for an empty log).
    pub(in crate::storage) segments: Vec<SegmentSummary>,
    /// Where the next record goes: the end of the last segment; for an empty log, segment 1 at offset 0 (the writer
    /// starts it).
    pub(in crate::storage) position: Position,
    /// Number of the next event.
    pub(in crate::storage) next_event: u64,
    /// `.seg` files after the end of the log, by number: not part of it, spares for the writer.
    pub(in crate::storage) after_end: Vec<u64>,
    /// `.spare` files, by number.
    pub(in crate::storage) spares: Vec<u64>,
}

/// The decoded fields of a segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SegmentHeader {
    /// The segment's number.
    number: u64,
    /// Number of its first event.
    first_event: u64,
    /// The newest segment known on disk when the header was written (see the module documentation).
    vouched: u64,
}

impl SegmentHeader {
    /// The header's bytes.
    fn encode(&self) -> [u8; SEGMENT_HEADER_LEN as usize] {
        let mut bytes = [0; SEGMENT_HEADER_LEN as usize];
        bytes[0..8].copy_from_slice(&SEGMENT_MAGIC);
        bytes[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes[12..20].copy_from_slice(&self.number.to_le_bytes());
        bytes[20..28].copy_from_slice(&self.first_event.to_le_bytes());
        bytes[28..36].copy_from_slice(&self.vouched.to_le_bytes());
        let crc = crc32fast::hash(&bytes[..SEGMENT_CRC_AT]);
        bytes[SEGMENT_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// Reads the header of the file `path` that is named segment `number`: `Ok(Err(why))` when it is not valid (the
    /// file is then not part of the log), `Err` on an I/O error or an unsupported format version.
    fn read(file: &File, path: &Path, number: u64) -> io::Result<Result<Self, String>> {
        let mut bytes = [0; SEGMENT_HEADER_LEN as usize];
        let read = read_up_to(file, &mut bytes, 0)?;
        if read < bytes.len() {
            return Ok(Err(format!("shorter than a header ({read} bytes)")));
        }
        if bytes.get(0..8) != Some(&SEGMENT_MAGIC[..]) {
            return Ok(Err("no segment magic".to_owned()));
        }
        if le_u32(&bytes, SEGMENT_CRC_AT) != crc32fast::hash(bytes.get(..SEGMENT_CRC_AT).unwrap_or_default()) {
            return Ok(Err("header CRC mismatch".to_owned()));
        }
        let version = le_u32(&bytes, 8);
        if version != FORMAT_VERSION {
            return Err(damage(path, format!("format version {version}, this build reads {FORMAT_VERSION}")));
        }
        let header = Self { number: le_u64(&bytes, 12), first_event: le_u64(&bytes, 20), vouched: le_u64(&bytes, 28) };
        if header.number != number {
            return Ok(Err(format!("header of segment {}", header.number)));
        }
        Ok(Ok(header))
    }
}

/// A `.seg` file found by the reader.
#[derive(Debug)]
struct FoundSegment {
    /// Its number (from its name).
    number: u64,
    /// Its path.
    path: PathBuf,
    /// Opened read-only.
    file: File,
    /// Its length when opened.
    len: u64,
    /// Its header, or why it is not valid.
    header: Result<SegmentHeader, String>,
}

/// Reads the log in a directory, one commit record at a time, up to its end (see the module documentation).
///
/// Iterate it for the records (an `Err` item ends the iteration: damage or an I/O error), then call
/// [`LogReader::finish`] for where the writer continues.
#[derive(Debug)]
pub(in crate::storage) struct LogReader {
    /// The directory.
    dir: PathBuf,
    /// The `.seg` files, by number.
    found: Vec<FoundSegment>,
    /// Numbers of the `.spare` files.
    spares: Vec<u64>,
    /// The newest segment a valid header vouches for, and the path of the first file that does.
    vouched: Option<(u64, PathBuf)>,
    /// The segments of the log so far.
    live: Vec<SegmentSummary>,
    /// Index in `found` of the segment being read (`None`: not started).
    current: Option<usize>,
    /// Offset of the next record in the current segment.
    offset: u64,
    /// Number of the next event.
    next_event: u64,
    /// The end was reached (or an error returned): nothing more is read.
    done: bool,
    /// The error that ended the reading, returned again by [`Self::finish`].
    failed: Option<(io::ErrorKind, String)>,
    /// Bytes read ahead: from `window_start` in segment `found[window_index]`.
    window: Vec<u8>,
    /// Index in `found` of the window's segment.
    window_index: Option<usize>,
    /// Offset of the window's first byte.
    window_start: u64,
}

impl LogReader {
    /// Opens the log in `dir` (creating nothing; a missing directory is an empty log) and checks every segment
    /// header.
    ///
    /// # Errors
    /// I/O errors listing the directory or reading a header, a header of an unsupported format version.
    pub(in crate::storage) fn open(dir: &Path) -> io::Result<Self> {
        let mut segments = BTreeMap::new();
        let mut spares = Vec::new();
        match fs::read_dir(dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry?;
                    if !entry.file_type()?.is_file() {
                        continue;
                    }
                    let name = entry.file_name();
                    let Some(name) = name.to_str() else { continue };
                    if let Some(number) = parse_name(name, SEGMENT_SUFFIX) {
                        segments.insert(number, entry.path());
                    } else if let Some(number) = parse_name(name, SPARE_SUFFIX) {
                        spares.push(number);
                    }
                }
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        spares.sort_unstable();
        let mut found = Vec::with_capacity(segments.len());
        let mut vouched: Option<(u64, PathBuf)> = None;
        for (number, path) in segments {
            let file = File::open(&path)?;
            let len = file.metadata()?.len();
            let header = SegmentHeader::read(&file, &path, number)?;
            if let Ok(header) = &header {
                if vouched.as_ref().is_none_or(|(most, _)| header.vouched > *most) {
                    vouched = Some((header.vouched, path.clone()));
                }
            }
            found.push(FoundSegment { number, path, file, len, header });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            found,
            spares,
            vouched,
            live: Vec::new(),
            current: None,
            offset: 0,
            next_event: 1,
            done: false,
            failed: None,
            window: Vec::new(),
            window_index: None,
            window_start: 0,
        })
    }

    /// Reads the rest of the log (discarding its records) and says where it ends.
    ///
    /// # Errors
    /// Damage or an I/O error met on the way, now or by the iteration before (see the module documentation).
    pub(in crate::storage) fn finish(mut self) -> io::Result<LogEnd> {
        while self.advance()?.is_some() {}
        if let Some((kind, message)) = self.failed.take() {
            return Err(io::Error::new(kind, message));
        }
        let (position, after_end) = match self.current {
            Some(index) => {
                let number = self.found.get(index).map_or(0, |found| found.number);
                let after = self.found.iter().skip(index + 1).map(|found| found.number).collect();
                (Position { segment: number, offset: self.offset }, after)
            }
            None => (Position { segment: 1, offset: 0 }, self.found.iter().map(|found| found.number).collect()),
        };
        Ok(LogEnd { segments: self.live, position, next_event: self.next_event, after_end, spares: self.spares })
    }

    /// The next valid record, `None` at the end of the log.
    fn advance(&mut self) -> io::Result<Option<CommitRecord>> {
        if self.done {
            return Ok(None);
        }
        let result = self.step();
        match &result {
            Ok(Some(_)) => {}
            Ok(None) => self.done = true,
            Err(error) => {
                self.done = true;
                self.failed = Some((error.kind(), error.to_string()));
            }
        }
        result
    }

    /// [`Self::advance`] without the fuse.
    fn step(&mut self) -> io::Result<Option<CommitRecord>> {
        let mut index = match self.current {
            Some(index) => index,
            None => {
                if !self.start()? {
                    return Ok(None);
                }
                0
            }
        };
        loop {
            if let Some(record) = self.record_at(index)? {
                return Ok(Some(record));
            }
            let number = self.found.get(index).map_or(0, |found| found.number);
            let continues = self.found.get(index + 1).is_some_and(|next| {
                next.number == number + 1
                    && next.header.as_ref().is_ok_and(|header| header.first_event == self.next_event)
            });
            if !continues {
                self.check_end(index, number)?;
                return Ok(None);
            }
            if let Some(last) = self.live.last_mut() {
                last.end = self.offset;
            }
            index += 1;
            self.current = Some(index);
            self.offset = SEGMENT_HEADER_LEN;
            self.live.push(SegmentSummary {
                number: number + 1,
                first_event: self.next_event,
                end: SEGMENT_HEADER_LEN,
            });
        }
    }

    /// Starts at the oldest `.seg` file: `false` for an empty log.
    fn start(&mut self) -> io::Result<bool> {
        let vouched = self.vouched.as_ref().map_or(0, |(vouched, _)| *vouched);
        let Some(oldest) = self.found.first() else {
            if self.spares.is_empty() {
                return Ok(false);
            }
            return Err(damage(&self.dir, "spare segment files but no segment file".to_owned()));
        };
        match &oldest.header {
            Ok(header) => {
                self.current = Some(0);
                self.offset = SEGMENT_HEADER_LEN;
                self.next_event = header.first_event;
                self.live.push(SegmentSummary {
                    number: oldest.number,
                    first_event: header.first_event,
                    end: SEGMENT_HEADER_LEN,
                });
                Ok(true)
            }
            // The first segment of a new log, never known on disk: an empty log.
            Err(_) if oldest.number == 1 && vouched < 1 => Ok(false),
            Err(why) => {
                let vouched_by = self.vouched_by();
                Err(damage(&oldest.path, format!("the oldest segment file is not valid ({why}){vouched_by}")))
            }
        }
    }

    /// The log ends in `found[index]` (segment `number`): an error if a header vouches for more.
    fn check_end(&self, index: usize, number: u64) -> io::Result<()> {
        let Some((vouched, by)) = &self.vouched else { return Ok(()) };
        if *vouched <= number {
            return Ok(());
        }
        let next = number + 1;
        let (path, why) = match self.found.get(index + 1).filter(|found| found.number == next) {
            Some(found) => match &found.header {
                Err(why) => (found.path.clone(), format!("header not valid ({why})")),
                Ok(header) => (found.path.clone(), format!("starts at event {}", header.first_event)),
            },
            None => (self.dir.join(segment_file_name(next)), "missing".to_owned()),
        };
        let ends_in = self.found.get(index).map_or_else(|| self.dir.clone(), |found| found.path.clone());
        Err(damage(
            &path,
            format!(
                "{why}, but {} says segment {vouched} was on disk; the log ends in {} at offset {} before event {}",
                by.display(),
                ends_in.display(),
                self.offset,
                self.next_event
            ),
        ))
    }

    /// " (… vouches for it)" when a header vouches for the oldest segment, for an error message.
    fn vouched_by(&self) -> String {
        match &self.vouched {
            Some((vouched, by)) if *vouched >= 1 => format!("; {} says segment {vouched} was on disk", by.display()),
            _ => String::new(),
        }
    }

    /// The valid record at the reader's offset in `found[index]`, advancing past it; `None` if there is none.
    fn record_at(&mut self, index: usize) -> io::Result<Option<CommitRecord>> {
        let Some(found) = self.found.get(index) else { return Ok(None) };
        let (number, len) = (found.number, found.len);
        let offset = self.offset;
        if offset.checked_add(RECORD_HEADER_LEN).is_none_or(|end| end > len) {
            return Ok(None);
        }
        let mut head = [0; RECORD_HEADER_LEN as usize];
        head.copy_from_slice(self.bytes(index, offset, RECORD_HEADER_LEN)?);
        if head.get(0..4) != Some(&RECORD_MAGIC[..]) {
            return Ok(None);
        }
        let payload_len = u64::from(le_u32(&head, 4));
        let first_event = le_u64(&head, 8);
        let count = le_u32(&head, 16);
        let total = RECORD_HEADER_LEN + payload_len + RECORD_CRC_LEN;
        let next_event = self.next_event.checked_add(u64::from(count));
        if offset + total > len || first_event != self.next_event || count == 0 || next_event.is_none() {
            return Ok(None);
        }
        let bytes = self.bytes(index, offset, total)?;
        let crc_at = to_usize(RECORD_HEADER_LEN + payload_len)?;
        let (covered, crc) = bytes.split_at(crc_at);
        if crc32fast::hash(covered) != le_u32(crc, 0) {
            return Ok(None);
        }
        let payload = covered.get(to_usize(RECORD_HEADER_LEN)?..).unwrap_or_default().to_vec();
        self.offset = offset + total;
        self.next_event = next_event.unwrap_or(u64::MAX);
        if let Some(last) = self.live.last_mut() {
            last.end = self.offset;
        }
        Ok(Some(CommitRecord { start: Position { segment: number, offset }, first_event, count, payload }))
    }

    /// `len` bytes at `offset` of `found[index]` (the caller checked that the file holds them), from the window.
    fn bytes(&mut self, index: usize, offset: u64, len: u64) -> io::Result<&[u8]> {
        let window_end = self.window_start + self.window.len() as u64;
        let hit = self.window_index == Some(index) && offset >= self.window_start && offset + len <= window_end;
        if !hit {
            let Some(found) = self.found.get(index) else { return Ok(&[]) };
            let want = len.max(READ_WINDOW).min(found.len.saturating_sub(offset)).max(len);
            self.window_index = None;
            self.window.resize(to_usize(want)?, 0);
            found.file.read_exact_at(&mut self.window, offset)?;
            self.window_index = Some(index);
            self.window_start = offset;
        }
        let start = to_usize(offset - self.window_start)?;
        let end = start + to_usize(len)?;
        self.window.get(start..end).ok_or_else(|| io::Error::other("log reader window out of range"))
    }
}

impl Iterator for LogReader {
    type Item = io::Result<CommitRecord>;

    /// The next valid record; `None` at the end of the log; an error (then `None`) on damage or an I/O error.
    fn next(&mut self) -> Option<Self::Item> {
        self.advance().transpose()
    }
}

/// A live segment of the writer.
#[derive(Debug)]
struct Segment {
    /// Its header as written.
    header: SegmentHeader,
    /// Its file, opened read-write.
    file: File,
    /// Bytes the writer may fill.
    capacity: u64,
    /// Offset just after its last record (the append position of the current segment).
    end: u64,
    /// Written since the last sync that succeeded.
    unsynced: bool,
}

/// A `.seg` file after the current segment, reused in place when the writer reaches its number.
#[derive(Debug)]
struct Ahead {
    /// The file, opened read-write.
    file: File,
    /// Its header, kept when the writer reaches it again with the same first event (after a rewind); `None` for a
    /// file emptied at open.
    header: Option<SegmentHeader>,
}

/// The writer side of the log: appends commit records to segment files, starts, reuses and recycles segments.
/// See the module documentation.
#[derive(Debug)]
pub(in crate::storage) struct SegmentLog {
    /// The directory.
    dir: PathBuf,
    /// The directory, opened to be fsynced.
    directory: File,
    /// Sizes.
    config: LogConfig,
    /// Live segments, oldest first; the last is the current one. Never empty.
    live: VecDeque<Segment>,
    /// `.seg` files after the current segment, by number.
    ahead: BTreeMap<u64, Ahead>,
    /// Numbers of the `.spare` files.
    spares: Vec<u64>,
    /// Prepares the next segment file when no spare is left (`None` unless [`LogConfig::prepare_segments`]).
    preparer: Option<Preparer>,
    /// Number of the next event.
    next_event: u64,
    /// A segment file was created or renamed since the last sync that succeeded: the directory needs an fsync.
    directory_unsynced: bool,
    /// The newest segment whose start and everything before its first event are known on disk (headers record
    /// it, see the module documentation).
    vouched: u64,
    /// The last sync failed: nothing is synced or recycled until a rewind.
    sync_failed: bool,
    /// Tests: the next sync fails as if the disk had failed (see [`SegmentLog::fail_next_sync`]).
    #[cfg(test)]
    fail_next_sync: bool,
    /// The record being written.
    buffer: Vec<u8>,
}

impl SegmentLog {
    /// Opens the log for writing where `end` (from [`LogReader::finish`] on `dir`) says it ends, creating the
    /// directory if needed. It cuts the current segment at the end, empties the `.seg` files after it, deletes
    /// `.spare` files beyond [`LogConfig::spare_segments`], starts segment 1 for an empty log, and syncs all of the
    /// log, the directory and its entry in its parent, so what the reader replayed is on disk once this returns.
    ///
    /// # Errors
    /// I/O errors; `InvalidInput` for a segment size too small for a header and a record, or an `end` that does
    /// not describe a log.
    pub(in crate::storage) fn open(dir: &Path, config: LogConfig, end: LogEnd) -> io::Result<Self> {
        if config.segment_size < SEGMENT_HEADER_LEN + RECORD_HEADER_LEN + RECORD_CRC_LEN {
            return Err(invalid_input(format!("segment size {} is too small", config.segment_size)));
        }
        if end
            .segments
            .last()
            .is_some_and(|last| last.number != end.position.segment || last.end != end.position.offset)
        {
            return Err(invalid_input("the end of the log is not in its last segment".to_owned()));
        }
        fs::create_dir_all(dir)?;
        // The directory's own entry too (it may have just been created): without it a power cut could take the
        // whole log while SQLite keeps what the log held.
        let parent = dir.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
        File::open(parent)?.sync_all()?;
        let directory = File::open(dir)?;
        let mut live = VecDeque::with_capacity(end.segments.len());
        for (index, summary) in end.segments.iter().enumerate() {
            let file = open_read_write(&dir.join(segment_file_name(summary.number)))?;
            let mut capacity = file.metadata()?.len();
            if index + 1 == end.segments.len() {
                capacity = config.segment_size.max(summary.end);
                file.set_len(summary.end)?;
                file.set_len(capacity)?;
                file.sync_all()?;
            } else {
                file.sync_data()?;
            }
            live.push_back(Segment {
                // `vouched` is only needed to write the header again (`rewind`), which never happens to a segment
                // that was on disk when the writer opened.
                header: SegmentHeader { number: summary.number, first_event: summary.first_event, vouched: 0 },
                file,
                capacity,
                end: summary.end,
                unsynced: false,
            });
        }
        let mut ahead = BTreeMap::new();
        for &number in &end.after_end {
            let file = open_read_write(&dir.join(segment_file_name(number)))?;
            file.set_len(0)?;
            file.sync_all()?;
            ahead.insert(number, Ahead { file, header: None });
        }
        let mut spares = end.spares;
        while spares.len() + ahead.len() > config.spare_segments {
            let Some(spare) = spares.pop() else { break };
            fs::remove_file(dir.join(spare_file_name(spare)))?;
        }
        let preparer = if config.prepare_segments { Some(Preparer::start(dir)?) } else { None };
        let mut log = Self {
            dir: dir.to_path_buf(),
            directory,
            config,
            live,
            ahead,
            spares,
            preparer,
            next_event: end.next_event,
            directory_unsynced: false,
            vouched: 0,
            sync_failed: false,
            #[cfg(test)]
            fail_next_sync: false,
            buffer: Vec::new(),
        };
        if log.live.is_empty() {
            log.start_segment(end.position.segment, config.segment_size)?;
            if let Some(first) = log.live.back_mut() {
                first.file.sync_data()?;
                first.unsynced = false;
            }
        }
        log.directory.sync_all()?;
        log.directory_unsynced = false;
        log.vouched = log.current_number();
        Ok(log)
    }

    /// Appends one commit record (events `first_event..first_event + count`, encoded in `payload`) with one
    /// positioned write, starting the next segment first when it does not fit in the current one. Returns where the
    /// record starts.
    ///
    /// # Errors
    /// I/O errors (nothing is counted as appended then: the same record may be appended again); `InvalidInput`
    /// when `first_event` is not the next event number, `count` is zero or the payload is 4 GiB or more.
    pub(in crate::storage) fn append(&mut self, first_event: u64, count: u32, payload: &[u8]) -> io::Result<Position> {
        if first_event != self.next_event {
            return Err(invalid_input(format!("record starts at event {first_event}, not {}", self.next_event)));
        }
        let Some(next_event) = first_event.checked_add(u64::from(count)).filter(|_| count > 0) else {
            return Err(invalid_input(format!("record of {count} events from event {first_event}")));
        };
        let Ok(payload_len) = u32::try_from(payload.len()) else {
            return Err(invalid_input(format!("record payload of {} bytes", payload.len())));
        };
        let total = RECORD_HEADER_LEN + u64::from(payload_len) + RECORD_CRC_LEN;
        let (number, end, capacity) =
            self.current().map(|current| (current.header.number, current.end, current.capacity))?;
        if end + total > capacity {
            let needed = SEGMENT_HEADER_LEN + total;
            if end == SEGMENT_HEADER_LEN {
                // Nothing in the current segment yet: it grows to fit instead of staying empty.
                let current = self.current_mut()?;
                current.file.set_len(needed)?;
                current.capacity = needed;
            } else {
                self.start_segment(number + 1, self.config.segment_size.max(needed))?;
            }
        }
        self.buffer.clear();
        self.buffer.extend_from_slice(&RECORD_MAGIC);
        self.buffer.extend_from_slice(&payload_len.to_le_bytes());
        self.buffer.extend_from_slice(&first_event.to_le_bytes());
        self.buffer.extend_from_slice(&count.to_le_bytes());
        self.buffer.extend_from_slice(payload);
        let crc = crc32fast::hash(&self.buffer);
        self.buffer.extend_from_slice(&crc.to_le_bytes());
        let current = self.live.back_mut().ok_or_else(no_segment)?;
        let start = Position { segment: current.header.number, offset: current.end };
        current.unsynced = true;
        current.file.write_all_at(&self.buffer, start.offset)?;
        current.end += total;
        self.next_event = next_event;
        self.prepare_next();
        Ok(start)
    }

    /// Makes everything appended so far durable: `fsync` of the directory first when a segment file was created
    /// or renamed since the last sync that succeeded, then `fdatasync` of every segment written since.
    ///
    /// # Errors
    /// The first failed sync; nothing counts as synced then, and every later sync fails until a rewind
    /// ([`SegmentLog::rewind`]) to the first record not known on disk, after which the caller appends the same
    /// records again.
    pub(in crate::storage) fn sync(&mut self) -> io::Result<()> {
        if self.sync_failed {
            return Err(io::Error::other(
                "a sync of the message log failed: rewind and write the unsynced records again before syncing",
            ));
        }
        if let Err(error) = self.sync_files() {
            self.sync_failed = true;
            return Err(error);
        }
        self.directory_unsynced = false;
        for segment in &mut self.live {
            segment.unsynced = false;
        }
        self.vouched = self.vouched.max(self.current_number());
        Ok(())
    }

    /// The system calls of [`SegmentLog::sync`].
    fn sync_files(&mut self) -> io::Result<()> {
        #[cfg(test)]
        if std::mem::take(&mut self.fail_next_sync) {
            return Err(io::Error::other("injected I/O error"));
        }
        if self.directory_unsynced {
            self.directory.sync_all()?;
        }
        for segment in self.live.iter().filter(|segment| segment.unsynced) {
            segment.file.sync_data()?;
        }
        Ok(())
    }

    #[cfg(test)]
    /// Tests: the next [`SegmentLog::sync`] fails as a failing disk would make it, with what follows (the log
    /// refuses to sync or recycle until a rewind).
    pub(in crate::storage) fn fail_next_sync(&mut self) {
        self.fail_next_sync = true;
    }

    #[cfg(test)]
    /// What the next sync covers: how many segment files, and whether the directory.
    fn to_sync(&self) -> (usize, bool) {
        (self.live.iter().filter(|segment| segment.unsynced).count(), self.directory_unsynced)
    }

    /// After a failed sync: the next appends go at `to` again, which must be the start of a record appended before
    /// (or the end of the log) where event `next_event` begins, and everything before `to` must be known on disk.
    /// The caller appends the same records again. Segments after `to`'s keep their files and headers: they leave
    /// the log and are reused in place, header kept, when the records reach them again. The header of `to`'s
    /// segment is written again (same bytes) unless its start is known on disk. Syncing works again after it.
    ///
    /// # Errors
    /// I/O errors writing the header; `InvalidInput` when `to` or `next_event` is not in the log.
    pub(in crate::storage) fn rewind(&mut self, to: Position, next_event: u64) -> io::Result<()> {
        let oldest = self.live.front().map_or(0, |segment| segment.header.number);
        let index = to
            .segment
            .checked_sub(oldest)
            .and_then(|index| usize::try_from(index).ok())
            .filter(|index| *index < self.live.len())
            .ok_or_else(|| invalid_input(format!("rewind to segment {}, not in the log", to.segment)))?;
        let segment = self.live.get(index).ok_or_else(no_segment)?;
        if to.offset < SEGMENT_HEADER_LEN
            || to.offset > segment.end
            || next_event < segment.header.first_event
            || next_event > self.next_event
        {
            return Err(invalid_input(format!("rewind to {to:?} at event {next_event}, not in the log")));
        }
        if self.vouched < to.segment {
            segment.file.write_all_at(&segment.header.encode(), 0)?;
        }
        while self.live.len() > index + 1 {
            let Some(later) = self.live.pop_back() else { break };
            self.ahead.insert(later.header.number, Ahead { file: later.file, header: Some(later.header) });
        }
        // Segments before it keep their mark: what they hold since the last sync still needs the next one.
        let segment = self.live.get_mut(index).ok_or_else(no_segment)?;
        segment.end = to.offset;
        segment.unsynced = true;
        self.directory_unsynced = true;
        // Later segments left the log: nothing after `to`'s segment can be vouched for any more.
        self.vouched = self.vouched.min(to.segment);
        self.next_event = next_event;
        self.sync_failed = false;
        Ok(())
    }

    /// Reads `len` bytes at `offset` of live segment `segment` (one `pread`), for compaction.
    ///
    /// # Errors
    /// I/O errors; `InvalidInput` when the segment is not live or the range is outside it.
    pub(in crate::storage) fn read_at(&self, segment: u64, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let found = self.live.iter().find(|live| live.header.number == segment);
        let Some(found) = found.filter(|found| offset.checked_add(len as u64).is_some_and(|end| end <= found.end))
        else {
            return Err(invalid_input(format!("{len} bytes at {offset} of segment {segment} are not in the log")));
        };
        let mut bytes = vec![0; len];
        found.file.read_exact_at(&mut bytes, offset)?;
        Ok(bytes)
    }

    /// Bytes written to the live segments (headers and records).
    pub(in crate::storage) fn written_bytes(&self) -> u64 {
        self.live.iter().map(|segment| segment.end).sum()
    }

    /// Bytes of a segment (see [`LogConfig::segment_size`]).
    pub(in crate::storage) fn segment_size(&self) -> u64 {
        self.config.segment_size
    }

    /// The live segments, oldest first: (number, first event).
    pub(in crate::storage) fn segments(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.live.iter().map(|segment| (segment.header.number, segment.header.first_event))
    }

    /// Where the next record goes.
    pub(in crate::storage) fn position(&self) -> Position {
        self.live.back().map_or(Position { segment: 0, offset: 0 }, |current| Position {
            segment: current.header.number,
            offset: current.end,
        })
    }

    /// Number of the next event.
    pub(in crate::storage) fn next_event(&self) -> u64 {
        self.next_event
    }

    /// Takes the oldest segment out of the log (never the current one): renamed `{number}.spare` for reuse while
    /// fewer than [`LogConfig::spare_segments`] spares exist, deleted otherwise, then the directory is fsynced.
    /// The caller must no longer need its events. Returns `false` (and recycles nothing) when only the current
    /// segment is left, when no sync has covered the start of the segment after it yet (the log must still start
    /// with a valid segment after a crash), or after a failed sync until the rewind.
    ///
    /// # Errors
    /// I/O errors.
    pub(in crate::storage) fn recycle_oldest(&mut self) -> io::Result<bool> {
        let (Some(oldest), Some(next)) = (self.live.front(), self.live.get(1)) else { return Ok(false) };
        if self.sync_failed || self.vouched < next.header.number {
            return Ok(false);
        }
        let number = oldest.header.number;
        let path = self.dir.join(segment_file_name(number));
        // A segment sized for one large record is not kept: as a spare it would hold that much disk for nothing.
        let keep = self.spares.len() + self.ahead.len() < self.config.spare_segments
            && oldest.capacity <= self.config.segment_size;
        if keep {
            fs::rename(&path, self.dir.join(spare_file_name(number)))?;
        } else {
            fs::remove_file(&path)?;
        }
        self.live.pop_front();
        if keep {
            self.spares.push(number);
        }
        self.directory.sync_all()?;
        Ok(true)
    }

    /// Starts segment `number` with room for `capacity` bytes: reuses the `.seg` file of that number if there is
    /// one, else renames a spare, else the prepared file if it is ready, else creates the file; sizes it and writes
    /// its header (kept, after a rewind, when it already starts at the next event).
    fn start_segment(&mut self, number: u64, capacity: u64) -> io::Result<()> {
        let first_event = self.next_event;
        self.directory_unsynced = true;
        if !self.ahead.contains_key(&number) {
            let path = self.dir.join(segment_file_name(number));
            let file = if let Some(spare) = self.spares.pop() {
                if let Err(error) = fs::rename(self.dir.join(spare_file_name(spare)), &path) {
                    self.spares.push(spare);
                    return Err(error);
                }
                open_read_write(&path)?
            } else if let Some(prepared) = self.preparer.as_mut().and_then(|preparer| preparer.take_as(&path)) {
                prepared
            } else {
                OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?
            };
            self.ahead.insert(number, Ahead { file, header: None });
        }
        // Taken out of `ahead` only once it is ready: a failure leaves it there for the next attempt.
        let Some(Ahead { file, header: kept }) = self.ahead.get(&number) else { return Err(no_segment()) };
        if file.metadata()?.len() != capacity {
            file.set_len(capacity)?;
        }
        let header = match kept.filter(|header| header.first_event == first_event) {
            Some(header) => {
                // Kept after a rewind: unless a sync is known to have covered it, it is written again (the same
                // bytes), so that the next fsync covers it too (a failed writeback may have dropped its page).
                if self.vouched < number {
                    file.write_all_at(&header.encode(), 0)?;
                }
                header
            }
            None => {
                let header = SegmentHeader { number, first_event, vouched: self.vouched };
                file.write_all_at(&header.encode(), 0)?;
                header
            }
        };
        let Some(Ahead { file, .. }) = self.ahead.remove(&number) else { return Err(no_segment()) };
        self.live.push_back(Segment { header, file, capacity, end: SEGMENT_HEADER_LEN, unsynced: true });
        Ok(())
    }

    /// Once the current segment is half full, asks for the next segment's file to be prepared if the next segment
    /// would otherwise be a new file. (Not sooner: a log that stays small never costs a segment of zeros.)
    fn prepare_next(&mut self) {
        let half_full = self.live.back().is_some_and(|current| current.end >= self.config.segment_size / 2);
        if let Some(preparer) =
            self.preparer.as_mut().filter(|_| half_full && self.spares.is_empty() && self.ahead.is_empty())
        {
            preparer.request(self.config.segment_size);
        }
    }

    /// The current segment.
    fn current(&self) -> io::Result<&Segment> {
        self.live.back().ok_or_else(no_segment)
    }

    /// The current segment, to change.
    fn current_mut(&mut self) -> io::Result<&mut Segment> {
        self.live.back_mut().ok_or_else(no_segment)
    }

    /// Number of the current segment.
    fn current_number(&self) -> u64 {
        self.live.back().map_or(0, |current| current.header.number)
    }
}

/// Name of segment file `number`.
fn segment_file_name(number: u64) -> String {
    format!("{number:020}{SEGMENT_SUFFIX}")
}

/// Name of spare file `number`.
fn spare_file_name(number: u64) -> String {
    format!("{number:020}{SPARE_SUFFIX}")
}

/// The number in a file name of twenty digits and `suffix`.
fn parse_name(name: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Opens an existing file for reading and writing.
fn open_read_write(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

/// Reads into `buffer` from `offset` until it is full or the file ends; returns the bytes read.
fn read_up_to(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut read = 0;
    while let Some(rest) = buffer.get_mut(read..).filter(|rest| !rest.is_empty()) {
        match file.read_at(rest, offset + read as u64) {
            Ok(0) => break,
            Ok(count) => read += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(read)
}

/// The little-endian `u32` at `at` of `bytes` (0 if out of range).
fn le_u32(bytes: &[u8], at: usize) -> u32 {
    bytes.get(at..at + 4).and_then(|bytes| bytes.try_into().ok()).map_or(0, u32::from_le_bytes)
}

/// The little-endian `u64` at `at` of `bytes` (0 if out of range).
fn le_u64(bytes: &[u8], at: usize) -> u64 {
    bytes.get(at..at + 8).and_then(|bytes| bytes.try_into().ok()).map_or(0, u64::from_le_bytes)
}

/// A length in memory.
fn to_usize(len: u64) -> io::Result<usize> {
    usize::try_from(len).map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "record larger than memory"))
}

/// The error for damage found in `path`.
fn damage(path: &Path, what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("message log damaged: {}: {what}", path.display()))
}

/// An `InvalidInput` error.
fn invalid_input(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// The writer has no current segment (it always has one once opened).
fn no_segment() -> io::Error {
    io::Error::other("message log writer without a current segment")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small segments, so that a few hundred records span several.
    const SMALL: LogConfig = LogConfig { segment_size: 64 << 10, spare_segments: 2, prepare_segments: false };

    /// `len` payload bytes, none zero, different for each `seed`.
    fn payload(seed: u64, len: usize) -> Vec<u8> {
        (0..len).map(|at| ((seed * 7 + at as u64) % 251 + 1) as u8).collect()
    }

    /// Reads the whole log in `dir`.
    fn replay(dir: &Path) -> io::Result<(Vec<CommitRecord>, LogEnd)> {
        let mut reader = LogReader::open(dir)?;
        let mut records = Vec::new();
        for record in reader.by_ref() {
            records.push(record?);
        }
        Ok((records, reader.finish()?))
    }

    /// Opens the writer where the log in `dir` ends.
    fn open_log(dir: &Path, config: LogConfig) -> SegmentLog {
        let (_, end) = replay(dir).unwrap();
        SegmentLog::open(dir, config, end).unwrap()
    }

    /// Appends a record of `count` events and `len` payload bytes; syncs it if `sync`.
    fn append(log: &mut SegmentLog, count: u32, len: usize, seed: u64, sync: bool) -> CommitRecord {
        let first_event = log.next_event();
        let payload = payload(seed, len);
        let start = log.append(first_event, count, &payload).unwrap();
        if sync {
            log.sync().unwrap();
        }
        CommitRecord { start, first_event, count, payload }
    }

    /// Appends records of `len` bytes until the current segment is `segment`.
    fn fill_until(log: &mut SegmentLog, segment: u64, len: usize, sync: bool) -> Vec<CommitRecord> {
        let mut written = Vec::new();
        while log.position().segment < segment {
            let seed = log.next_event();
            written.push(append(log, 1 + (seed % 3) as u32, len, seed, sync));
        }
        written
    }

    /// Path of segment file `number` in `dir`.
    fn segment_path(dir: &Path, number: u64) -> PathBuf {
        dir.join(segment_file_name(number))
    }

    /// The names of the files in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    /// A copy of the files of `from` in a new directory.
    fn copy_dir(from: &Path) -> tempfile::TempDir {
        let to = tempfile::tempdir().unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), to.path().join(entry.file_name())).unwrap();
        }
        to
    }

    /// Flips the byte at `at` of the file `path`.
    fn flip(path: &Path, at: u64) {
        let file = open_read_write(path).unwrap();
        let mut byte = [0];
        file.read_exact_at(&mut byte, at).unwrap();
        file.write_all_at(&[!byte[0]], at).unwrap();
    }

    /// The error of replaying `dir`, which must be damage.
    fn damage_in(dir: &Path) -> String {
        let error = replay(dir).expect_err("damage must be an error");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
        // Ignoring the error of the iteration does not give a place to continue from.
        let Ok(mut reader) = LogReader::open(dir) else { return error.to_string() };
        while let Some(Ok(_)) = reader.next() {}
        assert_eq!(reader.finish().unwrap_err().to_string(), error.to_string());
        error.to_string()
    }

    #[test]
    fn records_round_trip_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut log = open_log(&path, SMALL);
        let written: Vec<CommitRecord> = (0..400_u64)
            .map(|i| append(&mut log, 1 + (i % 4) as u32, 50 + (i as usize * 37) % 900, i, i % 25 == 0))
            .collect();
        assert!(log.segments().count() >= 4, "{:?}", log.segments().collect::<Vec<_>>());
        let events: u64 = written.iter().map(|record| u64::from(record.count)).sum();
        assert_eq!(log.next_event(), 1 + events);

        let (records, end) = replay(&path).unwrap();
        assert_eq!(records, written);
        assert_eq!((end.position, end.next_event), (log.position(), log.next_event()));
        let segments: Vec<(u64, u64)> =
            end.segments.iter().map(|segment| (segment.number, segment.first_event)).collect();
        assert_eq!(segments, log.segments().collect::<Vec<_>>());
        assert_eq!(segments.first(), Some(&(1, 1)));
        assert!(end.after_end.is_empty() && end.spares.is_empty());

        let record = &written[123];
        let payload_at = record.start.offset + RECORD_HEADER_LEN;
        assert_eq!(log.read_at(record.start.segment, payload_at, record.payload.len()).unwrap(), record.payload);
        let beyond = log.read_at(record.start.segment, u64::MAX - 2, 10).unwrap_err();
        assert_eq!(beyond.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_torn_tail_at_every_byte_of_the_last_record_is_cut_and_the_writer_continues_there() {
        let template = tempfile::tempdir().unwrap();
        let mut log = open_log(template.path(), SMALL);
        let mut written = fill_until(&mut log, 2, 1000, false);
        written.push(append(&mut log, 2, 150, 7, false));
        log.sync().unwrap();
        drop(log);
        let last = written.last().cloned().unwrap();
        assert_eq!(last.start.segment, 2);
        let total = RECORD_HEADER_LEN + last.payload.len() as u64 + RECORD_CRC_LEN;
        let original = fs::read(segment_path(template.path(), 2)).unwrap();

        for cut in 0..total {
            for truncate in [false, true] {
                let copy = copy_dir(template.path());
                let file = open_read_write(&segment_path(copy.path(), 2)).unwrap();
                let (from, to) = (last.start.offset + cut, last.start.offset + total);
                if truncate {
                    file.set_len(from).unwrap();
                } else {
                    file.write_all_at(&vec![0; (to - from) as usize], from).unwrap();
                }
                let untouched = !truncate && original[from as usize..to as usize].iter().all(|byte| *byte == 0);
                let (records, end) = replay(copy.path()).unwrap();
                if untouched {
                    assert_eq!(records, written, "cut at {cut}");
                    continue;
                }
                assert_eq!(records, written[..written.len() - 1], "cut at {cut}, truncated: {truncate}");
                assert_eq!((end.position, end.next_event), (last.start, last.first_event));

                let mut log = SegmentLog::open(copy.path(), SMALL, end).unwrap();
                let again = append(&mut log, 3, 90, 1000 + cut, true);
                assert_eq!(again.start, last.start);
                let (records, _) = replay(copy.path()).unwrap();
                assert_eq!(records.last(), Some(&again), "cut at {cut}, truncated: {truncate}");
                assert_eq!(records.len(), written.len());
            }
        }
    }

    #[test]
    fn the_stale_tail_of_an_earlier_run_is_not_replayed_after_the_writer_continues() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open_log(dir.path(), SMALL);
        let written: Vec<CommitRecord> = (0..5).map(|seed| append(&mut log, 2, 100, seed, true)).collect();
        drop(log);
        // The third record is torn; the fourth and fifth are still there, whole.
        flip(&segment_path(dir.path(), 1), written[2].start.offset + RECORD_HEADER_LEN);
        let mut log = open_log(dir.path(), SMALL);
        assert_eq!(log.position(), written[2].start);
        // The same size and count as the torn record: without the cut at open, the old fourth record would follow.
        let again = append(&mut log, 2, 100, 99, true);
        let (records, end) = replay(dir.path()).unwrap();
        assert_eq!(records, [written[0].clone(), written[1].clone(), again]);
        assert_eq!(end.next_event, 7);
    }

    #[test]
    fn stale_records_of_a_recycled_segment_are_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open_log(dir.path(), SMALL);
        // Records of one size: a reused file holds an old record exactly where the next new one would start.
        let written = fill_until(&mut log, 4, 2000, true);
        assert!(log.recycle_oldest().unwrap());
        assert!(log.recycle_oldest().unwrap());
        assert_eq!(log.segments().next().map(|(number, _)| number), Some(3));
        let spares_before = names(dir.path()).iter().filter(|name| name.ends_with(SPARE_SUFFIX)).count();
        assert_eq!(spares_before, 2);
        let mut more = fill_until(&mut log, 5, 2000, true);
        let names_after = names(dir.path());
        assert_eq!(names_after.iter().filter(|name| name.ends_with(SPARE_SUFFIX)).count(), 1, "{names_after:?}");
        assert_eq!(names_after.len(), 4, "segments 3, 4 and 5 and a spare: {names_after:?}");
        let end_of_new = log.position().offset;
        let stale = log.read_at(5, SEGMENT_HEADER_LEN, 0).unwrap();
        assert!(stale.is_empty());
        let file = File::open(segment_path(dir.path(), 5)).unwrap();
        let mut magic = [0; 4];
        file.read_exact_at(&mut magic, end_of_new).unwrap();
        assert_eq!(magic, RECORD_MAGIC, "an old record follows the new one");

        let (records, end) = replay(dir.path()).unwrap();
        let first_live = log.segments().next().map(|(_, first_event)| first_event).unwrap();
        let mut expected: Vec<CommitRecord> =
            written.into_iter().filter(|record| record.first_event >= first_live).collect();
        expected.append(&mut more);
        assert_eq!(records, expected);
        assert_eq!((end.position, end.next_event), (log.position(), log.next_event()));
        assert_eq!(end.spares.len(), 1);
    }

    #[test]
    fn a_record_bigger_than_a_segment_gets_a_segment_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open_log(dir.path(), SMALL);
        let written = vec![
            // The first record of a log: the empty first segment grows to fit it.
            append(&mut log, 1, 100 << 10, 1, true),
            append(&mut log, 1, 10, 2, true),
            append(&mut log, 2, 200 << 10, 3, true),
            append(&mut log, 1, 10, 4, true),
        ];
        let segments: Vec<u64> = written.iter().map(|record| record.start.segment).collect();
        assert_eq!(segments, [1, 2, 3, 4]);
        let big = SEGMENT_HEADER_LEN + RECORD_HEADER_LEN + (200 << 10) + RECORD_CRC_LEN;
        assert_eq!(fs::metadata(segment_path(dir.path(), 3)).unwrap().len(), big);
        assert_eq!(fs::metadata(segment_path(dir.path(), 4)).unwrap().len(), SMALL.segment_size);
        let (records, _) = replay(dir.path()).unwrap();
        assert_eq!(records, written);
        // Reopened, the writer goes on after the big records too.
        drop(log);
        let mut log = open_log(dir.path(), SMALL);
        let more = append(&mut log, 1, 300 << 10, 5, true);
        assert_eq!(more.start.segment, 5);
        assert_eq!(replay(dir.path()).unwrap().0.last(), Some(&more));
    }

    #[test]
    fn rewind_and_appending_the_same_records_again_give_the_same_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open_log(dir.path(), SMALL);
        let mut written: Vec<CommitRecord> = (0..30).map(|seed| append(&mut log, 2, 3000, seed, true)).collect();
        // Then records whose sync "fails": they span two more segments.
        let failed_from = written.len();
        written.extend((30..80).map(|seed| append(&mut log, 2, 3000, seed, false)));
        let to = written[failed_from].start;
        assert!(log.position().segment >= to.segment + 2);
        let files_before: Vec<Vec<u8>> =
            names(dir.path()).iter().map(|name| fs::read(dir.path().join(name)).unwrap()).collect();

        log.rewind(to, written[failed_from].first_event).unwrap();
        assert_eq!(log.position(), to);
        assert_eq!(log.segments().last().map(|(number, _)| number), Some(to.segment));
        for record in &written[failed_from..] {
            let start = log.append(record.first_event, record.count, &record.payload).unwrap();
            assert_eq!(start, record.start);
        }
        let (files, directory) = log.to_sync();
        assert!(directory);
        assert_eq!(files as u64, log.position().segment - to.segment + 1);
        log.sync().unwrap();

        let files_after: Vec<Vec<u8>> =
            names(dir.path()).iter().map(|name| fs::read(dir.path().join(name)).unwrap()).collect();
        assert!(files_before == files_after, "the same bytes in the same files");
        assert_eq!(replay(dir.path()).unwrap().0, written);

        assert_eq!(
            log.rewind(Position { segment: 99, offset: 40 }, 1).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(log.append(1, 1, b"x").unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn recycling_keeps_at_most_the_spare_segments_and_deletes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open_log(dir.path(), SMALL);
        fill_until(&mut log, 7, 4000, true);
        for _ in 0..6 {
            assert!(log.recycle_oldest().unwrap());
        }
        assert!(!log.recycle_oldest().unwrap(), "the current segment stays");
        assert_eq!(names(dir.path()), [spare_file_name(1), spare_file_name(2), segment_file_name(7)]);
        // The next segments reuse the spares before creating files.
        fill_until(&mut log, 9, 4000, true);
        assert_eq!(names(dir.path()), [segment_file_name(7), segment_file_name(8), segment_file_name(9)]);
        let (records, end) = replay(dir.path()).unwrap();
        assert_eq!(end.segments.first().map(|segment| segment.number), Some(7));
        assert_eq!(records.first().map(|record| record.first_event), log.segments().next().map(|(_, first)| first));
        // A drained log with more spares than it may keep (a smaller limit now) deletes them when opened.
        fill_until(&mut log, 10, 4000, true);
        while log.recycle_oldest().unwrap() {}
        drop(log);
        assert_eq!(names(dir.path()).len(), 3);
        let _log = open_log(dir.path(), LogConfig { spare_segments: 1, ..SMALL });
        assert_eq!(names(dir.path()).len(), 2);
    }

    #[test]
    fn a_segment_sized_for_one_large_record_is_deleted_not_kept_as_a_spare() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open_log(dir.path(), SMALL);
        append(&mut log, 1, 100, 1, true);
        append(&mut log, 1, 3 * SMALL.segment_size as usize, 2, true);
        assert_eq!(log.position().segment, 2, "the large record got a segment of its own");
        append(&mut log, 1, 100, 3, true);
        assert_eq!(log.position().segment, 3);
        assert!(log.recycle_oldest().unwrap());
        assert!(log.recycle_oldest().unwrap());
        assert_eq!(names(dir.path()), [spare_file_name(1), segment_file_name(3)], "room for two spares");
        assert_eq!(fs::metadata(dir.path().join(spare_file_name(1))).unwrap().len(), SMALL.segment_size);
    }

    /// Bytes allocated to `path` on disk.
    fn allocated(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(path).unwrap().blocks() * 512
    }

    /// Appends records until the current segment is half full.
    fn fill_half(log: &mut SegmentLog) -> Vec<CommitRecord> {
        let mut written = Vec::new();
        while log.position().offset < SMALL.segment_size / 2 {
            let seed = log.next_event();
            written.push(append(log, 1, 1000, seed, true));
        }
        written
    }

    #[test]
    fn a_growing_log_starts_its_next_segment_in_a_file_written_through_beforehand() {
        use std::os::unix::fs::MetadataExt;
        let prepared = |dir: &Path| dir.join(PREPARED_FILE);
        let dir = tempfile::tempdir().unwrap();
        fs::write(prepared(dir.path()), b"left by a crash").unwrap();
        let config = LogConfig { prepare_segments: true, ..SMALL };
        let mut log = open_log(dir.path(), config);
        assert!(!prepared(dir.path()).exists(), "a prepared file a crash left is deleted");

        // Nothing is prepared while the first segment is less than half full.
        let mut written = vec![append(&mut log, 1, 1000, 1, true)];
        assert!(!log.preparer.as_mut().unwrap().wait());
        written.extend(fill_half(&mut log));
        assert!(log.preparer.as_mut().unwrap().wait(), "half full: the next file is prepared");
        let inode = fs::metadata(prepared(dir.path())).unwrap().ino();
        assert!(allocated(&prepared(dir.path())) >= SMALL.segment_size, "written through, not sparse");

        written.extend(fill_until(&mut log, 2, 1000, true));
        let second = segment_path(dir.path(), 2);
        assert_eq!(fs::metadata(&second).unwrap().ino(), inode, "segment 2 is the prepared file");
        assert!(allocated(&second) >= SMALL.segment_size, "appends to segment 2 overwrite written blocks");
        assert!(!prepared(dir.path()).exists());
        // The next one is prepared as well, and the log reads back as written.
        written.extend(fill_half(&mut log));
        assert!(log.preparer.as_mut().unwrap().wait());
        written.extend(fill_until(&mut log, 3, 1000, true));
        assert!(allocated(&segment_path(dir.path(), 3)) >= SMALL.segment_size);
        assert_eq!(replay(dir.path()).unwrap().0, written);

        // While a spare is left, the next segment is the spare and nothing is prepared.
        written.extend(fill_half(&mut log));
        assert!(log.preparer.as_mut().unwrap().wait());
        assert!(log.recycle_oldest().unwrap());
        assert!(log.recycle_oldest().unwrap());
        fill_until(&mut log, 4, 1000, true);
        assert!(prepared(dir.path()).exists(), "the prepared file waits while there are spares");
        assert_eq!(
            names(dir.path()),
            [spare_file_name(1), segment_file_name(3), segment_file_name(4), PREPARED_FILE.to_owned()]
        );
        drop(log);
        assert!(!prepared(dir.path()).exists(), "a closed log leaves no prepared file");
    }

    #[test]
    fn a_prepared_file_that_cannot_be_renamed_into_place_is_skipped_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open_log(dir.path(), LogConfig { prepare_segments: true, ..SMALL });
        let mut written = fill_half(&mut log);
        assert!(log.preparer.as_mut().unwrap().wait());
        fs::remove_file(dir.path().join(PREPARED_FILE)).unwrap();
        written.extend(fill_until(&mut log, 2, 1000, true));
        assert!(allocated(&segment_path(dir.path(), 2)) < SMALL.segment_size / 2, "created as before");
        assert_eq!(replay(dir.path()).unwrap().0, written);
    }

    #[test]
    fn without_preparation_the_next_segment_is_a_sparse_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open_log(dir.path(), SMALL);
        fill_until(&mut log, 2, 1000, true);
        assert!(allocated(&segment_path(dir.path(), 2)) < SMALL.segment_size / 2);
        assert!(!dir.path().join(PREPARED_FILE).exists());
    }

    /// A rewind into a later segment (a failed append after the log moved on) keeps the earlier segments that
    /// were written since the last sync in the next one: their records are still not on disk.
    #[test]
    fn a_rewind_keeps_earlier_unsynced_segments_in_the_next_sync() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open_log(dir.path(), SMALL);
        append(&mut log, 1, 100, 1, true);
        let first_unsynced = log.position().segment;
        let written = fill_until(&mut log, first_unsynced + 1, 4000, false);
        let last = written.last().unwrap();
        assert_eq!(last.start.segment, first_unsynced + 1);
        log.rewind(last.start, last.first_event).unwrap();
        assert_eq!(log.to_sync().0, 2, "both segments written since the last sync");
    }

    /// After a failed sync (a later fsync could succeed without the pages the failed writeback dropped) the log
    /// syncs and recycles nothing until a rewind; the same records appended again are then synced. A segment is
    /// recycled only once a sync covered the start of the one after it.
    #[test]
    fn after_a_failed_sync_only_a_rewind_lets_the_log_sync_and_recycle_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open_log(dir.path(), SMALL);
        fill_until(&mut log, 3, 4000, false);
        assert!(!log.recycle_oldest().unwrap(), "no sync has covered segment 2's start yet");
        log.sync().unwrap();
        let record = append(&mut log, 2, 100, 9, false);
        log.fail_next_sync();
        assert!(log.sync().is_err());
        assert!(log.sync().is_err(), "refused until a rewind");
        assert!(!log.recycle_oldest().unwrap(), "nothing recycled until a rewind");
        assert_eq!(log.to_sync(), (1, false), "the marks stay");
        log.rewind(record.start, record.first_event).unwrap();
        assert_eq!(log.append(record.first_event, record.count, &record.payload).unwrap(), record.start);
        log.sync().unwrap();
        assert!(log.recycle_oldest().unwrap());
        assert_eq!(replay(dir.path()).unwrap().0.last(), Some(&record));
    }

    #[test]
    fn damage_in_the_middle_of_the_log_is_an_error() {
        let template = tempfile::tempdir().unwrap();
        let mut log = open_log(template.path(), SMALL);
        let written = fill_until(&mut log, 5, 3000, true);
        drop(log);
        assert!(replay(template.path()).is_ok());

        let header = tempfile::tempdir().unwrap();
        let copy = copy_dir(template.path());
        flip(&segment_path(copy.path(), 3), 21);
        let message = damage_in(copy.path());
        assert!(message.contains(&segment_file_name(3)), "{message}");
        drop(header);

        let copy = copy_dir(template.path());
        fs::remove_file(segment_path(copy.path(), 3)).unwrap();
        let message = damage_in(copy.path());
        assert!(message.contains(&segment_file_name(3)) && message.contains("missing"), "{message}");

        let copy = copy_dir(template.path());
        let in_two = written.iter().find(|record| record.start.segment == 2).unwrap();
        flip(&segment_path(copy.path(), 2), in_two.start.offset + RECORD_HEADER_LEN + 5);
        let message = damage_in(copy.path());
        assert!(message.contains(&segment_file_name(2)), "{message}");

        let copy = copy_dir(template.path());
        flip(&segment_path(copy.path(), 1), 13);
        let message = damage_in(copy.path());
        assert!(message.contains(&segment_file_name(1)), "{message}");

        // After recycling, a damaged oldest segment (not segment 1) is damage with or without anything vouching.
        let copy = copy_dir(template.path());
        fs::rename(segment_path(copy.path(), 1), copy.path().join(spare_file_name(1))).unwrap();
        fs::remove_file(segment_path(copy.path(), 5)).unwrap();
        fs::remove_file(segment_path(copy.path(), 4)).unwrap();
        flip(&segment_path(copy.path(), 2), 30);
        let message = damage_in(copy.path());
        assert!(message.contains(&segment_file_name(2)), "{message}");

        // Spare files without any segment: the numbering is lost.
        let copy = copy_dir(template.path());
        for number in 1..=5 {
            fs::rename(segment_path(copy.path(), number), copy.path().join(spare_file_name(number))).unwrap();
        }
        assert!(damage_in(copy.path()).contains("no segment file"));

        // A version this build does not know is an error, not an end.
        let copy = copy_dir(template.path());
        let header = SegmentHeader { number: 5, first_event: 0, vouched: 0 }.encode();
        let mut future = header;
        future[8] = 2;
        let crc = crc32fast::hash(&future[..SEGMENT_CRC_AT]);
        future[SEGMENT_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        open_read_write(&segment_path(copy.path(), 5)).unwrap().write_all_at(&future, 0).unwrap();
        assert!(damage_in(copy.path()).contains("format version 2"));
    }

    #[test]
    fn segment_starts_not_known_on_disk_are_a_torn_tail() {
        let template = tempfile::tempdir().unwrap();
        let mut log = open_log(template.path(), SMALL);
        // Nothing synced after the open (which synced segment 1): segments 2 and 3 may be lost in any order.
        let written = fill_until(&mut log, 3, 3000, false);
        drop(log);
        let last_in = |segment: u64| written.iter().filter(|record| record.start.segment <= segment).count();

        let copy = copy_dir(template.path());
        flip(&segment_path(copy.path(), 3), 14);
        let (records, end) = replay(copy.path()).unwrap();
        assert_eq!(records, written[..last_in(2)]);
        assert_eq!(end.after_end, [3]);

        let copy = copy_dir(template.path());
        flip(&segment_path(copy.path(), 2), 14);
        let (records, end) = replay(copy.path()).unwrap();
        assert_eq!(records, written[..last_in(1)]);
        assert_eq!((end.position.segment, end.after_end.clone()), (1, vec![2, 3]));
        // The writer reuses the files after the end in place; their old records are gone.
        let mut log = SegmentLog::open(copy.path(), SMALL, end).unwrap();
        let more = fill_until(&mut log, 2, 5000, true);
        assert_eq!(names(copy.path()), [segment_file_name(1), segment_file_name(2), segment_file_name(3)]);
        let (records, _) = replay(copy.path()).unwrap();
        assert_eq!(records, [&written[..last_in(1)], &more[..]].concat());

        // A first segment never known on disk (a crash while the writer was first opened) is an empty log; the
        // same flip is damage once the open synced it (segment 3 vouches for segment 1).
        let copy = copy_dir(template.path());
        flip(&segment_path(copy.path(), 1), 14);
        assert!(damage_in(copy.path()).contains(&segment_file_name(1)));
        let fresh = tempfile::tempdir().unwrap();
        File::create(segment_path(fresh.path(), 1)).unwrap();
        let (records, end) = replay(fresh.path()).unwrap();
        assert!(records.is_empty());
        assert_eq!(
            (end.position, end.next_event, end.after_end.clone()),
            (Position { segment: 1, offset: 0 }, 1, vec![1])
        );
        let mut log = SegmentLog::open(fresh.path(), SMALL, end).unwrap();
        let first = append(&mut log, 1, 10, 1, true);
        assert_eq!((first.start, first.first_event), (Position { segment: 1, offset: SEGMENT_HEADER_LEN }, 1));
        assert_eq!(replay(fresh.path()).unwrap().0, [first]);
    }

    #[test]
    fn reopening_after_a_restart_continues_the_numbering() {
        let dir = tempfile::tempdir().unwrap();
        let mut written = Vec::new();
        for run in 0..3_u64 {
            let mut log = open_log(dir.path(), SMALL);
            assert_eq!(
                log.next_event(),
                written.iter().map(|record: &CommitRecord| u64::from(record.count)).sum::<u64>() + 1
            );
            for seed in 0..15 {
                written.push(append(&mut log, 3, 1500, run * 100 + seed, seed % 5 == 0));
            }
            log.sync().unwrap();
        }
        let (records, end) = replay(dir.path()).unwrap();
        assert_eq!(records, written);
        assert_eq!(end.next_event, 1 + 3 * 45);
        assert!(end.segments.len() > 1);
    }

    #[test]
    fn an_empty_or_missing_directory_is_an_empty_log() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        for path in [dir.path(), missing.as_path()] {
            let (records, end) = replay(path).unwrap();
            assert!(records.is_empty());
            assert_eq!((end.position, end.next_event), (Position { segment: 1, offset: 0 }, 1));
            assert!(end.segments.is_empty() && end.after_end.is_empty() && end.spares.is_empty());
        }
        assert!(!missing.exists(), "the reader creates nothing");
        fs::write(dir.path().join("notes.txt"), b"not the log's").unwrap();
        fs::write(dir.path().join("1.seg"), b"not a segment name").unwrap();
        let (records, end) = replay(dir.path()).unwrap();
        assert!(records.is_empty() && end.after_end.is_empty());
    }

    /// A sync covers every segment written since the last one, and the directory when a segment was started;
    /// then it vouches for the current segment (the next segment's header says so).
    #[test]
    fn a_sync_covers_everything_written_since_the_last_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open_log(dir.path(), SMALL);
        assert_eq!(log.to_sync(), (0, false), "the open synced everything");
        append(&mut log, 1, 100, 1, false);
        assert_eq!(log.to_sync(), (1, false));
        fill_until(&mut log, 2, 5000, false);
        assert_eq!(log.to_sync(), (2, true), "segment 1 was never synced");
        assert_eq!(log.vouched, 1);
        log.sync().unwrap();
        assert_eq!((log.to_sync(), log.vouched), ((0, false), 2));
        append(&mut log, 1, 100, 2, false);
        assert_eq!(log.to_sync(), (1, false));
        fill_until(&mut log, 3, 5000, false);
        let path = segment_path(dir.path(), 3);
        let header = SegmentHeader::read(&File::open(&path).unwrap(), &path, 3).unwrap().unwrap();
        assert_eq!(header.vouched, 2, "segment 3's header vouches for what the last sync covered");
    }
}
