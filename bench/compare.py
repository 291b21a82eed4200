#!/usr/bin/env python3
"""Runs the side-by-side benchmark (see bench/compare.sh) and prints markdown tables.

Workloads with a variant change the servers' configuration: "tls" serves HTTPS only, with one
ECDSA P-256 certificate made here for both servers (nginx with session tickets on); "log" turns the access log on (to a
file; nginx with `buffer=64k flush=1s`, as forkhttpd buffers), "sites-first"/"sites-last" load a
configuration of SITES sites with RULES_PER_SITE header rules each and ask for the first or the
last site by Host. Only forkhttpd and nginx run those.

Each server gets the same docroot and worker count, pinned to its own core(s) with taskset, and
wrk is pinned to another. Every workload runs on every server in turn (interleaved), for several
rounds; the table shows medians over rounds. "req/CPU-s" is requests per CPU-second of the
server's processes (utime + stime from /proc over the run), the fair measure when wrk itself is
the bottleneck; "ratio" is that figure divided by nginx's in the same round, then the median.
"client CPU" is the load generator's CPU time over the run, as a share of one core.

The handshake rows ("new TLS connection per request") use `openssl s_time` instead of wrk, which
never resumes a TLS session: several s_time processes in parallel, one request per connection,
full handshakes with -new and resumed ones (TLS 1.3 session tickets) with -reuse, so the two rows
come from the same client and differ only in the handshake. Their rate column says what share of
the connections s_time saw resumed (the lowest over rounds); see run_s_time.

The HTTP/2 rows ("over HTTP/2") use h2load over TLS with the same certificate: nginx listens with
`ssl http2`, forkhttpd offers h2 by ALPN on its TLS listener. A row counts h2load's succeeded
requests, and fails if any request failed or h2load did not negotiate h2; see run_h2load.
"""

import argparse
import math
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVERS = ["forkhttpd", "nginx", "nginx-ofc", "lighttpd", "python"]

SITES = 1000
RULES_PER_SITE = 10

# Parallel `openssl s_time` processes for the handshake rows (see run_s_time).
S_TIME_PROCESSES = 4

WORKLOADS = [
    # name, path, connections, extra wrk args, unit, variant
    ("1 KiB, keep-alive", "/small.html", 64, [], "req/s", None),
    ("1 KiB, new connection per request", "/small.html", 64, ["-H", "Connection: close"], "req/s", None),
    ("404, keep-alive", "/missing", 64, [], "req/s", None),
    ("16 pipelined per write", "/index.html", 64, ["PIPELINE"], "req/s", None),
    ("64 KiB, keep-alive", "/64k.bin", 64, [], "MB/s", None),
    ("16 MiB, 8 connections", "/16m.bin", 8, [], "MB/s", None),
    ("1 KiB, keep-alive, access log on", "/small.html", 64, [], "req/s", "log"),
    (f"1 KiB, {SITES:,} sites: the first", "/small.html", 64, ["-H", "Host: site1.test"], "req/s", "sites-first"),
    (f"1 KiB, {SITES:,} sites: the last", "/small.html", 64, ["-H", f"Host: site{SITES}.test"], "req/s", "sites-last"),
    ("1 KiB, keep-alive, TLS", "/small.html", 64, [], "req/s", "tls"),
    # openssl s_time: "connections" is the number of s_time processes, each one connection at a time.
    ("1 KiB, new TLS connection per request (full handshakes)", "/small.html", S_TIME_PROCESSES,
     ["S_TIME", "-new"], "req/s", "tls"),
    ("1 KiB, new TLS connection per request (resumed handshakes)", "/small.html", S_TIME_PROCESSES,
     ["S_TIME", "-reuse"], "req/s", "tls"),
    ("16 MiB, 8 connections, TLS", "/16m.bin", 8, [], "MB/s", "tls"),
    # h2load: "connections" is h2load's -c, the rest its other arguments (streams per connection).
    ("1 KiB over HTTP/2, h2load -c 16 -m 32", "/small.html", 16, ["H2LOAD", "-m32"], "req/s", "h2"),
    ("64 KiB over HTTP/2, h2load -c 16 -m 8", "/64k.bin", 16, ["H2LOAD", "-m8"], "MB/s", "h2"),
]

