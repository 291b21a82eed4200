# Shared by the end-to-end scripts (sourced, not run): a scratch folder removed on exit with the
# server the script started (by its pid, in $pid), and check NAME COMMAND... counting results.
work=$(mktemp -d)
log="$work/server.log"
pid=
cleanup() {
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
    rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
check() { # check NAME COMMAND...
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $name" >&2
    fi
}
