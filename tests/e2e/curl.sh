#!/usr/bin/env bash
# End-to-end checks with a real HTTP client (curl) against the release binary: the commands a
# user would type. Usage: tests/e2e/curl.sh PATH/TO/forkhttpd
set -euo pipefail

bin=$(realpath "$1")
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

mkdir -p "$work/site/docs"
echo '<h1>e2e</h1>' >"$work/site/index.html"
head -c 3000000 /dev/urandom >"$work/site/big.bin"
echo 'docs' >"$work/site/docs/index.html"

for i in $(seq 400); do echo "line $i of a compressible stylesheet {color: red}"; done >"$work/site/style.css"

start_server 2 -w 2 -l 127.0.0.1:0 --compress "$work/site"
port=$(listen_port http)
base="http://127.0.0.1:$port"

check "index" test "$(curl -fsS "$base/")" = '<h1>e2e</h1>'
check "status 404" test "$(curl -s -o /dev/null -w '%{http_code}' "$base/missing")" = 404
check "redirect followed" test "$(curl -fsSL "$base/docs")" = docs
check "HEAD" bash -c "curl -fsSI '$base/big.bin' | grep -qi '^content-length: 3000000'"
check "HTTP/1.0" test "$(curl -fsS --http1.0 "$base/")" = '<h1>e2e</h1>'
check "big file bytes" bash -c "curl -fsS '$base/big.bin' | cmp - '$work/site/big.bin'"
check "keep-alive reuse" bash -c "curl -fsS -v '$base/' '$base/docs/' 2>&1 | grep -q 'Re-using existing connection\|Reusing existing'"
# Resume an interrupted download: curl asks for the rest with a Range and appends it.
head -c 1234567 "$work/site/big.bin" >"$work/partial.bin"
check "curl -C - resumes" bash -c "curl -fsS -C - -o '$work/partial.bin' '$base/big.bin' && cmp '$work/partial.bin' '$work/site/big.bin'"
check "range" test "$(curl -fsS -r 0-3 "$base/index.html")" = '<h1>'
check "compressed" bash -c "curl -fsS --compressed -D '$work/h' '$base/style.css' | cmp - '$work/site/style.css' && grep -qi '^content-encoding:' '$work/h'"
etag=$(curl -fsSI "$base/index.html" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
check "304 with etag" test "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$base/index.html")" = 304
check "POST is 405" test "$(curl -s -o /dev/null -w '%{http_code}' -d x "$base/")" = 405

kill -TERM "$pid"
wait "$pid" && code=0 || code=$?
pid=
check "graceful exit code" test "$code" = 0

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
