#!/usr/bin/env bash
# HTTP/2 over TLS with real clients, on a site whose certificate (ECDSA P-256, for a.test) comes
# from a throwaway CA. curl --http2: the protocol is 2, the body of /, HEAD (Content-Length, no
# body), a range, a 404, --compressed, a 1 MiB file's sha256, no Connection field; curl
# --http2-prior-knowledge on the site's plain port (http2_cleartext), with HTTP/1.1 still
# answered there. nghttp: a page
# and the 50 assets it links (-a), over one connection, all 200. Headless Chromium: the same
# page loaded with all its assets, which the access log must show as HTTP/2.0 requests. Then a
# graceful stop. Usage: tests/e2e/http2_clients.sh BIN
set -euo pipefail

bin=$(realpath "$1")
browser=${CHROMIUM:-chromium}
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

# A throwaway CA and a leaf for a.test signed by it.
make_ca
make_leaf a a.test DNS:a.test
# What Chromium is told to trust: the base64 sha256 of the leaf's SubjectPublicKeyInfo.
spki=$(openssl x509 -in "$work/a.pem" -pubkey -noout | openssl pkey -pubin -outform der \
    | openssl dgst -sha256 -binary | base64)

# The site: an index, a 1 MiB file, a stylesheet worth compressing, and a page linking 50
# distinct assets (25 images, 25 stylesheets and scripts), all relative so nghttp -a follows them.
site="$work/site"
mkdir -p "$site/img" "$site/css" "$site/js"
echo '<h1>hello over h2</h1>' >"$site/index.html"
head -c 1048576 /dev/urandom >"$site/big.bin"
for i in $(seq 200); do echo ".rule-$i { color: #123456; margin: 0 auto; padding: 1px; }"; done \
    >"$site/style.css"
# The smallest valid PNG: 1x1, one grey pixel.
png=iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNoAAAAggCBd81ytgAAAABJRU5ErkJggg==
assets=()
{
    echo '<!DOCTYPE html>'
    echo '<html><head><meta charset="utf-8"><title>fifty assets</title>'
    echo '<link rel="icon" href="data:,">'
    for i in $(seq -w 1 13); do
        printf '.c%s { color: #%s%s%s; }\n' "$i" "$i" "$i" "$i" >"$site/css/c$i.css"
        echo "<link rel=\"stylesheet\" href=\"css/c$i.css\">"
        assets+=("/css/c$i.css")
    done
    for i in $(seq -w 1 12); do
        echo "window.loaded$i = true;" >"$site/js/s$i.js"
        echo "<script src=\"js/s$i.js\"></script>"
        assets+=("/js/s$i.js")
    done
    echo '</head><body><h1>fifty assets</h1>'
    for i in $(seq -w 1 13); do
        base64 -d <<<"$png" >"$site/img/p$i.png"
        echo "<img src=\"img/p$i.png\" alt=\"p$i\" width=\"1\" height=\"1\">"
        assets+=("/img/p$i.png")
    done
    for i in $(seq -w 1 12); do
        echo "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4\" height=\"4\"><rect width=\"$i\" height=\"4\"/></svg>" \
            >"$site/img/v$i.svg"
        echo "<img src=\"img/v$i.svg\" alt=\"v$i\" width=\"4\" height=\"4\">"
        assets+=("/img/v$i.svg")
    done
    echo '</body></html>'
} >"$site/page.html"
printf '%s\n' "${assets[@]}" >"$work/assets.txt"
check "50 distinct assets" test "$(sort -u "$work/assets.txt" | wc -l)" -eq 50

cat >"$work/forkhttpd.toml" <<TOML
workers = 2
[[site]]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
server_names = ["a.test"]
root = "site"
compress = true
http2_cleartext = true
access_log = { path = "access.json", format = "json" }
[site.tls]
cert = "a.pem"
key = "a.key"
TOML
check "-t accepts it" "$bin" -t -c "$work/forkhttpd.toml"

start_server 2 -c "$work/forkhttpd.toml"
port=$(sed -n 's|.*listening on https://127.0.0.1:\([0-9]*\)/ for a\.test.*|\1|p' "$log" | head -1)
if [[ -z $port ]]; then
    cat "$log" >&2
    echo "no TLS port in the log" >&2
    exit 1
fi
base="https://a.test:$port"
h2curl() { curl --http2 --cacert "$work/ca.pem" --resolve "a.test:$port:127.0.0.1" --max-time 20 -sS "$@"; }

check "curl speaks HTTP/2" test "$(h2curl -o /dev/null -w '%{http_version}' "$base/")" = 2
plain_port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/ for a\.test.*|\1|p' "$log" | head -1)
h2c() { curl --http2-prior-knowledge --resolve "a.test:$plain_port:127.0.0.1" --max-time 20 -sS "$@"; }
check "curl --http2-prior-knowledge speaks HTTP/2 in cleartext" \
    test "$(h2c -o /dev/null -w '%{http_version}' "http://a.test:$plain_port/")" = 2
check "and gets the page" test "$(h2c -f "http://a.test:$plain_port/")" = '<h1>hello over h2</h1>'
check "HTTP/1.1 on the same port still works" test "$(curl -sS --http1.1 -o /dev/null \
    -w '%{http_version}' --resolve "a.test:$plain_port:127.0.0.1" "http://a.test:$plain_port/?http1")" = 1.1
