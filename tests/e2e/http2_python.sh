#!/usr/bin/env bash
# HTTP/2 from a Python client built on the `h2` package (Debian's python3-h2, run by
# /usr/bin/python3), with raw frames where h2 would not send what a hostile client sends; over
# TLS (ALPN h2, a throwaway CA) and cleartext prior knowledge. tests/e2e/http2_python.py drives
# each scenario and prints what it saw; the checks here say what that must be. One worker, with
# small limits: send_timeout 2 s, keepalive_timeout 4 s, max_head_bytes 8192, 8 concurrent
# streams, 16 error resets.
# - Flow control: a client announcing an initial window of 0 gets the 1 MiB file's HEADERS and
#   no DATA; opened step by step with WINDOW_UPDATE (stream and connection windows apart, then
#   together, odd sizes) it gets every byte each step allows, never more (tracked per frame),
#   and the whole body with the right sha256.
# - A window never opened: the stream is reset (CANCEL) after the send timeout, the idle
#   connection then ends (GOAWAY NO_ERROR, EOF), and a second connection is answered meanwhile.
# - 8 concurrent streams announced in SETTINGS; 12 held open at once: 8 answered, the 4 past the
#   limit get REFUSED_STREAM, the connection stays and serves again.
# - Malformed requests (RFC 9113 §8.2, §8.3): connection, transfer-encoding and te: gzip fields,
#   a missing :path, a pseudo-header after a regular field get RST_STREAM PROTOCOL_ERROR and
#   the connection serves on; an uppercase field name ends the connection (GOAWAY
#   PROTOCOL_ERROR, h2 fails the HPACK decoding), as does a WINDOW_UPDATE of 0 on a stream; a
#   new connection is served after each.
# - MadeYouReset (CVE-2025-8671): with http2_max_error_resets = 16, streams the server resets
#   for the client's errors (a window pushed past 2^31-1, a malformed request), one at a time:
#   16 resets, then GOAWAY ENHANCE_YOUR_CALM and EOF; the same 40 offences in one write end in
#   that GOAWAY too; DATA on a stream the client ended is a connection error at once (GOAWAY
#   PROTOCOL_ERROR). A second connection is served each time.
# - Rapid Reset (CVE-2023-44487): 10,000 HEADERS and RST_STREAM pairs end in GOAWAY
#   ENHANCE_YOUR_CALM (or the connection still serves); the RSS of the master and its worker
#   stays under 64 MiB, and a second connection is served.
# - Header lists: under max_head_bytes answered 200; over it 431 (the connection serves on);
#   over four times it GOAWAY ENHANCE_YOUR_CALM.
# Usage: tests/e2e/http2_python.sh BIN
set -euo pipefail

bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3
# shellcheck source=tests/e2e/lib.sh
source "$here/lib.sh"

make_ca
make_leaf a a.test DNS:a.test
mkdir -p "$work/site"
echo '<h1>hello over h2</h1>' >"$work/site/index.html"
head -c 1048576 /dev/urandom >"$work/site/big.bin"
big_sha=$(sha256sum <"$work/site/big.bin" | cut -d' ' -f1)

cat >"$work/forkhttpd.toml" <<TOML
workers = 1
[limits]
send_timeout = 2
keepalive_timeout = 4
max_head_bytes = 8192
http2_max_concurrent_streams = 8
http2_max_pending_resets = 32
http2_max_error_resets = 16
[[site]]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
server_names = ["a.test"]
root = "site"
http2_cleartext = true
[site.tls]
cert = "a.pem"
key = "a.key"
TOML
check "-t accepts the config" "$bin" -t -c "$work/forkhttpd.toml"
check "python3-h2 is there" "$python" -c 'import h2, hpack'

start_server 1 -c "$work/forkhttpd.toml"
tls_port=$(listen_port https)
plain_port=$(listen_port http)
if [[ -z $tls_port || -z $plain_port ]]; then
    cat "$log" >&2
    echo "no ports in the log" >&2
    exit 1
