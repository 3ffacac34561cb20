#!/usr/bin/env bash
# The AWS CLI against the sqskit emulator in `--auth sigv4` mode: correct keys pass, wrong ones fail as AWS fails.
# Usage: SQS_ENDPOINT=... AWS_CLI=/path/to/aws PYTHON=/path/to/python3 SIGV4_ACCESS_KEY_ID=... \
#        SIGV4_SECRET_ACCESS_KEY=... SIGV4_ACCOUNT_ID=... bash test_cli_sigv4.sh
set -euo pipefail

: "${SQS_ENDPOINT:?SQS_ENDPOINT is not set}"
: "${AWS_CLI:?AWS_CLI is not set (path to the aws executable)}"
: "${SIGV4_ACCESS_KEY_ID:?}" "${SIGV4_SECRET_ACCESS_KEY:?}" "${SIGV4_ACCOUNT_ID:?}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_setup sqskit-cli-sigv4

# sqs_as KEY SECRET ARGS...: the CLI with the given credentials.
sqs_as() {
  local key="$1" secret="$2"
  shift 2
  AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" \
    "$AWS_CLI" --endpoint-url "$SQS_ENDPOINT" --output json sqs "$@"
}
sqs() { sqs_as "$SIGV4_ACCESS_KEY_ID" "$SIGV4_SECRET_ACCESS_KEY" "$@"; }

"$AWS_CLI" --version
queue="cli-sigv4-$(date +%s)-$$"
body=$'signed by the CLI <&> \u2713'

# correct keys: create, send, receive, delete
if sqs create-queue --queue-name "$queue" >"$tmp/create.json"; then
  url="$(json_get "$tmp/create.json" 'd["QueueUrl"]')"
  [[ "$url" == */"$SIGV4_ACCOUNT_ID"/"$queue" ]] && ok "create-queue in the key's account ($url)" ||
    not_ok "create-queue URL: $url"
else
  not_ok "create-queue with correct keys"
  cli_summary cli-sigv4 || true
  exit 1
fi
if sqs send-message --queue-url "$url" --message-body "$body" >"$tmp/send.json"; then
  ok "send-message"
else
  not_ok "send-message"
fi
if sqs receive-message --queue-url "$url" --wait-time-seconds 1 >"$tmp/receive.json" &&
  [[ "$(json_get "$tmp/receive.json" 'd["Messages"][0]["Body"]')" == "$body" ]]; then
  ok "receive-message returns the body"
  handle="$(json_get "$tmp/receive.json" 'd["Messages"][0]["ReceiptHandle"]')"
  sqs delete-message --queue-url "$url" --receipt-handle "$handle" && ok "delete-message" || not_ok "delete-message"
else
  not_ok "receive-message: $(cat "$tmp/receive.json" 2>/dev/null)"
fi

# expect_refused LABEL CODE KEY SECRET: list-queues must exit non-zero and name CODE.
expect_refused() {
  local label="$1" code="$2" status
  set +e
  sqs_as "$3" "$4" list-queues >"$tmp/refused.out" 2>"$tmp/refused.err"
  status=$?
  set -e
  if [[ $status -ne 0 ]] && grep -q "($code)" "$tmp/refused.err"; then
    ok "$label: exit $status, $(tr -d '\n' <"$tmp/refused.err")"
  else
    not_ok "$label: exit $status, stdout $(cat "$tmp/refused.out"), stderr $(cat "$tmp/refused.err")"
  fi
}
expect_refused "a wrong secret" SignatureDoesNotMatch "$SIGV4_ACCESS_KEY_ID" "$SIGV4_SECRET_ACCESS_KEY-wrong"
expect_refused "an unknown key" InvalidClientTokenId AKIAUNKNOWNKEY000000 "$SIGV4_SECRET_ACCESS_KEY"

sqs delete-queue --queue-url "$url" && ok "delete-queue" || not_ok "delete-queue"

cli_summary cli-sigv4
