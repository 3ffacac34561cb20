#!/usr/bin/env bash
# Compatibility tests with real clients that we did not write:
#   boto3 (current, AWS JSON 1.0), boto3/botocore 1.34.0 (legacy Query protocol), the AWS CLI (pip awscli)
#   and the AWS SDK for JavaScript v3 (@aws-sdk/client-sqs).
#
# Builds the emulator, installs each client into a local folder (cached: nothing is reinstalled while the
# folder holds the pinned versions), starts the emulator on a free loopback port, runs every suite against
# it, stops it, and exits non-zero if any suite failed or any client could not be installed.
#
#   bash tests/clients/run.sh              all suites
#   bash tests/clients/run.sh boto3-json   only the named suites (boto3-json, boto3-query, awscli, js-v3,
#                                          boto3-json-sigv4, boto3-query-sigv4, awscli-sigv4)
#
# The *-sigv4 suites run against a second emulator started with `--auth sigv4 --config <file>` holding one
# [[credentials]] entry: correct keys must pass, a wrong secret or an unknown key must fail as AWS fails, and a
# presigned GET from botocore (Query) must work until it expires.
#
# Needs python3 (with venv and pip), node >= 20 and npm; reaches PyPI and the npm registry on a cold run.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
SUITE_TIMEOUT="${SUITE_TIMEOUT:-180}"
START="$(date +%s)"

log() { printf '== clients: %s\n' "$*"; }
die() {
  printf '\n!! clients: %s\n\n' "$*" >&2
  exit 1
}
elapsed() { echo "$(($(date +%s) - START))s"; }

