//! The FIFO ordering rules of the producer's buffer: which message groups are held, and which buffered
//! messages may go into the next `SendMessageBatch`.
//!
//! # What SQS documents about FIFO batches
//! - "For a FIFO queue, multiple messages within a single batch are enqueued in the order they are sent."
//!   and "The result of sending each message is reported individually in the response. Because the batch
//!   request can result in a combination of successful and unsuccessful actions, you should check for batch
//!   errors even when the call returns an HTTP status code of 200."
//!   (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html>)
//! - Each failed entry is a `BatchResultErrorEntry` with `Code`, `Message` and `SenderFault` ("whether the
//!   error happened due to the caller of the batch API action"); a non-sender fault is worth retrying.
//!   (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_BatchResultErrorEntry.html>)
//! - Within a message group, messages are stored and delivered in the order they arrive, and a
//!   `SequenceNumber` keeps increasing for a group.
//!   (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html>,
//!   <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatchResultEntry.html>)
//! - A retry within the 5-minute deduplication interval with the same deduplication id stores nothing new.
//!   (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-exactly-once-processing.html>)
//! - AWS's own client-side batching (the Java buffered asynchronous client) does not support FIFO queues.
//!   (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-client-side-buffering-request-batching.html>)
//!
//! Nothing in that documentation says that SQS fails the later entries of a group when an earlier entry of
//! the same group fails in the same request: results are per entry, so SQS may store entry 3 of group `G`
//! while failing entry 2 of `G`. Once that happened no retry can put entry 2 back in front of entry 3. The
//! only way to guarantee order is therefore to never have two unconfirmed messages of a group at once.
//!
//! # The rules
//! - A group is *held* while one of its messages is in a request in flight or waits for a retry; no message
//!   of a held group goes into a new request. Other groups are not held back.
//! - By default a request carries at most one message per group ([`Limits::same_group_per_request`] off),
//!   so each group has at most one unconfirmed message and a retried message cannot be overtaken, whatever
//!   SQS answers for the other entries.
//! - Messages are picked in admission order; a group whose next message does not fit the request's byte
//!   budget gets no later message in that request either.

use std::collections::{HashMap, HashSet};

use tokio::time::Instant;

/// The FIFO groups that have a message in flight or waiting for a retry, with how many.
#[derive(Debug, Default)]
pub(super) struct GroupHolds {
    held: HashMap<String, usize>,
}

impl GroupHolds {
    /// Whether `group` has a message in flight or in backoff.
    pub(super) fn is_held(&self, group: &str) -> bool {
        self.held.contains_key(group)
    }

    /// One more message of `group` left the buffer (nothing for standard queues' `None`).
    pub(super) fn hold(&mut self, group: Option<&str>) {
        if let Some(group) = group {
            *self.held.entry(group.to_owned()).or_default() += 1;
        }
    }

    /// One message of `group` is settled (sent, failed for good, or back in the buffer).
    pub(super) fn release(&mut self, group: Option<&str>) {
        let Some(group) = group else { return };
        if let Some(count) = self.held.get_mut(group) {
            *count -= 1;
            if *count == 0 {
                self.held.remove(group);
            }
        }
    }
}

/// A buffered message as the batch choice sees it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Waiting<'a> {
    pub(super) seq: u64,
    pub(super) size: usize,
    /// `None` on standard queues.
    pub(super) group: Option<&'a str>,
    pub(super) admitted_at: Instant,
}

/// How much one request may carry.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) entries: usize,
    pub(super) bytes: usize,
    /// Whether one request may carry several messages of one FIFO group (off by default: see the module
    /// documentation for the reordering this risks).
    pub(super) same_group_per_request: bool,
}

/// The next batch the buffer could send.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Candidate {
    /// The chosen messages, in admission order.
    pub(super) seqs: Vec<u64>,
    /// Whether the request cannot take more (entries or bytes), so lingering would not help.
    pub(super) full: bool,
    /// The admission time of the oldest chosen message.
    pub(super) oldest: Option<Instant>,
}

