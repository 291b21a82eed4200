#!/usr/bin/env bash
# A directory listing in a real browser (headless Chromium): screenshots at 1200 and 390 px
# wide, light and dark, and layout checks. The listing's CSP forbids script, so the checks run
# in a same-origin harness page (a plain file in the served folder) that frames the listing and
# writes what it measures into its own DOM, read back with --dump-dom.
# Usage: tests/e2e/listing_browser.sh PATH/TO/forkhttpd [SCREENSHOT_DIR (default: docs)]
set -euo pipefail

bin=$(realpath "$1")
mkdir -p "${2:-docs}"
shots=$(realpath "${2:-docs}")
browser=${CHROMIUM:-chromium}
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

# The folder shown: folders, sizes from bytes to GiB (sparse files), a name too long for a
# phone, Unicode, and the names that once broke listings. Fixed times make the screenshots
# reproducible.
files="$work/site/files"
mkdir -p "$files/photos" "$files/src" "$files/Quarterly reports 2026"
long=a-very-long-file-name-without-any-spaces-that-has-to-wrap-on-a-phone-screen.tar.gz
# No hyphen or space to break at: only overflow-wrap:anywhere keeps it on screen.
hash=sha256-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.bin
for spec in README.md:2345 notes.txt:312 report-v2.pdf:1843200 report-v10.pdf:1990000 \
    "$long":734003200 "$hash":65536 "résumé.pdf":41000 "café menu.html":9100 \
    "javascript:alert(document.domain)":17 "x&amp;y.txt":4 backup.img:4294967296; do
    truncate -s "${spec##*:}" "$files/${spec%:*}"
done
touch -d '2026-12-01 23:04:05 UTC' "$files"/* "$files"/*/
touch -d '2026-11-28 09:15:00 UTC' "$files/notes.txt" "$files/photos"

cat >"$work/site/harness.html" <<'HTML'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>harness</title></head><body>
<pre id="out">pending</pre>
<iframe id="frame" src="/files/" style="width:390px;height:800px;border:0"></iframe>
<script>
document.getElementById('frame').addEventListener('load', function () {
  var doc = this.contentDocument, root = doc.documentElement, out = [];
  out.push('overflow=' + (root.scrollWidth > root.clientWidth ? 'yes' : 'no'));
  var long = Array.prototype.find.call(doc.querySelectorAll('tbody a'), function (a) {
    return a.textContent.indexOf('a-very-long') === 0;
  });
  out.push('long-lines=' + long.getClientRects().length);
  out.push('long-fits=' + (long.getBoundingClientRect().right <= root.clientWidth ? 'yes' : 'no'));
  var hash = Array.prototype.find.call(doc.querySelectorAll('tbody a'), function (a) {
    return a.textContent.indexOf('sha256-') === 0;
  });
  out.push('hash-lines=' + hash.getClientRects().length);
  var cells = doc.querySelectorAll('tbody td:nth-child(2)'), broken = 0;
  cells.forEach(function (td) {
    var range = doc.createRange();
    range.selectNodeContents(td);
    if (range.getClientRects().length > 1) broken++;
  });
  out.push('size-cells=' + cells.length);
  out.push('broken-sizes=' + broken);
  out.push('background=' + getComputedStyle(doc.body).backgroundColor);
  document.getElementById('out').textContent = out.join('\n');
});
</script>
</body></html>
HTML

start_server 1 -w 1 -l 127.0.0.1:0 --listing --compress "$work/site"
port=$(listen_port http)
base="http://127.0.0.1:$port"

chromium() { # chromium FLAGS... : headless, loopback only, bounded in time
    timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --hide-scrollbars --user-data-dir="$(mktemp -d "$work/profile.XXXX")" "$@" \
        2>>"$work/chromium.log"
}
# preferredColorScheme: 0 is dark, 1 is light (Blink's enum); set both ways so the host's own
# setting never leaks in. --force-dark-mode alone also makes prefers-color-scheme: dark.
scheme_flags() {
    if [[ $1 == dark ]]; then
        echo "--force-dark-mode --blink-settings=preferredColorScheme=0"
    else
        echo "--blink-settings=preferredColorScheme=1"
    fi
}

for scheme in light dark; do
    # shellcheck disable=SC2046 # the flags are words
    chromium $(scheme_flags $scheme) --virtual-time-budget=5000 --dump-dom \
        "$base/harness.html" >"$work/$scheme.dom" || true
    sed -n '/<pre id="out">/,/<\/pre>/p' "$work/$scheme.dom" | sed 's/<[^>]*>//g' >"$work/$scheme.txt"
    echo "$scheme at 390 px: $(tr '\n' ' ' <"$work/$scheme.txt")"
    measured() { grep -qx "$1" "$work/$scheme.txt"; }
    check "$scheme 390: no horizontal scroll" measured 'overflow=no'
    check "$scheme 390: long name fits" measured 'long-fits=yes'
    check "$scheme 390: long name wraps" bash -c "grep -qx 'long-lines=[2-9]' '$work/$scheme.txt'"
    check "$scheme 390: name without break points wraps" bash -c "grep -qx 'hash-lines=[2-9]' '$work/$scheme.txt'"
    check "$scheme 390: size cells measured" bash -c "! grep -qx 'size-cells=0' '$work/$scheme.txt' && grep -q '^size-cells=' '$work/$scheme.txt'"
    check "$scheme 390: no size breaks across lines" measured 'broken-sizes=0'
    for width in 1200 390; do
        height=$((width == 390 ? 720 : 640))
        shot="$shots/listing-$width-$scheme.png"
        rm -f "$shot"
        # shellcheck disable=SC2046
        chromium $(scheme_flags $scheme) --window-size="$width,$height" \
            --screenshot="$shot" "$base/files/" >/dev/null || true
        check "screenshot $width $scheme" test -s "$shot"
    done
done
light=$(sed -n 's/^background=//p' "$work/light.txt")
dark=$(sed -n 's/^background=//p' "$work/dark.txt")
echo "background: light $light, dark $dark"
check "dark mode changes the background" test -n "$light" -a -n "$dark" -a "$light" != "$dark"
check "dark screenshot differs" bash -c "! cmp -s '$shots/listing-1200-light.png' '$shots/listing-1200-dark.png'"

kill -TERM "$pid"
wait "$pid" || true
pid=
echo "$passed passed, $failed failed (screenshots in $shots)"
[[ $failed -eq 0 ]]
