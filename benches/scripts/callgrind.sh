#!/usr/bin/env bash
# Instructions per request (valgrind --tool=callgrind, event Ir) of the emulator and of the no-op server for one
# load generator scenario, and where the emulator's instructions go. Unlike throughput, instruction counts barely
# depend on what else runs on the machine, so this explains a gap to the ceiling even on a busy machine.
#
# Each server runs under callgrind with one runtime worker and serves SIZES requests (e.g. "2000 4000"); the cost
# per request is the difference in total instructions between the largest and the smallest size divided by the
# difference in requests, which removes start-up, queue creation and shutdown. Repeated REPEATS times; medians.
# The per-function tables (self cost, and inclusive cost of a few landmarks) use the same difference, taken from
# the last repeat.
#
# Targets: emulator; noop (the no-op server answering one fixed body MD5); noop-md5 (the no-op server answering
# each body's real MD5, the least work an answer SDKs accept takes).
#
# Usage: benches/scripts/callgrind.sh [--repeats N] [--scenario send-batch] [--sizes "2000 4000"]
#                                     [--targets "emulator noop noop-md5"]
#                                     [--no-build]
# Environment overrides: REPEATS, SCENARIO, SIZES, TARGETS, CONCURRENCY, BODY_BYTES, TOP (functions listed,
#   default 10), EMULATOR_PORT, NOOP_PORT, SERVER_CPU, LOADGEN_CPU, KEEP (a directory to keep the callgrind files
#   in), LOADGEN_ARGS (extra loadgen flags, e.g. "--protocol query" or "--fifo-groups 10" with TARGETS=emulator).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

defaults SCENARIO=send-batch SIZES="2000 4000" CONCURRENCY=4 TOP=10 TARGETS="emulator noop noop-md5"
option REPEATS -r --repeats
option SCENARIO -s --scenario
option SIZES --sizes
option TARGETS -t --targets
parse_options "$@"
require valgrind
prepare_run
PROFILE=

read -r SMALL LARGE < <(tr ' ' '\n' <<<"$SIZES" | sort -n | sed -n '1p;$p' | paste -sd' ')
if [ -z "${LARGE:-}" ] || ((LARGE <= SMALL)); then
    log "error: --sizes needs two different request counts"
    exit 2
fi
temp_dir PROFILES
if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP"
    PROFILES=$KEEP
fi

# Landmarks of the request path, reported with their inclusive cost per request: the whole HTTP/1.1 connection
# (hyper), the handler (the emulator's own `http::handle`; the no-op server's axum handler with its two
# extractors), then the emulator's stages.
LANDMARKS=(
    'hyper::proto::h1::dispatch::Dispatcher<D,Bs,I,T>::poll_catch'
    'sqskit_emulator::http::handle::{{closure}}'
    '<F as axum::handler::Handler<(M,T1,T2),S>>::call::{{closure}}'
    'sqskit_emulator::actions::dispatch::{{closure}}'
    'sqskit_emulator::protocol::Payload::decode'
    'sqskit_emulator::engine::messages::<impl sqskit_emulator::engine::Engine>::send_message_batch'
    'sqskit_emulator::engine::messages::<impl sqskit_emulator::engine::Engine>::prepare'
    'sqskit_emulator::engine::content::Md5Digest::of'
    'sqskit_emulator::engine::messages::<impl sqskit_emulator::engine::Engine>::commit'
    'sqskit_emulator::actions::encode'
    'sqskit_emulator::protocol::query::decode'
    'sqskit_emulator::protocol::query::QueryParams::parse'
    'sqskit_emulator::protocol::query::encode'
)

# profile TARGET PORT REQUESTS RUN: serves REQUESTS requests under callgrind; sets PROFILE to the profile's path.
profile() {
    local target=$1 port=$2 requests=$3 run=$4 file
    file=$PROFILES/$target-$requests-$run.callgrind
    server_command "$target" "$port" --worker-threads 1
    start_server "$target" "$port" valgrind --tool=callgrind --callgrind-out-file="$file" "${SERVER_COMMAND[@]}"
    # LOADGEN_ARGS is deliberately split into words: it holds extra flags.
    # shellcheck disable=SC2086
    "${PIN_LOADGEN[@]}" "$LOADGEN" --endpoint "http://127.0.0.1:$port" --scenario "$SCENARIO" \
        --requests "$requests" --concurrency "$CONCURRENCY" --body-bytes "$BODY_BYTES" $LOADGEN_ARGS \
        >/dev/null 2>"$RESULTS.err" || {
        cat "$RESULTS.err" >&2
        exit 1
    }
    # SIGINT: both servers stop gracefully, and callgrind writes the profile when the process exits.
    stop_server "$target"
    PROFILE=$file
}

total_ir() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'; }

