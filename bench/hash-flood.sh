#!/usr/bin/env bash
# Benchmark: password hashing under a flood. Builds the release binary, serves
# a fresh SQLite demo database on loopback with the per-address limits raised
# (an attacker with many addresses), runs 64 clients for 30 s of sign-ins for
# unknown users and wrong passwords, then of registrations, and prints the
# server's baseline, peak and after-flood resident memory, the answers by
# status, and how a real sign-in made in the middle of each flood fared.
#
#   bench/hash-flood.sh [CLIENTS [SECONDS]]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/griddesk-target}
cargo build --release --quiet
exec python3 bench/hash_flood.py --bin "$CARGO_TARGET_DIR/release/griddesk" \
    --clients "${1:-64}" --seconds "${2:-30}"
