#!/usr/bin/env bash
# End-to-end checks of a configuration file with a real client (curl): two sites on one socket
# chosen by name, a header rule, a redirect, an SPA fallback, Basic auth with `curl -u`, and the
# access log lines curl's requests leave, in both formats. Usage: tests/e2e/config_curl.sh BIN
set -euo pipefail

bin=$(realpath "$1")
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

repo=$(cd "$(dirname "$0")/../.." && pwd)
check "the example configuration passes -t" "$bin" -t -c "$repo/examples/forkhttpd.toml"

mkdir -p "$work/app/assets" "$work/docs/private"
echo '<h1>app</h1>' >"$work/app/index.html"
echo 'body{}' >"$work/app/assets/app.css"
echo 'docs home' >"$work/docs/index.html"
echo 'secret' >"$work/docs/private/plan.txt"
# The example users file: staff / change-me.
cp "$repo/examples/htpasswd" "$work/htpasswd"
cat >"$work/forkhttpd.toml" <<TOML
workers = 2
[[site]]
listen = ["127.0.0.1:0"]
server_names = ["app.test"]
root = "app"
spa_fallback = "/index.html"
access_log = { path = "app.log" }
[[site.headers]]
path = "/assets/**"
set = { "Cache-Control" = "public, max-age=31536000, immutable" }
[[site.redirects]]
from = "/old/"
to = "/new/"
prefix = true
status = 308

[[site]]
listen = ["127.0.0.1:0"]
server_names = ["docs.test", "*.docs.test"]
root = "docs"
access_log = { path = "docs.json", format = "json" }
[site.auth]
realm = "staff"
users_file = "htpasswd"
paths = ["/private/**"]
TOML
check "-t accepts it" "$bin" -t -c "$work/forkhttpd.toml"

start_server 2 -c "$work/forkhttpd.toml"
port=$(listen_port http)
at() { echo "--resolve $1:$port:127.0.0.1 http://$1:$port"; }

# shellcheck disable=SC2046
check "app.test by name" test "$(curl -fsS $(at app.test)/)" = '<h1>app</h1>'
# shellcheck disable=SC2046
check "docs.test by name" test "$(curl -fsS $(at docs.test)/)" = 'docs home'
# shellcheck disable=SC2046
check "wildcard name" test "$(curl -fsS $(at www.docs.test)/)" = 'docs home'
# shellcheck disable=SC2046
check "unknown name: the first site" test "$(curl -fsS $(at other.test)/)" = '<h1>app</h1>'
# shellcheck disable=SC2046
check "header rule" bash -c "curl -fsSI $(at app.test)/assets/app.css | grep -qi '^cache-control: public, max-age=31536000, immutable'"
# shellcheck disable=SC2046
check "redirect keeps the query" bash -c "curl -sSI $(at app.test)/old/a?x=1 | tr -d '\r' | grep -qi '^location: /new/a?x=1$'"
# shellcheck disable=SC2046
check "SPA fallback" test "$(curl -fsS $(at app.test)/users/42)" = '<h1>app</h1>'
# shellcheck disable=SC2046
check "no fallback for a file" test "$(curl -s -o /dev/null -w '%{http_code}' $(at app.test)/app.js)" = 404
# shellcheck disable=SC2046
check "auth: 401 without" test "$(curl -s -o /dev/null -w '%{http_code}' $(at docs.test)/private/plan.txt)" = 401
# shellcheck disable=SC2046
check "auth: 401 wrong password" test "$(curl -s -o /dev/null -w '%{http_code}' -u staff:nope $(at docs.test)/private/plan.txt)" = 401
# shellcheck disable=SC2046
check "auth: curl -u" test "$(curl -fsS -u staff:change-me $(at docs.test)/private/plan.txt)" = secret

kill -TERM "$pid"
wait "$pid" && code=0 || code=$?
pid=
check "graceful exit code" test "$code" = 0
# The workers write their buffered lines before they exit.
check "combined lines" test "$(wc -l <"$work/app.log")" -eq 6
check "combined user agent" grep -q '"curl/' "$work/app.log"
check "json lines parse" python3 -c '
import json, sys
# Two workers: each writes its own lines, so lines are not in request order across them.
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 5, lines
assert {l["site"] for l in lines} == {"docs.test"}, lines
assert sorted(l["status"] for l in lines) == [200, 200, 200, 401, 401], lines
secret = [l for l in lines if l["target"] == "/private/plan.txt" and l["status"] == 200]
assert secret[0]["user"] == "staff" and secret[0]["bytes"] == 7, secret
' "$work/docs.json"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
