//! FIFO bookkeeping of one queue: message groups in send order with their in-flight counts, a fair
//! round-robin over groups, the 5-minute deduplication window (kept in `dedup.rs`), and receive-request attempts (SPEC.md §11).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::clock::Timestamp;
use super::dedup::{DEDUPLICATION_WINDOW, DeduplicatedSend, DeduplicationWindow};
use super::receipt::ReceiptHandle;

/// The messages of one group, oldest first, and how many of them are in flight.
#[derive(Debug, Default)]
pub struct Group {
    /// Sequence numbers of the group's messages in send order.
    pub pending: VecDeque<u64>,
    /// Messages of the group currently in flight; while non-zero the group is blocked.
    pub in_flight: u32,
}

/// A remembered receive: which messages (and which receive of each) it returned.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The handles returned, each with the message's state epoch right after the receive: a later change of
    /// the message (delete, visibility change, expiry) changes the epoch and voids the attempt.
    pub handles: Vec<(ReceiptHandle, u32)>,
    /// When the attempt id expires.
    pub expires_at: Timestamp,
}

/// The FIFO-only state of a queue.
#[derive(Debug, Default)]
pub struct FifoState {
    groups: HashMap<Arc<str>, Group>,
    ring: VecDeque<Arc<str>>,
    deduplication: DeduplicationWindow,
    attempts: HashMap<String, Attempt>,
    /// When each remembered attempt expires, oldest first (so expiry never scans every attempt).
    attempt_expiry: VecDeque<(Timestamp, String)>,
}

impl FifoState {
    /// Drops deduplication entries and attempts whose window has passed.
    pub fn expire(&mut self, now: Timestamp) {
        self.deduplication.expire(now);
        while let Some((expires_at, _)) = self.attempt_expiry.front() {
            if *expires_at > now {
                break;
            }
            if let Some((_, attempt_id)) = self.attempt_expiry.pop_front() {
                // A later receive may have remembered the same id again, with a later expiry.
                if self.attempts.get(&attempt_id).is_some_and(|attempt| attempt.expires_at <= now) {
                    self.attempts.remove(&attempt_id);
                }
            }
        }
    }

    /// The original send for a deduplication key still inside its window.
    pub fn duplicate_of(&self, scope_group: Option<&str>, dedup_id: &str) -> Option<&DeduplicatedSend> {
        self.deduplication.original(scope_group, dedup_id)
    }

    /// Remembers a send for the deduplication window.
    pub fn remember_send(&mut self, scope_group: Option<&str>, dedup_id: &str, send: DeduplicatedSend, now: Timestamp) {
        self.deduplication.remember(scope_group, dedup_id, send, now);
    }

    /// Appends a message to the end of its group.
    pub fn push(&mut self, group_id: &str, sequence: u64) {
        if let Some(group) = self.groups.get_mut(group_id) {
            group.pending.push_back(sequence);
            return;
        }
        let name: Arc<str> = Arc::from(group_id);
        let mut group = Group::default();
        group.pending.push_back(sequence);
        self.groups.insert(Arc::clone(&name), group);
        self.ring.push_back(name);
    }

    /// Removes a message from its group (it is near the front: received messages are always a prefix).
    pub fn remove(&mut self, group_id: &str, sequence: u64, was_in_flight: bool) {
        if let Some(group) = self.groups.get_mut(group_id) {
            if let Some(at) = group.pending.iter().position(|s| *s == sequence) {
                group.pending.remove(at);
            }
            if was_in_flight {
                group.in_flight = group.in_flight.saturating_sub(1);
            }
        }
    }

    /// Records a message of the group entering (`+1`) or leaving (`-1`) flight.
    pub fn adjust_in_flight(&mut self, group_id: &str, entering: bool) {
        if let Some(group) = self.groups.get_mut(group_id) {
            if entering {
                group.in_flight += 1;
            } else {
                group.in_flight = group.in_flight.saturating_sub(1);
            }
        }
    }

