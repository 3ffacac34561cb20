#!/usr/bin/env bash
# Benchmarks sqskit-emulator against sqskit-noop-server (the ceiling of the same HTTP/JSON stack doing no queue
# work) and prints the medians as a markdown table.
#
# Both servers are pinned to CPU 0 and the load generator to CPU 1, so each side gets one core of its own.
# Scenarios that need a queue that really stores messages (drain, longpoll) run against the emulator only.
#
# Usage: benches/run.sh [--repeats N] [--duration SECONDS] [--scenarios "send send-batch drain longpoll"]
#                       [--no-build]
# Environment overrides: REPEATS, DURATION, SCENARIOS, CONCURRENCY, BODY_BYTES, DRAIN_MESSAGES,
#   LONGPOLL_SAMPLES, LONGPOLL_WAITERS, EMULATOR_PORT, NOOP_PORT, SERVER_CPU, LOADGEN_CPU,
#   EMULATOR_ARGS (extra emulator flags; default "--worker-threads 1" if the emulator has that flag),
#   LOADGEN_ARGS (extra loadgen flags).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

REPEATS=${REPEATS:-3}
DURATION=${DURATION:-5}
SCENARIOS=${SCENARIOS:-"send send-batch drain longpoll"}
CONCURRENCY=${CONCURRENCY:-16}
BODY_BYTES=${BODY_BYTES:-256}
DRAIN_MESSAGES=${DRAIN_MESSAGES:-200000}
LONGPOLL_SAMPLES=${LONGPOLL_SAMPLES:-1000}
LONGPOLL_WAITERS=${LONGPOLL_WAITERS:-4}
EMULATOR_PORT=${EMULATOR_PORT:-9324}
NOOP_PORT=${NOOP_PORT:-9399}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
EMULATOR_ARGS=${EMULATOR_ARGS:-}
LOADGEN_ARGS=${LOADGEN_ARGS:-}
BUILD=1

while (($#)); do
    case "$1" in
        -r | --repeats) REPEATS=$2; shift 2 ;;
        -d | --duration) DURATION=$2; shift 2 ;;
        -s | --scenarios) SCENARIOS=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done

RELEASE=target/release
LOADGEN=$RELEASE/sqskit-loadgen
NOOP=$RELEASE/sqskit-noop-server
EMULATOR=$RELEASE/sqskit-emulator
RESULTS=$(mktemp -t sqskit-bench.XXXXXX)
SERVER_PIDS=()
declare -A PID_OF
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

LOADGEN_PID=
FAILED=0

cleanup() {
    local pid
    for pid in $LOADGEN_PID "${SERVER_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -f "$RESULTS" "$RESULTS".*.log "$RESULTS.out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "run.sh: $*" >&2; }

# Pinning needs taskset and at least two CPUs; without them the numbers are still produced, but noisier.
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER=(taskset -c "$SERVER_CPU")
    PIN_LOADGEN=(taskset -c "$LOADGEN_CPU")
else
    log "warning: taskset or a second CPU is missing; running unpinned"
    PIN_SERVER=()
    PIN_LOADGEN=()
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_server NAME PORT COMMAND...: starts a pinned server in the background and waits until it accepts.
start_server() {
    local name=$1 port=$2
    shift 2
    if port_open "$port"; then
        log "error: port $port is already in use; refusing to benchmark whatever is listening there"
        exit 1
    fi
    "${PIN_SERVER[@]}" "$@" >"$RESULTS.$name.log" 2>&1 &
    local pid=$!
    SERVER_PIDS+=("$pid")
    PID_OF[$name]=$pid
    for _ in $(seq 100); do
        if port_open "$port"; then
            log "$name is listening on 127.0.0.1:$port (pid $pid)"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            log "error: $name exited during start-up:"
            cat "$RESULTS.$name.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    log "error: $name did not listen on port $port within 10 s"
    exit 1
}

