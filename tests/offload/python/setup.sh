#!/usr/bin/env bash
# AWS's Python SQS extended client (`amazon-sqs-extended-client` on PyPI, with boto3), pinned in
# requirements-extended.txt, in the local venv tests/offload/python/.venv-extended (cached: nothing is reinstalled
# while it holds the pinned versions). tests/offload/interop.rs drives it through interop.py, against the emulator
# over HTTP and moto_server's S3 (tests/servers/setup.sh installs moto_server).
# Called by .ci/run; run it alone with `bash tests/offload/python/setup.sh`. Needs python3 (venv, pip).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$HERE/.venv-extended"
REQUIREMENTS="$HERE/requirements-extended.txt"

log() { printf '== extended client: %s\n' "$*"; }
die() {
  printf '\n!! extended client: %s\n\n' "$*" >&2
  exit 1
}

# shellcheck source=../../support/venv.sh
source "$HERE/../../support/venv.sh"
install_venv "$VENV" "$REQUIREMENTS"
log "$("$VENV/bin/python" -c 'from importlib.metadata import version; print("amazon-sqs-extended-client", version("amazon-sqs-extended-client"))') at $VENV"
