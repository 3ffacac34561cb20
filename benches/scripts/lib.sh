# shellcheck shell=bash
# Shared by the benches/scripts/*.sh scripts; source it, do not run it. Sourcing it moves to the repository root.
#
# A script declares only what is its own, then hands its command line to this file:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   defaults SCENARIOS="send drain"      # a default of the script's own, or one that differs from COMMON_DEFAULTS
#   option REPEATS -r --repeats          # `-r N` / `--repeats N` sets REPEATS
#   parse_options "$@"                   # the declared options, --no-build and --help; then COMMON_DEFAULTS
#   require jq "to read the JSON reports"   # optional: a tool the script cannot do without
#   prepare_run                          # result file, EXIT trap, CPU pinning, the release build
#
# Every variable can also be set in the environment; a flag wins over the environment, the environment over a
# default. --help prints the script's header comment (its lines after the shebang, up to the first non-comment).
#
# Every measured run gets a fresh server process: start_server starts it pinned to SERVER_CPU and waits until it
# accepts, measure runs the pinned load generator once and appends one row to $RESULTS, stop_server stops the
# server with SIGINT (as a user would) and waits for it. The EXIT trap stops whatever is still running and removes
# temporary files and data directories, so an interrupted run leaves nothing behind.
#
# Rows in $RESULTS: label target rps mps p50 p99 max errors loadgen_cpu server_cpu foreign_cpu
# server_cpu is the server's CPU time during the load generator run (set-up and warm-up included) divided by its
# wall time, all threads together: 1.0 means the server's core was saturated. foreign_cpu is the CPU time that
# other processes (another engineer's build, say) took on the two pinned CPUs over the same window, in cores: on a
# shared machine it tells a clean run from a disturbed one.
#
# Two optional ways to get clean runs on a shared machine, both chosen by what other processes do, never by the
# result: with QUIET_WAIT=S, every run first waits (up to S seconds) until the two pinned CPUs have been idle for a
# second, i.e. less than FOREIGN_LIMIT (default 0.10) cores busy; with QUIET_RETRIES=N, a run whose foreign_cpu
# exceeds FOREIGN_LIMIT is discarded and repeated, up to N times, and the last attempt is kept whatever its
# foreign_cpu.

# The binaries; the scripts that source this file start them. Cargo puts them under CARGO_TARGET_DIR if set.
# shellcheck disable=SC2034
RELEASE=${CARGO_TARGET_DIR:-target}/release
LOADGEN=$RELEASE/sqskit-loadgen
NOOP=$RELEASE/sqskit-noop-server
EMULATOR=$RELEASE/sqskit-emulator

# The defaults every script shares; a script's own `defaults` call, made before parse_options, comes first.
COMMON_DEFAULTS=(
    REPEATS=3
    DURATION=5
    CONCURRENCY=16
    BODY_BYTES=256
    EMULATOR_PORT=9324
    NOOP_PORT=9399
    "EMULATOR_ARGS=--worker-threads 1"
    LOADGEN_ARGS=
    KEEP=
    SERVER_CPU=0
    LOADGEN_CPU=1
    QUIET_RETRIES=0
    QUIET_WAIT=0
    FOREIGN_LIMIT=0.10
)