# functions FILE [--inclusive=yes]: "cost<TAB>function" for every function of a profile.
functions() {
    callgrind_annotate --threshold=100 "${@:2}" "$1" 2>/dev/null |
        sed -nE 's/^ *([0-9,]+) +\([ 0-9.]+%\) +[^:]*:(.*) \[[^]]*\]$/\1\t\2/p' |
        awk -F'\t' '{ gsub(",", "", $1); print $1 "\t" $2 }' || true
}

# per_request SMALL_FILE LARGE_FILE [ARGS]: "cost per request<TAB>function", largest first.
per_request() {
    local requests=$((LARGE - SMALL))
    awk -F'\t' -v n="$requests" 'NR == FNR { small[$2] = $1; next } {
        printf "%.1f\t%s\n", ($1 - small[$2]) / n, $2
    }' <(functions "$1" "${@:3}") <(functions "$2" "${@:3}") | sort -t$'\t' -k1,1 -g -r
}

declare -A PER_REQUEST_RUNS LAST_SMALL LAST_LARGE
for ((run = 1; run <= REPEATS; run++)); do
    for target in $TARGETS; do
        port=$(port_of "$target")
        log "$target under callgrind, run $run/$REPEATS: $SMALL and $LARGE requests"
        profile "$target" "$port" "$SMALL" "$run"
        small_file=$PROFILE
        profile "$target" "$port" "$LARGE" "$run"
        large_file=$PROFILE
        small_ir=$(total_ir "$small_file")
        large_ir=$(total_ir "$large_file")
        per=$(awk -v a="$small_ir" -v b="$large_ir" -v n="$((LARGE - SMALL))" 'BEGIN { printf "%.0f", (b - a) / n }')
        log "  $small_ir Ir for $SMALL requests, $large_ir Ir for $LARGE: $per Ir per request"
        PER_REQUEST_RUNS[$target]="${PER_REQUEST_RUNS[$target]:-} $per"
        LAST_SMALL[$target]=$small_file
        LAST_LARGE[$target]=$large_file
        echo "$target $small_ir $large_ir $per" >>"$RESULTS.callgrind"
    done
done

median_of() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END {
    print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo
echo "### Instructions per $SCENARIO request${LOADGEN_ARGS:+ ($LOADGEN_ARGS)} (callgrind Ir; ($LARGE - $SMALL) requests," \
    "concurrency $CONCURRENCY, body $BODY_BYTES B)"
echo
echo "| server | Ir per request, median | runs | Ir total ($SMALL / $LARGE requests), last run |"
echo "|---|---:|---|---|"
declare -A PER_REQUEST
for target in $TARGETS; do
    PER_REQUEST[$target]=$(median_of "${PER_REQUEST_RUNS[$target]}")
    last=$(awk -v t="$target" '$1 == t { s = $2; l = $3 } END { print s " / " l }' "$RESULTS.callgrind")
    echo "| $target | ${PER_REQUEST[$target]} |${PER_REQUEST_RUNS[$target]} | $last |"
done
for reference in noop noop-md5; do
    if [ -n "${PER_REQUEST[emulator]:-}" ] && [ -n "${PER_REQUEST[$reference]:-}" ]; then
        echo
        echo "Emulator / $reference: $(ratio "${PER_REQUEST[emulator]}" "${PER_REQUEST[$reference]}") x the" \
            "instructions; the $reference server's share of the emulator's cost:" \
            "$(ratio "${PER_REQUEST[$reference]}" "${PER_REQUEST[emulator]}")."
    fi
done

for target in $TARGETS; do
    echo
    echo "### Top $TOP functions of the $target by self cost (Ir per request)"
    echo
    echo "| Ir/request | share | function |"
    echo "|---:|---:|---|"
    per_request "${LAST_SMALL[$target]}" "${LAST_LARGE[$target]}" >"$RESULTS.self"
    awk -F'\t' -v total="${PER_REQUEST[$target]}" -v top="$TOP" 'NR <= top {
        printf "| %.0f | %.1f%% | `%s` |\n", $1, 100 * $1 / total, $2
    }' "$RESULTS.self"
done

echo
echo "### Inclusive cost of landmarks on the request path (Ir per request)"
echo
echo "| server | Ir/request | share of its server | function |"
echo "|---|---:|---:|---|"
for target in $TARGETS; do
    per_request "${LAST_SMALL[$target]}" "${LAST_LARGE[$target]}" --inclusive=yes >"$RESULTS.inclusive"
    for landmark in "${LANDMARKS[@]}"; do
        awk -F'\t' -v f="$landmark" -v total="${PER_REQUEST[$target]}" -v t="$target" '$2 == f {
            printf "| %s | %.0f | %.1f%% | `%s` |\n", t, $1, 100 * $1 / total, $2; exit
        }' "$RESULTS.inclusive"
    done
done
