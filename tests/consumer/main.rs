//! The consumer suite: every scenario runs against every backend row from one body, stamped out by
//! `backend_suite!` (`tests/support/suite_macro.rs`, shared with the conformance suite).
//!
//! Rows come from the conformance suite's `TestContext` (embedded engine; `AwsBackend` over JSON and the
//! test-only `QueryBackend` over the Query protocol, both over HTTP to an in-process emulator), all on a
//! `ManualClock`: SQS time (visibility timeouts, redelivery) only moves when a scenario advances it. The
//! consumer's own timers (ack linger, heartbeat ticks) run on real time, kept in the milliseconds here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
#[path = "../support/suite_macro.rs"]
mod suite_macro;

mod harness;
mod readme;
mod scenarios;
#[allow(dead_code)]
#[path = "../conformance/support.rs"]
mod support;

backend_suite! {
    test: #[tokio::test(flavor = "multi_thread", worker_threads = 2)],
    rows: {
        embedded => crate::support::TestContext::embedded,
        aws_http => crate::support::TestContext::aws_over_http,
        query_http => crate::support::TestContext::query_over_http,
    },
    scenarios: {
        basics::every_message_is_handled_once_with_batched_acks,
        basics::failed_deletes_are_retried,
        basics::batch_handler_settles_each_message_by_its_outcome,
        basics::a_slow_message_neither_blocks_others_nor_lets_the_consumer_prefetch,
        basics::shutdown_ends_waiting_long_polls_at_once,
        crashes::a_panicking_handler_leaves_the_message_for_redelivery,
        crashes::a_dropped_consumer_leaves_its_messages_for_redelivery,
        dead_letters::poison_reaches_the_dead_letter_queue_through_redrive,
        dead_letters::dead_letter_now_moves_permanent_failures_and_poison_at_once,
        idempotency::one_key_is_processed_once_by_one_consumer,
        idempotency::one_key_is_processed_once_with_two_consumers_racing,
        idempotency::a_failed_handler_abandons_its_key_so_the_retry_runs,
        timing::retry_backoff_grows_with_the_receive_count,
        timing::heartbeats_keep_a_handler_three_times_the_visibility_timeout_invisible,
        timing::heartbeat_sends_a_ticks_batches_concurrently_and_backs_off_failed_entries,
        timeouts::a_hanging_handler_is_cancelled_then_dropped_and_its_message_retried,
        timeouts::a_handler_that_honours_its_token_ends_early_with_its_own_outcome,
        timeouts::shutdown_cancels_running_handlers_tokens,
        timeouts::a_hanging_batch_handler_is_dropped_and_its_messages_retried,
        timeouts::a_timed_out_fifo_message_holds_back_its_group_which_is_redelivered_in_order,
        timeouts::a_handler_whose_visibility_cannot_be_extended_is_dropped_before_its_confirmed_deadline,
        timeouts::a_handler_whose_extension_fails_then_succeeds_runs_on,
        shutdown::shutdown_under_load_loses_nothing_and_processes_nothing_twice,
        shutdown::shutdown_releases_unstarted_messages_and_abandons_handlers_past_the_deadline,
        fifo::groups_stay_in_order_under_16_handlers_and_100_groups,
        health::a_missing_queue_fails_build_at_once,
        health::throttled_start_up_is_retried,
        health::a_queue_deleted_while_running_stops_the_consumer_with_the_error,
        health::run_until_returns_the_error_when_access_is_revoked,
        health::health_reflects_receive_failures_and_recovery,
        health::on_error_reports_failed_settlements_and_heartbeats,
        throttling::throttled_receives_park_pollers_and_they_come_back,
        throttling::receives_ask_for_ten_messages_whenever_slots_allow,
    }
}
