#!/usr/bin/env bash
# Reloads that no client notices: 8 keep-alive connections from Python's http.client (which
# never retries a request) loop on GET / while the master reloads 10 times, a second apart, and
# then stops gracefully. Every request sent must get its whole answer: a draining worker keeps
# idle keep-alive connections open for a short grace and answers what arrives with
# Connection: close, instead of closing them under a request on its way. Prints the counts.
# Usage: tests/e2e/reload_clients.sh BIN
set -euo pipefail

bin=$(realpath "$1")
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
here=$(dirname "$0")

mkdir -p "$work/www"
head -c 2048 /dev/urandom | base64 >"$work/www/index.html"
start_server 2 -w 2 -l 127.0.0.1:0 "$work/www"
port=$(listen_port http)
master=$pid

result=$(timeout 120 python3 "$here/reload_clients.py" "$port" "$master" 10 "$work/www/index.html")
echo "reload_clients: $result" | head -1
echo "$result" | tail -n +2 | sed 's/^/  /'
requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$result" | head -1)
failures=$(sed -n 's/.*failures=\([0-9]*\).*/\1/p' <<<"$result" | head -1)
closes=$(sed -n 's/.*closes=\([0-9]*\).*/\1/p' <<<"$result" | head -1)

# The master has exited by itself after the stop (bounded wait).
for _ in $(seq 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
check "the master stopped" bash -c "! kill -0 $master 2>/dev/null"
check "over 3,000 requests across the reloads" test "${requests:-0}" -ge 3000
check "0 failed requests" test "${failures:-1}" -eq 0
# Each reload and the stop closed every connection by answering with Connection: close.
check "connections were closed by answers, not under requests" test "${closes:-0}" -ge 80
check "10 reloads logged" test "$(grep -c 'reloading: starting' "$log")" -eq 10

echo "reload_clients: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