fi

# run SCENARIO: the client's facts (KEY=VALUE lines) in $work/SCENARIO.facts; bounded.
run() {
    timeout 120 "$python" "$here/http2_python.py" "$1" "$tls_port" "$plain_port" \
        "$work/ca.pem" "$pid" >"$work/$1.facts" 2>"$work/$1.err" \
        || echo "client_exit=$?" >>"$work/$1.facts"
    if [[ -s $work/$1.err ]]; then
        echo "$1: the client said:" >&2
        cat "$work/$1.err" >&2
    fi
}
value() { sed -n "s/^$2=//p" "$work/$1.facts" | head -1; }
# fact SCENARIO KEY VALUE...: the client saw KEY equal to one of the VALUEs.
fact() {
    local scenario=$1 key=$2 got
    shift 2
    got=$(value "$scenario" "$key")
    for want in "$@"; do [[ $got == "$want" ]] && return 0; done
    echo "  $scenario: $key is '$got', not $*" >&2
    return 1
}
# below SCENARIO KEY MAX: KEY is a number under MAX.
below() {
    local got
    got=$(value "$1" "$2")
    [[ $got =~ ^[0-9]+$ ]] && ((got < $3)) && return 0
    echo "  $1: $2 is '$got', not under $3" >&2
    return 1
}

started=$SECONDS

run flow
check "flow: ALPN chose h2" fact flow alpn h2
check "flow: HEADERS 200 with a window of 0" fact flow status 200
check "flow: no DATA while the window is 0" fact flow data_before_window 0
check "flow: the connection's window (65,535) bounds a wider stream window" \
    fact flow data_at_connection_window 65535
check "flow: then the stream's window (100,000) does" fact flow data_at_stream_window 100000
check "flow: each WINDOW_UPDATE step's bytes all came" fact flow short_steps 0
check "flow: never more DATA than the windows allow" fact flow overruns 0
check "flow: the stream ends, not reset" fact flow ended yes
check "flow: 1 MiB received" fact flow bytes 1048576
check "flow: the body's sha256" fact flow sha256 "$big_sha"
check "flow: h2 found nothing wrong" fact flow h2_error none

run stuck
check "stuck window: HEADERS 200" fact stuck status 200
check "stuck window: no DATA" fact stuck data 0
check "stuck window: a second connection is answered 200 meanwhile" fact stuck second_status 200
check "stuck window: the stream is reset with CANCEL (send timeout)" fact stuck reset 8
check "stuck window: the idle connection then gets GOAWAY NO_ERROR" fact stuck goaway 0
check "stuck window: and is closed (EOF)" fact stuck eof yes
echo "stuck window: reset after $(value stuck reset_after_s) s, GOAWAY after" \
    "$(value stuck goaway_after_s) s, EOF after $(value stuck closed_after_s) s"

run concurrency
check "streams: SETTINGS say 8 concurrent streams" fact concurrency max_concurrent_streams 8
check "streams: 8 of 12 held streams answered (1 to 15)" \
    fact concurrency answered_streams 1,3,5,7,9,11,13,15
check "streams: the 4 past the limit refused (17 to 23)" \
    fact concurrency refused_streams 17,19,21,23
check "streams: with REFUSED_STREAM" fact concurrency refused_codes 7
check "streams: no GOAWAY for it" fact concurrency goaway none
check "streams: no DATA with the window at 0" fact concurrency data 0
check "streams: the connection serves again (200)" fact concurrency after 200

run malformed
for case in connection transfer_encoding te_gzip no_path pseudo_after_regular; do
    check "malformed $case: RST_STREAM PROTOCOL_ERROR" fact malformed "$case.bad" rst:1
    check "malformed $case: the same connection then answers 200" \
        fact malformed "$case.after_on" same
    check "malformed $case: 200 after" fact malformed "$case.after" 200
