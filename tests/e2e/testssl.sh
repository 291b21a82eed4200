#!/usr/bin/env bash
# Grades forkhttpd's TLS with testssl.sh: protocols, ciphers and their order, known
# vulnerabilities (Heartbleed, ROBOT, renegotiation, compression...), HSTS. Fails on any finding
# of severity HIGH or CRITICAL. The certificate is a test CA's (valid a year, with a CRL
# distribution point), so findings about a real certificate's provenance do not apply.
# Usage: tests/e2e/testssl.sh PATH/TO/forkhttpd
set -euo pipefail

bin=$(realpath "$1")
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
    -subj "/CN=forkhttpd test CA" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=a.test" \
    -keyout a.key -out a.csr 2>/dev/null
printf 'subjectAltName=DNS:a.test\ncrlDistributionPoints=URI:http://a.test/crl.pem\nextendedKeyUsage=serverAuth\n' >ext
openssl x509 -req -in a.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -extfile ext \
    -out a.pem 2>/dev/null
mkdir www && echo '<h1>tls</h1>' >www/index.html
cat >forkhttpd.toml <<TOML
workers = 1
[[site]]
listen_tls = ["127.0.0.1:0"]
server_names = ["a.test"]
root = "www"
hsts = "max-age=63072000"
[site.tls]
cert = "a.pem"
key = "a.key"
TOML
start_server 1 -c forkhttpd.toml
port=$(listen_port https)

testssl --quiet --color 0 --warnings off --add-ca "$work/ca.pem" --ip 127.0.0.1 \
    --jsonfile "$work/testssl.json" "https://a.test:$port/" >"$work/testssl.out" 2>&1 || true
check "testssl wrote its findings" test -s "$work/testssl.json"
check "no HIGH or CRITICAL finding" python3 - "$work/testssl.json" <<'PY'
import json, sys
findings = json.load(open(sys.argv[1]))
bad = [f for f in findings if f.get("severity") in ("HIGH", "CRITICAL")]
for f in findings:
    if f.get("severity") in ("HIGH", "CRITICAL", "MEDIUM", "LOW"):
        print(f"  {f['severity']:8} {f['id']}: {f['finding']}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY

kill -TERM "$pid"
wait "$pid" && code=0 || code=$?
pid=
check "graceful exit code" test "$code" = 0

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
