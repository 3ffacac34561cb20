#!/usr/bin/env bash
# Soak test of the emulator (issue #12): first the maximum rate of the soak's mixed workload (a run without a rate
# limit, MAX_SECONDS long, on a fresh emulator), then DURATION seconds at half that rate (or RATE) on another fresh
# emulator, sampling its RSS, open file descriptors and latency every SAMPLE_INTERVAL seconds. The emulator is
# pinned to CPU 0 and the load generator to CPU 1, as in benches/scripts/run.sh.
#
# Writes the soak's JSON report to OUT, the maximum run's to OUT.max.json and the per-sample lines to OUT.log, and
# prints a markdown table with one row per sample. Exits non-zero if the load generator does (errors, or growth
# beyond MAX_RSS_GROWTH_MIB / MAX_FD_GROWTH).
#
# Usage: benches/scripts/run-soak.sh [--duration SECONDS] [--rate REQ_PER_SEC] [--out FILE] [--no-build]
# Environment overrides: DURATION (1800), RATE (default: half the measured maximum), MAX_SECONDS (30),
#   SAMPLE_INTERVAL (60), CONCURRENCY (16), BODY_BYTES (256), CHURN_INTERVAL (1), EMULATOR_PORT (9334),
#   EMULATOR_ARGS (default "--worker-threads 1"), MAX_ERRORS (0), MAX_RSS_GROWTH_MIB (unset: reported, not
#   checked), MAX_FD_GROWTH (8), OUT (default /tmp/sqskit-soak-<time>.json), SERVER_CPU, LOADGEN_CPU.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

defaults DURATION=1800 MAX_SECONDS=30 SAMPLE_INTERVAL=60 CHURN_INTERVAL=1 EMULATOR_PORT=9334 MAX_ERRORS=0 \
    MAX_FD_GROWTH=8 OUT="/tmp/sqskit-soak-$(date -u +%Y%m%dT%H%M%SZ).json" RATE= MAX_RSS_GROWTH_MIB=
option DURATION -d --duration
option RATE -r --rate
option OUT -o --out
parse_options "$@"
require jq "it reads the JSON reports"
prepare_run

ENDPOINT=http://127.0.0.1:$EMULATOR_PORT

# mark_start: notes the pinned CPUs' busy ticks, the emulator's CPU ticks and the time, for foreign_cores.
mark_start() {
    BUSY_START=$(pinned_busy_ticks)
    SERVER_START=$(server_cpu_ticks emulator)
    WALL_START=$(date +%s.%N)
}

# foreign_cores REPORT: cores that other processes took on the two pinned CPUs since mark_start, as in
# benches/scripts/lib.sh's foreign column (the load generator's own share comes from its REPORT).
foreign_cores() {
    awk -v b0="$BUSY_START" -v b1="$(pinned_busy_ticks)" -v s0="$SERVER_START" -v s1="$(server_cpu_ticks emulator)" \
        -v w0="$WALL_START" -v w1="$(date +%s.%N)" -v hz="$CLK_TCK" \
        -v own="$(jq -r '.loadgen_cpu // 0' "$1" 2>/dev/null || echo 0)" 'BEGIN {
            wall = w1 - w0; foreign = (b1 - b0 - (s1 - s0)) / hz / wall - own
            printf "%.2f\n", foreign < 0 ? 0 : foreign
        }'
}

# soak OUTPUT LOG FLAGS...: one pinned soak run against the running emulator; its status is the loadgen's.
soak() {
    local output=$1 log_file=$2 status=0
    shift 2
    # In the background so that INT/TERM interrupt `wait` and the trap stops everything at once.
    "${PIN_LOADGEN[@]}" "$LOADGEN" --scenario soak --endpoint "$ENDPOINT" --json --concurrency "$CONCURRENCY" \
        --body-bytes "$BODY_BYTES" --churn-interval "$CHURN_INTERVAL" --server-pid "${PID_OF[emulator]}" "$@" \
        >"$output" 2>"$log_file" &
    LOADGEN_PID=$!
    wait "$LOADGEN_PID" || status=$?
    LOADGEN_PID=
    return "$status"
}

