#!/usr/bin/env bash
# Shared by test_cli.sh and test_cli_sigv4.sh (sourced, not run): a private AWS configuration, TAP-style
# counters and a JSON reader. The sourcing script sets `set -euo pipefail` and checks its own variables first.
#
#   cli_setup NAME      a private, empty configuration in a fresh temporary folder "$tmp" (removed on exit):
#                       the machine's ~/.aws is never read; region us-east-1, no pager, one attempt per call
#   ok TEXT / not_ok TEXT   count a passed / failed check and print it
#   json_get FILE EXPR [ARGS...]   evaluate a Python expression over the parsed JSON document `d` (ARGS are
#                       sys.argv[3:]); prints <missing: ...> instead of failing, so a bad response is reported as
#                       a failed check
#   cli_summary LABEL   print "LABEL: N passed, M failed"; its status is that of "no check failed"

PYTHON="${PYTHON:-python3}"
passed=0
failed=0

cli_setup() {
  tmp="$(mktemp -d -t "$1.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  : >"$tmp/config"
  : >"$tmp/credentials"
  export AWS_CONFIG_FILE="$tmp/config" AWS_SHARED_CREDENTIALS_FILE="$tmp/credentials" AWS_DEFAULT_REGION=us-east-1
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_SQS AWS_REGION || true
  export AWS_PAGER="" AWS_MAX_ATTEMPTS=1
}

ok() {
  echo "ok - $1"
  passed=$((passed + 1))
}
not_ok() {
  echo "not ok - $1" >&2
  failed=$((failed + 1))
}

json_get() {
  "$PYTHON" -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    print(eval(sys.argv[2]))
except Exception as e:
    print("<missing: %r>" % e)
' "$@"
}

cli_summary() {
  echo "$1: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}
