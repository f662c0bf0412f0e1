#!/usr/bin/env bash
# Builds the Python SDK (python/: PyO3 + maturin) and installs it into the
# project's .venv as the `veil` package. Arguments go to `maturin develop`
# (scripts/setup.sh passes --release; scripts/test.sh builds in dev mode).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/maturin ] || { echo "run scripts/setup.sh first (it creates .venv with maturin)" >&2; exit 1; }
export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH" PYO3_PYTHON="$PWD/.venv/bin/python"
exec maturin develop --quiet -m python/Cargo.toml "$@"
