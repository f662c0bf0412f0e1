#!/usr/bin/env bash
# Sets up Veil (scripts/setup.sh) and starts the server on its embedded
# defaults: simulated TEE, models in ./veil-data, listening on 127.0.0.1:8443.
# Extra arguments go to `veil serve` (see `veil serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
target_dir=$(cargo metadata --format-version 1 --no-deps | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
exec "$target_dir/release/veil" serve "$@"