# Servers that run the workloads with a variant.
VARIANT_SERVERS = {"forkhttpd", "nginx", "nginx-ofc"}

PIPELINE_LUA = """
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/index.html") end
  req = table.concat(r)
end
request = function() return req end
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree(pid):
    """pid and all its descendants."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, p in parents.items():
            if p == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sorted(tree)


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class Server:
    def __init__(self, name, args, work, docroot, cpus, variant=None):
        self.name, self.args, self.work, self.docroot, self.cpus = name, args, work, docroot, cpus
        self.variant = variant
        self.port = free_port()
        self.process = None
        self.startup = float("nan")
        self.access_log = os.path.join(work, f"{name}.access.log")

    def command(self):
        workers, port, root, work = self.args.workers, self.port, self.docroot, self.work
        sites = self.variant in ("sites-first", "sites-last")
        if self.name == "forkhttpd":
            if sites:
                conf = os.path.join(work, "forkhttpd-sites.toml")
                with open(conf, "w") as f:
                    f.write(f'workers = {workers}\nlog_level = "error"\n')
                    for site in range(1, SITES + 1):
                        f.write(f'[[site]]\nlisten = ["127.0.0.1:{port}"]\nserver_names = ["site{site}.test"]\nroot = "{root}"\n')
                        for rule in range(RULES_PER_SITE):
                            f.write(f'[[site.headers]]\npath = "/assets{rule}/**"\nset = {{ "Cache-Control" = "max-age={rule}" }}\n')
                return [self.args.forkhttpd, "-c", conf]
            log = ["--access-log", self.access_log] if self.variant == "log" else []
            if self.variant in ("tls", "h2"):
                cert, key = tls_pair(work)
                listen = ["--tls-listen", f"127.0.0.1:{port}", "--cert", cert, "--key", key]
                if self.variant == "h2":
                    # nginx's keepalive_timeout (65 s below) is also its HTTP/2 idle timeout.
                    listen += ["--keepalive-timeout", "65"]
            else:
                listen = ["-l", f"127.0.0.1:{port}"]
            return [self.args.forkhttpd, "-w", str(workers), "--log-level", "error"] + listen + log + [root]
        if self.name.startswith("nginx"):
            cache = "open_file_cache max=10000 inactive=20s; open_file_cache_valid 1s;" if self.name == "nginx-ofc" else ""
            log = f"access_log {self.access_log} combined buffer=64k flush=1s;" if self.variant == "log" else "access_log off;"
            if sites:
                locations = "".join(f'location /assets{rule}/ {{ add_header Cache-Control "max-age={rule}"; }} '
                                    for rule in range(RULES_PER_SITE))
                # Only one server block may say reuseport for an address.
                servers = "".join(f"server {{ listen 127.0.0.1:{port}{' reuseport' if site == 1 else ''}; "
                                  f"server_name site{site}.test; root {root}; {locations}}}\n"
                                  for site in range(1, SITES + 1))
            elif self.variant in ("tls", "h2"):
                cert, key = tls_pair(work)
                # nginx 1.22 turns HTTP/2 on in `listen` (1.25.1 and later: `http2 on;`).
                # keepalive_requests also bounds the requests of an HTTP/2 connection (1,000 by
                # default, then GOAWAY); forkhttpd sets no such bound on HTTP/2, so neither does
                # nginx here.
                h2 = " http2" if self.variant == "h2" else ""
                bound = " keepalive_requests 100000000;" if self.variant == "h2" else ""
                servers = (f"server {{ listen 127.0.0.1:{port} ssl{h2} reuseport; root {root}; "
                           f"ssl_certificate {cert}; ssl_certificate_key {key};{bound} "
                           "ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets on; }")
            else:
                servers = f"server {{ listen 127.0.0.1:{port} reuseport; root {root}; }}"
            conf = os.path.join(work, f"{self.name}.conf")
            with open(conf, "w") as f:
                f.write(f"""
user root; worker_processes {workers}; daemon off; pid {work}/{self.name}.pid;
error_log {work}/{self.name}.error.log error; worker_rlimit_nofile 65536;
events {{ worker_connections 10240; }}
http {{
  include /etc/nginx/mime.types; default_type application/octet-stream;
  server_names_hash_max_size 4096; server_names_hash_bucket_size 128;
  {log} sendfile on; keepalive_timeout 65; {cache}
  {servers}
}}
""")
            return ["nginx", "-c", conf, "-e", f"{work}/{self.name}.error.log"]
        if self.name == "lighttpd":
            conf = os.path.join(work, "lighttpd.conf")
            with open(conf, "w") as f:
                f.write(f"""
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.max-worker = {0 if workers == 1 else workers}
server.max-connections = 10240
server.max-fds = 20000
server.errorlog = "{work}/lighttpd.error.log"
index-file.names = ("index.html")
mimetype.assign = (".html" => "text/html", ".bin" => "application/octet-stream")
""")
            return ["lighttpd", "-D", "-f", conf]
        if self.name == "python":
            return [sys.executable, "-m", "http.server", "-b", "127.0.0.1", "-d", root, str(port)]
        raise ValueError(self.name)

    def start(self):
        began = time.monotonic()
        self.process = subprocess.Popen(
            ["taskset", "-c", self.cpus] + self.command(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.work,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as raw:
                    s = raw
                    if self.variant in ("tls", "h2"):
                        # No ALPN offered: HTTP/1.1 on the h2 variant too.
                        context = ssl.create_default_context()
                        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                        s = context.wrap_socket(raw, server_hostname="bench.test")
                    s.sendall(b"GET /small.html HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
                    if s.recv(12).startswith(b"HTTP/1."):
                        self.startup = time.monotonic() - began
                        time.sleep(0.2)
                        return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"{self.name} did not start")

    def pids(self):
        return process_tree(self.process.pid)

    def stop(self):
        if self.process and self.process.poll() is None:
            for pid in reversed(self.pids()):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.process.wait()
        if os.path.exists(self.access_log):
            os.remove(self.access_log)


def run_wrk(args, server, workload, duration):
    name, path, connections, extra, unit, _ = workload
    command = ["taskset", "-c", args.client_cpus, "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if extra == ["PIPELINE"]:
        command += ["-s", args.pipeline_lua]
    else:
        command += extra
    scheme = "https" if server.variant == "tls" else "http"
    command.append(f"{scheme}://127.0.0.1:{server.port}{path}")
    pids = server.pids()
    before = cpu_ticks(pids)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode()
    _, _, usage = os.wait4(process.pid, 0)
    server_cpu = (cpu_ticks(pids) - before) / CLK_TCK
    wrk_cpu = (usage.ru_utime + usage.ru_stime) / duration * 100

    def latency(percent):
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if not match:
            return float("nan")
        value, scale = float(match.group(1)), {"us": 0.001, "ms": 1, "s": 1000}[match.group(2)]
        return value * scale

    p50, p99 = latency(50), latency(99)
    if p50 == 0:
        # The whole histogram reads 0 (seen on pipelined runs): no median to show.
        p50 = float("nan")
    if p99 == 0 or p99 < p50:
        # wrk's histogram breaks down on some pipelined runs (later percentiles read 0); its
        # maximum is then the only honest bound.
        maximum = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", output)
        bound = float(maximum.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[maximum.group(2)] if maximum else 0
        p99 = -bound if bound > 0 else float("nan")  # negative: marked as a bound in the table
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    megabytes = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", output)
    scale = {"B": 1e-6, "KB": 1e-3, "MB": 1, "GB": 1e3}[megabytes.group(2)] * 1.048576 if megabytes else 0
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    rate = requests / duration if unit == "req/s" else float(megabytes.group(1)) * scale
    return {
        "rate": rate,
        "p50": p50,
        "p99": p99,
        "per_cpu": requests / server_cpu if server_cpu > 0 else float("nan"),
        "wrk_cpu": wrk_cpu,
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
        "startup": server.startup,
    }


def run_load(args, server, workload, duration):
    if workload[3][:1] == ["S_TIME"]:
        return run_s_time(args, server, workload, duration)
    if workload[3][:1] == ["H2LOAD"]:
        return run_h2load(args, server, workload, duration)
    return run_wrk(args, server, workload, duration)


def run_s_time(args, server, workload, duration):
    """The handshake rows: `openssl s_time`, since wrk never resumes a TLS session.

    s_time makes one connection at a time, sends `GET path HTTP/1.0` (so the server closes after
    one response) and reads to the end; several run in parallel, on the client core(s) as wrk does.
    "-new" makes every handshake a full one; "-reuse" resumes, on every connection, the session of
    the one before it (TLS 1.3 tickets, pinned with -tls1_3; s_time does not verify the
    certificate, nor does the resumed handshake carry one). Requests are s_time's own counts, plus
    the one uncounted full handshake each "-reuse" process makes first to get its session. s_time
    prints a mark per connection, "r" when SSL_session_reused() says it resumed: the share of those
    is checked and shown in the table, so a server that stops resuming cannot pass unnoticed.
    """
    name, path, processes, extra, unit, _ = workload
    mode = extra[1]
    command = ["taskset", "-c", args.client_cpus, "openssl", "s_time", "-connect", f"127.0.0.1:{server.port}",
               "-www", path, mode, "-tls1_3", "-time", str(duration)]
    pids = server.pids()
    before = cpu_ticks(pids)
    began = time.monotonic()
    # Output to files, not pipes: one mark per connection can outgrow a pipe read one at a time.
    outputs, running = [], []
    for index in range(processes):
        out = tempfile.TemporaryFile(dir=server.work)
        outputs.append(out)
        running.append(subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT))
    client_cpu = 0.0
    for process in running:
        _, _, usage = os.wait4(process.pid, 0)
        client_cpu += usage.ru_utime + usage.ru_stime
    elapsed = time.monotonic() - began
    server_cpu = (cpu_ticks(pids) - before) / CLK_TCK
    requests = marks = reused = 0
    short = False
    body = os.path.getsize(os.path.join(server.docroot, path.lstrip("/")))
    for out in outputs:
        out.seek(0)
        output = out.read().decode(errors="replace")
        out.close()
        summary = re.search(r"^(\d+) connections in \d+ real seconds, (\d+) bytes read per connection", output, re.M)
        if not summary:
            # s_time gives up without a summary when one connection fails.
            raise SystemExit(f"s_time against {server.name} failed:\n{output[-2000:]}")
        counted = int(summary.group(1))
        progress = "".join(re.findall(r"^[*rt3]+$", output, re.M))
        if len(progress) != counted:
            raise SystemExit(f"s_time against {server.name}: {len(progress)} marks for {counted} connections")
        requests += counted + (1 if mode == "-reuse" else 0)
        marks += len(progress)
        reused += progress.count("r")
        # s_time does not look at the status: a response shorter than the file is an error page.
        short |= int(summary.group(2)) < body
    return {
        "rate": requests / elapsed,
        "p50": float("nan"),
        "p99": float("nan"),
        "per_cpu": requests / server_cpu if server_cpu > 0 else float("nan"),
        "wrk_cpu": client_cpu / elapsed * 100,
        "non2xx": requests if short else 0,
        "socket_errors": "",
        "startup": server.startup,
        "reused": reused / marks if marks else float("nan"),
    }


def run_h2load(args, server, workload, duration):
    """The HTTP/2 rows: h2load, one thread on the client core(s), -c connections of -m streams each.

    Requests are h2load's "succeeded" count (2xx and 3xx); a failed or errored request, or a
    connection that did not negotiate h2 by ALPN, stops the run rather than making a row of it.
    h2load reports no percentiles, so the latency cells read n/a.
    """
    name, path, connections, extra, unit, _ = workload
    command = ["taskset", "-c", args.client_cpus, "h2load", "-t1", f"-c{connections}", *extra[1:],
               "-D", str(duration), f"https://127.0.0.1:{server.port}{path}"]
    pids = server.pids()
    before = cpu_ticks(pids)
    began = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - began
    server_cpu = (cpu_ticks(pids) - before) / CLK_TCK
    client_cpu = usage.ru_utime + usage.ru_stime
    counts = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                       r"(\d+) errored, (\d+) timeout", output)
    protocol = re.search(r"Application protocol: (\S+)", output)
    if status or not counts or not protocol:
        raise SystemExit(f"h2load against {server.name} failed:\n{output[-2000:]}")
    if protocol.group(1) != "h2":
        raise SystemExit(f"h2load against {server.name} negotiated {protocol.group(1)}, not h2")
    succeeded, failed, errored, timeout = (int(counts.group(i)) for i in (4, 5, 6, 7))
    if failed or errored or timeout:
        raise SystemExit(f"h2load against {server.name}: {failed} failed, {errored} errored, "
                         f"{timeout} timed out:\n{output[-2000:]}")
    tls = re.search(r"TLS Protocol: (\S+)\nCipher: (\S+)", output)
    finished = re.search(r"finished in ([\d.]+)(ms|s),", output)
    measured = float(finished.group(1)) * {"ms": 0.001, "s": 1}[finished.group(2)] if finished else duration
    traffic = re.search(r"traffic: \S+ \((\d+)\) total", output)
    rate = succeeded / measured if unit == "req/s" else int(traffic.group(1)) / measured / 1e6
    return {
        "rate": rate,
        "p50": float("nan"),
        "p99": float("nan"),
        "per_cpu": succeeded / server_cpu if server_cpu > 0 else float("nan"),
        "wrk_cpu": client_cpu / elapsed * 100,
        "non2xx": 0,
        "socket_errors": "",
        "startup": server.startup,
        "tls": f"{tls.group(1)} {tls.group(2)}" if tls else "?",
    }


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(kind, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


# GET / on stream 1, HPACK: :method GET, :scheme https, :path / from the static table, and
# :authority "b" as a literal without indexing.
H2_GET = h2_frame(1, 0x5, 1, bytes([0x82, 0x87, 0x84, 0x01, 0x01]) + b"b")


def h2_request(s):
    """Opens HTTP/2 on a TLS socket that chose h2: preface, SETTINGS, one GET, read to its end.

    Answers the server's SETTINGS with an ACK; returns once stream 1 has ended, with the
    connection open and idle (no stream, nothing unacknowledged).
    """
    s.sendall(H2_PREFACE + h2_frame(4, 0, 0) + H2_GET)
    pending, acked, ended, status = b"", False, False, None
    while not (ended and acked):
        while len(pending) < 9 or len(pending) < 9 + int.from_bytes(pending[:3], "big"):
            data = s.recv(65536)
            if not data:
                raise SystemExit("the server closed an HTTP/2 connection before answering")
            pending += data
        length = int.from_bytes(pending[:3], "big")
        kind, flags, stream = pending[3], pending[4], int.from_bytes(pending[5:9], "big") & 0x7FFFFFFF
        payload, pending = pending[9:9 + length], pending[9 + length:]
        if kind == 4 and not flags & 1:
            s.sendall(h2_frame(4, 1, 0))
        elif kind == 4:
            acked = True
        elif kind == 7:
            raise SystemExit(f"GOAWAY from the server: {payload.hex()}")
        elif kind == 3 and stream == 1:
            raise SystemExit(f"the server reset stream 1: {payload.hex()}")
        elif kind == 1 and stream == 1:
            status = payload[:1]
        if kind in (0, 1) and stream == 1 and flags & 1:
            ended = True
    # :status 200 is index 8 of HPACK's static table (0x88, indexed).
    if status != b"\x88":
        raise SystemExit(f"HTTP/2 GET / did not answer 200 (first header byte {status!r})")


def idle_rss(server, count):
    """RSS of the server with `count` idle keep-alive connections, each after one request."""
    sockets = []
    context = None
    if server.variant in ("tls", "h2"):
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        if server.variant == "h2":
            context.set_alpn_protocols(["h2"])
    try:
        for i in range(count):
            # Spread the client ends over several source addresses: one address has too few
            # ephemeral ports left when earlier runs filled TIME_WAIT.
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10,
                                         source_address=(f"127.0.0.{2 + i % 200}", 0))
            if context:
                s = context.wrap_socket(s, server_hostname="bench.test")
            sockets.append(s)
            if server.variant == "h2":
                if s.selected_alpn_protocol() != "h2":
                    raise SystemExit(f"{server.name} chose {s.selected_alpn_protocol()!r} by ALPN, not h2")
                # One request at a time: each connection then sits idle, settings acknowledged.
                h2_request(s)
            else:
                s.sendall(b"GET /small.html HTTP/1.1\r\nHost: b\r\n\r\n")
        for s in sockets:
            if server.variant == "h2":
                continue
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(4096)
        time.sleep(1)
        return rss_kib(server.pids())
    finally:
        for s in sockets:
            s.close()


def tls_pair(work):
    """An ECDSA P-256 certificate and key for the TLS rows, made once per run."""
    cert, key = os.path.join(work, "bench.pem"), os.path.join(work, "bench.key")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "30", "-subj", "/CN=bench.test", "-keyout", key, "-out", cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def make_docroot(path):
    os.makedirs(os.path.join(path, "folder"), exist_ok=True)
    with open(os.path.join(path, "index.html"), "wb") as f:
        f.write((b"<!DOCTYPE html><title>bench</title>" + b"x" * 1024)[:1024])
    with open(os.path.join(path, "small.html"), "wb") as f:
        f.write(os.urandom(512).hex().encode()[:1024])
    with open(os.path.join(path, "64k.bin"), "wb") as f:
        f.write(os.urandom(64 * 1024))
    with open(os.path.join(path, "16m.bin"), "wb") as f:
        f.write(os.urandom(16 * 1024 * 1024))
    with open(os.path.join(path, "folder", "index.html"), "wb") as f:
        f.write(b"folder\n")
    os.chmod(path, 0o755)


def median(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description="forkhttpd side-by-side benchmark")
    parser.add_argument("--forkhttpd", required=True)
    parser.add_argument("--workers", default="1", help="comma-separated worker counts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--workloads", default="", help="substring filter on workload names")
    parser.add_argument("--idle", type=int, default=10000, help="idle connections for the RSS row (0: skip)")
    parser.add_argument("--idle-tls", action="store_true", help="hold the idle connections over TLS")
    parser.add_argument("--idle-h2", action="store_true",
                        help="hold the idle connections over HTTP/2 (TLS, ALPN h2), each after one request")
    args = parser.parse_args()
    args.forkhttpd = os.path.abspath(args.forkhttpd)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    servers = [s for s in args.servers.split(",") if s]
    workloads = [w for w in WORKLOADS if args.workloads.lower() in w[0].lower()]
    work = tempfile.mkdtemp(prefix="forkhttpd-bench-")
    os.chmod(work, 0o755)
    docroot = os.path.join(work, "www")
    make_docroot(docroot)
    args.pipeline_lua = os.path.join(work, "pipeline.lua")
    with open(args.pipeline_lua, "w") as f:
        f.write(PIPELINE_LUA)
    cores = os.cpu_count()
    try:
        for workers in [int(w) for w in args.workers.split(",")]:
            args.workers = workers
            # The server gets cores 1..workers, the load generator core 0 (and the rest).
            server_cpus = f"1-{workers}" if workers > 1 else "1"
            args.client_cpus = "0" if workers + 1 >= cores else f"0,{workers + 1}-{cores - 1}"
            # Idle memory first, before load leaves the loopback ports in TIME_WAIT.
            idle = {}
            if args.idle:
                for name in servers:
                    variant = "h2" if args.idle_h2 else "tls" if args.idle_tls else None
                    if name == "python" or (variant and name not in VARIANT_SERVERS):
                        continue
                    server = Server(name, args, work, docroot, server_cpus, variant)
                    server.start()
                    try:
                        base = rss_kib(server.pids())
                        idle[name] = (base, idle_rss(server, args.idle))
                    finally:
                        server.stop()
            results = {}
            for round_index in range(args.rounds):
                for workload in workloads:
                    for name in servers:
                        if name == "python" and workers > 1:
                            continue
                        if workload[5] and name not in VARIANT_SERVERS:
                            continue
                        server = Server(name, args, work, docroot, server_cpus, workload[5])
                        server.start()
                        try:
                            if args.warmup:
                                run_load(args, server, workload, args.warmup)
                            result = run_load(args, server, workload, args.duration)
                        finally:
                            server.stop()
                        results.setdefault((workload[0], name), []).append(result)
                        resumed = f" resumed {result['reused']:.1%}" if "reused" in result else ""
                        resumed += f" {result['tls']}" if "tls" in result else ""
                        print(f"round {round_index + 1} {workload[0]:36} {name:10} {result['rate']:>10.0f} "
                              f"{result['per_cpu']:>10.0f}/CPU-s client {result['wrk_cpu']:3.0f}%{resumed}",
                              file=sys.stderr)
            report(workers, servers, workloads, results, idle, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def p99_text(runs):
    """The median p99; a negative value is a bound from wrk's maximum (see run_wrk)."""
    value = median([r["p99"] for r in runs])
    if math.isnan(value):
        return "n/a"
    return f"≤ {-value:.2f} (max)" if value < 0 else f"{value:.2f}"


def p50_text(runs):
    value = median([r["p50"] for r in runs])
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def report(workers, servers, workloads, results, idle, args):
    print(f"\n### {workers} worker{'s' if workers > 1 else ''} each, {args.rounds} rounds of {args.duration} s, "
          f"medians (server on its own core{'s' if workers > 1 else ''}, the client on another)\n")
    print("| workload | server | rate | p50 ms | p99 ms | req/CPU-s | client CPU | ratio to nginx (req/CPU-s): median (range) |")
    print("|---|---|---|---|---|---|---|---|")
    for workload in workloads:
        name, unit = workload[0], workload[4]
        nginx = results.get((name, "nginx"))
        for server in servers:
            runs = results.get((name, server))
            if not runs:
                continue
            ratio = "-"
            if nginx:
                ratios = [r["per_cpu"] / n["per_cpu"] for r, n in zip(runs, nginx)]
                ratio = f"{median(ratios):.2f}x"
                if len(ratios) > 1 and server != "nginx":
                    # The spread says how far one round's ratio can be trusted on this machine.
                    ratio += f" ({min(ratios):.2f}–{max(ratios):.2f})"
            wrk = median([r["wrk_cpu"] for r in runs])
            mark = " (client-bound)" if wrk >= 95 else ""
            errors = sum(r["non2xx"] for r in runs)
            note = f", {errors} non-2xx" if errors and "404" not in name else ""
            if "reused" in runs[0]:
                # The lowest share over rounds: a resumed row is only one if every round resumed.
                note += f", {min(r['reused'] for r in runs):.1%} resumed"
            print(f"| {name} | {server} | {median([r['rate'] for r in runs]):,.0f} {unit}{note} | "
                  f"{p50_text(runs)} | {p99_text(runs)} | "
                  f"{median([r['per_cpu'] for r in runs]):,.0f} | {wrk:.0f}%{mark} | {ratio} |")
    sites = [w for w in workloads if w[5] == "sites-first"]
    if sites:
        print(f"\nStart-up with {SITES:,} sites and {SITES * RULES_PER_SITE:,} header rules "
              "(spawn to first answer, median over rounds):\n")
        for server in servers:
            runs = results.get((sites[0][0], server))
            if runs:
                print(f"- {server}: {median([r['startup'] for r in runs]) * 1000:,.0f} ms")
    logged = [w for w in workloads if w[5] == "log"]
    plain = results.get(("1 KiB, keep-alive", "forkhttpd"))
    if logged and plain and results.get((logged[0][0], "forkhttpd")):
        ratios = [l["per_cpu"] / p["per_cpu"] for l, p in zip(results[(logged[0][0], "forkhttpd")], plain)]
        print(f"\nforkhttpd with its access log on, to its own rate without: {median(ratios):.2f}x "
              f"({min(ratios):.2f}–{max(ratios):.2f}) in requests per CPU-second")
    if idle:
        over = " HTTP/2" if args.idle_h2 else " TLS" if args.idle_tls else ""
        print(f"\n| server | RSS at rest | RSS with {args.idle:,} idle{over} keep-alive connections | per connection |")
        print("|---|---|---|---|")
        for server, (base, held) in idle.items():
            print(f"| {server} | {base / 1024:.1f} MiB | {held / 1024:.1f} MiB | {(held - base) * 1024 / args.idle:,.0f} B |")


if __name__ == "__main__":
    main()
