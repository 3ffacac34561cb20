# Python virtual environments pinned by a requirements file, shared by the scripts that install test clients and
# servers (tests/clients/run.sh, tests/servers/setup.sh, tests/offload/python/setup.sh). Source it after defining
# `log MESSAGE` and `die MESSAGE` and setting PYTHON.

# venv_ready DIR REQUIREMENTS [EXECUTABLE]: true when DIR is a working venv with exactly the versions pinned in
# REQUIREMENTS (and DIR/bin/EXECUTABLE, when named).
venv_ready() {
  local dir="$1" req="$2" executable="${3:-}"
  [[ -x "$dir/bin/python" ]] || return 1
  [[ -z "$executable" || -x "$dir/bin/$executable" ]] || return 1
  # a venv copied or moved from elsewhere has scripts (pip, aws) whose #! points at the old place
  [[ "$(head -n1 "$dir/bin/pip" 2>/dev/null)" == "#!$dir/bin/python"* ]] || return 1
  "$dir/bin/python" - "$req" <<'PY' 2>/dev/null
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

# install_venv DIR REQUIREMENTS [EXTRA [EXECUTABLE]]: makes DIR a venv holding the pinned versions (and the pip
# requirement EXTRA, e.g. 'moto[server]'), unless it already is one (cached); dies when pip cannot.
install_venv() {
  local dir="$1" req="$2" extra="${3:-}" executable="${4:-}"
  if venv_ready "$dir" "$req" "$executable"; then
    log "$(basename "$dir"): pinned versions already installed (cached)"
    return 0
  fi
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found: cannot create $dir"
  log "$(basename "$dir"): installing $(grep -cE '^[A-Za-z]' "$req") pinned packages from $(basename "$req")"
  local t0
  t0="$(date +%s)"
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir" || die "cannot create the virtual environment $dir ($PYTHON -m venv failed)"
  local packages=(-r "$req")
  [[ -n "$extra" ]] && packages+=("$extra")
  if ! "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${packages[@]}"; then
    rm -rf "$dir"
    die "pip could not install the packages pinned in $req"
  fi
  venv_ready "$dir" "$req" "$executable" || die "$dir does not hold the versions pinned in $req after pip install"
  log "$(basename "$dir"): installed in $(($(date +%s) - t0))s"
}
