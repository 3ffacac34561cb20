#!/usr/bin/env bash
# Where each server's CPU time per request goes, in wall-clock terms (perf sampling), split into categories:
# body MD5s, first touch of fresh memory (kernel page faults, mostly zeroing pages), the rest of the kernel
# (sockets, scheduling), HTTP and runtime, JSON, allocator, memory copies, queue engine, and the rest. Unlike
# callgrind.sh (instruction counts) this sees the kernel and cache effects, so it explains a throughput ratio.
#
# Each target runs pinned under `perf record` while the pinned load generator drives it for DURATION seconds
# (no warm-up, so every sampled request is counted); the samples' CPU time, classified by call stack, is divided
# by the requests served. Medians over REPEATS runs per category; targets alternate within a repeat.
#
# Usage: benches/scripts/profile.sh [--repeats N] [--duration SECONDS] [--scenario send-batch]
#                                   [--targets "emulator noop noop-md5"] [--no-build]
# Environment overrides: REPEATS, DURATION, SCENARIO, TARGETS, CONCURRENCY, BODY_BYTES, FREQUENCY (samples per
#   second, default 4999), EMULATOR_PORT, NOOP_PORT, SERVER_CPU, LOADGEN_CPU, QUIET_WAIT (see
#   benches/scripts/lib.sh), KEEP (a directory to keep the perf.data files in).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

defaults SCENARIO=send-batch TARGETS="emulator noop noop-md5" FREQUENCY=4999
option REPEATS -r --repeats
option DURATION -d --duration
option SCENARIO -s --scenario
option TARGETS -t --targets
parse_options "$@"
require perf "Debian: linux-perf"
prepare_run
temp_dir PROFILES
if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP"
    PROFILES=$KEEP
fi

# The categories, in report order. `classify` names one per sample.
CATEGORIES=(md5 page-faults kernel-other http-runtime json allocator memory-copies engine emulator-other other)
declare -A DESCRIPTION=(
    [md5]="body (and attribute) MD5s"
    [page-faults]="kernel: first touch of fresh memory (page faults, zeroing)"
    [kernel-other]="kernel: sockets, scheduling, the rest"
    [http-runtime]="HTTP and async runtime (hyper, http, axum, tower, tokio, mio, bytes)"
    [json]="JSON decoding and encoding (serde_json, UTF-8 checks)"
    [allocator]="allocator (mimalloc)"
    [memory-copies]="memcpy, memmove, memcmp, memset"
    [engine]="queue engine (engine module, B-trees, UUIDs)"
    [emulator-other]="emulator actions, protocol and HTTP glue"
    [other]="everything else"
)

# classify: reads `perf script -F period,sym,dso` (one call stack per sample, leaf first, blank line between
# samples) and prints "category nanoseconds" for every category (0 without samples) and for "total". A sample whose stack passes through the page-fault entry is
# a page fault wherever it leaves the kernel; otherwise its leaf decides.
classify() {
    awk -v categories="${CATEGORIES[*]}" 'BEGIN { n = split(categories, names, " ") }
    function leaf_category(sym, dso) {
        if (sym ~ /md5|Md5/) return "md5"
        if (dso ~ /kernel/) return "kernel-other"
        if (sym ~ /^_?mi_|mimalloc/) return "allocator"
        if (sym ~ /memmove|memcpy|memcmp|memset|memchr/) return "memory-copies"
        if (sym ~ /serde|from_utf8|format_escaped|itoa|ryu|run_utf8_validation/) return "json"
        if (sym ~ /sqskit_emulator::engine|btree|uuid|chacha|rand_core|rand::/) return "engine"
        if (sym ~ /hyper|http::|httparse|axum|tower|tokio|mio|bytes::|futures|epoll|__libc_(send|recv)|writev|readv/)
            return "http-runtime"
        if (sym ~ /sqskit_emulator/) return "emulator-other"
        return "other"
    }
    function flush() {
        if (period > 0) total[faulted ? "page-faults" : category] += period
        period = 0; faulted = 0; category = ""
    }
    /^$/ { flush(); next }
    /^[ \t]*[0-9]+[ \t]*$/ { flush(); period = $1; next }
    {
        # "  address symbol+offset (dso)"
        line = $0; sub(/^[ \t]*[0-9a-f]+ /, "", line)
        dso = line; sub(/.*\(/, "", dso); sub(/\)[ \t]*$/, "", dso)
        sym = line; sub(/ \([^()]*\)[ \t]*$/, "", sym)
        if (category == "") category = leaf_category(sym, dso)
        if (sym ~ /^(asm_)?exc_page_fault|^handle_mm_fault/) faulted = 1
    }
    END {
        flush()
        for (i = 1; i <= n; i++) { print names[i], total[names[i]] + 0; sum += total[names[i]] }
        print "total", sum
    }'
}

# profile_run TARGET PORT RUN: one perf-recorded load generator run; appends "category target µs_per_request"
# rows (and one for "total") to $RESULTS, the layout lib.sh's `median` reads.
profile_run() {
    local target=$1 port=$2 run=$3 file out requests
    file=$PROFILES/$target-$run.perf.data
    server_command "$target" "$port" --worker-threads 1
    start_server "$target" "$port" "${SERVER_COMMAND[@]}"
    wait_for_quiet
    perf record -e cpu-clock -F "$FREQUENCY" -g -p "${PID_OF[$target]}" -o "$file" >/dev/null 2>"$RESULTS.perf" &
    local perf_pid=$!
    sleep 0.5
    out=$("${PIN_LOADGEN[@]}" "$LOADGEN" --json --endpoint "http://127.0.0.1:$port" --scenario "$SCENARIO" \
        --duration "$DURATION" --warmup 0 --concurrency "$CONCURRENCY" --body-bytes "$BODY_BYTES" 2>"$RESULTS.err") || {
        cat "$RESULTS.err" >&2
        exit 1
    }
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
    stop_server "$target"
    requests=$(json_field "$out" requests)
    log "  $target: $requests requests, $(json_field "$out" requests_per_sec) req/s"
    perf script -i "$file" -F period,ip,sym,dso 2>/dev/null | classify |
        awk -v t="$target" -v n="$requests" '{ printf "%s %s %.4f\n", $1, t, $2 / n / 1000 }' >>"$RESULTS"
}

for ((run = 1; run <= REPEATS; run++)); do
    for target in $TARGETS; do
        port=$(port_of "$target")
        log "$SCENARIO on $target under perf, run $run/$REPEATS"
        profile_run "$target" "$port" "$run"
    done
done

echo
echo "Server CPU time per $SCENARIO request (µs), by category; medians of $REPEATS run(s) of ${DURATION}s," \
    "concurrency $CONCURRENCY, body $BODY_BYTES B; perf cpu-clock sampling at $FREQUENCY Hz."
echo
header="| category |"
rule="|---|"
for target in $TARGETS; do
    header+=" $target |"
    rule+="---:|"
done
echo "$header"
echo "$rule"
for category in "${CATEGORIES[@]}"; do
    row="| ${DESCRIPTION[$category]} |"
    for target in $TARGETS; do
        row+=" $(median "$category" "$target" 3 %.2f) |"
    done
    echo "$row"
done
row="| **total** |"
for target in $TARGETS; do
    row+=" **$(median total "$target" 3 %.2f)** |"
done
echo "$row"