SCRIPT=$(cd "$(dirname "$0")" && pwd)/${0##*/}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

declare -A OPTION_OF=()

log() { echo "${0##*/}: $*" >&2; }

# defaults NAME=VALUE...: sets each NAME to VALUE unless the environment (or an earlier call) gave it a value.
defaults() {
    local pair name
    for pair in "$@"; do
        name=${pair%%=*}
        [ -n "${!name:-}" ] || printf -v "$name" '%s' "${pair#*=}"
    done
}

# option NAME FLAG...: each FLAG, followed by a value on the command line, sets the variable NAME.
option() {
    local name=$1 flag
    shift
    for flag in "$@"; do
        OPTION_OF[$flag]=$name
    done
}

# usage: the script's header comment, without the comment signs' column.
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1' "$SCRIPT"; }

# parse_options ARGS...: the options declared with `option`, plus --no-build (sets BUILD=0) and -h/--help; then
# fills whatever is still empty from COMMON_DEFAULTS. Exits 2 on an unknown argument or a missing value.
parse_options() {
    local name
    BUILD=1
    while (($#)); do
        case "$1" in
            --no-build) BUILD=0; shift; continue ;;
            -h | --help) usage; exit 0 ;;
        esac
        name=
        [ -z "$1" ] || name=${OPTION_OF[$1]:-}
        if [ -z "$name" ]; then
            log "unknown argument $1 (try --help)"
            exit 2
        fi
        if (($# < 2)); then
            log "$1 needs a value (try --help)"
            exit 2
        fi
        printf -v "$name" '%s' "$2"
        shift 2
    done
    defaults "${COMMON_DEFAULTS[@]}"
}

# require TOOL [WHY]: exits unless TOOL is installed.
require() {
    command -v "$1" >/dev/null && return 0
    log "error: $1 is not installed${2:+; $2}"
    exit 1
}

# prepare_run: the state of a run (result file, server table, counters), the EXIT trap that cleans it up, CPU
# pinning, and the release build unless --no-build was given.
prepare_run() {
    RESULTS=$(mktemp -t sqskit-bench.XXXXXX)
    CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
    declare -gA PID_OF=()
    LOADGEN_PID=
    TEMP_DIRS=()
    FAILED=0
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    # Pinning needs taskset and at least two CPUs; without them the numbers are still produced, but noisier.
    if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
        PIN_SERVER=(taskset -c "$SERVER_CPU")
        PIN_LOADGEN=(taskset -c "$LOADGEN_CPU")
    else
        log "warning: taskset or a second CPU is missing; running unpinned"
        PIN_SERVER=()
        PIN_LOADGEN=()
    fi
    if ((BUILD)); then
        build_release
    fi
}

cleanup() {
    local name
    [ -n "$LOADGEN_PID" ] && kill "$LOADGEN_PID" 2>/dev/null
    for name in "${!PID_OF[@]}"; do
        stop_server "$name"
    done
    rm -rf "$RESULTS" "$RESULTS".* "${TEMP_DIRS[@]}"
}

# build_release: builds the load generator, the no-op server and the emulator.
build_release() {
    log "building sqskit-bench and sqskit-emulator (release)"
    cargo build --release -p sqskit-bench -p sqskit-emulator
}

# port_of TARGET: the port of a server: EMULATOR_PORT for the emulator, NOOP_PORT for noop and noop-md5.
port_of() { if [ "$1" = emulator ]; then echo "$EMULATOR_PORT"; else echo "$NOOP_PORT"; fi; }

# server_command TARGET PORT [EMULATOR_FLAG...]: sets the array SERVER_COMMAND to the command line of a server on
# PORT: the emulator (with EMULATOR_FLAGs), noop (the no-op server answering one fixed body MD5) or noop-md5 (the
# no-op server answering each body's real MD5, the least work an answer SDKs accept takes).
server_command() {
    local target=$1 port=$2
    shift 2
    case "$target" in
        emulator) SERVER_COMMAND=("$EMULATOR" --host 127.0.0.1 --port "$port" "$@") ;;
        noop) SERVER_COMMAND=("$NOOP" --host 127.0.0.1 --port "$port" --threads 1) ;;
        noop-md5) SERVER_COMMAND=("$NOOP" --host 127.0.0.1 --port "$port" --threads 1 --md5 computed) ;;
        *) log "error: unknown target $target (known: emulator noop noop-md5)"; exit 2 ;;
    esac
}

# start_emulator NAME [FLAG...]: a fresh pinned emulator on EMULATOR_PORT, with FLAGs and then EMULATOR_ARGS,
# registered as server NAME.
start_emulator() {
    local name=$1
    shift
    # EMULATOR_ARGS is deliberately split into words: it holds extra flags.
    # shellcheck disable=SC2086
    server_command emulator "$EMULATOR_PORT" "$@" $EMULATOR_ARGS
    start_server "$name" "$EMULATOR_PORT" "${SERVER_COMMAND[@]}"
}

