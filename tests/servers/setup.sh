#!/usr/bin/env bash
# The servers the idempotency-store tests start themselves (tests/support/servers.rs):
#   - Redis: Debian's redis-server (apt-get install, unless already on PATH);
#   - DynamoDB: moto_server from the moto[server] PyPI package, pinned in requirements-moto.txt, in the local
#     venv tests/servers/.venv-moto (cached: nothing is reinstalled while it holds the pinned versions).
# Called by .ci/run; run it alone with `bash tests/servers/setup.sh`. Needs python3 (venv, pip) and, for Redis,
# apt-get (root) when redis-server is missing. Exits non-zero if anything could not be installed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$HERE/.venv-moto"
REQUIREMENTS="$HERE/requirements-moto.txt"

log() { printf '== servers: %s\n' "$*"; }
die() {
  printf '\n!! servers: %s\n\n' "$*" >&2
  exit 1
}

if command -v redis-server >/dev/null; then
  log "redis-server found: $(redis-server --version | head -n1)"
else
  log "installing Debian's redis-server"
  command -v apt-get >/dev/null || die "redis-server is missing and apt-get is not available to install it"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server || die "apt-get could not install redis-server"
  command -v redis-server >/dev/null || die "redis-server still not on PATH after apt-get install"
fi

# venv_ready: true when the venv works, sits where its scripts think it does, and holds the pinned versions.
venv_ready() {
  [[ -x "$VENV/bin/python" && -x "$VENV/bin/moto_server" ]] || return 1
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
  log "moto_server: pinned versions already installed in $VENV (cached)"
else
  command -v "$PYTHON" >/dev/null || die "python3 not found: cannot install moto[server]"
  log "moto_server: installing moto[server] and $(grep -cE '^[A-Za-z]' "$REQUIREMENTS") pinned packages into $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "cannot create the virtual environment $VENV"
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQUIREMENTS" 'moto[server]'; then
    rm -rf "$VENV"
    die "pip could not install the packages pinned in $REQUIREMENTS"
  fi
  venv_ready || die "$VENV does not hold the versions pinned in $REQUIREMENTS after pip install"
fi
log "moto_server: $("$VENV/bin/python" -c 'import moto; print(moto.__version__)') at $VENV/bin/moto_server"
