#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 60) and prints
# the executions per target. Needs the `cargo-fuzz` subcommand (installed
# from crates.io if missing) and libFuzzer's nightly flags, which
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept. The committed seeds
# in fuzz/corpus/<target>/ are read, not changed: new inputs go to a
# scratch corpus. Crashes land in fuzz/artifacts/<target>/; the script
# exits non-zero if any target crashed.
#
#   scripts/fuzz.sh           # 60 s per target
#   scripts/fuzz.sh 10        # a quick smoke run
#   TARGETS="oip_infer bundle_json" scripts/fuzz.sh 300
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
targets="${TARGETS:-$(cargo fuzz list)}"
# The ONNX target loads ONNX Runtime from .venv (scripts/setup.sh installs it).
# FUZZ_SKIP_BUILD=1 runs what was built last.
if [ -z "${FUZZ_SKIP_BUILD:-}" ]; then
    cargo fuzz build -O 2>&1 | tail -n 3
fi
bin="${CARGO_TARGET_DIR:-fuzz/target}/x86_64-unknown-linux-gnu/release"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
declare -A executions status
failed=0
for target in $targets; do
    mkdir -p "$scratch/$target"
    extra=()
    if [ "$target" = onnx_model ]; then
        # ONNX Runtime is C++ outside the sanitizer; its one-time allocations
        # are not leaks of ours, and a malformed graph may allocate a lot.
        extra=(-detect_leaks=0 -rss_limit_mb=4096)
    fi
    log="$scratch/$target.log"
    echo "== $target: ${seconds}s"
    mkdir -p "fuzz/artifacts/$target"
    if "$bin/$target" "$scratch/$target" "fuzz/corpus/$target" \
        -artifact_prefix="fuzz/artifacts/$target/" -max_total_time="$seconds" \
        -print_final_stats=1 "${extra[@]}" >"$log" 2>&1; then
        status[$target]=ok
    else
        status[$target]="CRASH (see fuzz/artifacts/$target/)"
        failed=1
        tail -n 30 "$log"
    fi
    executions[$target]="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)"
done

printf '\n%-22s %14s %10s  %s\n' target executions "exec/s" result
for target in $targets; do
    n="${executions[$target]:-0}"
    printf '%-22s %14s %10s  %s\n' "$target" "$n" "$(( ${n:-0} / seconds ))" "${status[$target]}"
done
exit "$failed"
