#!/usr/bin/env bash
# Benchmarks sqskit-emulator against sqskit-noop-server (the ceiling of the same HTTP/JSON stack doing no queue
# work) and prints the medians as a markdown table. The no-op server runs twice per repeat for sends: answering one
# fixed body MD5 (noop) and answering each body's real MD5 (noop-md5, the least work an answer SDKs accept takes).
#
# Both servers are pinned to CPU 0 and the load generator to CPU 1, so each side gets one core of its own. Every
# run starts a fresh server, so no run inherits the messages of the one before; the targets alternate within a
# repeat. Scenarios that need a queue that really stores messages (drain, longpoll) run against the emulator only.
# benches/scripts/run-extra.sh measures the Query, FIFO and durable-storage comparisons the same way.
#
# Usage: benches/scripts/run.sh [--repeats N] [--duration SECONDS] [--scenarios "send send-batch drain longpoll"]
#                               [--no-build]
# Environment overrides: REPEATS, DURATION, SCENARIOS, CONCURRENCY, BODY_BYTES, DRAIN_MESSAGES,
#   LONGPOLL_SAMPLES, LONGPOLL_WAITERS, EMULATOR_PORT, NOOP_PORT, SERVER_CPU, LOADGEN_CPU,
#   EMULATOR_ARGS (emulator flags besides host and port; default "--worker-threads 1"),
#   LOADGEN_ARGS (extra loadgen flags), and QUIET_WAIT / QUIET_RETRIES / FOREIGN_LIMIT for a shared machine
#   (see benches/scripts/lib.sh).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

defaults SCENARIOS="send send-batch drain longpoll" DRAIN_MESSAGES=200000 LONGPOLL_SAMPLES=1000 LONGPOLL_WAITERS=4
option REPEATS -r --repeats
option DURATION -d --duration
option SCENARIOS -s --scenarios
parse_options "$@"
prepare_run

# start_target TARGET: a fresh server for one run.
start_target() {
    local port
    port=$(port_of "$1")
    # EMULATOR_ARGS is deliberately split into words: it holds extra flags.
    # shellcheck disable=SC2086
    server_command "$1" "$port" $EMULATOR_ARGS
    start_server "$1" "$port" "${SERVER_COMMAND[@]}"
}

# The no-op server stores nothing, so a drain never empties and a long poll never wakes: emulator only.
applies() {
    local target=$1 scenario=$2
    [ "$target" = emulator ] || [ "$scenario" = send ] || [ "$scenario" = send-batch ]
}

for scenario in $SCENARIOS; do
    for ((run = 1; run <= REPEATS; run++)); do
        # Alternating targets within a repeat spreads slow drift of the machine over both.
        for target in emulator noop noop-md5; do
            applies "$target" "$scenario" || continue
            log "$scenario on $target, run $run/$REPEATS"
            start_target "$target"
            # LOADGEN_ARGS is deliberately split into words: it holds extra flags.
            # shellcheck disable=SC2086
            measure "$scenario" "$target" "http://127.0.0.1:$(port_of "$target")" --scenario "$scenario" \
                --concurrency "$CONCURRENCY" --duration "$DURATION" --body-bytes "$BODY_BYTES" \
                --messages "$DRAIN_MESSAGES" --samples "$LONGPOLL_SAMPLES" --waiters "$LONGPOLL_WAITERS" $LOADGEN_ARGS
            stop_server "$target"
        done
    done
done

echo
echo "Medians of $REPEATS run(s) per cell; ${DURATION}s measured per send/send-batch run, concurrency $CONCURRENCY," \
    "body $BODY_BYTES B; drain of $DRAIN_MESSAGES messages; longpoll: $LONGPOLL_SAMPLES samples, $LONGPOLL_WAITERS waiters."
echo "Servers pinned to CPU $SERVER_CPU, load generator to CPU $LOADGEN_CPU. Latencies in µs; longpoll latency is"
echo "send start to waiter wake-up. Ratios are emulator/noop (throughput: higher is better; p50: lower is better);"
echo "noop answers one fixed body MD5, noop-md5 the real MD5 of each body (the least work SDKs accept)."
echo "CPU columns: fraction of one core used by the server / by the load generator during the runs; foreign: cores"
echo "taken by other processes on the two pinned CPUs (the machine is shared; 0 is a quiet run)."
echo
echo "| scenario | emulator msg/s | noop msg/s | msg/s ratio | noop-md5 msg/s | ratio to noop-md5 | emulator req/s | emulator p50 | noop p50 | p50 ratio | emulator p99 | noop p99 | emulator max | errors | server CPU emu/noop | loadgen CPU emu/noop | foreign CPU emu/noop |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for scenario in $SCENARIOS; do
    e_mps=$(median "$scenario" emulator 4 %.0f)
    n_mps=$(median "$scenario" noop 4 %.0f)
    m_mps=$(median "$scenario" noop-md5 4 %.0f)
    e_p50=$(median "$scenario" emulator 5)
    n_p50=$(median "$scenario" noop 5)
    errors=$(awk -v s="$scenario" '$1 == s { n += $8 } END { print n + 0 }' "$RESULTS")
    echo "| $scenario | $e_mps | $n_mps | $(ratio "$e_mps" "$n_mps") | $m_mps | $(ratio "$e_mps" "$m_mps") |" \
        "$(median "$scenario" emulator 3 %.0f) |" \
        "$e_p50 | $n_p50 | $(ratio "$e_p50" "$n_p50") | $(median "$scenario" emulator 6) |" \
        "$(median "$scenario" noop 6) | $(median "$scenario" emulator 7) | $errors |" \
        "$(median "$scenario" emulator 10 %.2f) / $(median "$scenario" noop 10 %.2f) |" \
        "$(median "$scenario" emulator 9 %.2f) / $(median "$scenario" noop 9 %.2f) |" \
        "$(median "$scenario" emulator 11 %.2f) / $(median "$scenario" noop 11 %.2f) |"
done

report_notes