if ((BUILD)); then
    log "building sqskit-bench (release)"
    cargo build --release -p sqskit-bench
    log "building sqskit-emulator (release)"
    if ! cargo build --release -p sqskit-emulator; then
        if [ -x "$EMULATOR" ]; then
            log "warning: the emulator does not build; benchmarking the existing, possibly stale $EMULATOR"
        else
            log "warning: the emulator does not build"
        fi
    fi
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
TARGETS=()
if [ -x "$EMULATOR" ]; then
    # One runtime worker, like the no-op server; on a single pinned CPU that is also tokio's own default.
    if [ -z "$EMULATOR_ARGS" ] && "$EMULATOR" --help 2>/dev/null | grep -q -- '--worker-threads'; then
        EMULATOR_ARGS="--worker-threads 1"
    fi
    # EMULATOR_ARGS is deliberately split into words: it holds extra flags.
    # shellcheck disable=SC2086
    start_server emulator "$EMULATOR_PORT" "$EMULATOR" --host 127.0.0.1 --port "$EMULATOR_PORT" $EMULATOR_ARGS
    TARGETS+=(emulator)
else
    log "skipping the emulator: $EMULATOR does not exist yet"
fi
start_server noop "$NOOP_PORT" "$NOOP" --host 127.0.0.1 --port "$NOOP_PORT" --threads 1
TARGETS+=(noop)

endpoint_of() {
    case "$1" in
        emulator) echo "http://127.0.0.1:$EMULATOR_PORT" ;;
        noop) echo "http://127.0.0.1:$NOOP_PORT" ;;
    esac
}

# The no-op server stores nothing, so a drain never empties and a long poll never wakes: emulator only.
applies() {
    local target=$1 scenario=$2
    [ "$target" = emulator ] || [ "$scenario" = send ] || [ "$scenario" = send-batch ]
}

# server_cpu_ticks TARGET: user + system CPU ticks used so far by the target's server process (all threads).
server_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/${PID_OF[$1]}/stat" 2>/dev/null || echo 0; }

json_field() { sed -n "s/.*\"$2\":\([0-9.eE+-]*\).*/\1/p" <<<"$1"; }

# Results go to $RESULTS as: target scenario rps mps p50 p99 max errors loadgen_cpu server_cpu
# server_cpu is the server's CPU time over the whole load generator run (set-up and warm-up included) divided by
# its wall time: 1.0 means the server's core was saturated.
for scenario in $SCENARIOS; do
    for ((run = 1; run <= REPEATS; run++)); do
        # Alternating targets within a repeat spreads slow drift of the machine over both.
        for target in "${TARGETS[@]}"; do
            applies "$target" "$scenario" || continue
            log "$scenario on $target, run $run/$REPEATS"
            ticks_before=$(server_cpu_ticks "$target")
            wall_before=$(date +%s.%N)
            # In the background so that INT/TERM interrupt `wait` and the trap stops everything at once.
            # shellcheck disable=SC2086
            "${PIN_LOADGEN[@]}" "$LOADGEN" --json --scenario "$scenario" \
                --endpoint "$(endpoint_of "$target")" --concurrency "$CONCURRENCY" --duration "$DURATION" \
                --body-bytes "$BODY_BYTES" --messages "$DRAIN_MESSAGES" --samples "$LONGPOLL_SAMPLES" \
                --waiters "$LONGPOLL_WAITERS" $LOADGEN_ARGS >"$RESULTS.out" &
            LOADGEN_PID=$!
            status=0
            wait "$LOADGEN_PID" || status=$?
            LOADGEN_PID=
            if ((status != 0)); then
                log "error: $scenario on $target failed (see above); leaving this run out of the medians"
                FAILED=$((FAILED + 1))
                continue
            fi
            out=$(<"$RESULTS.out")
            cpu=$(json_field "$out" loadgen_cpu)
            server_cpu=$(awk -v t0="$ticks_before" -v t1="$(server_cpu_ticks "$target")" -v w0="$wall_before" \
                -v w1="$(date +%s.%N)" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (t1 - t0) / hz / (w1 - w0) }')
            printf '%s %s %s %s %s %s %s %s %s %s\n' "$target" "$scenario" \
                "$(json_field "$out" requests_per_sec)" "$(json_field "$out" messages_per_sec)" \
                "$(json_field "$out" p50_us)" "$(json_field "$out" p99_us)" \
                "$(json_field "$out" max_us)" "$(json_field "$out" errors)" "${cpu:-0}" "$server_cpu" >>"$RESULTS"
        done
    done
