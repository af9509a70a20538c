#!/usr/bin/env bash
# Runs every benchmark and memory probe, then writes the store summary tables and the
# get-latency plot (benches/get_latency.svg). Extra arguments go to criterion, e.g.
# `benches/run.sh --measurement-time 5`. About 20 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo bench -p store-bench --bench stores -- "$@"
cargo run --profile bench -p store-bench --bin memory -- all | tee "$target/criterion/memory.md"
python3 benches/report.py "$target/criterion" benches/get_latency.svg | tee "$target/criterion/summary.md"
cargo bench -p store-bench --bench queues -- "$@"
cargo run --profile bench -p store-bench --bin queue_memory -- all | tee "$target/criterion/queue_memory.md"
cargo bench -p store-bench --bench reflector -- "$@"