/// Picks the next batch from `waiting` (in admission order) under the rules of the module documentation.
pub(super) fn pick<'a>(
    waiting: impl IntoIterator<Item = Waiting<'a>>,
    holds: &GroupHolds,
    limits: Limits,
) -> Candidate {
    let mut candidate = Candidate::default();
    let mut bytes = 0;
    // Groups that may get no further message in this request.
    let mut closed: HashSet<&str> = HashSet::new();
    for message in waiting {
        if candidate.seqs.len() == limits.entries {
            candidate.full = true;
            break;
        }
        if let Some(group) = message.group {
            if holds.is_held(group) || closed.contains(group) {
                continue;
            }
        }
        if bytes + message.size > limits.bytes {
            candidate.full = true;
            closed.extend(message.group);
            continue;
        }
        if !limits.same_group_per_request {
            closed.extend(message.group);
        }
        bytes += message.size;
        candidate.seqs.push(message.seq);
        candidate.oldest = Some(candidate.oldest.map_or(message.admitted_at, |o| o.min(message.admitted_at)));
    }
    candidate.full |= candidate.seqs.len() == limits.entries;
    candidate
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { entries: 10, bytes: 1000, same_group_per_request: false };

    /// Messages of 100 bytes; `groups[i]` is the group of message `i`.
    fn pick_from(groups: &[&'static str], holds: &GroupHolds, limits: Limits) -> Vec<u64> {
        let now = Instant::now();
        let waiting = groups.iter().enumerate().map(|(seq, group)| Waiting {
            seq: seq as u64,
            size: 100,
            group: Some(*group),
            admitted_at: now,
        });
        pick(waiting, holds, limits).seqs
    }

    #[test]
    fn a_request_carries_at_most_one_message_per_group() {
        let seqs = pick_from(&["g", "g", "h", "g", "i", "h"], &GroupHolds::default(), LIMITS);
        assert_eq!(seqs, [0, 2, 4], "the first message of each group, in admission order");
    }

    #[test]
    fn held_groups_get_no_message_and_others_go_on() {
        let mut holds = GroupHolds::default();
        holds.hold(Some("g"));
        assert_eq!(pick_from(&["g", "h", "g", "i"], &holds, LIMITS), [1, 3]);
        holds.hold(Some("g"));
        holds.release(Some("g"));
        assert!(holds.is_held("g"), "held while any of its messages is out");
        holds.release(Some("g"));
        assert_eq!(pick_from(&["g", "h", "g", "i"], &holds, LIMITS), [0, 1, 3]);
    }

    #[test]
    fn several_messages_of_a_group_only_when_allowed() {
        let limits = Limits { same_group_per_request: true, ..LIMITS };
        assert_eq!(pick_from(&["g", "g", "h", "g"], &GroupHolds::default(), limits), [0, 1, 2, 3]);
    }

    #[test]
    fn a_group_whose_message_does_not_fit_gets_no_later_message() {
        let now = Instant::now();
        let sizes = [("g", 600), ("h", 500), ("h", 100), ("i", 300)];
        let waiting = sizes.iter().enumerate().map(|(seq, (group, size))| Waiting {
            seq: seq as u64,
            size: *size,
            group: Some(*group),
            admitted_at: now,
        });
        let limits = Limits { same_group_per_request: true, ..LIMITS };
        let candidate = pick(waiting, &GroupHolds::default(), limits);
        assert_eq!(candidate.seqs, [0, 3], "h's second message must not overtake its first");
        assert!(candidate.full);
    }

    #[test]
    fn standard_queue_messages_fill_the_request() {
        let now = Instant::now();
        let waiting = (0..12).map(|seq| Waiting { seq, size: 10, group: None, admitted_at: now });
        let candidate = pick(waiting, &GroupHolds::default(), LIMITS);
        assert_eq!(candidate.seqs, (0..10).collect::<Vec<_>>());
        assert!(candidate.full);
        assert_eq!(candidate.oldest, Some(now));
    }
}