done

# median TARGET SCENARIO COLUMN [FORMAT]: the median of one column over the repeats, or "-" if there is none.
median() {
    awk -v t="$1" -v s="$2" -v c="$3" '$1 == t && $2 == s { print $c }' "$RESULTS" | sort -g |
        awk -v f="${4:-%.1f}" '{ v[NR] = $1 } END {
            if (NR == 0) { print "-"; exit }
            if (NR % 2) { m = v[(NR + 1) / 2] } else { m = (v[NR / 2] + v[NR / 2 + 1]) / 2 }
            printf f "\n", m
        }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }

echo
echo "Medians of $REPEATS run(s) per cell; ${DURATION}s measured per send/send-batch run, concurrency $CONCURRENCY," \
    "body $BODY_BYTES B; drain of $DRAIN_MESSAGES messages; longpoll: $LONGPOLL_SAMPLES samples, $LONGPOLL_WAITERS waiters."
echo "Servers pinned to CPU $SERVER_CPU, load generator to CPU $LOADGEN_CPU. Latencies in µs; longpoll latency is"
echo "send start to waiter wake-up. Ratios are emulator/noop (throughput: higher is better; p50: lower is better)."
echo "CPU columns: fraction of one core used by the server / by the load generator during the runs."
echo
echo "| scenario | emulator msg/s | noop msg/s | msg/s ratio | emulator req/s | emulator p50 | noop p50 | p50 ratio | emulator p99 | noop p99 | emulator max | errors | server CPU emu/noop | loadgen CPU emu/noop |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for scenario in $SCENARIOS; do
    e_mps=$(median emulator "$scenario" 4 %.0f)
    n_mps=$(median noop "$scenario" 4 %.0f)
    e_p50=$(median emulator "$scenario" 5)
    n_p50=$(median noop "$scenario" 5)
    errors=$(awk -v s="$scenario" '$2 == s { n += $8 } END { print n + 0 }' "$RESULTS")
    echo "| $scenario | $e_mps | $n_mps | $(ratio "$e_mps" "$n_mps") | $(median emulator "$scenario" 3 %.0f) |" \
        "$e_p50 | $n_p50 | $(ratio "$e_p50" "$n_p50") | $(median emulator "$scenario" 6) |" \
        "$(median noop "$scenario" 6) | $(median emulator "$scenario" 7) | $errors |" \
        "$(median emulator "$scenario" 10 %.2f) / $(median noop "$scenario" 10 %.2f) |" \
        "$(median emulator "$scenario" 9 %.2f) / $(median noop "$scenario" 9 %.2f) |"
done

# A pinned load generator near 100% of its core while the server is not is the bottleneck: the server's real
# capacity is higher than measured.
saturated=$(awk '$9 >= 0.9 && $10 < 0.9 { n++ } END { print n + 0 }' "$RESULTS")
if ((saturated)); then
    echo
    echo "Note: in $saturated run(s) the load generator used >= 90% of its core while the server used < 90%;" \
        "there the load generator was the bottleneck and throughput is a lower bound of the server's capacity."
fi

# The no-op server does no waiting of its own: if it does not fill its core in a closed loop, something else on
# the machine took the CPU, and every number of this run is suspect.
starved=$(awk '$1 == "noop" && $10 < 0.9 { n++ } END { print n + 0 }' "$RESULTS")
if ((starved)); then
    echo
    echo "Warning: the no-op server used < 90% of its core in $starved run(s): other processes were competing" \
        "for the CPUs (load average before the runs: $LOAD_BEFORE). Re-run on a quiet machine."
fi

if ((FAILED)); then
    echo
    echo "$FAILED load generator run(s) failed; their cells are missing or based on fewer runs."
    exit 1
fi
