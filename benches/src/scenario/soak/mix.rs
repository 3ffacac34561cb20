//! The steady workload of a soak run, one cycle after the other on each connection:
//!
//! 1. `SendMessageBatch` of ten messages, then `ReceiveMessage` (up to ten, no wait) and the settling of what
//!    it returned;
//! 2. `SendMessage` of one message, then another receive and settling;
//! 3. `DeleteMessage` of the message held in this cycle, if any.
//!
//! Settling a receive of `n` messages: the last one goes back with `ChangeMessageVisibilityBatch` (timeout 0,
//! so it is received again), one is held with `ChangeMessageVisibility` (timeout extended) until step 3, and the
//! rest go in one `DeleteMessageBatch`; see [`Settle::plan`]. A cycle adds eleven messages and two receives can
//! remove up to eighteen, so the queue depth settles where receives return about six messages: it stays bounded
//! at any rate, which is what makes memory growth mean something.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::IgnoredAny;

use super::caller::{Caller, Stop};
use crate::conn::to_body;
use crate::send::{MAX_BATCH, QueueKind, Sender};
use crate::wire::{
    Action, BatchResponse, ChangeMessageVisibilityBatchRequest, ChangeMessageVisibilityBatchRequestEntry,
    ChangeMessageVisibilityRequest, DeleteMessageBatchRequest, DeleteMessageRequest, Protocol, ReceiveMessageRequest,
    ReceiveMessageResponse, SendMessageResponse, batch_entry_id,
};

/// The visibility timeout of a held message, in seconds: far longer than it is held, so it never comes back.
const HOLD_SECONDS: u32 = 60;

/// The requests every mixed worker of a run shares.
#[derive(Debug)]
pub struct Mix {
    queue_url: String,
    sender: Sender,
    receive: Bytes,
}

impl Mix {
    /// The workload on `queue_url` (a standard queue) with `body_bytes`-byte messages.
    pub fn new(queue_url: &str, body_bytes: usize) -> Self {
        let receive = to_body(&ReceiveMessageRequest {
            queue_url: Cow::Borrowed(queue_url),
            max_number_of_messages: Some(MAX_BATCH as u8),
            wait_time_seconds: Some(0),
        });
        Self {
            queue_url: queue_url.to_owned(),
            sender: Sender::new(Protocol::Json, queue_url, QueueKind::Standard, body_bytes),
            receive,
        }
    }
}

/// What to do with each message of one receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settle {
    /// Indexes to delete in one batch.
    pub delete: Vec<usize>,
    /// The index to make visible again at once.
    pub release: Option<usize>,
    /// The index to hold (extend, delete later).
    pub hold: Option<usize>,
}

impl Settle {
    /// The plan for `received` messages: with two or more, the last is released; with three or more and nothing
    /// held yet, the first is held; everything else is deleted.
    pub fn plan(received: usize, holding: bool) -> Self {
        let release = (received >= 2).then(|| received - 1);
        let hold = (received >= 3 && !holding).then_some(0);
        let delete = (0..received).filter(|index| Some(*index) != release && Some(*index) != hold).collect();
        Self { delete, release, hold }
    }
}

/// Runs cycles on `caller` until the run is over, then hands the caller back (its connection still open).
pub async fn worker(mut caller: Caller, mix: Arc<Mix>) -> Caller {
    let mut held = None;
    // Only `Stop` ends a cycle early; failed requests are recorded and the cycle goes on.
    while cycle(&mut caller, &mix, &mut held).await.is_ok() {}
    caller
}

async fn cycle(caller: &mut Caller, mix: &Mix, held: &mut Option<String>) -> Result<(), Stop> {
    send(caller, Action::SendMessageBatch, mix.sender.batch_body(MAX_BATCH)).await?;
    receive_and_settle(caller, mix, held).await?;
    send(caller, Action::SendMessage, mix.sender.single_body()).await?;
    receive_and_settle(caller, mix, held).await?;
    if let Some(handle) = held.take() {
        let delete = DeleteMessageRequest { queue_url: Cow::Borrowed(&mix.queue_url), receipt_handle: handle.into() };
        if caller.call(Action::DeleteMessage, to_body(&delete)).await?.is_some() {
            caller.recorder().deleted(1);
        }
    }
    Ok(())
}