if [ -z "$RATE" ]; then
    log "measuring the maximum rate of the mix: ${MAX_SECONDS}s without a rate limit"
    start_emulator emulator
    mark_start
    # Errors do not matter here, only the rate; the report is read whatever the verdict.
    soak "$OUT.max.json" "$OUT.max.log" --duration "$MAX_SECONDS" --sample-interval "$MAX_SECONDS" \
        --max-errors 1000000000 || true
    MAX_FOREIGN=$(foreign_cores "$OUT.max.json")
    stop_server emulator
    MAX_RATE=$(jq -r '.requests_per_sec // empty' "$OUT.max.json")
    if [ -z "$MAX_RATE" ]; then
        log "error: the maximum run produced no report:"
        cat "$OUT.max.log" >&2
        exit 1
    fi
    RATE=$(awk -v m="$MAX_RATE" 'BEGIN { printf "%d\n", m / 2 }')
    log "maximum $MAX_RATE req/s (server CPU $(jq -r '.samples[-1].server_cpu' "$OUT.max.json"), load generator CPU" \
        "$(jq -r '.loadgen_cpu' "$OUT.max.json"), other processes $MAX_FOREIGN cores); soaking at $RATE req/s"
fi

GROWTH_FLAGS=(--max-errors "$MAX_ERRORS" --max-fd-growth "$MAX_FD_GROWTH")
if [ -n "$MAX_RSS_GROWTH_MIB" ]; then
    GROWTH_FLAGS+=(--max-rss-growth-mib "$MAX_RSS_GROWTH_MIB")
fi

start_emulator emulator
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
mark_start
log "soaking for ${DURATION}s at $RATE req/s (emulator pid ${PID_OF[emulator]}, load average $LOAD_START);" \
    "samples go to $OUT.log"
STATUS=0
soak "$OUT" "$OUT.log" --rate "$RATE" --duration "$DURATION" --sample-interval "$SAMPLE_INTERVAL" \
    "${GROWTH_FLAGS[@]}" || STATUS=$?
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
FOREIGN=$(foreign_cores "$OUT")
stop_server emulator

if ! [ -s "$OUT" ]; then
    log "error: the soak run produced no report:"
    cat "$OUT.log" >&2
    exit 1
fi
echo
echo "Soak: $(jq -r '"\(.elapsed_secs) s at \(.target_rate) req/s target, \(.requests_per_sec) achieved"' "$OUT");" \
    "load average $LOAD_START at the start, $LOAD_END at the end; other processes took $FOREIGN cores of the two" \
    "pinned CPUs on average. Latencies over all actions, in µs; server CPU in cores."
echo
echo "| minute | requests | req/s | errors | p50 µs | p99 µs | max µs | RSS MiB | fds | queue depth | server CPU |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
jq -r '.samples[]
    | "| \(.elapsed_secs / 6 | round / 10) | \(.requests) | \(.requests_per_sec) | \(.errors) | \(.p50_us) "
    + "| \(.p99_us) | \(.max_us) | \(.rss_mib) | \(.fds) | \(.depth.visible + .depth.in_flight) "
    + "| \(.server_cpu) |"' "$OUT"
echo
jq -r '"Totals: \(.total.requests) requests, \(.total.errors) errors, p50 \(.total.p50_us) µs, "
    + "p99 \(.total.p99_us) µs, max \(.total.max_us) µs; RSS growth \(.rss_growth_mib) MiB (first sample to last), "
    + "fd growth \(.fd_growth); final depth \(.final_depth.visible + .final_depth.in_flight); "
    + "\(.queues_churned) queues churned; passed: \(.passed) \(.failures | join("; "))"' "$OUT"
exit "$STATUS"
