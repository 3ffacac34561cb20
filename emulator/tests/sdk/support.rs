//! Setup and assertion helpers shared by the modules of the `sdk` test binary, on top of the fixtures of
//! `emulator/tests/common`.

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry,
};

use crate::common::{NO_QUEUE_MESSAGE, expect_service_error};

/// Asserts a call failed with QueueDoesNotExist as the SDK sees it (HTTP 400, the legacy code, AWS's JSON
/// message, `Sender` fault); returns the typed error for matching its variant.
pub fn expect_no_such_queue<E>(err: SdkError<E>) -> E
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    let se = expect_service_error(err, 400, "AWS.SimpleQueueService.NonExistentQueue", NO_QUEUE_MESSAGE);
    assert_eq!(se.meta().extra("type"), Some("Sender"), "{se:?}");
    se
}

/// A SendMessageBatch entry `a` with body `x`.
pub fn send_batch_entry() -> SendMessageBatchRequestEntry {
    SendMessageBatchRequestEntry::builder().id("a").message_body("x").build().expect("entry")
}

/// A DeleteMessageBatch entry `a` with receipt handle `h`.
pub fn delete_batch_entry() -> DeleteMessageBatchRequestEntry {
    DeleteMessageBatchRequestEntry::builder().id("a").receipt_handle("h").build().expect("entry")
}

/// A ChangeMessageVisibilityBatch entry `a` with receipt handle `h` and timeout 0.
pub fn visibility_batch_entry() -> ChangeMessageVisibilityBatchRequestEntry {
    ChangeMessageVisibilityBatchRequestEntry::builder()
        .id("a")
        .receipt_handle("h")
        .visibility_timeout(0)
        .build()
        .expect("entry")
}
