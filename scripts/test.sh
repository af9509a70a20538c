#!/usr/bin/env bash
# The whole test suite, on any machine with a Rust toolchain: installs what the tests need
# when it is missing (scripts/provision.sh says what and how), then runs every test,
# the real-etcd ones and the watch-server binary's included. Extra arguments go to
# `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/provision.sh
exec cargo test --workspace --features tests/etcd,watch-server/bin "$@"
