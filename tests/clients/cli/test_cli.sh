#!/usr/bin/env bash
# The AWS CLI (pip package awscli, installed in tests/clients/.venv-new) against the sqskit emulator.
# Usage: SQS_ENDPOINT=http://127.0.0.1:PORT AWS_CLI=/path/to/aws PYTHON=/path/to/python3 bash test_cli.sh
set -euo pipefail

: "${SQS_ENDPOINT:?SQS_ENDPOINT is not set}"
: "${AWS_CLI:?AWS_CLI is not set (path to the aws executable)}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cli_setup sqskit-cli
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test

sqs() { "$AWS_CLI" --endpoint-url "$SQS_ENDPOINT" --output json sqs "$@"; }

"$AWS_CLI" --version
queue="cli-$(date +%s)-$$"
body=$'hello from the CLI: h\u00e9llo <&> \u2713'

# the CLI's vendored botocore speaks AWS JSON 1.0 to SQS
if sqs list-queues --queue-name-prefix "none-$queue" --debug >/dev/null 2>"$tmp/debug.err" &&
  grep -q 'AmazonSQS.ListQueues' "$tmp/debug.err"; then
  ok "the CLI sends AWS JSON 1.0 (X-Amz-Target: AmazonSQS.ListQueues)"
else
  not_ok "the CLI did not send X-Amz-Target AmazonSQS.ListQueues: $(grep -i -m3 -E 'target|Action=' "$tmp/debug.err")"
fi

# create-queue
if sqs create-queue --queue-name "$queue" --attributes VisibilityTimeout=40 --tags team=cli >"$tmp/create.json"; then
  url="$(json_get "$tmp/create.json" 'd["QueueUrl"]')"
  [[ "$url" == */"$queue" ]] && ok "create-queue returns the queue URL ($url)" || not_ok "create-queue URL: $url"
else
  not_ok "create-queue"
  cli_summary cli || true
  exit 1
fi

# get-queue-url
if sqs get-queue-url --queue-name "$queue" >"$tmp/url.json" &&
  [[ "$(json_get "$tmp/url.json" 'd["QueueUrl"]')" == "$url" ]]; then
  ok "get-queue-url"
else
  not_ok "get-queue-url: $(cat "$tmp/url.json" 2>/dev/null)"
fi

# list-queues
if sqs list-queues --queue-name-prefix "$queue" >"$tmp/list.json" &&
  [[ "$(json_get "$tmp/list.json" 'd["QueueUrls"] == [sys.argv[3]]' "$url")" == "True" ]]; then
  ok "list-queues --queue-name-prefix"
else
  not_ok "list-queues: $(cat "$tmp/list.json" 2>/dev/null)"
fi

# send-message with a message attribute
if sqs send-message --queue-url "$url" --message-body "$body" \
  --message-attributes '{"Kind":{"DataType":"String","StringValue":"greeting"}}' >"$tmp/send.json"; then
  expected_md5="$(printf '%s' "$body" | md5sum | cut -d' ' -f1)"
  got_md5="$(json_get "$tmp/send.json" 'd["MD5OfMessageBody"]')"
  [[ "$got_md5" == "$expected_md5" ]] && ok "send-message (MD5OfMessageBody $got_md5)" ||
    not_ok "send-message MD5OfMessageBody: expected $expected_md5, got $got_md5"
else
  not_ok "send-message"
fi

# receive-message (long poll), check the body and the attribute
if sqs receive-message --queue-url "$url" --wait-time-seconds 1 --max-number-of-messages 10 \
  --attribute-names All --message-attribute-names All >"$tmp/receive.json"; then
  got_body="$(json_get "$tmp/receive.json" 'd["Messages"][0]["Body"]')"
  got_kind="$(json_get "$tmp/receive.json" 'd["Messages"][0]["MessageAttributes"]["Kind"]["StringValue"]')"
  count="$(json_get "$tmp/receive.json" 'len(d["Messages"])')"
  if [[ "$got_body" == "$body" && "$got_kind" == "greeting" && "$count" == 1 ]]; then
    ok "receive-message returns the body and attribute"
  else
    not_ok "receive-message: $(cat "$tmp/receive.json")"
  fi
  handle="$(json_get "$tmp/receive.json" 'd["Messages"][0]["ReceiptHandle"]')"
  if sqs delete-message --queue-url "$url" --receipt-handle "$handle"; then
    ok "delete-message"
  else
    not_ok "delete-message"
  fi
