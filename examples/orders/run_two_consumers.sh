#!/usr/bin/env bash
# Two order_consumer processes at once on one queue, sharing an idempotency store, with duplicates (a tenth of the
# orders: 2,000, or 300 on moto_server) sent on purpose, 10% injected failures and the first consumer killed with SIGKILL mid-run; then the verdict from the
# journal of handler completions: every order's handler completed once (a second completion only for an order
# the killed process completed in its last moments), none lost. The run is tests/two_consumers.rs (which starts
# the emulator, the store's server and the example binaries itself); this script picks the store:
#
#     bash examples/orders/run_two_consumers.sh            # Redis (redis-server on PATH)
#     bash examples/orders/run_two_consumers.sh dynamodb   # DynamoDB on moto_server (bash tests/servers/setup.sh)
#     bash examples/orders/run_two_consumers.sh memory     # the control: per-process stores must fail the verdict
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-redis}" in
  redis) test=redis_store_two_consumers_one_killed_every_order_completes_once ;;
  dynamodb) test=dynamodb_store_two_consumers_one_killed_every_order_completes_once ;;
  memory) test=memory_store_two_consumers_run_cross_process_duplicates_again ;;
  *) echo "usage: $0 [redis|dynamodb|memory]" >&2; exit 2 ;;
esac
# Required here: a missing server is an error, not a skip.
SQSKIT_REQUIRE_STORE_TESTS=1 exec cargo test -p sqskit --test two_consumers -- --exact "$test" --nocapture