done
check "malformed uppercase name: GOAWAY PROTOCOL_ERROR" fact malformed uppercase.bad goaway:1
check "malformed uppercase name: a new connection answers 200" fact malformed uppercase.after 200

run window_update_zero
check "WINDOW_UPDATE 0 on a stream: GOAWAY PROTOCOL_ERROR" fact window_update_zero goaway 1
check "WINDOW_UPDATE 0 on a stream: a new connection answers 200" fact window_update_zero after 200

run madeyoureset
for variant in window_overflow malformed_headers; do
    code=$([[ $variant == window_overflow ]] && echo 3 || echo 1)
    check "MadeYouReset $variant: 16 resets" fact madeyoureset "$variant.resets" 16
    check "MadeYouReset $variant: with error code $code" \
        fact madeyoureset "$variant.reset_codes" "$code"
    check "MadeYouReset $variant: GOAWAY ENHANCE_YOUR_CALM at the 17th" \
        fact madeyoureset "$variant.offences" 17
    check "MadeYouReset $variant: GOAWAY code 11" fact madeyoureset "$variant.goaway" 11
    check "MadeYouReset $variant: EOF" fact madeyoureset "$variant.eof" yes
    check "MadeYouReset $variant: a second connection answers 200" \
        fact madeyoureset "$variant.second_status" 200
done
check "MadeYouReset burst: GOAWAY ENHANCE_YOUR_CALM" fact madeyoureset burst.goaway 11
check "MadeYouReset burst: EOF" fact madeyoureset burst.eof yes
check "MadeYouReset burst: a second connection answers 200" \
    fact madeyoureset burst.second_status 200
check "DATA on a half-closed stream: GOAWAY PROTOCOL_ERROR at once" \
    fact madeyoureset data_on_half_closed.goaway 1
check "DATA on a half-closed stream: after one offence" \
    fact madeyoureset data_on_half_closed.offences 1
check "DATA on a half-closed stream: a second connection answers 200" \
    fact madeyoureset data_on_half_closed.second_status 200

run rapid_reset
check "Rapid Reset: GOAWAY ENHANCE_YOUR_CALM, or the connection still serves" \
    fact rapid_reset outcome goaway:11 served
check "Rapid Reset: a second connection answers 200" fact rapid_reset second_status 200
check "Rapid Reset: RSS counted for the master and its worker" fact rapid_reset rss_processes 2
check "Rapid Reset: RSS under 64 MiB during" below rapid_reset rss_during_kib 65536
check "Rapid Reset: RSS under 64 MiB after" below rapid_reset rss_after_kib 65536
echo "Rapid Reset: $(value rapid_reset pairs) pairs written, $(value rapid_reset outcome);" \
    "RSS $(value rapid_reset rss_before_kib) KiB before, $(value rapid_reset rss_during_kib)" \
    "during, $(value rapid_reset rss_after_kib) after"

run header_size
check "header list: SETTINGS say 8192" fact header_size max_header_list_size 8192
check "header list under the bound: 200" fact header_size under.result status:200
check "header list over the bound: 431" fact header_size over.result status:431
check "header list over the bound: no body" fact header_size over.body 0
check "header list over the bound: the connection then answers 200" fact header_size over.after 200
check "header list four times over: GOAWAY ENHANCE_YOUR_CALM" \
    fact header_size far_over.result goaway:11
check "header list four times over: a new connection answers 200" \
    fact header_size far_over.after 200

echo "scenarios took $((SECONDS - started)) s"
check "the server is still running" kill -0 "$pid"
kill -TERM "$pid"
wait "$pid" && code=0 || code=$?
pid=
check "graceful exit code" test "$code" = 0
# Levels stand in capitals after the time: an ERROR line, or a panic, is a failure.
if grep -qE ' ERROR |panicked' "$log"; then
    grep -E ' ERROR |panicked' "$log" >&2
fi
check "no panic or ERROR line in the server's log" bash -c "! grep -qE ' ERROR |panicked' '$log'"

echo "http2 python e2e: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
