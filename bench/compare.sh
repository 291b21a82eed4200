#!/usr/bin/env bash
# Side-by-side benchmark: forkhttpd against nginx (plain and with open_file_cache), lighttpd and
# python3 -m http.server, on the same files, same worker count, pinned to their own core.
# Usage: bench/compare.sh [--workers N[,N...]] [--rounds R] [--duration SECS] [--servers a,b]
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
command -v lighttpd >/dev/null || missing+=(lighttpd)
command -v taskset >/dev/null || missing+=(util-linux)
if ((${#missing[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cargo build --release --quiet
exec python3 bench/compare.py --forkhttpd target/release/forkhttpd "$@"
