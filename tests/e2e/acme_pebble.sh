#!/usr/bin/env bash
# ACME end to end against a real ACME server: Debian's pebble, with pebble-challtestsrv as its
# DNS server (every name resolves to 127.0.0.1), so pebble's HTTP-01 validation really connects
# to forkhttpd's plain listener on 127.0.0.1 and fetches the token there. A fresh state folder
# must get a certificate, and the site must then answer HTTPS with it, checked by curl against
# pebble's root. A restart with the same state must serve at once without a new order; the
# renewal at two thirds of the (short) lifetime must reload with no request failing; and a site
# whose challenge fails must be logged with the CA's reason, without holding the other back.
# Usage: tests/e2e/acme_pebble.sh BIN
set -euo pipefail

bin=$(realpath "$1")
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
helpers=()
stop_helpers() {
    for helper in "${helpers[@]}"; do kill "$helper" 2>/dev/null || true; done
    cleanup
}
trap stop_helpers EXIT

read -r acme_port management_port dns_port http_port challtest_port <<<"$(free_ports 5)"

# Certificates from pebble live this many seconds, so that the renewal at two thirds of the
# lifetime comes during the test.
validity=45

# pebble's own HTTPS certificate (its directory is HTTPS only), from a throwaway CA.
make_ca
make_leaf pebble localhost IP:127.0.0.1,DNS:localhost

cat >"$work/pebble.json" <<JSON
{ "pebble": {
    "listenAddress": "127.0.0.1:$acme_port",
    "managementListenAddress": "127.0.0.1:$management_port",
    "certificate": "$work/pebble.pem",
    "privateKey": "$work/pebble.key",
    "httpPort": $http_port,
    "tlsPort": 1,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false,
    "certificateValidityPeriod": $validity } }
JSON

pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$dns_port" \
    -http01 "" -https01 "" -tlsalpn01 "" -management "127.0.0.1:$challtest_port" \
    >"$work/challtestsrv.log" 2>&1 &
helpers+=($!)
PEBBLE_VA_NOSLEEP=1 pebble -config "$work/pebble.json" -dnsserver "127.0.0.1:$dns_port" \
    >"$work/pebble.log" 2>&1 &
helpers+=($!)
for _ in $(seq 100); do
    curl -fsS --cacert "$work/ca.pem" "https://127.0.0.1:$acme_port/dir" >/dev/null 2>&1 && break
    sleep 0.1
done

mkdir -p "$work/site"
echo 'hello over ACME' >"$work/site/index.html"
cat >"$work/forkhttpd.toml" <<TOML
workers = 2
[[site]]
listen = ["127.0.0.1:$http_port"]
listen_tls = ["127.0.0.1:0"]
server_names = ["acme.test", "www.acme.test"]
root = "site"
https_redirect = true
[site.tls]
acme = { email = "ops@acme.test", directory = "https://127.0.0.1:$acme_port/dir", state = "state", ca_root = "ca.pem" }

# A site whose challenges cannot be met: pebble asks port $http_port, where only acme.test
# answers, from another state folder. Its failure must be logged with pebble's reason and
# must not keep acme.test from its certificate.
[[site]]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
server_names = ["nope.test"]
root = "site"
[site.tls]
acme = { directory = "https://127.0.0.1:$acme_port/dir", state = "nope-state", ca_root = "ca.pem" }
TOML
check "-t accepts an ACME site" "$bin" -t -c "$work/forkhttpd.toml"

start_server 2 -c "$work/forkhttpd.toml"
state="$work/state/127.0.0.1-$acme_port-dir"
certificate="$state/acme.test.pem"
for _ in $(seq 600); do
    grep -q 'reloading' "$log" && [[ -f $certificate ]] && break
    sleep 0.1
done
check "a fresh state folder gets a certificate" test -f "$certificate"
check "the master reloads after it" grep -q 'asking the master to reload' "$log"
check "pebble fetched the tokens from our listener" \
    grep -q "validate w/ HTTP: http://www.acme.test:$http_port/.well-known/acme-challenge/" \
    "$work/pebble.log"
