//! Looking at a queue's messages without touching them: no receive count, no visibility change, no new
//! receipt handle (for tests, the admin API and the dashboard).

use super::Engine;
use super::clock::Timestamp;
use super::content::MessageAttributes;
use super::stored::{MessageExtra, MessageState};
use crate::error::SqsError;

/// One message as [`Engine::peek`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeekedMessage {
    /// `MessageId`.
    pub message_id: String,
    /// The queue-local sequence (send order).
    pub sequence: u64,
    /// Visible, delayed (until when) or in flight (until when).
    pub state: MessageState,
    /// `ApproximateReceiveCount`.
    pub receive_count: u32,
    /// `SentTimestamp`.
    pub sent_at: Timestamp,
    /// The body.
    pub body: String,
    /// Message attributes.
    pub attributes: MessageAttributes,
    /// Group, deduplication id, trace header, dead-letter source.
    pub extra: MessageExtra,
}

impl Engine {
    /// Up to `limit` messages of a queue in send order, with their state, changing nothing a client can see.
    /// Due transitions (a visibility timeout that ended) are applied first, as any request would.
    ///
    /// # Errors
    /// `QueueDoesNotExist`.
    pub fn peek(&self, queue_url: &str, limit: usize) -> Result<Vec<PeekedMessage>, SqsError> {
        let queue = self.queue(queue_url)?;
        let now = self.now();
        let mut state = queue.lock();
        state.tick(now);
        Ok(state
            .messages_in_order()
            .take(limit)
            .map(|(sequence, message)| PeekedMessage {
                message_id: message.message_id(),
                sequence,
                state: message.state,
                receive_count: message.receive_count,
                sent_at: message.sent_at,
                body: message.body.to_string(),
                attributes: message.attributes().cloned().unwrap_or_default(),
                extra: message.extra.as_deref().cloned().unwrap_or_default(),
            })
            .collect())
    }
}