ALL_SUITES=(boto3-json boto3-query awscli js-v3 boto3-json-sigv4 boto3-query-sigv4 awscli-sigv4)
if [[ $# -gt 0 ]]; then SUITES=("$@"); else SUITES=("${ALL_SUITES[@]}"); fi
for suite in "${SUITES[@]}"; do
  [[ " ${ALL_SUITES[*]} " == *" $suite "* ]] || die "unknown suite '$suite' (known: ${ALL_SUITES[*]})"
done

command -v "$PYTHON" >/dev/null || die "python3 not found: cannot install boto3 / the AWS CLI"
command -v node >/dev/null || die "node not found: cannot run the JavaScript SDK suite"
command -v npm >/dev/null || die "npm not found: cannot install the JavaScript SDK"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  die "node $(node --version) is too old: @aws-sdk/client-sqs needs node >= 20"

# ------------------------------------------------------------------------------------------------ install

# venv_ready / install_venv DIR REQUIREMENTS
# shellcheck source=../support/venv.sh
source "$ROOT/tests/support/venv.sh"

install_js() {
  local dir="$HERE/js" stamp="$HERE/js/node_modules/.sqskit-lock-sha256"
  local want
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$dir/node_modules/@aws-sdk/client-sqs/package.json" ]]; then
    log "js/node_modules: package-lock.json unchanged (cached)"
    return 0
  fi
  log "js/node_modules: npm ci"
  local t0
  t0="$(date +%s)"
  if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
    die "npm ci could not install the JavaScript SDK pinned in tests/clients/js/package-lock.json"
  fi
  echo "$want" >"$stamp"
  log "js/node_modules: installed in $(($(date +%s) - t0))s"
}

log "building the emulator (cargo build -p sqskit-emulator)"
(cd "$ROOT" && cargo build --quiet -p sqskit-emulator) || die "cargo build -p sqskit-emulator failed"
log "emulator built after $(elapsed)"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/sqskit-emulator"
[[ -x "$BIN" ]] || die "emulator binary not found at $BIN"

install_venv "$HERE/.venv-new" "$HERE/python/requirements-new.txt"
install_venv "$HERE/.venv-old" "$HERE/python/requirements-old.txt"
install_js

# The old venv must really speak Query, the new one JSON (otherwise the two boto3 runs prove nothing).
for pair in new:json old:query; do
  venv="${pair%%:*}" expected="${pair##*:}"
  proto="$("$HERE/.venv-$venv/bin/python" -c \
    'import botocore.session as s; print(s.get_session().get_service_model("sqs").protocol)')" ||
    die "botocore in .venv-$venv cannot load the SQS model"
  [[ "$proto" == "$expected" ]] || die "botocore in .venv-$venv speaks '$proto' to SQS, expected '$expected'"
done
log "clients ready after $(elapsed)"

# ------------------------------------------------------------------------------------------------ emulator

WORK="$(mktemp -d -t sqskit-clients.XXXXXX)"
EMU_PID=""
SIGV4_PID=""
cleanup() {
  local pid
  for pid in $EMU_PID $SIGV4_PID; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

EMU_LOG="$WORK/emulator.log"
# The logs exist before the emulators start: a background job opens its redirection only once it runs, and the
# polling `sed` below must not find the file missing (under `set -e` that ended the script with status 2).
: >"$EMU_LOG"
RUST_LOG="${RUST_LOG:-warn}" "$BIN" --host 127.0.0.1 --port 0 >"$EMU_LOG" 2>&1 </dev/null &
EMU_PID=$!

ENDPOINT=""
for _ in $(seq 300); do
  kill -0 "$EMU_PID" 2>/dev/null || { cat "$EMU_LOG" >&2; die "the emulator exited during start-up"; }
  ENDPOINT="$(sed -n 's#^sqskit-emulator listening on \(http://[^ ]*\)$#\1#p' "$EMU_LOG" | head -n1)"
  [[ -n "$ENDPOINT" ]] && break
  sleep 0.1
done
[[ -n "$ENDPOINT" ]] || { cat "$EMU_LOG" >&2; die "the emulator did not print its address within 30 s"; }
"$PYTHON" - "$ENDPOINT/health" <<'EOF' || die "GET $ENDPOINT/health did not answer 200 within 10 s"
import sys, time, urllib.request
deadline = time.time() + 10
while True:
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
            if r.status == 200:
                break
    except Exception:
        pass
    if time.time() > deadline:
        sys.exit(1)
    time.sleep(0.1)
EOF
log "emulator pid $EMU_PID listening on $ENDPOINT"

# A second emulator for the *-sigv4 suites, verifying signatures against the one key of its config file.
SIGV4_ENDPOINT=""
SIGV4_ACCESS_KEY_ID="AKIASQSKITCLIENTS01"
SIGV4_SECRET_ACCESS_KEY="sqskit/Clients+Secret/0123456789abcdefEXAMPLE"
SIGV4_ACCOUNT_ID="123456789012"
SIGV4_LOG="$WORK/emulator-sigv4.log"
if [[ " ${SUITES[*]} " == *"-sigv4 "* ]]; then
  printf 'auth = "sigv4"\n\n[[credentials]]\naccess_key_id = "%s"\nsecret_access_key = "%s"\naccount_id = "%s"\n' \
    "$SIGV4_ACCESS_KEY_ID" "$SIGV4_SECRET_ACCESS_KEY" "$SIGV4_ACCOUNT_ID" >"$WORK/sigv4.toml"
  : >"$SIGV4_LOG"
  RUST_LOG="${RUST_LOG:-warn}" "$BIN" --host 127.0.0.1 --port 0 --auth sigv4 --config "$WORK/sigv4.toml" \
    >"$SIGV4_LOG" 2>&1 </dev/null &
  SIGV4_PID=$!
  for _ in $(seq 300); do
    kill -0 "$SIGV4_PID" 2>/dev/null || { cat "$SIGV4_LOG" >&2; die "the sigv4 emulator exited during start-up"; }
    SIGV4_ENDPOINT="$(sed -n 's#^sqskit-emulator listening on \(http://[^ ]*\)$#\1#p' "$SIGV4_LOG" | head -n1)"
    [[ -n "$SIGV4_ENDPOINT" ]] && break
    sleep 0.1
  done
  [[ -n "$SIGV4_ENDPOINT" ]] || { cat "$SIGV4_LOG" >&2; die "the sigv4 emulator did not print its address within 30 s"; }
  log "sigv4 emulator pid $SIGV4_PID listening on $SIGV4_ENDPOINT"
fi

# --------------------------------------------------------------------------------------------------- suites

suite_boto3-json() {
  SQS_ENDPOINT="$ENDPOINT" EXPECT_PROTOCOL=json "$HERE/.venv-new/bin/python" "$HERE/python/test_sqs.py"
}
suite_boto3-query() {
  SQS_ENDPOINT="$ENDPOINT" EXPECT_PROTOCOL=query "$HERE/.venv-old/bin/python" "$HERE/python/test_sqs.py"
}
suite_awscli() {
  SQS_ENDPOINT="$ENDPOINT" AWS_CLI="$HERE/.venv-new/bin/aws" PYTHON="$HERE/.venv-new/bin/python" \
    bash "$HERE/cli/test_cli.sh"
}
suite_js-v3() {
  (cd "$HERE/js" && SQS_ENDPOINT="$ENDPOINT" node --test --test-reporter=spec test.mjs)
}
sigv4_env() {
  env SQS_ENDPOINT="$SIGV4_ENDPOINT" SIGV4_ACCESS_KEY_ID="$SIGV4_ACCESS_KEY_ID" \
    SIGV4_SECRET_ACCESS_KEY="$SIGV4_SECRET_ACCESS_KEY" SIGV4_ACCOUNT_ID="$SIGV4_ACCOUNT_ID" "$@"
}
suite_boto3-json-sigv4() {
  sigv4_env EXPECT_PROTOCOL=json "$HERE/.venv-new/bin/python" "$HERE/python/test_sigv4.py"
}
suite_boto3-query-sigv4() {
  sigv4_env EXPECT_PROTOCOL=query "$HERE/.venv-old/bin/python" "$HERE/python/test_sigv4.py"
}
suite_awscli-sigv4() {
  sigv4_env AWS_CLI="$HERE/.venv-new/bin/aws" PYTHON="$HERE/.venv-new/bin/python" bash "$HERE/cli/test_cli_sigv4.sh"
}


passed=()
failed=()
for suite in "${SUITES[@]}"; do
  log "suite $suite"
  t0="$(date +%s)"
  # Isolate every client from the machine's AWS configuration.
  if env -u AWS_PROFILE -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_SQS -u AWS_SESSION_TOKEN \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
    timeout "$SUITE_TIMEOUT" bash -c "$(declare -f "suite_$suite" sigv4_env); $(declare -p ENDPOINT HERE SIGV4_ENDPOINT SIGV4_ACCESS_KEY_ID \
      SIGV4_SECRET_ACCESS_KEY SIGV4_ACCOUNT_ID); suite_$suite"; then
    passed+=("$suite")
    log "suite $suite passed ($(($(date +%s) - t0))s)"
  else
    failed+=("$suite")
    log "suite $suite FAILED ($(($(date +%s) - t0))s)"
  fi
done

if ! kill -0 "$EMU_PID" 2>/dev/null; then
  failed+=("emulator-alive")
  log "the emulator died during the run"
fi
if [[ -n "$SIGV4_PID" ]] && ! kill -0 "$SIGV4_PID" 2>/dev/null; then
  failed+=("sigv4-emulator-alive")
  log "the sigv4 emulator died during the run"
fi
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "---- emulator log (last 50 lines)"
  tail -n 50 "$EMU_LOG" || true
  if [[ -n "$SIGV4_PID" ]]; then
    echo "---- sigv4 emulator log (last 50 lines)"
    tail -n 50 "$SIGV4_LOG" || true
  fi
fi

log "done in $(elapsed): passed: ${passed[*]:-none}; failed: ${failed[*]:-none}"
echo "clients: ${#passed[@]} passed, ${#failed[@]} failed"
[[ ${#failed[@]} -eq 0 ]]
