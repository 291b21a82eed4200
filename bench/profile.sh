#!/usr/bin/env bash
# Instructions and heap allocations per request, counted by valgrind (callgrind and DHAT): exact
# and repeatable on a noisy machine, unlike timings. Each workload runs twice, with N and 2N
# requests on one keep-alive connection; the difference divided by N leaves out start-up.
# Usage: bench/profile.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
cargo build --release --quiet
bin=$(pwd)/target/release/forkhttpd
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/www"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$work/www/small.html"

# run TOOL PATH COUNT PIPELINE -> prints "<instructions or blocks> <allocated bytes>" of the worker
run() {
    local tool=$1 path=$2 count=$3 depth=$4 extra=$5 out="$work/out" port
    # A port the kernel just handed out and took back: free, unlike a random pick.
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    rm -rf "$out" && mkdir "$out"
    local args=(-w 1 -l "127.0.0.1:$port" --log-level error --max-requests-per-connection 1000000)
    # "log" in EXTRA: the access log on, to a file.
    [[ $extra == *log* ]] && args+=(--access-log "$out/access.log")
    case $tool in
    callgrind) valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" "$bin" "${args[@]}" "$work/www" 2>"$out/log" & ;;
    dhat) valgrind --tool=dhat --dhat-out-file="$out/dh.%p" "$bin" "${args[@]}" "$work/www" 2>"$out/log" & ;;
    esac
    local master=$!
    python3 - "$port" "$path" "$count" "$depth" "$extra" <<'PY'
import socket, sys, time
port, path, count, depth = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
# What a desktop browser sends for a page, less cookies.
BROWSER_FIELDS = (
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Connection: keep-alive\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-Site: none\r\n"
    "Priority: u=0, i\r\n"
)
extra = BROWSER_FIELDS if "browser" in sys.argv[5] else ""
for _ in range(300):
    try:
        s = socket.create_connection(("127.0.0.1", port)); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(f"the server under valgrind never listened on port {port}")
request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n{extra}\r\n".encode()
pending = b""
sent = received = 0
while received < count:
    batch = min(depth, count - sent)
    if batch and received == sent:
        s.sendall(request * batch); sent += batch
    pending += s.recv(1 << 20)
    while True:
        head_end = pending.find(b"\r\n\r\n")
        if head_end < 0: break
        length = int(pending[:head_end].lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        if len(pending) < head_end + 4 + length: break
        pending = pending[head_end + 4 + length:]; received += 1
s.close()
PY
    kill -TERM "$master"
    wait "$master" || true
    case $tool in
    callgrind)
        # The worker's file is the one with the most instructions.
        for f in "$out"/cg.*; do grep -m1 '^summary:' "$f" | awk '{print $2}'; done | sort -n | tail -1 ;;
    dhat)
        # "Total: B bytes in N blocks" per process; the worker allocated the most blocks.
        grep 'Total:' "$out/log" | sed 's/,//g' | awk '{print $(NF-1), $3}' | sort -n | tail -1 ;;
    esac
}

printf '| workload | instructions per request | heap allocations per request | bytes allocated per request |\n|---|---|---|---|\n'
for workload in "1 KiB file, keep-alive:/small.html:1:" "404, keep-alive:/missing:1:" \
    "1 KiB file, 16 pipelined:/small.html:16:" "1 KiB file, a browser's request fields:/small.html:1:browser" \
    "1 KiB file, a browser's request fields, access log on:/small.html:1:browser,log"; do
    IFS=: read -r name path depth extra <<<"$workload"
    i1=$(run callgrind "$path" "$n" "$depth" "$extra")
    i2=$(run callgrind "$path" $((2 * n)) "$depth" "$extra")
    read -r b1 a1 < <(run dhat "$path" "$n" "$depth" "$extra")
    read -r b2 a2 < <(run dhat "$path" $((2 * n)) "$depth" "$extra")
    awk -v name="$name" -v i1="$i1" -v i2="$i2" -v b1="$b1" -v b2="$b2" -v a1="$a1" -v a2="$a2" -v n="$n" \
        'function tidy(x, unit) { return (x > -unit && x < unit) ? 0 : x }  # no "-0" from start-up noise
         BEGIN { printf "| %s | %.0f | %.2f | %.0f |\n", name, (i2 - i1) / n, tidy((b2 - b1) / n, 0.005), tidy((a2 - a1) / n, 0.5) }'
done
