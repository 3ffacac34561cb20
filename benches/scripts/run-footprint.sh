#!/usr/bin/env bash
# Memory and recovery of the emulator with many stored messages, each repeated on a fresh process (and, for
# recovery, a fresh data directory):
#
#   memory    RSS of an empty in-memory emulator, then VmRSS and VmHWM after `fill` enqueued MESSAGES messages
#   recovery  a durable emulator (--data-dir) is filled with MESSAGES messages and stopped with SIGINT; then the
#             data file size, and the time from starting the emulator again until /health answers 200, after
#             which ApproximateNumberOfMessages must equal MESSAGES
#
# The emulator is pinned to CPU 0 and the load generator to CPU 1, as in benches/scripts/run.sh. Prints one markdown table
# per measurement with every repeat and the median.
#
# Usage: benches/scripts/run-footprint.sh [--repeats N] [--messages N] [--measurements "memory recovery"]
#                                        [--no-build]
# Environment overrides: REPEATS, MESSAGES, MEASUREMENTS, BODY_BYTES, CONCURRENCY, EMULATOR_PORT, SERVER_CPU,
#   LOADGEN_CPU, EMULATOR_ARGS (default "--worker-threads 1"), FILL_TIMEOUT (seconds, default 900), and
#   QUIET_WAIT / QUIET_RETRIES / FOREIGN_LIMIT (see benches/scripts/lib.sh).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

defaults MESSAGES=1000000 MEASUREMENTS="memory recovery" FILL_TIMEOUT=900
option REPEATS -r --repeats
option MESSAGES -m --messages
option MEASUREMENTS --measurements
parse_options "$@"
prepare_run
READY_SECS=
READY_CPU_SECS=

ENDPOINT=http://127.0.0.1:$EMULATOR_PORT
QUEUE=bench-footprint
QUEUE_URL=$ENDPOINT/000000000000/$QUEUE

# status_kib NAME FIELD: a field of /proc/<pid>/status of server NAME, in KiB (VmRSS, VmHWM).
status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/${PID_OF[$1]}/status"; }

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# fill NAME: enqueues MESSAGES messages into QUEUE on the running server NAME; fails the script if it fails.
fill() {
    # A repeated fill would enqueue the messages twice: the state is what is measured here, not the rate.
    # shellcheck disable=SC2034 # read by measure, through bash's dynamic scoping
    local QUIET_RETRIES=0
    log "  filling $MESSAGES messages of $BODY_BYTES B"
    measure "fill-$1" "$1" "$ENDPOINT" --scenario fill --queue "$QUEUE" --messages "$MESSAGES" \
        --body-bytes "$BODY_BYTES" --concurrency "$CONCURRENCY" --timeout "$FILL_TIMEOUT"
    if ((FAILED)); then
        exit 1
    fi
}

# visible_messages: ApproximateNumberOfMessages of QUEUE.
visible_messages() {
    curl -sS --max-time 30 -H 'Content-Type: application/x-amz-json-1.0' \
        -H 'X-Amz-Target: AmazonSQS.GetQueueAttributes' \
        -d "{\"QueueUrl\":\"$QUEUE_URL\",\"AttributeNames\":[\"ApproximateNumberOfMessages\"]}" "$ENDPOINT/" |
        sed -n 's/.*"ApproximateNumberOfMessages":"\([0-9]*\)".*/\1/p'
}

# column_median FILE COLUMN: the median of a column of numbers.
column_median() {
    awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    }'
}

measure_memory() {
    local run baseline_rss baseline_hwm rss hwm count
    for ((run = 1; run <= REPEATS; run++)); do
        log "memory, run $run/$REPEATS"
        start_emulator memory
        sleep 1
        baseline_rss=$(status_kib memory VmRSS)
        baseline_hwm=$(status_kib memory VmHWM)
        fill memory
        sleep 1
        rss=$(status_kib memory VmRSS)
        hwm=$(status_kib memory VmHWM)
        count=$(visible_messages)
        stop_server memory
        if [ "$count" != "$MESSAGES" ]; then
            log "error: $count messages visible, expected $MESSAGES"
            exit 1
        fi
        echo "$run $baseline_rss $baseline_hwm $rss $hwm $count" >>"$RESULTS.memory"
        log "  empty: VmRSS $(mib "$baseline_rss") MiB; filled: VmRSS $(mib "$rss") MiB, VmHWM $(mib "$hwm") MiB," \
            "$count messages visible"
    done
    echo
    echo "### memory: $MESSAGES queued messages of $BODY_BYTES B in an in-memory emulator ($EMULATOR_ARGS)"
    echo
    echo "| run | empty VmRSS MiB | empty VmHWM MiB | filled VmRSS MiB | filled VmHWM MiB | bytes/message above empty | messages visible |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    awk -v n="$MESSAGES" '{
        printf "| %s | %.1f | %.1f | %.1f | %.1f | %.0f | %s |\n", $1, $2 / 1024, $3 / 1024, $4 / 1024, $5 / 1024,
            ($4 - $2) * 1024 / n, $6
    }' "$RESULTS.memory"
    echo "| median | $(mib "$(column_median "$RESULTS.memory" 2)") | $(mib "$(column_median "$RESULTS.memory" 3)") |" \
        "$(mib "$(column_median "$RESULTS.memory" 4)") | $(mib "$(column_median "$RESULTS.memory" 5)") |" \
        "$(awk -v a="$(column_median "$RESULTS.memory" 4)" -v b="$(column_median "$RESULTS.memory" 2)" \
            -v n="$MESSAGES" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }') | |"
}

