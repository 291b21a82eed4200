#!/usr/bin/env python3
"""Directory listings side by side (see bench/listing.sh): forkhttpd against nginx's autoindex and
Caddy's file_server browse, on one folder of FILES files with a camera's names.

Each server runs with one worker (nginx worker_processes 1; Caddy is one process) pinned to core
1 with taskset, so a server's listing threads share that core with its event loop; this client
runs on core 0. Every workload runs on every server in turn, for several rounds (interleaved),
with a fresh server each time, and the tables show medians with the range over rounds.

- "one listing": the time from sending `GET /big/` on a new connection to the last byte of the
  page. Before each request the folder's times are touched, so forkhttpd builds the page (the
  change drops its kept page) exactly as the others do every time. forkhttpd
  runs with --listing-limit above FILES, so its page lists every entry as the others' do.
- "kept": forkhttpd alone, the same request again, its folder unchanged and the page kept.
- "small file during 10 listings": ten `GET /big/` on ten connections, sent at once (folder
  touched first), then, 20 ms later, `GET /small.txt` (10 bytes) on an eleventh: the time to
  its whole answer, and the time until all ten listings were complete.
- "system calls": forkhttpd under `strace -f -c` for one listing of SYSCALL_FILES files,
  minus a run that serves no listing, so start and stop cancel out; with --baseline, the
  forkhttpd binary given there too (the one that stat'ed entries through an open of each).
"""

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SERVERS = ["forkhttpd", "forkhttpd-default", "nginx", "caddy"]
# Entries Caddy 2.6's browse and forkhttpd's default listing_limit show of a larger folder.
SHOWN_BY_DEFAULT = 10_000
FILES = 50_000
SYSCALL_FILES = 100_000
STALL_LISTINGS = 10
TRACED = ["getdents64", "newfstatat", "statx", "openat", "openat2", "close", "fstat"]


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