# temp_dir VAR: creates a temporary directory that the EXIT trap removes and stores its path in VAR. (Not a
# command substitution: the directory must be recorded in this shell for the trap to see it.)
temp_dir() {
    local dir
    dir=$(mktemp -d -t sqskit-bench-data.XXXXXX)
    TEMP_DIRS+=("$dir")
    printf -v "$1" '%s' "$dir"
}

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
    PID_OF[$name]=$pid
    for _ in $(seq 200); do
        if port_open "$port"; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            log "error: $name exited during start-up:"
            cat "$RESULTS.$name.log" >&2
            unset "PID_OF[$name]"
            exit 1
        fi
        sleep 0.05
    done
    log "error: $name did not listen on port $port within 10 s"
    exit 1
}

# stop_server NAME: SIGINT, up to 30 s for a graceful stop (durable storage flushes), then SIGKILL.
stop_server() {
    local name=$1 pid=${PID_OF[$1]:-}
    [ -n "$pid" ] || return 0
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "warning: $name (pid $pid) ignored SIGINT for 30 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    unset "PID_OF[$name]"
}

# server_cpu_ticks NAME: user + system CPU ticks used so far by the server process (all threads).
server_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/${PID_OF[$1]}/stat" 2>/dev/null || echo 0; }

# pinned_busy_ticks: busy CPU ticks so far of SERVER_CPU plus LOADGEN_CPU (everything but idle and iowait).
pinned_busy_ticks() {
    awk -v a="cpu$SERVER_CPU" -v b="cpu$LOADGEN_CPU" '$1 == a || $1 == b {
        n += $2 + $3 + $4 + $7 + $8 + $9
    } END { print n + 0 }' /proc/stat
}

# wait_for_quiet: with QUIET_WAIT > 0, waits until the pinned CPUs were idle for one second (see above).
wait_for_quiet() {
    ((QUIET_WAIT > 0)) || return 0
    local deadline=$((SECONDS + QUIET_WAIT)) before after
    while ((SECONDS < deadline)); do
        before=$(pinned_busy_ticks)
        sleep 1
        after=$(pinned_busy_ticks)
        if awk -v a="$before" -v b="$after" -v hz="$CLK_TCK" -v l="$FOREIGN_LIMIT" 'BEGIN { exit !((b - a) / hz <= l) }'
        then
            return 0
        fi
    done
    log "  warning: the pinned CPUs stayed busy for $QUIET_WAIT s; measuring anyway"
}

json_field() { sed -n "s/.*\"$2\":\([0-9.eE+-]*\).*/\1/p" <<<"$1"; }

# measure LABEL TARGET ENDPOINT LOADGEN_ARGS...: one load generator run against the running server TARGET,
# recorded as a row of LABEL (repeated while other processes disturb it, see QUIET_RETRIES); a failed run is
# logged, counted in FAILED and left out of the medians.
measure() {
    local attempt row
    for ((attempt = 0; attempt <= QUIET_RETRIES; attempt++)); do
        wait_for_quiet
        measure_once "$@" || return 0
        row=$(<"$RESULTS.row")
        if ((attempt == QUIET_RETRIES)) || awk -v f="${row##* }" -v l="$FOREIGN_LIMIT" 'BEGIN { exit !(f <= l) }'; then
            break
        fi
        log "  discarded: other processes used ${row##* } core(s) of the pinned CPUs; measuring again"
    done
    echo "$row" >>"$RESULTS"
    log "  $(sed -n '$p' "$RESULTS.err") [foreign CPU ${row##* }]"
}

