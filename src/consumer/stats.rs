//! What a consumer did: live counters ([`ConsumerStats`], a snapshot) and the [`ShutdownReport`].

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident, )*) => {
        /// A snapshot of a consumer's counters, from [`RunningConsumer::stats`](super::RunningConsumer::stats)
        /// or a [`ShutdownReport`].
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct ConsumerStats {
            $( $(#[$doc])* pub $name: u64, )*
        }

        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $( pub(crate) $name: AtomicU64, )*
        }

        impl Counters {
            pub(crate) fn snapshot(&self) -> ConsumerStats {
                ConsumerStats { $( $name: self.$name.load(Ordering::Relaxed), )* }
            }
        }
    };
}

counters! {
    /// `ReceiveMessage` requests that returned (with or without messages).
    receive_requests,
    /// `ReceiveMessage` requests that failed (see also [`ConsumerHealth`](super::ConsumerHealth)).
    receive_errors,
    /// `ReceiveMessage` requests that SQS throttled (also counted in `receive_errors`).
    receive_throttled,
    /// Pollers allowed to receive right now (a gauge): the configured number while SQS accepts the rate,
    /// fewer after throttled receives (see [`crate::flow`]).
    active_pollers,
    /// Messages received.
    received,
    /// Handler invocations started (a batch handler counts each message).
    started,
    /// Handlers running right now (a gauge).
    running,
    /// Messages the handler acknowledged whose delete SQS confirmed.
    completed,
    /// Messages whose idempotency key was already completed: deleted without running the handler.
    duplicates,
    /// Messages whose key was in progress elsewhere: put back until that lease ends.
    deferred,
    /// Messages put back with a retry delay ([`Outcome::Retry`](super::Outcome::Retry),
    /// [`Outcome::RetryAfter`](super::Outcome::RetryAfter)).
    retried,
    /// Messages released by [`Outcome::Release`](super::Outcome::Release), or held back behind a failed
    /// message of their FIFO group.
    released,
    /// Messages received but not started when shutdown began, released (visibility 0).
    released_unstarted,
    /// Messages moved to the dead-letter queue by the consumer (sent there, then deleted).
    dead_lettered,
    /// Messages that could not be decoded or failed their MD5 check.
    poison,
    /// Handlers that panicked (their messages are left for redelivery).
    panicked,
    /// Handler calls that reached the [handler timeout](super::ConsumerBuilder::handler_timeout): their
    /// cancellation token fired (a batch handler's call counts once).
    timed_out,
    /// Timed-out handler calls still running at the end of their grace period: dropped, their messages put
    /// back for retry.
    dropped,
    /// Handlers still running at the shutdown deadline (their messages are left for redelivery).
    abandoned,
    /// Visibility extensions made by the heartbeat (one per message per extension).
    extended,
    /// `ChangeMessageVisibilityBatch` requests made by the heartbeat.
    heartbeat_requests,
    /// Deletes and visibility changes that finally failed (the message will be redelivered).
    settle_failures,
    /// Dead-letter sends that finally failed (the message is left for redrive).
    dead_letter_failures,
    /// Idempotency store operations that failed with [`StoreError::Unavailable`](super::StoreError::Unavailable):
    /// a failed begin puts the message back (1 s doubling per receive) without running its handler; a failed
    /// completion leaves the key unrecorded although the handler succeeded (the message is still acknowledged).
    store_failures,
    /// Offloaded payloads that could not be fetched because S3 was unavailable or refused the read (see
    /// [`crate::offload`]): each such message was put back (1 s doubling per receive) without running its
    /// handler. Missing objects count as `poison` instead.
    payload_failures,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn drop_one(counter: &AtomicU64) {
    counter.fetch_sub(1, Ordering::Relaxed);
}

/// What a graceful shutdown did.
///
/// After a shutdown nothing is lost: every message the consumer received was either completed (deleted
/// after its handler acknowledged it), settled otherwise (retried, released, dead-lettered, see `stats`),
/// released unstarted, or left in flight for SQS to redeliver (`abandoned`, panicked, failed settlements).
///
/// Changed in 0.1 (issue #18): it carries the [`error`](Self::error) a consumer stopped on by itself, and
/// (since [`Error`](crate::Error) cannot be compared) no longer implements `PartialEq`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Messages processed and deleted over the consumer's life (`stats.completed`).
    pub completed: u64,
    /// Messages received but not started, released for redelivery during shutdown.
    pub released: u64,
    /// Handlers still running at the deadline; their messages will be redelivered after their visibility
    /// timeout.
    pub abandoned: u64,
    /// Deletes and visibility changes still unconfirmed when the settle timeout ran out.
    pub unsettled: u64,
    /// Every counter, as at the end of the shutdown.
    pub stats: ConsumerStats,
    /// The [`Error::ConsumerStopped`](crate::Error::ConsumerStopped) the consumer stopped on by itself
    /// before the shutdown (its queue became unusable), if it did.
    pub error: Option<crate::Error>,
}
