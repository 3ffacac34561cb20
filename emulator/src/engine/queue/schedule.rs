//! Timed transitions of one queue: every state change goes through [`QueueState::set_state`], and
//! [`QueueState::tick`] applies the delays, visibility timeouts and retention that are due.

use std::cmp::Reverse;

use super::QueueState;
use crate::engine::clock::Timestamp;
use crate::engine::stored::MessageState;

impl QueueState {
    /// Moves a message to `new` state, keeping counters, the visible set, FIFO groups and timers in step.
    pub(super) fn set_state(&mut self, sequence: u64, new: MessageState) {
        let Some(message) = self.messages.get_mut(sequence) else { return };
        let old = message.state;
        message.state = new;
        message.epoch = message.epoch.wrapping_add(1);
        let epoch = message.epoch;
        // Borrowed from the message while the other fields change: a disjoint borrow of `self.messages`.
        let group = message.extra.as_ref().and_then(|extra| extra.group_id.as_deref());
        match old {
            MessageState::Visible => {
                self.visible.remove(sequence);
            }
            MessageState::Delayed { .. } => self.delayed_count -= 1,
            MessageState::InFlight { .. } => self.in_flight_count -= 1,
        }
        match new {
            MessageState::Visible => {
                self.visible.insert(sequence);
            }
            MessageState::Delayed { until } => {
                self.delayed_count += 1;
                self.timers.push(Reverse((until, sequence, epoch)));
            }
            MessageState::InFlight { until, .. } => {
                self.in_flight_count += 1;
                self.timers.push(Reverse((until, sequence, epoch)));
            }
        }
        let was_in_flight = matches!(old, MessageState::InFlight { .. });
        let is_in_flight = matches!(new, MessageState::InFlight { .. });
        if let (Some(fifo), Some(group)) = (self.fifo.as_mut(), group) {
            if was_in_flight != is_in_flight {
                fifo.adjust_in_flight(group, is_in_flight);
            }
        }
    }

    /// Applies every transition due at `now`: delays and visibility timeouts that ended, retention expiry,
    /// and the end of FIFO deduplication windows.
    pub fn tick(&mut self, now: Timestamp) {
        while let Some(Reverse((due, sequence, epoch))) = self.timers.peek().copied() {
            if due > now {
                break;
            }
            self.timers.pop();
            let current = self.messages.get(sequence).map(|message| (message.epoch, message.state));
            if let Some((current_epoch, state)) = current {
                if current_epoch == epoch && state != MessageState::Visible {
                    self.set_state(sequence, MessageState::Visible);
                }
            }
        }
        self.expire(now);
        if let Some(fifo) = self.fifo.as_mut() {
            fifo.expire(now);
        }
    }

    /// Deletes messages older than the retention period, in flight or not.
    pub(super) fn expire(&mut self, now: Timestamp) {
        let retention = self.settings.message_retention_period;
        while let Some((sequence, message)) = self.messages.first() {
            if message.retention_start + retention > now {
                break;
            }
            self.remove(sequence);
        }
        while let Some(&(start, sequence)) = self.early_expiring.first() {
            if start + retention > now {
                break;
            }
            self.remove(sequence);
        }
    }

    /// The earliest moment a timed transition is due, if any (for long-poll waiters).
    pub fn next_transition(&self) -> Option<Timestamp> {
        let retention = self.settings.message_retention_period;
        let timer = self.timers.peek().map(|Reverse((due, _, _))| *due);
        let expiry = self.messages.first().map(|(_, message)| message.retention_start + retention);
        let early = self.early_expiring.first().map(|(start, _)| *start + retention);
        [timer, expiry, early].into_iter().flatten().min()
    }
}
