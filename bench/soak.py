#!/usr/bin/env python3
"""Soak test for forkhttpd: mixed valid, invalid and slow traffic against 2 workers on loopback,
with one worker killed (SIGKILL) at a fixed interval.

Prints requests served, errors by kind, and the RSS of the master and the workers at start and
end. Exits 1 if any valid request got no correct answer except from a worker that was just
killed, or if the master's memory grew beyond noise.

Usage: soak.py BINARY [--duration SECS] [--kill-every SECS]
"""

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

# A failure this soon after a kill is blamed on the killed worker (its in-flight connections).
KILL_GRACE = 1.0


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


def read_response(sock, head_only=False):
    """Reads one response; returns (status, headers, body) or raises."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head_only or status in (204, 304) else int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-body")
        rest += chunk
    return status, headers, rest[:length]


class Soak:
    def __init__(self, binary, duration, kill_every):
        self.binary = binary
        self.duration = duration
        self.kill_every = kill_every
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = Counter()
        self.failures = []  # (time, kind)
        self.kills = []  # times
        self.site = tempfile.mkdtemp(prefix="forkhttpd-soak-")
        self.files = {
            "/index.html": b"<h1>soak</h1>\n",
            "/small.txt": os.urandom(700),
            "/medium.bin": os.urandom(48 * 1024),
            "/large.bin": os.urandom(3 * 1024 * 1024),
        }
        for path, content in self.files.items():
            with open(self.site + path, "wb") as f:
                f.write(content)

    def count(self, kind):
        with self.lock:
            self.counts[kind] += 1

    def fail(self, kind):
        with self.lock:
            self.counts["failed: " + kind] += 1
            self.failures.append((time.monotonic(), kind))

    def start_server(self):
        self.log = open(os.path.join(self.site, "server.log"), "w+")
        self.server = subprocess.Popen(
            [self.binary, "-w", "2", "-l", "127.0.0.1:0", "--header-timeout", "3", self.site],
            stderr=self.log,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            self.log.seek(0)
            text = self.log.read()
            if text.count(") started") >= 2:
                port = int(text.split("listening on http://127.0.0.1:")[1].split("/")[0])
                self.addr = ("127.0.0.1", port)
                return
            time.sleep(0.05)
        raise SystemExit("server did not start")

    def valid_client(self, seed):
        rng = random.Random(seed)
        while not self.stop.is_set():
            try:
                with socket.create_connection(self.addr, timeout=10) as sock:
                    for _ in range(rng.randint(1, 20)):
                        if self.stop.is_set():
                            break
                        path = rng.choice(list(self.files))
                        head_only = rng.random() < 0.1
                        method = "HEAD" if head_only else "GET"
                        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
                        status, headers, body = read_response(sock, head_only)
                        expected = self.files[path]
                        if status != 200:
                            self.fail(f"status {status}")
                        elif head_only and headers.get("content-length") != str(len(expected)):
                            self.fail("wrong HEAD length")
                        elif not head_only and body != expected:
                            self.fail("wrong body")
                        else:
                            self.count("valid ok")
                        if headers.get("connection") == "close":
                            break
            except (OSError, ConnectionError, ValueError, IndexError) as error:
                self.fail(type(error).__name__)

    def invalid_client(self):
        bad = [
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET /../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n",
            b"BREW / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
            b"\x00\x01\x02garbage\r\n\r\n",
            b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
        ]
        rng = random.Random(7)
        while not self.stop.is_set():
            try:
                with socket.create_connection(self.addr, timeout=10) as sock:
                    sock.sendall(rng.choice(bad))
                    status, _, _ = read_response(sock)
                    self.count(f"invalid answered {status}")
            except (OSError, ConnectionError, ValueError, IndexError):
                self.count("invalid: connection dropped")
            time.sleep(0.01)

    def slow_client(self):
        while not self.stop.is_set():
            socks = []
            try:
                for _ in range(50):
                    sock = socket.create_connection(self.addr, timeout=10)
                    sock.sendall(b"GET / HTTP/1.1\r\n")
                    socks.append(sock)
                for byte in b"Host: slow\r\nX-Drip: aaaaaaaaaa":
                    if self.stop.wait(0.5):
                        break
                    for sock in socks:
                        sock.sendall(bytes([byte]))
            except OSError:
                self.count("slow: dropped by the server")
            for sock in socks:
                try:
                    sock.settimeout(0.1)
                    if sock.recv(64).startswith(b"HTTP/1.1 408"):
                        self.count("slow: 408")
                except OSError:
                    pass
                sock.close()

    def killer(self):
        while not self.stop.wait(self.kill_every):
            workers = children(self.server.pid)
            if workers:
                victim = random.choice(workers)
                with self.lock:
                    self.kills.append(time.monotonic())
                os.kill(victim, signal.SIGKILL)
                self.count("workers killed")

    def memory(self):
        workers = children(self.server.pid)
        return rss_kib(self.server.pid), {pid: rss_kib(pid) for pid in workers}

    def run(self):
        self.start_server()
        threads = [threading.Thread(target=self.valid_client, args=(i,)) for i in range(4)]
        threads += [threading.Thread(target=self.invalid_client), threading.Thread(target=self.slow_client)]
        for thread in threads:
            thread.start()
        time.sleep(min(5.0, self.duration / 4))
        start_memory = self.memory()
        killer = threading.Thread(target=self.killer)
        killer.start()
        started = time.monotonic()
        while time.monotonic() - started < self.duration:
            time.sleep(1)
        self.stop.set()
        for thread in threads + [killer]:
            thread.join()
        end_memory = self.memory()
        self.server.send_signal(signal.SIGTERM)
        code = self.server.wait(timeout=30)
        return self.report(start_memory, end_memory, code)

    def report(self, start_memory, end_memory, code):
        excused = [t for t, _ in self.failures if any(0 <= t - k <= KILL_GRACE for k in self.kills)]
        unexcused = len(self.failures) - len(excused)
        print(f"soak: {self.duration:.0f} s, 2 workers, a worker killed every {self.kill_every:.0f} s")
        for kind, number in sorted(self.counts.items()):
            print(f"  {kind:36} {number:>10}")
        print(f"  failed within {KILL_GRACE} s of a kill (excused) {len(excused):>4}")
        print(f"  failed otherwise                     {unexcused:>10}")
        (master_start, workers_start), (master_end, workers_end) = start_memory, end_memory
        print(f"  master RSS KiB: start {master_start}, end {master_end}")
        print(f"  worker RSS KiB: start {sorted(workers_start.values())}, end {sorted(workers_end.values())}")
        print(f"  master exit code after SIGTERM: {code}")
        ok = unexcused == 0 and code == 0 and master_end <= master_start + 1024
        print("soak: PASS" if ok else "soak: FAIL")
        return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--kill-every", type=float, default=60)
    args = parser.parse_args()
    sys.exit(Soak(args.binary, args.duration, args.kill_every).run())


if __name__ == "__main__":
    main()
