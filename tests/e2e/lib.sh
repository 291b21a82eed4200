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

# start_server WORKERS ARGS...: runs "$bin" ARGS with its log in $log (emptied first) and its
# pid in $pid, and waits, ten seconds at most, until WORKERS workers have said they started.
start_server() {
    local workers=$1
    shift
    : >"$log"
    "$bin" "$@" 2>"$log" &
    pid=$!
    for _ in $(seq 100); do
        [[ $(grep -c ') started' "$log" || true) -ge $workers ]] && break
        sleep 0.1
    done
}

# listen_port SCHEME: the port of the first SCHEME (http or https) socket the log announces.
listen_port() {
    sed -n "s|.*listening on $1://127.0.0.1:\([0-9]*\)/.*|\1|p" "$log" | head -1
}

# make_ca: a throwaway CA (ECDSA P-256, valid two days) in $work/ca.pem and $work/ca.key.
make_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=forkhttpd e2e CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
}

# make_leaf STEM CN SAN: a certificate for CN and the subjectAltName SAN (DNS:a.test,IP:...)
# signed by that CA, in $work/STEM.pem with its key in $work/STEM.key.
make_leaf() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
        -keyout "$work/$1.key" -out "$work/$1.csr" 2>/dev/null
    printf 'subjectAltName=%s\n' "$3" >"$work/$1.ext"
    openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
        -CAcreateserial -days 2 -extfile "$work/$1.ext" -out "$work/$1.pem" 2>/dev/null
}

# free_ports N: N distinct free loopback ports, picked with their sockets held together (bound
# and closed one at a time, the kernel may give the same port twice).
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
