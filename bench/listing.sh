#!/usr/bin/env bash
# Directory listings side by side: forkhttpd against nginx's autoindex and Caddy's file_server
# browse, and forkhttpd's system calls per listing under strace (see bench/listing.py).
# Usage: bench/listing.sh [--rounds R] [--servers a,b] [--baseline OLD_FORKHTTPD] [--no-syscalls]
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v nginx >/dev/null || missing+=(nginx-light)
command -v caddy >/dev/null || missing+=(caddy)
command -v strace >/dev/null || missing+=(strace)
command -v taskset >/dev/null || missing+=(util-linux)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cargo build --release --quiet
exec python3 bench/listing.py --forkhttpd target/release/forkhttpd "$@"
