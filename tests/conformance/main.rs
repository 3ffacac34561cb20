//! The conformance suite: every scenario runs against every backend row, from one body.
//!
//! `conformance_suite!` takes the rows once and the scenarios once and expands to one module per row
//! (`embedded::…`, `aws_http::…`), each test building its row's context and calling the shared scenario, so a
//! failure names both the scenario and the backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod scenarios;
mod support;

macro_rules! conformance_suite {
    (rows: { $($row:ident => $context:path),* $(,)? }, scenarios: $scenarios:tt) => {
        $( conformance_suite!(@row $row, $context, $scenarios); )*
    };
    (@row $row:ident, $context:path, { $($module:ident :: $scenario:ident),* $(,)? }) => {
        mod $row {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let context = $context().await;
                    crate::scenarios::$module::$scenario(&context).await;
                    context.finish().await;
                }
            )*
        }
    };
}

conformance_suite! {
    rows: {
        embedded => crate::support::TestContext::embedded,
        aws_http => crate::support::TestContext::aws_over_http,
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
        batches::send_batch_stores_every_entry_with_verified_digests,
        batches::send_batch_with_one_invalid_body_fails_only_that_entry,
        batches::send_batch_with_one_invalid_delay_fails_only_that_entry,
        batches::empty_batches_fail_with_empty_batch_request,
        batches::batches_of_eleven_entries_fail_with_too_many_entries_and_apply_nothing,
        batches::batches_with_duplicate_ids_fail_with_batch_entry_ids_not_distinct,
        batches::batches_with_malformed_ids_fail_with_invalid_batch_entry_id,
        batches::batch_entry_id_of_80_characters_is_accepted,
        batches::send_batch_totalling_1048577_bytes_fails_with_batch_request_too_long,
        batches::send_batch_totalling_exactly_1_mib_is_accepted,
        batches::message_attributes_count_toward_the_batch_size_limit,
        batches::delete_batch_deletes_valid_entries_and_fails_an_invalid_handle_per_entry,
        batches::change_visibility_batch_changes_valid_entries_and_fails_an_invalid_handle_per_entry,
        batches::change_visibility_batch_extends_visibility,
        visibility::received_message_is_hidden_until_its_timeout_then_redelivered_with_a_new_handle,
        visibility::queue_visibility_timeout_is_the_default_for_receives,
        visibility::receive_visibility_timeout_overrides_the_queue_default,
        visibility::receive_with_visibility_timeout_zero_leaves_the_message_visible,
        visibility::change_visibility_to_zero_makes_the_message_visible_at_once,
        visibility::change_visibility_counts_from_now_and_keeps_the_message_hidden,
        visibility::change_visibility_beyond_12_hours_since_receive_is_invalid,
        visibility::change_visibility_above_43200_is_invalid,
        visibility::change_visibility_of_a_message_no_longer_in_flight_is_invalid,
        visibility::delete_with_a_stale_receipt_handle_succeeds_on_a_standard_queue,
        visibility::deleting_an_already_deleted_message_succeeds,
        visibility::a_receipt_handle_of_another_queue_is_invalid,
        delays::per_message_delay_hides_the_message_until_it_passes,
        delays::queue_delay_applies_to_messages_without_their_own_delay,
        delays::delay_above_900_seconds_is_invalid,
        delays::changing_the_queue_delay_affects_only_later_messages,
        delays::a_message_older_than_the_retention_period_disappears_even_in_flight,
        delays::purge_removes_visible_in_flight_and_delayed_messages,
        delays::a_second_purge_within_60_seconds_fails_with_purge_queue_in_progress,
        long_polling::long_poll_returns_as_soon_as_a_message_is_sent,
        long_polling::long_poll_returns_empty_after_its_wait_of_virtual_time,
        long_polling::queue_receive_wait_time_is_the_default_wait,
        long_polling::request_wait_time_zero_overrides_the_queue_default,
        long_polling::long_poll_wakes_when_a_visibility_timeout_expires,
        long_polling::long_poll_wakes_when_visibility_is_changed_to_zero,
        long_polling::long_poll_wakes_when_a_delay_ends,
        long_polling::twenty_concurrent_long_polls_receive_twenty_messages_exactly_once,
        long_polling::max_number_of_messages_out_of_range_is_invalid,
        long_polling::receive_visibility_timeout_out_of_range_is_invalid,
        message_attributes::a_send_returns_a_uuid_message_id_and_only_the_body_digest,
        message_attributes::each_send_gets_a_distinct_message_id,
        message_attributes::spec_attributes_round_trip_with_the_spec_digests,
        message_attributes::custom_type_labels_and_multibyte_values_are_hashed_by_full_type_and_byte_length,
        message_attributes::receive_filters_message_attributes_by_name_and_hashes_only_returned_ones,
        message_attributes::receive_filters_message_attributes_by_prefix_wildcard,
        message_attributes::receive_with_dot_star_returns_all_message_attributes,
        message_attributes::receive_without_matching_attribute_names_omits_attributes_and_their_digest,
        message_attributes::receive_returns_every_system_attribute_when_all_are_requested,
        message_attributes::receive_returns_only_the_requested_system_attributes,
        message_attributes::bodies_with_boundary_allowed_characters_round_trip_unchanged,
        message_attributes::a_deleted_message_is_never_received_again,
        message_attributes::receive_never_returns_more_than_max_number_of_messages,
        message_validation::bodies_with_characters_outside_the_xml_char_range_are_invalid_message_contents,
        message_validation::a_body_larger_than_the_queue_maximum_message_size_is_invalid,
        message_validation::message_attributes_count_toward_the_maximum_message_size,
        message_validation::more_than_ten_message_attributes_are_invalid,
        message_validation::message_attributes_with_invalid_names_are_invalid,
        message_validation::message_attributes_with_valid_unusual_names_are_accepted,
        message_validation::message_attributes_with_invalid_data_types_are_invalid,
        message_validation::message_attributes_with_empty_values_are_invalid,
        message_validation::a_number_attribute_with_a_non_numeric_value_is_invalid,
        message_validation::a_deduplication_id_on_a_standard_queue_is_invalid,
        fifo_queues::a_fifo_suffix_without_the_fifo_queue_attribute_is_rejected,
        fifo_queues::the_fifo_queue_attribute_without_a_fifo_suffix_is_rejected,
        fifo_queues::fifo_queue_false_on_a_standard_queue_is_accepted,
        fifo_queues::a_fresh_fifo_queue_reports_the_fifo_attribute_defaults,
        fifo_queues::fifo_only_attributes_on_a_standard_queue_are_unknown,
        fifo_queues::per_message_group_throughput_requires_message_group_deduplication_scope,
        fifo_queues::the_fifo_queue_attribute_cannot_change_after_creation,
        fifo_queues::a_fifo_send_without_a_group_id_is_missing_a_parameter,
        fifo_queues::a_fifo_send_without_a_deduplication_id_needs_content_based_deduplication,
        fifo_queues::a_fifo_send_rejects_a_positive_per_message_delay_and_accepts_zero,
        fifo_queues::a_standard_queue_accepts_a_group_id_and_returns_it_without_a_sequence_number,
        fifo_queues::a_standard_queue_does_not_block_a_message_group_while_in_flight,
        fifo_order::the_next_message_of_a_group_comes_only_after_the_previous_one_is_deleted,
        fifo_order::a_group_stays_blocked_until_visibility_expires_then_redelivers_the_same_head,
        fifo_order::one_receive_returns_a_groups_messages_in_send_order,
        fifo_order::every_group_is_served_while_the_others_are_blocked,
        fifo_order::a_hot_group_does_not_starve_a_later_group,
        fifo_order::sequence_numbers_are_long_increasing_and_repeated_on_receive,
        fifo_order::a_fifo_receive_reports_group_deduplication_id_and_sequence_number,
        fifo_order::a_fifo_send_batch_enqueues_entries_in_request_order,
        fifo_order::a_fifo_batch_entry_with_a_delay_fails_alone,
        fifo_order::a_retried_receive_attempt_returns_the_same_messages_and_handles,
        fifo_order::a_receive_attempt_after_a_delete_performs_a_new_receive,
        fifo_order::a_retried_receive_attempt_resets_the_visibility_timeout,
        fifo_order::a_receive_attempt_is_not_replayed_after_a_visibility_change,
        fifo_order::a_fifo_delete_with_an_expired_receipt_handle_is_rejected,
        fifo_order::a_fifo_handle_superseded_by_a_later_receive_is_rejected_as_expired,
        fifo_order::a_fifo_delete_after_the_original_timeout_works_when_visibility_was_extended,
        fifo_order::a_delayed_head_message_blocks_its_group,
        fifo_dedup::a_duplicate_inside_the_window_returns_the_original_id_and_enqueues_nothing,
        fifo_dedup::duplicates_do_not_extend_the_window_and_a_send_after_it_enqueues_again,
        fifo_dedup::deduplication_survives_receive_and_delete_of_the_original,
        fifo_dedup::content_based_deduplication_uses_the_sha256_of_the_body_only,
        fifo_dedup::an_explicit_deduplication_id_takes_precedence_over_content,
        fifo_dedup::message_group_scope_keeps_the_same_id_apart_in_two_groups,
        fifo_dedup::queue_scope_deduplicates_across_groups,
        fifo_dedup::a_duplicate_inside_one_batch_answers_with_the_first_entrys_id,
    }
}