# ready_after_start: starts the durable emulator on DATA_DIR as server "recovered", sets READY_SECS to the
# seconds until /health answered 200 and READY_CPU_SECS to the CPU time the emulator had used by then (which,
# unlike the wall time, hardly depends on other processes competing for the CPU).
ready_after_start() {
    local started now
    started=$(date +%s.%N)
    # EMULATOR_ARGS is deliberately split into words: it holds extra flags.
    # shellcheck disable=SC2086
    "${PIN_SERVER[@]}" "$EMULATOR" --host 127.0.0.1 --port "$EMULATOR_PORT" --data-dir "$DATA_DIR" \
        $EMULATOR_ARGS >"$RESULTS.recovered.log" 2>&1 &
    PID_OF[recovered]=$!
    # The port is bound only once the stored state is restored; /health then confirms that requests are served.
    until port_open "$EMULATOR_PORT" && [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$ENDPOINT/health")" = 200 ]; do
        if ! kill -0 "${PID_OF[recovered]}" 2>/dev/null; then
            log "error: the emulator exited while recovering:"
            cat "$RESULTS.recovered.log" >&2
            exit 1
        fi
        now=$(date +%s)
        if ((now - ${started%.*} > FILL_TIMEOUT)); then
            log "error: the emulator did not answer /health within $FILL_TIMEOUT s"
            exit 1
        fi
        sleep 0.005
    done
    now=$(date +%s.%N)
    READY_SECS=$(awk -v a="$started" -v b="$now" 'BEGIN { printf "%.3f", b - a }')
    READY_CPU_SECS=$(awk -v t="$(server_cpu_ticks recovered)" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')
}

measure_recovery() {
    local run stop_started stop_secs size files ready ready_cpu rss hwm count
    for ((run = 1; run <= REPEATS; run++)); do
        log "recovery, run $run/$REPEATS"
        temp_dir DATA_DIR
        start_emulator durable --data-dir "$DATA_DIR"
        fill durable
        stop_started=$(date +%s.%N)
        stop_server durable
        stop_secs=$(awk -v a="$stop_started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
        size=$(du -sb "$DATA_DIR" | cut -f1)
        files=$(cd "$DATA_DIR" && find . -type f -printf '%f=%s ' | sed 's/ $//')
        wait_for_quiet
        ready_after_start
        ready=$READY_SECS
        ready_cpu=$READY_CPU_SECS
        rss=$(status_kib recovered VmRSS)
        hwm=$(status_kib recovered VmHWM)
        count=$(visible_messages)
        stop_server recovered
        rm -rf "$DATA_DIR"
        if [ "$count" != "$MESSAGES" ]; then
            log "error: $count messages visible after the restart, expected $MESSAGES"
            exit 1
        fi
        echo "$run $ready $size $stop_secs $rss $hwm $count $ready_cpu $files" >>"$RESULTS.recovery"
        log "  stop took $stop_secs s; data $size B ($files); ready after $ready s ($ready_cpu s CPU);" \
            "VmHWM $(mib "$hwm") MiB; $count messages visible"
    done
    echo
    echo "### recovery: durable emulator ($EMULATOR_ARGS) with $MESSAGES stored messages of $BODY_BYTES B"
    echo
    echo "| run | start to /health 200, s | CPU used by then, s | data dir MiB | SIGINT to exit, s | VmRSS after MiB | VmHWM after MiB | messages visible | files (bytes) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
    awk '{
        files = ""; for (i = 9; i <= NF; i++) files = files " " $i
        printf "| %s | %.3f | %.2f | %.1f | %.2f | %.1f | %.1f | %s |%s |\n", $1, $2, $8, $3 / 1048576, $4, $5 / 1024,
            $6 / 1024, $7, files
    }' "$RESULTS.recovery"
    echo "| median | $(column_median "$RESULTS.recovery" 2) | $(column_median "$RESULTS.recovery" 8) |" \
        "$(awk -v b="$(column_median "$RESULTS.recovery" 3)" 'BEGIN { printf "%.1f", b / 1048576 }') |" \
        "$(column_median "$RESULTS.recovery" 4) | $(mib "$(column_median "$RESULTS.recovery" 5)") |" \
        "$(mib "$(column_median "$RESULTS.recovery" 6)") | | |"
}

for measurement in $MEASUREMENTS; do
    case "$measurement" in
        memory) measure_memory ;;
        recovery) measure_recovery ;;
        *) log "unknown measurement $measurement (known: memory recovery)"; exit 2 ;;
    esac
done
echo
echo "Fill rates (messages/s, median of $REPEATS, concurrency $CONCURRENCY): in memory" \
    "$(median fill-memory memory 4 %.0f), durable $(median fill-durable durable 4 %.0f) (- = not measured)."
report_notes
