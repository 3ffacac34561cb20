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

# venv_ready: true when the venv works, sits where its scripts think it does, and holds the pinned versions.
venv_ready() {
  [[ -x "$VENV/bin/python" ]] || return 1
  [[ "$(head -n1 "$VENV/bin/pip" 2>/dev/null)" == "#!$VENV/bin/python"* ]] || return 1
  "$VENV/bin/python" - "$REQUIREMENTS" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, pinned = line.split("==")
    try:
        if version(name) != pinned:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
}

if venv_ready; then
  log "pinned versions already installed in $VENV (cached)"
else
  command -v "$PYTHON" >/dev/null || die "python3 not found: cannot install amazon-sqs-extended-client"
  log "installing amazon-sqs-extended-client and $(grep -cE '^[A-Za-z]' "$REQUIREMENTS") pinned packages into $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "cannot create the virtual environment $VENV"
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQUIREMENTS"; then
    rm -rf "$VENV"
    die "pip could not install the packages pinned in $REQUIREMENTS"
  fi
  venv_ready || die "$VENV does not hold the versions pinned in $REQUIREMENTS after pip install"
fi
log "$("$VENV/bin/python" -c 'from importlib.metadata import version; print("amazon-sqs-extended-client", version("amazon-sqs-extended-client"))') at $VENV"