async fn send(caller: &mut Caller, action: Action, body: Bytes) -> Result<(), Stop> {
    let Some(reply) = caller.call(action, body).await? else {
        return Ok(());
    };
    if action == Action::SendMessage {
        if caller.decode::<SendMessageResponse<'_>>(action, &reply).is_some() {
            caller.recorder().sent(1);
        }
    } else if let Some(batch) = caller.decode::<BatchResponse<'_, IgnoredAny>>(action, &reply) {
        caller.recorder().sent(batch.successful.len() as u64);
        caller.recorder().refused_entries(action, &batch.failed);
    }
    Ok(())
}

async fn receive_and_settle(caller: &mut Caller, mix: &Mix, held: &mut Option<String>) -> Result<(), Stop> {
    let Some(reply) = caller.call(Action::ReceiveMessage, mix.receive.clone()).await? else {
        return Ok(());
    };
    let Some(received) = caller.decode::<ReceiveMessageResponse<'_>>(Action::ReceiveMessage, &reply) else {
        return Ok(());
    };
    let handles: Vec<&str> = received.messages.iter().map(|message| message.receipt_handle.as_ref()).collect();
    let plan = Settle::plan(handles.len(), held.is_some());
    let queue_url = Cow::Borrowed(mix.queue_url.as_str());

    if !plan.delete.is_empty() {
        let delete =
            DeleteMessageBatchRequest::of_handles(&mix.queue_url, plan.delete.iter().map(|index| handles[*index]));
        let action = Action::DeleteMessageBatch;
        if let Some(reply) = caller.call(action, to_body(&delete)).await? {
            if let Some(batch) = caller.decode::<BatchResponse<'_, IgnoredAny>>(action, &reply) {
                caller.recorder().deleted(batch.successful.len() as u64);
                caller.recorder().refused_entries(action, &batch.failed);
            }
        }
    }
    if let Some(index) = plan.release {
        let release = ChangeMessageVisibilityBatchRequest {
            queue_url: queue_url.clone(),
            entries: vec![ChangeMessageVisibilityBatchRequestEntry {
                id: batch_entry_id(0),
                receipt_handle: Cow::Borrowed(handles[index]),
                visibility_timeout: 0,
            }],
        };
        let action = Action::ChangeMessageVisibilityBatch;
        if let Some(reply) = caller.call(action, to_body(&release)).await? {
            if let Some(batch) = caller.decode::<BatchResponse<'_, IgnoredAny>>(action, &reply) {
                caller.recorder().refused_entries(action, &batch.failed);
            }
        }
    }
    if let Some(index) = plan.hold {
        let extend = ChangeMessageVisibilityRequest {
            queue_url,
            receipt_handle: Cow::Borrowed(handles[index]),
            visibility_timeout: HOLD_SECONDS,
        };
        // A message whose extension failed is held all the same: deleting it still succeeds.
        caller.call(Action::ChangeMessageVisibility, to_body(&extend)).await?;
        *held = Some(handles[index].to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_receive_deletes_eight_releases_one_and_holds_one() {
        let plan = Settle::plan(10, false);

        assert_eq!(plan.release, Some(9));
        assert_eq!(plan.hold, Some(0));
        assert_eq!(plan.delete, (1..9).collect::<Vec<_>>());
    }

    #[test]
    fn only_one_message_is_held_at_a_time() {
        let plan = Settle::plan(10, true);

        assert_eq!(plan.hold, None);
        assert_eq!(plan.delete.len(), 9);
    }

    #[test]
    fn small_receives_are_deleted() {
        assert_eq!(Settle::plan(0, false), Settle { delete: vec![], release: None, hold: None });
        assert_eq!(Settle::plan(1, false), Settle { delete: vec![0], release: None, hold: None });
        assert_eq!(Settle::plan(2, false), Settle { delete: vec![0], release: Some(1), hold: None });
    }

    #[test]
    fn every_message_is_settled_exactly_once() {
        for received in 0..=MAX_BATCH {
            for holding in [false, true] {
                let plan = Settle::plan(received, holding);
                let mut all: Vec<usize> = plan.delete.iter().copied().chain(plan.release).chain(plan.hold).collect();
                all.sort_unstable();

                assert_eq!(all, (0..received).collect::<Vec<_>>(), "{received} received, holding {holding}");
            }
        }
    }
}
