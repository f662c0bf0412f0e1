#!/usr/bin/env bash
# Runs Veil's whole test suite: formatting, lints, every Rust test (unit,
# vectors, end-to-end against a live server), as CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
VEIL_SETUP_NO_BUILD=1 scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
