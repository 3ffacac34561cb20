//! The conformance suite: every scenario runs against every backend row, from one body.
//!
//! `backend_suite!` (`tests/support/suite_macro.rs`, shared with the consumer suite) takes the rows once and
//! the scenarios once and expands to one module per row (`embedded::…`, `aws_http::…`, `query_http::…`), each
//! test building its row's context and calling the shared scenario, so a failure names both the scenario and
//! the backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
#[path = "../support/suite_macro.rs"]
mod suite_macro;

mod scenarios;
mod support;

backend_suite! {
    test: #[tokio::test],
    rows: {
        embedded => crate::support::TestContext::embedded,
        aws_http => crate::support::TestContext::aws_over_http,
        query_http => crate::support::TestContext::query_over_http,
    },
    scenarios: {
        queues::queue_lifecycle_create_get_set_list_purge_delete,
        queues::missing_queue_errors_classify_identically,
        send_receive::producer_round_trip_send_receive_delete,
        send_receive::concurrent_sends_use_about_one_request_per_ten_messages,
        send_receive::batches_are_split_to_stay_within_one_mib,
        send_receive::invalid_messages_fail_before_any_request,
        send_receive::send_all_returns_failed_values_with_their_errors,
        send_receive::entry_failures_carry_the_aws_code_and_fault,
        send_receive::invalid_receipt_handles_fail_per_entry,
        send_receive::visibility_changes_and_timeouts_redeliver,
        idempotency::standard_queue_carries_the_idempotency_key_attribute,
        idempotency::fifo_sends_with_the_same_key_store_one_message,
        integrity::md5_mismatch_on_send_fails_the_message_without_retry,
        integrity::md5_mismatch_on_receive_marks_the_message,
        integrity::selected_attribute_subsets_verify,
    }
}
