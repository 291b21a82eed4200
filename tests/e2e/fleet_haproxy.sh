#!/usr/bin/env bash
# A fleet behind a real load balancer: two forkhttpd instances serving the same folder behind
# HAProxy, which sends PROXY protocol v2 to both (from 127.0.0.9) and checks GET /healthz.
# Clients (keep-alive and new connections, from 127.0.0.2 to .5) load the balancer for about
# 30 s while instance A is stopped (TERM) and started again, then B, then each is reloaded
# (HUP). Must show: 0 failed requests; every access-log line names a client address from the
# PROXY header, never the balancer's; one ETag for the file from both instances; HAProxy marked
# each stopping instance DOWN before it closed its sockets. Prints the counts.
# Usage: tests/e2e/fleet_haproxy.sh BIN
set -euo pipefail

bin=$(realpath "$1")
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
here=$(realpath "$(dirname "$0")")

read -r port_a port_b port_front port_stats <<<"$(free_ports 4)"

mkdir -p "$work/www"
head -c 4096 /dev/urandom | base64 >"$work/www/index.html"

# instance NAME PORT: its configuration file.
instance_config() {
    cat >"$work/$1.toml" <<TOML
workers = 2
[limits]
unhealthy_before_stop = 3
[[site]]
listen = ["127.0.0.1:$2"]
root = "$work/www"
proxy_protocol = true
trusted_proxies = ["127.0.0.9/32"]
health_path = "/healthz"
access_log = { path = "$work/$1.access.log" }
TOML
}
instance_config a "$port_a"
instance_config b "$port_b"

declare -A pids
# start NAME: starts the instance and waits until its 2 workers serve.
start() {
    : >"$work/$1.log"
    "$bin" -c "$work/$1.toml" 2>>"$work/$1.log" &
    pids[$1]=$!
    for _ in $(seq 100); do
        [[ $(grep -c ') started' "$work/$1.log" || true) -ge 2 ]] && return 0
        sleep 0.1
    done
    echo "instance $1 did not start:" >&2; cat "$work/$1.log" >&2
    return 1
}

cat >"$work/haproxy.cfg" <<CFG
global
    log stdout format raw local0 info
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
frontend fleet
    bind 127.0.0.1:$port_front
    default_backend instances
listen stats
    bind 127.0.0.1:$port_stats
    stats enable
    stats uri /stats
backend instances
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host fleet.test
    http-check expect status 200
    http-response set-header X-Served-By %s
    default-server check inter 200 fall 2 rise 2 send-proxy-v2 check-send-proxy source 127.0.0.9
    server a 127.0.0.1:$port_a
    server b 127.0.0.1:$port_b
CFG

haproxy_pid=
client_pid=
fleet_cleanup() {
    for p in "${pids[@]}" "$haproxy_pid" "$client_pid"; do
        if [[ -n $p ]] && kill -0 "$p" 2>/dev/null; then kill -KILL "$p"; fi
    done
    cleanup
}
trap fleet_cleanup EXIT

start a
start b
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
haproxy_pid=$!
sleep 0.5
if ! kill -0 "$haproxy_pid" 2>/dev/null; then
    echo "HAProxy did not start:" >&2
    cat "$work/haproxy.log" >&2
    exit 1
fi

# status SERVER: its state in HAProxy (UP, DOWN, ...), from the stats CSV.
status() {
    curl -s "http://127.0.0.1:$port_stats/stats;csv" | awk -F, -v s="$1" '$1 == "instances" && $2 == s { print $18 }'
}
wait_status() { # wait_status SERVER STATE: ten seconds at most
    for _ in $(seq 100); do
        [[ $(status "$1") == "$2"* ]] && return 0
        sleep 0.1
    done
    return 1
}
check "HAProxy sees a UP" wait_status a UP
check "HAProxy sees b UP" wait_status b UP

timeout 120 python3 "$here/fleet_clients.py" "$port_front" "$work/stop" "$work/www/index.html" \
    >"$work/clients.txt" &
client_pid=$!
sleep 3

downs_before_close=0
# rolling NAME: stops the instance gracefully, checks that HAProxy took it out before it closed
# its sockets, waits for its exit, starts it again and waits until HAProxy has it back.
rolling() {
    local name=$1 pid=${pids[$1]}
    kill -TERM "$pid"
    if wait_status "$name" DOWN && ! grep -q 'stopping gracefully' "$work/$name.log"; then
        downs_before_close=$((downs_before_close + 1))
    fi
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    check "instance $name exited by itself" bash -c "! kill -0 $pid 2>/dev/null"
    start "$name"
    check "HAProxy has $name back" wait_status "$name" UP
    sleep 3
}
rolling a
rolling b
for name in a b; do
    kill -HUP "${pids[$name]}"
    sleep 3
done
sleep 2
touch "$work/stop"
wait "$client_pid" || true
client_pid=

result=$(cat "$work/clients.txt")
echo "fleet: $(head -1 <<<"$result")"
requests=$(sed -n 's/^requests=\([0-9]*\).*/\1/p' <<<"$result")
failures=$(sed -n 's/.*failures=\([0-9]*\).*/\1/p' <<<"$result" | head -1)
grep -v '^requests=' <<<"$result" | sed 's/^/  /'

# Stop both gracefully, so that their access logs are complete, and the balancer.
kill -TERM "$haproxy_pid"
wait "$haproxy_pid" 2>/dev/null || true
haproxy_pid=
for name in a b; do kill -TERM "${pids[$name]}"; done
for name in a b; do
    for _ in $(seq 200); do kill -0 "${pids[$name]}" 2>/dev/null || break; sleep 0.1; done
done
lines=$(cat "$work/a.access.log" "$work/b.access.log" | wc -l)
from_clients=$(cat "$work/a.access.log" "$work/b.access.log" | grep -cE '^127\.0\.0\.[2-5] ' || true)
from_balancer=$(cat "$work/a.access.log" "$work/b.access.log" | grep -c '^127\.0\.0\.9 ' || true)
echo "fleet: $lines access-log lines ($(wc -l <"$work/a.access.log") from a, $(wc -l <"$work/b.access.log") from b), $from_clients with a client's address, $from_balancer with the balancer's"
echo "fleet: HAProxy took a stopping instance out before it closed: $downs_before_close of 2 times"
grep -E '^Server instances/[ab] is (DOWN|UP)' "$work/haproxy.log" | sed 's/^/  haproxy: /' | head -12 || true

check "at least 3,000 requests" test "${requests:-0}" -ge 3000
check "0 failed requests" test "${failures:-1}" -eq 0
check "every access-log line names a client from the PROXY header" test "$from_clients" -eq "$lines"
check "the access logs hold every request" test "$lines" -ge "${requests:-0}"
check "both instances answered" test "$(grep -c '^etag ' <<<"$result")" -ge 2
check "one ETag for the file from both instances" \
    test "$(grep '^etag ' <<<"$result" | awk '{ print $3 }' | sort -u | wc -l)" -eq 1
check "HAProxy took each stopping instance out before it closed" test "$downs_before_close" -eq 2
check "instances reloaded" test "$(cat "$work/a.log" "$work/b.log" | grep -c 'reloading: starting')" -eq 2

echo "fleet_haproxy: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
