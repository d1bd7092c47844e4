# Shared by scripts/lab and scripts/test: system packages and the project's virtualenv.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="${OCTANT_VENV:-$ROOT/.venv}"
PY="${OCTANT_PYTHON:-python3}"

# Go and the Debian-packaged Go libraries the lab simulator's client checker is built from
# (tools/nomad_client_check; tools/lab_simulator/clientcheck.py names the same packages).
# shellcheck disable=SC2034 # used by the scripts that source this file
CLIENT_CHECK_PACKAGES=(golang-go golang-github-hashicorp-hcl-v2-dev golang-github-zclconf-go-cty-dev
  golang-github-hashicorp-go-envparse-dev golang-github-hashicorp-hcl-dev)
# ansible-core 2.19 imports cryptography's DSA names at start, which cryptography 51 deprecates with a
# warning on every ansible command (no release of either avoids it yet): silence that one warning.
OCTANT_PYTHONWARNINGS="ignore:DSA is deprecated"
export PYTHONWARNINGS="${PYTHONWARNINGS:+$PYTHONWARNINGS,}$OCTANT_PYTHONWARNINGS"

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Install Debian/Ubuntu packages that are missing (as root, or through sudo).
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  log "installing system packages: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Create the virtualenv and install the requirements with the pins of constraints.txt; reinstall when
# either changes.
ensure_venv() {
  local requirements="$1" stamp
  if ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
    ensure_packages python3-venv
  fi
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  stamp="$VENV/.octant-$(basename "$requirements").sha256"
  if ! (cd "$ROOT" && sha256sum --status -c "$stamp" 2>/dev/null); then
    log "installing Python requirements from $(basename "$requirements")"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements" -c "$ROOT/constraints.txt"
    (cd "$ROOT" && sha256sum requirements*.txt constraints.txt) > "$stamp"
  fi
  export PATH="$VENV/bin:$PATH"
}
