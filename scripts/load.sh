#!/usr/bin/env bash
# The load test: starts a release `veil serve --platform simulated` on a
# fresh data directory, uploads tests/models/mlp.onnx, runs `veil-load`
# (64 clients, each on its own connection, for 300 s by default: encrypted
# inference plus a few bad requests) and prints throughput, latency,
# refusals, errors and the server's memory. Exits non-zero if any request
# failed unexpectedly. See docs/reliability.md for recorded results.
#
#   scripts/load.sh                 # 64 clients x 300 s
#   scripts/load.sh 8 30            # CLIENTS SECONDS
set -euo pipefail
cd "$(dirname "$0")/.."
clients="${1:-64}"
duration="${2:-300}"
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release -p veil-cli -p veil-load
bin="$target_dir/release"

data="$(mktemp -d)"
port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
# Every client may have one inference waiting: the per-model queue (32 by
# default) must hold all of them, or the excess get 503 by design.
"$bin/veil" serve --platform simulated --listen "127.0.0.1:$port" --data-dir "$data" \
    --max-queued-inferences "$clients" >"$data/serve.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 600); do
    curl -fsS "$url/v1/health" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { cat "$data/serve.log"; exit 1; }
    sleep 0.1
done
"$bin/veil" upload "$url" mlp tests/models/mlp.onnx --allow-simulation \
    --owner-token-file "$data/owner-token" >/dev/null

echo "veil-load: $clients clients x ${duration}s against $url (model mlp)"
status=0
"$bin/veil-load" --url "$url" --model mlp --clients "$clients" --duration "$duration" \
    --allow-simulation || status=$?
peak_kib="$(awk '/^VmHWM:/ {print $2}' "/proc/$server/status")"
echo "server peak RSS (VmHWM): $((peak_kib / 1024)) MiB"
exit "$status"
