#!/usr/bin/env bash
# The comparisons benches/scripts/run.sh does not make, each against a reference measured in the same invocation:
#
#   query    send-batch over the Query protocol vs over JSON, both on the emulator   (ratio Query/JSON)
#   fifo     send-batch and drain on FIFO queues with 10 and 1000 message groups vs a standard queue
#   durable  send-batch and drain with --data-dir (a fresh temporary directory per run) vs in memory
#   durablefifo  the same on FIFO queues (10 message groups) vs an in-memory FIFO queue
#   pipeline  end-to-end latency (send to delete, p50/p99 columns) of one FIFO queue (10 groups) that 8 producers
#            send to at PIPELINE_RATE messages/s (default 1000) while 8 consumers receive and delete: durable vs
#            in memory (msg/s is the paced rate, so its ratio is ~1; compare the latencies)
#
# Every run starts a fresh server (pinned to CPU 0; the load generator to CPU 1), and the variants of a comparison
# alternate within each repeat, so slow drift of a shared machine spreads over all of them. Prints one markdown
# table per comparison: medians, min-max of msg/s over the repeats, the reference's median and the ratio to it.
#
# Usage: benches/scripts/run-extra.sh [--repeats N] [--duration SECONDS]
#                                     [--comparisons "query fifo durable durablefifo pipeline"]
#                                     [--no-build]
# Environment overrides: REPEATS, DURATION, COMPARISONS, CONCURRENCY, BODY_BYTES, DRAIN_MESSAGES, EMULATOR_PORT,
#   SERVER_CPU, LOADGEN_CPU, EMULATOR_ARGS (emulator flags besides host, port and data dir; default
#   "--worker-threads 1"), LOADGEN_ARGS (extra loadgen flags), and QUIET_WAIT / QUIET_RETRIES / FOREIGN_LIMIT
#   for a shared machine (see benches/scripts/lib.sh).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

defaults COMPARISONS="query fifo durable" DRAIN_MESSAGES=200000 PIPELINE_RATE=1000
option REPEATS -r --repeats
option DURATION -d --duration
option COMPARISONS -c --comparisons
parse_options "$@"
prepare_run

# Each variant is "SCENARIO/NAME TARGET LOADGEN_ARGS...": the first variant of a scenario within a comparison is
# the reference of the others.
# shellcheck disable=SC2034 # read through the nameref in variants_of
TITLE_query="Query vs JSON send-batch on the emulator (reference: JSON)"
# shellcheck disable=SC2034
VARIANTS_query=(
    "send-batch/json emulator --scenario send-batch"
    "send-batch/query emulator --scenario send-batch --protocol query"
)
# shellcheck disable=SC2034
TITLE_fifo="FIFO vs standard queues on the emulator (reference: the standard queue of the same scenario)"
# shellcheck disable=SC2034
VARIANTS_fifo=(
    "send-batch/standard emulator --scenario send-batch"
    "send-batch/fifo-10-groups emulator --scenario send-batch --fifo-groups 10"
    "send-batch/fifo-1000-groups emulator --scenario send-batch --fifo-groups 1000"
    "drain/standard emulator --scenario drain"
    "drain/fifo-10-groups emulator --scenario drain --fifo-groups 10"
    "drain/fifo-1000-groups emulator --scenario drain --fifo-groups 1000"
)
# shellcheck disable=SC2034
TITLE_durable="Durable (--data-dir) vs in-memory emulator (reference: in memory, same scenario)"
# shellcheck disable=SC2034
VARIANTS_durable=(
    "send-batch/memory emulator --scenario send-batch"
    "send-batch/durable durable --scenario send-batch"
    "drain/memory emulator --scenario drain"
    "drain/durable durable --scenario drain"
)

# shellcheck disable=SC2034
TITLE_durablefifo="Durable (--data-dir) vs in-memory emulator, FIFO queues with 10 groups (reference: in memory, same scenario)"
# shellcheck disable=SC2034
VARIANTS_durablefifo=(
    "send-batch/memory-fifo emulator --scenario send-batch --fifo-groups 10"
    "send-batch/durable-fifo durable --scenario send-batch --fifo-groups 10"
    "drain/memory-fifo emulator --scenario drain --fifo-groups 10"
    "drain/durable-fifo durable --scenario drain --fifo-groups 10"
)

