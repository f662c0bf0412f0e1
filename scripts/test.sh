#!/usr/bin/env bash
# Runs Veil's whole test suite as CI does: formatting, lints, every Rust test
# (unit, vectors, end-to-end against a live server), then the Python SDK's
# tests against a live `veil serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
VEIL_SETUP_NO_BUILD=1 scripts/setup.sh
export PYO3_PYTHON="$PWD/.venv/bin/python"

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== Python SDK (maturin develop, pytest)"
scripts/install_python_sdk.sh
echo "== stubtest: python/veil/_native.pyi matches the built module"
(cd python && ../.venv/bin/python -m mypy.stubtest veil._native)
target_dir=$(cargo metadata --format-version 1 --no-deps | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
VEIL_BIN="$target_dir/debug/veil" .venv/bin/python -m pytest python/tests examples deploy/kubernetes -q
