//! The append-only message log of durable mode (see docs/message-log.md): every storage event, one commit
//! record per group commit, in segment files that are recycled once nothing in them is needed.
//!
//! - `record.rs`: the encoding of one event; `segments.rs`: segment files, commit records, the replay reader,
//!   rewinds and recycling; `prepare.rs`: filling the next segment's file before it is needed; `index.rs`: the
//!   live messages and where their records are; `replay.rs`: reading the log back at start-up.

mod index;
mod prepare;
mod record;
mod replay;
mod segments;

pub(super) use index::{Location, MessageIndex};
pub(super) use record::{decode_event, encode_event};
pub(super) use replay::{Replayed, applies_to_sqlite, replay};
pub(super) use segments::{LogConfig, LogReader, Position, RECORD_HEADER_LEN, SegmentLog};
