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

# shellcheck source=../support/venv.sh
source "$HERE/../support/venv.sh"
install_venv "$VENV" "$REQUIREMENTS" 'moto[server]' moto_server
log "moto_server: $("$VENV/bin/python" -c 'import moto; print(moto.__version__)') at $VENV/bin/moto_server"
