#!/usr/bin/env bash
# Soak test: ten minutes of mixed valid, invalid and slow traffic against 2 workers, one worker
# killed every minute. Usage: bench/soak.sh [DURATION_SECS] [KILL_EVERY_SECS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
exec python3 bench/soak.py target/release/forkhttpd --duration "${1:-600}" --kill-every "${2:-60}"