    /// Candidates for a receive, groups served round-robin: from each unblocked group, its messages from the
    /// head for as long as `is_visible` holds, until `max` are chosen. Empty groups are dropped on the way.
    pub fn candidates(&mut self, max: usize, is_visible: impl Fn(u64) -> bool) -> Vec<u64> {
        let mut chosen = Vec::new();
        for _ in 0..self.ring.len() {
            if chosen.len() >= max {
                break;
            }
            let Some(name) = self.ring.pop_front() else { break };
            let Some(group) = self.groups.get(&name) else { continue };
            if group.pending.is_empty() && group.in_flight == 0 {
                self.groups.remove(&name);
                continue;
            }
            if group.in_flight == 0 {
                for sequence in &group.pending {
                    if chosen.len() >= max || !is_visible(*sequence) {
                        break;
                    }
                    chosen.push(*sequence);
                }
            }
            self.ring.push_back(name);
        }
        chosen
    }

    /// The attempt recorded under `attempt_id`, if still valid.
    pub fn attempt(&self, attempt_id: &str) -> Option<&Attempt> {
        self.attempts.get(attempt_id)
    }

    /// Records a receive attempt.
    pub fn remember_attempt(&mut self, attempt_id: &str, handles: Vec<(ReceiptHandle, u32)>, now: Timestamp) {
        let expires_at = now + DEDUPLICATION_WINDOW;
        self.attempt_expiry.push_back((expires_at, attempt_id.to_owned()));
        self.attempts.insert(attempt_id.to_owned(), Attempt { handles, expires_at });
    }

    /// Forgets every group and attempt (purge); the deduplication history stays, as on AWS.
    pub fn clear_messages(&mut self) {
        self.groups.clear();
        self.ring.clear();
        self.attempts.clear();
        self.attempt_expiry.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_served_round_robin_and_blocked_while_in_flight() {
        let mut fifo = FifoState::default();
        for (group, sequence) in [("a", 1), ("a", 2), ("b", 3), ("c", 4)] {
            fifo.push(group, sequence);
        }

        assert_eq!(fifo.candidates(10, |_| true), vec![1, 2, 3, 4]);
        fifo.adjust_in_flight("a", true);
        assert_eq!(fifo.candidates(1, |_| true), vec![3]);
        assert_eq!(fifo.candidates(1, |_| true), vec![4]);
        assert_eq!(fifo.candidates(10, |_| true), vec![3, 4]);
    }

    #[test]
    fn an_invisible_head_blocks_the_rest_of_its_group() {
        let mut fifo = FifoState::default();
        fifo.push("a", 1);
        fifo.push("a", 2);

        assert!(fifo.candidates(10, |sequence| sequence != 1).is_empty());
    }

    #[test]
    fn deduplication_entries_expire_after_five_minutes() {
        let mut fifo = FifoState::default();
        let send = DeduplicatedSend { message_id: "m".to_owned(), sequence: 1 };
        fifo.remember_send(None, "d", send.clone(), Timestamp::from_millis(0));

        fifo.expire(Timestamp::from_millis(299_999));
        assert_eq!(fifo.duplicate_of(None, "d"), Some(&send));
        fifo.expire(Timestamp::from_millis(300_000));
        assert_eq!(fifo.duplicate_of(None, "d"), None);
    }

    #[test]
    fn receive_attempts_expire_five_minutes_after_their_latest_use() {
        let mut fifo = FifoState::default();
        fifo.remember_attempt("a", Vec::new(), Timestamp::from_millis(0));
        fifo.remember_attempt("b", Vec::new(), Timestamp::from_millis(1_000));
        fifo.remember_attempt("a", Vec::new(), Timestamp::from_millis(2_000));

        fifo.expire(Timestamp::from_millis(300_000));
        assert!(fifo.attempt("a").is_some(), "remembered again at 2 s: valid until 302 s");
        assert!(fifo.attempt("b").is_some());
        fifo.expire(Timestamp::from_millis(301_000));
        assert!(fifo.attempt("b").is_none());
        assert!(fifo.attempt("a").is_some());
        fifo.expire(Timestamp::from_millis(302_000));
        assert!(fifo.attempt("a").is_none());
        assert!(fifo.attempt_expiry.is_empty());
    }
}