check "body of /" test "$(h2curl -f "$base/")" = '<h1>hello over h2</h1>'
h2curl -I "$base/" | tr -d '\r' >"$work/head.txt" || true
check "HEAD: content-length" grep -qix 'content-length: 23' "$work/head.txt"
# -X HEAD with --ignore-content-length reads until the stream ends: whatever DATA came is counted.
check "HEAD: no body" test "$(h2curl -X HEAD --ignore-content-length -o "$work/head.body" \
    -w '%{size_download}' "$base/")" = 0
check "HEAD: nothing written" test ! -s "$work/head.body"
check "range: 206" test "$(h2curl -r 0-3 -o "$work/range.body" -w '%{http_code}' "$base/")" = 206
check "range: 4 bytes" test "$(cat "$work/range.body")" = '<h1>'
check "missing: 404" test "$(h2curl -o /dev/null -w '%{http_code}' "$base/missing")" = 404
h2curl --compressed -D "$work/css.head" -o "$work/css.body" "$base/style.css" || true
check "--compressed: content-encoding" grep -qiE '^content-encoding: (gzip|br|zstd|deflate)' "$work/css.head"
check "--compressed: the stylesheet back" cmp -s "$work/css.body" "$site/style.css"
check "1 MiB sha256" test "$(h2curl -f "$base/big.bin" | sha256sum | cut -d' ' -f1)" \
    = "$(sha256sum <"$site/big.bin" | cut -d' ' -f1)"
check "no connection field" bash -c "! grep -qi '^connection:' '$work/head.txt' '$work/css.head'"
check "no transfer-encoding or keep-alive" bash -c "! grep -qiE '^(transfer-encoding|keep-alive):' '$work/head.txt' '$work/css.head'"

# nghttp has no CA option and does not verify by default; it has no --resolve either, so it
# connects to 127.0.0.1 (no SNI for an address) and names a.test in :authority.
timeout 60 nghttp -ans -H ":authority: a.test:$port" "https://127.0.0.1:$port/page.html" \
    >"$work/nghttp.txt" 2>&1 || true
# The -s table: one row per stream, "... code size path" at the end of each.
awk '$NF ~ /^\// { print $(NF-2), $NF }' "$work/nghttp.txt" >"$work/nghttp.rows"
echo "nghttp: $(wc -l <"$work/nghttp.rows") responses, $(awk '$1 == 200' "$work/nghttp.rows" | wc -l) of them 200"
check "nghttp: page and 50 assets" test "$(wc -l <"$work/nghttp.rows")" -eq 51
check "nghttp: all 200" test "$(awk '$1 != 200' "$work/nghttp.rows" | wc -l)" -eq 0
same_paths() { # the page and every asset, each once
    diff <(awk '{ print $2 }' "$work/nghttp.rows" | sort) <( (cat "$work/assets.txt"; echo /page.html) | sort) >/dev/null
}
check "nghttp: each path once" same_paths
timeout 60 nghttp -anv -H ":authority: a.test:$port" "https://127.0.0.1:$port/page.html" \
    >"$work/nghttp.v.txt" 2>&1 || true
check "nghttp: one connection" test "$(grep -c 'Connected' "$work/nghttp.v.txt")" -eq 1
check "nghttp: h2 by ALPN" grep -q 'negotiated protocol: h2$' "$work/nghttp.v.txt"

timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d "$work/profile.XXXX")" \
    --host-resolver-rules="MAP a.test 127.0.0.1" --ignore-certificate-errors-spki-list="$spki" \
    --virtual-time-budget=10000 --dump-dom "$base/page.html" >"$work/chromium.dom" \
    2>>"$work/chromium.log" || true
check "chromium: the page" grep -q '<h1>fifty assets</h1>' "$work/chromium.dom"

kill -TERM "$pid"
wait "$pid" && code=0 || code=$?
pid=
check "graceful exit code" test "$code" = 0

# Each worker writes its buffered lines before it exits. Chromium's lines, by its user agent.
python3 - "$work/access.json" "$work/assets.txt" >"$work/chromium.count" <<'PY' || true
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
chrome = [l for l in lines if "Chrome" in (l.get("user_agent") or "")]
wanted = {"/page.html"} | {a.strip() for a in open(sys.argv[2])}
got = {l["target"] for l in chrome if l["protocol"] == "HTTP/2.0" and l["status"] == 200}
print(len(wanted & got), len(chrome), sorted({l["protocol"] for l in chrome}))
print("missing:", sorted(wanted - got))
PY
echo "chromium: $(head -1 "$work/chromium.count" | cut -d' ' -f1) of 51 (page and assets) logged as HTTP/2.0 200" \
    "($(head -1 "$work/chromium.count" | cut -d' ' -f2-) lines from Chromium)"
all_logged() { # or say which are missing
    [[ $(head -1 "$work/chromium.count" | cut -d' ' -f1) == 51 ]] || ! sed -n 2p "$work/chromium.count" >&2
}
check "chromium: page and 50 assets over HTTP/2.0" all_logged
check "every logged line but the one HTTP/1.1 request is HTTP/2.0" python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
http1 = [l for l in lines if l["target"] == "/?http1"]
assert len(http1) == 1 and http1[0]["protocol"] == "HTTP/1.1", http1
rest = [l for l in lines if l["target"] != "/?http1"]
assert rest and all(l["protocol"] == "HTTP/2.0" for l in rest), {l["protocol"] for l in rest}
' "$work/access.json"

echo "http2 e2e: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
