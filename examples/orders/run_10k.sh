#!/usr/bin/env bash
# 10,000 orders through sqskit-emulator, with the order_producer and order_consumer examples as separate
# processes: 10% injected failures, 2 poison orders, 200 duplicates sent on purpose, and the first consumer
# killed with SIGKILL mid-run. A second consumer (sharing the payment ledger file, as a real payment
# provider's records outlive a worker) finishes the work, then verifies: no order charged or shipped twice,
# none missing, the poison orders in the dead-letter queue and never charged. Exits with its status.
#
#     bash examples/orders/run_10k.sh                  # debug build
#     PROFILE=release bash examples/orders/run_10k.sh  # optimised build
#     SNS=1 bash examples/orders/run_10k.sh            # orders inside SNS notifications (`--sns` on both sides)
# Environment: COUNT (10000), DUPLICATES (200), POISON (2), FAILURE_RATE (0.1), PORT (9330), KILL_AT (3000
# orders charged; 0 = no kill), SNS (0), KEEP=1 keeps the work directory (ledger, logs).
set -euo pipefail
cd "$(dirname "$0")/../.."

COUNT=${COUNT:-10000}
DUPLICATES=${DUPLICATES:-200}
POISON=${POISON:-2}
FAILURE_RATE=${FAILURE_RATE:-0.1}
PORT=${PORT:-9330}
KILL_AT=${KILL_AT:-3000}
PROFILE=${PROFILE:-debug}
# The redrive policy allows 8 receives: with 10% failures per attempt, a healthy order fails 8 times in a row
# with probability 1e-8, so only the poison orders end in the dead-letter queue.
MAX_RECEIVES=8

flags=()
[ "$PROFILE" = release ] && flags=(--release)
echo "== building ($PROFILE): sqskit-emulator, order_producer, order_consumer"
cargo build -q "${flags[@]}" -p sqskit-emulator
cargo build -q "${flags[@]}" -p sqskit --example order_producer --example order_consumer
bin="${CARGO_TARGET_DIR:-target}/$PROFILE"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "== starting sqskit-emulator on port $PORT"
"$bin/sqskit-emulator" --port "$PORT" >"$work/emulator.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
endpoint="http://127.0.0.1:$PORT"
ledger="$work/ledger.jsonl"
common=(--endpoint "$endpoint" --queue orders --create-queues --max-receive-count "$MAX_RECEIVES")
[ "${SNS:-0}" = 1 ] && common+=(--sns)
consumer=("${common[@]}" --failure-rate "$FAILURE_RATE" --latency-ms 5 --concurrency 64 --visibility-timeout-secs 5
  --retry-initial-ms 500 --retry-max-ms 4000 --ledger "$ledger")
charges() {
  local count
  count=$(grep -c '"kind":"charge"' "$ledger" 2>/dev/null) || true
  echo "${count:-0}"
}

started=$(date +%s.%N)
echo "== consumer #1 (background) and the producer, at the same time"
"$bin/examples/order_consumer" "${consumer[@]}" >"$work/consumer-1.log" 2>&1 &
first=$!
pids+=("$first")
if [ "$KILL_AT" -gt 0 ]; then
  (
    for _ in $(seq 3000); do
      [ "$(charges)" -ge "$KILL_AT" ] && break
      sleep 0.1
    done
    kill -KILL "$first" 2>/dev/null && echo "== consumer #1 killed with SIGKILL after $(charges) orders were charged"
  ) &
  killer=$!
fi
"$bin/examples/order_producer" "${common[@]}" --count "$COUNT" --duplicates "$DUPLICATES" --poison "$POISON"
if [ "$KILL_AT" -gt 0 ]; then
  wait "$killer" || true
else
  kill -TERM "$first" 2>/dev/null || true
fi
wait "$first" 2>/dev/null || true

echo "== consumer #2: finishes the queue, then verifies the ledger and the dead-letter queue"
status=0
"$bin/examples/order_consumer" "${consumer[@]}" --exit-when-drained --expect-orders "$COUNT" \
  --expect-poison "$POISON" || status=$?
finished=$(date +%s.%N)
echo "== total $(awk "BEGIN { printf \"%.1f\", $finished - $started }") s; ledger lines: $(wc -l <"$ledger"); exit status $status"
exit "$status"
