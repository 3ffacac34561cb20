//! What a soak run counts: requests, errors and latencies per action, and the messages it moved, accumulated in
//! a window that the sampler takes over once per interval. Errors never stop the run; the first few are printed
//! and kept for the report.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;

use crate::stats::Latencies;
use crate::wire::{Action, BatchResultErrorEntry};

/// How many errors are printed (and kept in the report) with their details.
pub const ERRORS_SHOWN: usize = 10;

/// Requests, errors and latencies of one action.
#[derive(Debug, Clone, Default)]
pub struct ActionTally {
    /// Requests the server answered, with any status.
    pub requests: u64,
    /// Failed requests (transport errors, statuses other than 200, unreadable bodies) and batch entries refused
    /// inside a 200 response.
    pub errors: u64,
    /// Latency of every answered request, from its send to the last byte of its response.
    pub latencies: Latencies,
}

impl ActionTally {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Self) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.latencies.merge(&other.latencies);
    }
}

/// The messages and queues a run moved in one interval (or, merged, in the whole run); the samples and the
/// report show them as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MessageFlow {
    /// Messages the main queue accepted.
    pub messages_sent: u64,
    /// Messages deleted from the main queue.
    pub messages_deleted: u64,
    /// Short-lived queues created, used and deleted.
    pub queues_churned: u64,
}

impl MessageFlow {
    /// Adds `other` into `self`.
    pub const fn merge(&mut self, other: Self) {
        self.messages_sent += other.messages_sent;
        self.messages_deleted += other.messages_deleted;
        self.queues_churned += other.queues_churned;
    }

    /// Messages that should be in the main queue: sent minus deleted.
    pub const fn expected_depth(self) -> u64 {
        self.messages_sent.saturating_sub(self.messages_deleted)
    }
}

/// The counts of one sampling interval (or, merged, of the whole run).
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Per action.
    pub actions: HashMap<Action, ActionTally>,
    /// Messages and queues moved.
    pub flow: MessageFlow,
}

impl Window {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Self) {
        for (action, tally) in &other.actions {
            self.actions.entry(*action).or_default().merge(tally);
        }
        self.flow.merge(other.flow);
    }

    /// All actions together.
    pub fn overall(&self) -> ActionTally {
        let mut total = ActionTally::default();
        for tally in self.actions.values() {
            total.merge(tally);
        }
        total
    }
}

/// The shared recorder of a run; every worker reports into it.
#[derive(Debug, Default)]
pub struct Recorder {
    window: Mutex<Window>,
    errors: Mutex<ErrorLog>,
}

#[derive(Debug, Default)]
struct ErrorLog {
    count: u64,
    first: Vec<String>,
}

impl Recorder {
    /// A recorder with nothing counted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts a request the server answered after `latency`, whatever its status.
    pub fn answered(&self, action: Action, latency: Duration) {
        let mut window = self.window();
        let tally = window.actions.entry(action).or_default();
        tally.requests += 1;
        tally.latencies.record(latency);
    }

    /// Counts one error of `action`; the first [`ERRORS_SHOWN`] are printed to stderr with `detail`.
    pub fn error(&self, action: Action, detail: impl Display) {
        self.window().actions.entry(action).or_default().errors += 1;
        let mut log = self.errors.lock().unwrap_or_else(PoisonError::into_inner);
        log.count += 1;
        if log.first.len() < ERRORS_SHOWN {
            let line = format!("{action}: {detail}");
            eprintln!("soak: error {}: {line}", log.count);
            log.first.push(line);
        }
    }

    /// Counts every entry refused inside a 200 batch response as an error.
    pub fn refused_entries(&self, action: Action, failed: &[BatchResultErrorEntry<'_>]) {
        for entry in failed {
            let message = entry.message.as_deref().unwrap_or("");
            self.error(action, format_args!("entry {} refused with {}: {message}", entry.id, entry.code));
        }
    }

    /// Counts messages accepted by the main queue.
    pub fn sent(&self, messages: u64) {
        self.window().flow.messages_sent += messages;
    }

    /// Counts messages deleted from the main queue.
    pub fn deleted(&self, messages: u64) {
        self.window().flow.messages_deleted += messages;
    }

    /// Counts one completed queue churn cycle.
    pub fn churned(&self) {
        self.window().flow.queues_churned += 1;
    }

    /// Takes the counts so far, leaving an empty window.
    pub fn take(&self) -> Window {
        std::mem::take(&mut *self.window())
    }

    /// The details of the first [`ERRORS_SHOWN`] errors.
    pub fn first_errors(&self) -> Vec<String> {
        self.errors.lock().unwrap_or_else(PoisonError::into_inner).first.clone()
    }

    fn window(&self) -> MutexGuard<'_, Window> {
        // Every update leaves the window consistent, so a panic elsewhere cannot leave it half-written.
        self.window.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    #[test]
    fn take_starts_a_new_window() {
        let recorder = Recorder::new();
        recorder.answered(Action::SendMessage, Duration::from_micros(100));
        recorder.sent(1);

        let first = recorder.take();
        recorder.answered(Action::ReceiveMessage, Duration::from_micros(200));
        let second = recorder.take();

        assert_eq!((first.overall().requests, first.flow.messages_sent), (1, 1));
        assert_eq!((second.overall().requests, second.flow.messages_sent), (1, 0));
        assert!(second.actions.contains_key(&Action::ReceiveMessage));
    }

    #[test]
    fn refused_entries_and_failed_requests_are_errors() {
        let recorder = Recorder::new();
        let refused = BatchResultErrorEntry {
            id: Cow::Borrowed("3"),
            sender_fault: true,
            code: Cow::Borrowed("ReceiptHandleIsInvalid"),
            message: None,
        };

        recorder.refused_entries(Action::DeleteMessageBatch, &[refused]);
        recorder.error(Action::SendMessage, "HTTP 500");

        let window = recorder.take();
        assert_eq!(window.overall().errors, 2);
        assert_eq!(window.overall().requests, 0);
        assert_eq!(recorder.first_errors().len(), 2);
        assert!(recorder.first_errors()[0].contains("ReceiptHandleIsInvalid"));
    }

    #[test]
    fn merged_windows_add_up() {
        let mut total = Window::default();
        let recorder = Recorder::new();
        for _ in 0..3 {
            recorder.answered(Action::DeleteMessageBatch, Duration::from_micros(50));
            recorder.deleted(10);
            recorder.churned();
            total.merge(&recorder.take());
        }

        assert_eq!(total.overall().requests, 3);
        assert_eq!(total.overall().latencies.len(), 3);
        assert_eq!((total.flow.messages_deleted, total.flow.queues_churned), (30, 3));
    }
}