# measure_once LABEL TARGET ENDPOINT LOADGEN_ARGS...: writes the row of one run to $RESULTS.row, or fails.
measure_once() {
    local label=$1 target=$2 endpoint=$3
    shift 3
    local ticks_before busy_before wall_before status=0 out cpu server_cpu foreign
    ticks_before=$(server_cpu_ticks "$target")
    busy_before=$(pinned_busy_ticks)
    wall_before=$(date +%s.%N)
    # In the background so that INT/TERM interrupt `wait` and the trap stops everything at once.
    "${PIN_LOADGEN[@]}" "$LOADGEN" --json --endpoint "$endpoint" "$@" >"$RESULTS.out" 2>"$RESULTS.err" &
    LOADGEN_PID=$!
    wait "$LOADGEN_PID" || status=$?
    LOADGEN_PID=
    if ((status != 0)); then
        log "error: $label on $target failed; leaving this run out of the medians:"
        cat "$RESULTS.err" >&2
        FAILED=$((FAILED + 1))
        return 1
    fi
    out=$(<"$RESULTS.out")
    cpu=$(json_field "$out" loadgen_cpu)
    read -r server_cpu foreign < <(awk -v t0="$ticks_before" -v t1="$(server_cpu_ticks "$target")" \
        -v b0="$busy_before" -v b1="$(pinned_busy_ticks)" -v w0="$wall_before" -v w1="$(date +%s.%N)" \
        -v hz="$CLK_TCK" -v own="${cpu:-0}" 'BEGIN {
            wall = w1 - w0; server = (t1 - t0) / hz / wall; foreign = (b1 - b0) / hz / wall - server - own
            printf "%.2f %.2f\n", server, foreign < 0 ? 0 : foreign
        }')
    printf '%s %s %s %s %s %s %s %s %s %s %s\n' "$label" "$target" \
        "$(json_field "$out" requests_per_sec)" "$(json_field "$out" messages_per_sec)" \
        "$(json_field "$out" p50_us)" "$(json_field "$out" p99_us)" \
        "$(json_field "$out" max_us)" "$(json_field "$out" errors)" "${cpu:-0}" "$server_cpu" "$foreign" \
        >"$RESULTS.row"
}

# median LABEL TARGET COLUMN [FORMAT]: the median of one column over the repeats, or "-" if there is none.
median() {
    awk -v l="$1" -v t="$2" -v c="$3" '$1 == l && $2 == t { print $c }' "$RESULTS" | sort -g |
        awk -v f="${4:-%.1f}" '{ v[NR] = $1 } END {
            if (NR == 0) { print "-"; exit }
            if (NR % 2) { m = v[(NR + 1) / 2] } else { m = (v[NR / 2] + v[NR / 2 + 1]) / 2 }
            printf f "\n", m
        }'
}

# spread LABEL TARGET COLUMN: "min-max" of one column over the repeats, to show the noise next to a median.
spread() {
    awk -v l="$1" -v t="$2" -v c="$3" '$1 == l && $2 == t { print $c }' "$RESULTS" | sort -g |
        awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR == 0) print "-"; else printf "%.0f-%.0f\n", lo, hi }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }

# report_notes: warnings about the conditions of the runs, and the exit status.
report_notes() {
    local saturated starved disturbed
    # A pinned load generator near 100% of its core while the server is not is the bottleneck: the server's real
    # capacity is higher than measured.
    saturated=$(awk '$9 >= 0.9 && $10 < 0.9 { n++ } END { print n + 0 }' "$RESULTS")
    if ((saturated)); then
        echo
        echo "Note: in $saturated run(s) the load generator used >= 90% of its core while the server used < 90%;" \
            "there the load generator was the bottleneck and throughput is a lower bound of the server's capacity."
    fi
    # The no-op server does no waiting of its own: if it does not fill its core in a closed loop, something else
    # on the machine took the CPU, and every number of this run is suspect.
    starved=$(awk '$2 ~ /^noop/ && $10 < 0.9 { n++ } END { print n + 0 }' "$RESULTS")
    if ((starved)); then
        echo
        echo "Warning: the no-op server used < 90% of its core in $starved run(s): other processes were competing" \
            "for the CPUs (load average before the runs: $LOAD_BEFORE). Re-run on a quiet machine."
    fi
    disturbed=$(awk -v l="$FOREIGN_LIMIT" '$11 > l { n++ } END { print n + 0 }' "$RESULTS")
    if ((disturbed)); then
        echo
        echo "Note: in $disturbed of $(wc -l <"$RESULTS") kept run(s) other processes used more than $FOREIGN_LIMIT of a" \
            "core on the pinned CPUs (the foreign column); those cells are noisier."
    fi
    if ((FAILED)); then
        echo
        echo "$FAILED load generator run(s) failed; their cells are missing or based on fewer runs."
        return 1
    fi
}