else
  not_ok "receive-message"
fi

# get-queue-attributes
if sqs get-queue-attributes --queue-url "$url" --attribute-names All >"$tmp/attrs.json" &&
  [[ "$(json_get "$tmp/attrs.json" 'd["Attributes"]["VisibilityTimeout"]')" == 40 ]] &&
  [[ "$(json_get "$tmp/attrs.json" 'd["Attributes"]["ApproximateNumberOfMessages"]')" == 0 ]] &&
  [[ "$(json_get "$tmp/attrs.json" 'd["Attributes"]["ApproximateNumberOfMessagesNotVisible"]')" == 0 ]]; then
  ok "get-queue-attributes (VisibilityTimeout 40, queue empty after delete)"
else
  not_ok "get-queue-attributes: $(cat "$tmp/attrs.json" 2>/dev/null)"
fi

# error path: a missing queue makes the CLI exit non-zero and name the error
set +e
sqs get-queue-url --queue-name "missing-$queue" >"$tmp/missing.out" 2>"$tmp/missing.err"
status=$?
set -e
if [[ $status -ne 0 ]] && grep -Eq 'NonExistentQueue|QueueDoesNotExist' "$tmp/missing.err"; then
  ok "get-queue-url of a missing queue exits $status: $(tr -d '\n' <"$tmp/missing.err")"
else
  not_ok "get-queue-url of a missing queue: exit $status, stderr: $(cat "$tmp/missing.err")"
fi

# delete-queue
if sqs delete-queue --queue-url "$url"; then
  set +e
  sqs get-queue-url --queue-name "$queue" >/dev/null 2>"$tmp/deleted.err"
  status=$?
  set -e
  [[ $status -ne 0 ]] && ok "delete-queue" || not_ok "queue still there after delete-queue"
else
  not_ok "delete-queue"
fi

# regions: --region eu-west-1 signs for eu-west-1, whose queues us-east-1 does not see (docs/aws-behaviour.md)
regional="$queue-eu"
if sqs create-queue --region eu-west-1 --queue-name "$regional" >"$tmp/eu.json"; then
  eu_url="$(json_get "$tmp/eu.json" 'd["QueueUrl"]')"
  if sqs get-queue-attributes --region eu-west-1 --queue-url "$eu_url" --attribute-names QueueArn >"$tmp/eu-arn.json" &&
    [[ "$(json_get "$tmp/eu-arn.json" 'd["Attributes"]["QueueArn"]')" == "arn:aws:sqs:eu-west-1:"*":$regional" ]]; then
    ok "a queue created with --region eu-west-1 has an eu-west-1 ARN"
  else
    not_ok "the eu-west-1 queue's ARN: $(cat "$tmp/eu-arn.json" 2>/dev/null)"
  fi
  set +e
  sqs get-queue-url --queue-name "$regional" >/dev/null 2>"$tmp/eu-miss.err"
  status=$?
  set -e
  if [[ $status -ne 0 ]] && grep -q 'NonExistentQueue' "$tmp/eu-miss.err"; then
    ok "the eu-west-1 queue is invisible in us-east-1"
  else
    not_ok "us-east-1 sees the eu-west-1 queue (status $status): $(cat "$tmp/eu-miss.err")"
  fi
  sqs delete-queue --region eu-west-1 --queue-url "$eu_url" || not_ok "delete the eu-west-1 queue"
else
  not_ok "create-queue --region eu-west-1"
fi

cli_summary cli