check "and both names were validated" \
    test "$(grep -c 'set VALID by completed challenge' "$work/pebble.log")" = 2
check "the certificate file is 0600" test "$(stat -c %a "$certificate")" = 600
check "the account file is 0600" test "$(stat -c %a "$state/account.json")" = 600
check "no challenge is left open" test -z "$(ls -A "$work/state/http-01")"
for _ in $(seq 100); do
    grep -q 'acme: site nope.test: validation failed' "$log" && break
    sleep 0.1
done
check "a failed validation is logged with the CA's reason and a retry time" \
    grep -q 'acme: site nope.test: validation failed: .*nope.test.* 404 .*next attempt in 60s' "$log"

tls_port=$(sed -n 's|.*listening on https://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log" | tail -1)
curl -fsS --cacert "$work/ca.pem" "https://127.0.0.1:$management_port/roots/0" \
    >"$work/pebble-root.pem"
https() { # https NAME PATH: GET over TLS, verified against pebble's root
    curl -fsS --cacert "$work/pebble-root.pem" --resolve "$1:$tls_port:127.0.0.1" \
        "https://$1:$tls_port$2"
}
for _ in $(seq 50); do
    https acme.test / >/dev/null 2>&1 && break
    sleep 0.1
done
check "HTTPS answers with the new certificate (verified by curl)" \
    test "$(https acme.test /)" = 'hello over ACME'
check "and for the site's second name" test "$(https www.acme.test /)" = 'hello over ACME'
check "plain HTTP is redirected to HTTPS" test "$(curl -s -o /dev/null -w '%{http_code}' \
    --resolve "acme.test:$http_port:127.0.0.1" "http://acme.test:$http_port/")" = 308
check "no worker was lost in the reload" test "$(grep -c 'exited (signal' "$log" || true)" = 0

# A restart with the same state serves at once, and orders nothing.
kill -TERM "$pid"
wait "$pid" || true
echo "--- what the first run logged about ACME"
grep -E 'acme|reload' "$log" | sed 's/^/  /'
start_server 2 -c "$work/forkhttpd.toml"
sleep 1
tls_port=$(sed -n 's|.*listening on https://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log" | tail -1)
check "a restart serves the stored certificate" test "$(https acme.test /)" = 'hello over ACME'
check "and orders nothing for it" \
    test "$(grep -c 'ordering a certificate for acme.test' "$log" || true)" = 0

# Renewal: at two thirds of the 45 s the helper orders again, installs the new certificate and
# has the master reload. Requests on new connections run throughout; none may fail.
serial() {
    openssl s_client -connect "127.0.0.1:$tls_port" -servername acme.test </dev/null 2>/dev/null \
        | openssl x509 -noout -serial
}
first_serial=$(serial)
requests=0
failures=0
renewed=
for _ in $(seq 3000); do # bounded: about a minute at most
    if https acme.test / >/dev/null 2>&1; then
        requests=$((requests + 1))
    else
        failures=$((failures + 1))
    fi
    if [[ -z $renewed ]] && grep -q 'old generation' "$log"; then
        renewed=$requests
    fi
    # A few hundred more requests on the new generation, then stop.
    [[ -n $renewed ]] && ((requests > renewed + 200)) && break
    sleep 0.01
done
echo "renewal: $requests requests over new TLS connections, $failures failed"
check "the helper renewed at two thirds of the lifetime" grep -q 'renewal is due' "$log"
check "and the master reloaded" test -n "$renewed"
check "the site serves the new certificate" test "$(serial)" != "$first_serial"
check "no request failed during the renewal" test "$failures" = 0

kill -TERM "$pid"
wait "$pid" || true
if [[ $failed -gt 0 ]]; then
    echo "--- forkhttpd log" >&2
    cat "$log" >&2
    echo "--- pebble log (last 30 lines)" >&2
    tail -30 "$work/pebble.log" >&2
fi
echo "acme e2e: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