# shellcheck disable=SC2034
TITLE_pipeline="Durable vs in-memory FIFO pipeline (10 groups, $PIPELINE_RATE msg/s): send-to-delete latency per message"
# shellcheck disable=SC2034
VARIANTS_pipeline=(
    "pipeline/memory-fifo emulator --scenario pipeline --fifo-groups 10 --rate $PIPELINE_RATE"
    "pipeline/durable-fifo durable --scenario pipeline --fifo-groups 10 --rate $PIPELINE_RATE"
)

# start_target TARGET: a fresh emulator, in memory or on a fresh data directory.
start_target() {
    local data_args=()
    if [ "$1" = durable ]; then
        temp_dir DATA_DIR
        data_args=(--data-dir "$DATA_DIR")
    fi
    start_emulator "$1" "${data_args[@]}"
}

# stop_target TARGET: stops the server; a durable one's data file size is logged, then the directory removed.
stop_target() {
    stop_server "$1"
    if [ "$1" = durable ]; then
        log "  data file after the run: $(du -sh "$DATA_DIR" | cut -f1)"
        rm -rf "$DATA_DIR"
    fi
}

# reference_of COMPARISON LABEL: the label of the variant LABEL is compared with (the first of its scenario).
reference_of() {
    local -n variants="VARIANTS_$1"
    local scenario=${2%%/*} variant
    for variant in "${variants[@]}"; do
        read -r label _ <<<"$variant"
        if [ "${label%%/*}" = "$scenario" ]; then
            echo "$label"
            return
        fi
    done
}

target_of() { awk -v l="$1" '$1 == l { print $2; exit }' "$RESULTS"; }

for group in $COMPARISONS; do
    if ! declare -p "VARIANTS_$group" >/dev/null 2>&1; then
        log "unknown comparison $group (known: query fifo durable durablefifo pipeline)"
        exit 2
    fi
    declare -n variants="VARIANTS_$group"
    for ((run = 1; run <= REPEATS; run++)); do
        for variant in "${variants[@]}"; do
            read -r label target args <<<"$variant"
            log "$group: $label on $target, run $run/$REPEATS"
            start_target "$target"
            # args and LOADGEN_ARGS are deliberately split into words: they hold flags.
            # shellcheck disable=SC2086
            measure "$label" "$target" "http://127.0.0.1:$EMULATOR_PORT" $args --concurrency "$CONCURRENCY" \
                --duration "$DURATION" --body-bytes "$BODY_BYTES" --messages "$DRAIN_MESSAGES" $LOADGEN_ARGS
            stop_target "$target"
        done
    done
    unset -n variants
done

echo
echo "Medians of $REPEATS run(s) per row; ${DURATION}s measured per send-batch run, concurrency $CONCURRENCY," \
    "body $BODY_BYTES B; drain of $DRAIN_MESSAGES messages (receive 10 + DeleteMessageBatch)."
echo "Emulator ($EMULATOR_ARGS) pinned to CPU $SERVER_CPU, load generator to CPU $LOADGEN_CPU; a fresh process per run."
echo "Latencies in µs. CPU: cores used by the server / by the load generator / by other processes on the two pinned"
echo "CPUs (foreign: the machine is shared; 0 is a quiet run)."
for group in $COMPARISONS; do
    title="TITLE_$group"
    declare -n variants="VARIANTS_$group"
    echo
    echo "### $group: ${!title}"
    echo
    echo "| variant | msg/s | msg/s min-max | req/s | p50 | p99 | reference | reference msg/s | ratio | errors | CPU server/loadgen/foreign |"
    echo "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
    for variant in "${variants[@]}"; do
        read -r label target _ <<<"$variant"
        reference=$(reference_of "$group" "$label")
        reference_target=$(target_of "$reference")
        mps=$(median "$label" "$target" 4 %.0f)
        reference_mps=$(median "$reference" "${reference_target:-emulator}" 4 %.0f)
        errors=$(awk -v l="$label" '$1 == l { n += $8 } END { print n + 0 }' "$RESULTS")
        echo "| $label | $mps | $(spread "$label" "$target" 4) | $(median "$label" "$target" 3 %.0f) |" \
            "$(median "$label" "$target" 5) | $(median "$label" "$target" 6) | $reference | $reference_mps |" \
            "$(ratio "$mps" "$reference_mps") | $errors |" \
            "$(median "$label" "$target" 10 %.2f) / $(median "$label" "$target" 9 %.2f) /" \
            "$(median "$label" "$target" 11 %.2f) |"
    done
    unset -n variants
done

report_notes
