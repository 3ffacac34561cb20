//! Storage events the storage tests build again and again.

use crate::engine::{StorageEvent, Timestamp};

/// Queue `uid` was created, named `q<uid>` in us-east-1's default account, without attributes or tags.
pub(crate) fn created(uid: u64) -> StorageEvent {
    StorageEvent::QueueCreated {
        uid,
        name: format!("us-east-1/000000000000/q{uid}"),
        attributes: Vec::new(),
        tags: Vec::new(),
        created_at: Timestamp::from_millis(1),
    }
}
