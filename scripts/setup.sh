#!/usr/bin/env bash
# Installs everything Veil needs on a fresh Debian machine with Rust and
# Python 3 (the machine this project targets) and builds it:
#   * .venv/ with the pinned onnxruntime wheel (the server loads its
#     libonnxruntime.so) and the Python packages the test models need;
#   * the small ONNX test models (scripts/make_test_models.py);
#   * the `veil` binary and the Python SDK (`veil`, from python/), release
#     builds, unless VEIL_SETUP_NO_BUILD=1 (scripts/test.sh builds its own).
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }


command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found: apt-get install python3 python3-venv" >&2; exit 1; }

# Debian's `prometheus` package (`prometheus` and `promtool`): the metrics
# integration test (crates/veil-cli/tests/prometheus.rs) scrapes a live server
# with a real Prometheus and lints the exposition with promtool. Installed
# without starting its system service: a policy-rc.d that denies service
# starts is put in place for the install when the machine has none.
if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
  log "installing Debian's prometheus package (prometheus, promtool)"
  as_root=()
  [ "$(id -u)" = 0 ] || as_root=(sudo)
  if ! apt-cache policy prometheus 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    "${as_root[@]}" apt-get update -q
  fi
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# installed by veil scripts/setup.sh for one apt-get run\nexit 101\n' |
      "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    trap '"${as_root[@]}" rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends prometheus
  if [ -n "$(trap -p EXIT)" ]; then
    "${as_root[@]}" rm -f "$policy"
    trap - EXIT
  fi
fi

if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python - <<'PY' 2>/dev/null
import importlib.metadata as m, re, sys
want = dict(re.findall(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==(\S+)", open("requirements.txt").read(), re.M))
sys.exit(0 if all(m.version(k) == v for k, v in want.items()) else 1)
PY
then
  log "installing Python packages (requirements.txt)"
  .venv/bin/pip install --disable-pip-version-check -q -r requirements.txt
fi
if ! .venv/bin/python - <<'PY' 2>/dev/null
import importlib.metadata as m, re, sys
want = dict(re.findall(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==(\S+)", open("examples/requirements.txt").read(), re.M))
sys.exit(0 if all(m.version(k) == v for k, v in want.items()) else 1)
PY
then
  log "installing the examples' Python packages (examples/requirements.txt)"
  .venv/bin/pip install --disable-pip-version-check -q -r examples/requirements.txt
fi

log "test models"
.venv/bin/python scripts/make_test_models.py

if [ "${VEIL_SETUP_NO_BUILD:-0}" != 1 ]; then
  log "building veil (release)"
  cargo build --release -p veil-cli
  log "installing the Python SDK into .venv (release)"
  scripts/install_python_sdk.sh --release
fi
log "done"