class Server:
    def __init__(self, name, binary, work, root, cpus, wrap=None):
        self.name, self.binary, self.work, self.root, self.cpus = name, binary, work, root, cpus
        self.wrap = wrap or []
        self.port = free_port()
        self.process = None

    def command(self):
        port, root, work = self.port, self.root, self.work
        if self.name.startswith("forkhttpd"):
            return [self.binary, "-w", "1", "-l", f"127.0.0.1:{port}", "--log-level", "error",
                    "--listing"] + (["--listing-limit", str(10 * FILES)] if self.name == "forkhttpd" else []) + [root]
        if self.name == "nginx":
            conf = os.path.join(work, "nginx-listing.conf")
            with open(conf, "w") as f:
                f.write(f"""
user root; worker_processes 1; daemon off; pid {work}/nginx-listing.pid;
error_log {work}/nginx-listing.error.log error; worker_rlimit_nofile 65536;
events {{ worker_connections 10240; }}
http {{
  include /etc/nginx/mime.types; default_type application/octet-stream;
  access_log off; sendfile on; keepalive_timeout 65;
  server {{ listen 127.0.0.1:{port} reuseport; root {root}; location / {{ autoindex on; }} }}
}}
""")
            return ["nginx", "-c", conf, "-e", f"{work}/nginx-listing.error.log"]
        if self.name == "caddy":
            conf = os.path.join(work, "Caddyfile")
            with open(conf, "w") as f:
                f.write(f"{{\n  admin off\n  auto_https off\n}}\n"
                        f"http://127.0.0.1:{port} {{\n  root * {root}\n  file_server browse\n}}\n")
            return ["caddy", "run", "--config", conf, "--adapter", "caddyfile"]
        raise ValueError(self.name)

    def start(self):
        env = dict(os.environ, XDG_DATA_HOME=self.work, XDG_CONFIG_HOME=self.work, HOME=self.work)
        self.process = subprocess.Popen(self.wrap + ["taskset", "-c", self.cpus] + self.command(),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        cwd=self.work, env=env)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if get(self.port, "/small.txt")[0] == 200:
                    time.sleep(0.2)
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"{self.name} did not start")

    def stop(self, graceful=False):
        if not self.process or self.process.poll() is not None:
            return
        if graceful:
            # The traced process is strace; the server is its child.
            pids = [p for p in process_tree(self.process.pid) if p != self.process.pid]
            os.kill(pids[0], signal.SIGTERM)
            self.process.wait(timeout=30)
            return
        for pid in reversed(process_tree(self.process.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.process.wait()


def get(port, path):
    """GET path on a new connection: status, body, and the seconds to its last byte."""
    began = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - began
    connection.close()
    return response.status, body, elapsed


def big_page(server, n=None):
    """The URL of big/'s page; `n` tells the stall test's requests apart."""
    return "/big/" + (f"?n={n}" if n is not None else "")


def shown(server):
    """Entries the server's page shows of big/: every one, but for Caddy 2.6 (its browse shows
    the first 10,000, whatever the query) and forkhttpd with its default listing_limit."""
    return SHOWN_BY_DEFAULT if server.name in ("caddy", "forkhttpd-default") else FILES


def touch(folder):
    os.utime(folder, None)


def one_listing(server, folder):
    touch(folder)
    status, body, elapsed = get(server.port, big_page(server))
    # Each entry's name is on the page twice: its link and its text.
    if status != 200 or body.count(b"IMG_") < 2 * shown(server):
        raise SystemExit(f"{server.name}: status {status}, {body.count(b'IMG_')} names on the page")
    return {"listing": elapsed, "bytes": len(body)}


def kept_listing(server, folder, repeats):
    get(server.port, "/big/")  # built, and kept
    times = [get(server.port, "/big/")[2] for _ in range(repeats)]
    return {"kept": statistics.median(times)}


def read_response(sock):
    """Reads one HTTP/1.1 response with a Content-Length or chunked body from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("closed before a head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    if length:
        while len(rest) < int(length.group(1)):
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise SystemExit("closed mid-body")
            rest += chunk
        return head
    while not rest.endswith(b"0\r\n\r\n"):
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise SystemExit("closed mid-body")
        rest += chunk
    return head


def stall(server, folder):
    touch(folder)
    began = time.perf_counter()
    sockets = []
    for i in range(STALL_LISTINGS):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        s.sendall(f"GET {big_page(server, i)} HTTP/1.1\r\nHost: b\r\n\r\n".encode())
        sockets.append(s)
    time.sleep(0.02)
    status, body, small = get(server.port, "/small.txt")
    if status != 200 or body != b"ten bytes\n":
        raise SystemExit(f"{server.name}: small file {status}")
    for s in sockets:
        head = read_response(s)
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"{server.name}: {head[:40]!r}")
        s.close()
    return {"small": small, "all": time.perf_counter() - began}


def syscalls(binary, name, work, root):
    """Calls per kind for one listing of root/huge/, from strace -f -c, less a run with none."""
    counts = []
    for listings in (0, 1):
        out = os.path.join(work, f"strace-{name}-{listings}.txt")
        wrap = ["strace", "-f", "-c", "-o", out, "-e", "trace=" + ",".join(TRACED)]
        server = Server(name, binary, work, root, "1", wrap)
        server.start()
        try:
            for _ in range(listings):
                status, body, _ = get(server.port, "/huge/")
                if status != 200:
                    raise SystemExit(f"{name}: /huge/ answered {status}")
        finally:
            server.stop(graceful=True)
        table = {}
        with open(out) as f:
            for line in f:
                fields = line.split()
                # % time, seconds, usecs/call, calls, [errors], syscall
                if len(fields) >= 5 and fields[-1] in TRACED:
                    table[fields[-1]] = int(fields[3])
        counts.append(table)
    return {call: counts[1].get(call, 0) - counts[0].get(call, 0) for call in TRACED}


def make_folder(path, count, sizes=True):
    os.makedirs(path, exist_ok=True)
    for i in range(count):
        name = os.path.join(path, f"IMG_20241201_{i:06}.jpg")
        fd = os.open(name, os.O_CREAT | os.O_WRONLY, 0o644)
        if sizes:
            os.ftruncate(fd, (i * 7919) % 5_000_000)
        os.close(fd)


def spread(values, scale, digits):
    values = [v * scale for v in values]
    if not values:
        return "n/a"
    median = statistics.median(values)
    return f"{median:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main():
    parser = argparse.ArgumentParser(description="forkhttpd directory listing benchmark")
    parser.add_argument("--forkhttpd", required=True)
    parser.add_argument("--baseline", help="an earlier forkhttpd binary, run beside it")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--no-syscalls", action="store_true")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    servers = [s for s in args.servers.split(",") if s]
    binaries = {"forkhttpd": os.path.abspath(args.forkhttpd)}
    binaries["forkhttpd-default"] = binaries["forkhttpd"]
    if args.baseline:
        servers.insert(1, "forkhttpd-baseline")
        binaries["forkhttpd-baseline"] = os.path.abspath(args.baseline)
    work = tempfile.mkdtemp(prefix="forkhttpd-listing-bench-")
    os.chmod(work, 0o755)
    root = os.path.join(work, "www")
    try:
        print(f"making {FILES:,} files", file=sys.stderr)
        make_folder(os.path.join(root, "big"), FILES)
        with open(os.path.join(root, "small.txt"), "w") as f:
            f.write("ten bytes\n")
        folder = os.path.join(root, "big")
        results = {}
        for round_index in range(args.rounds):
            for name in servers:
                for workload in ("listing", "stall"):
                    server = Server(name, binaries.get(name), work, root, "1")
                    server.start()
                    try:
                        if workload == "listing":
                            result = one_listing(server, folder)
                            one_listing(server, folder)  # and a second, built again
                            result.update(one_listing(server, folder))
                            if name == "forkhttpd" and round_index == 0:
                                result.update(kept_listing(server, folder, 10))
                        else:
                            result = stall(server, folder)
                    finally:
                        server.stop()
                    results.setdefault((name, workload), []).append(result)
                    print(f"round {round_index + 1} {name:20} {workload:8} "
                          + " ".join(f"{k}={v:.4f}" for k, v in result.items()), file=sys.stderr)
        calls = {}
        if not args.no_syscalls:
            print(f"making {SYSCALL_FILES:,} files for strace", file=sys.stderr)
            make_folder(os.path.join(root, "huge"), SYSCALL_FILES, sizes=False)
            for name in [s for s in servers if s in ("forkhttpd", "forkhttpd-baseline")]:
                calls[name] = syscalls(binaries[name], name, work, root)
        report(servers, results, calls, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(servers, results, calls, args):
    print(f"\n### A folder of {FILES:,} files, one worker on one core, {args.rounds} rounds, "
          "medians (range)\n")
    print("| server | entries shown | one listing, ms | page | small file during 10 listings, ms "
          "| all 10 listings done, s |")
    print("|---|---|---|---|---|---|")
    for name in servers:
        listing = results.get((name, "listing"), [])
        stalled = results.get((name, "stall"), [])
        page = statistics.median([r["bytes"] for r in listing]) / 1e6 if listing else float("nan")
        count = SHOWN_BY_DEFAULT if name in ("caddy", "forkhttpd-default") else FILES
        print(f"| {name} | {count:,} | {spread([r['listing'] for r in listing], 1000, 0)} "
              f"| {page:.1f} MB | "
              f"{spread([r['small'] for r in stalled], 1000, 1)} | "
              f"{spread([r['all'] for r in stalled], 1, 2)} |")
    kept = [r["kept"] for r in results.get(("forkhttpd", "listing"), []) if "kept" in r]
    if kept:
        print(f"\nforkhttpd, the same page kept (folder unchanged): "
              f"{statistics.median(kept) * 1000:.1f} ms")
    if calls:
        print(f"\n### System calls for one listing of {SYSCALL_FILES:,} files (strace -f -c, "
              "less a run without it)\n")
        print("| binary | " + " | ".join(TRACED) + " | total |")
        print("|---|" + "---|" * (len(TRACED) + 1))
        for name, table in calls.items():
            print(f"| {name} | " + " | ".join(f"{table[c]:,}" for c in TRACED)
                  + f" | {sum(table.values()):,} |")


if __name__ == "__main__":
    main()
