#!/usr/bin/env python3
"""Load through the balancer for the fleet test: keep-alive and new-connection clients.

Usage: fleet_clients.py PORT STOP_FILE

8 threads, each with its own source address (127.0.0.2 to 127.0.0.5, so that the access logs
can tell the client's address from the balancer's): 4 keep a connection alive
(http.client.HTTPConnection, which never retries), 4 open a new connection per request. Each
GETs /index.html until STOP_FILE exists (90 s at most). Every answer must be 200 with the
file's body. Prints `requests=N failures=N`, then `etag SERVER TAG` for each distinct pair
(the balancer names the server in X-Served-By), then up to 20 failures.
"""
import http.client
import os
import sys
import threading
import time

port, stop_file = int(sys.argv[1]), sys.argv[2]
body = open(sys.argv[3], "rb").read()
lock = threading.Lock()
counts = {"requests": 0, "failures": 0}
etags = set()
failures = []
deadline = time.monotonic() + 90


def record(ok, detail, response=None):
    with lock:
        counts["requests"] += 1
        if not ok:
            counts["failures"] += 1
            failures.append(detail)
        if response is not None:
            etags.add((response.getheader("X-Served-By"), response.getheader("ETag")))


def client(index, keep_alive):
    source = (f"127.0.0.{2 + index % 4}", 0)
    conn = None
    while not os.path.exists(stop_file) and time.monotonic() < deadline:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=source)
        try:
            headers = {} if keep_alive else {"Connection": "close"}
            conn.request("GET", "/index.html", headers=headers)
            response = conn.getresponse()
            data = response.read()
            ok = response.status == 200 and data == body
            record(ok, f"client {index}: status {response.status}, {len(data)} bytes", response)
        except (http.client.HTTPException, OSError) as error:
            record(False, f"client {index}: {error!r}")
            conn.close()
            conn = None
            continue
        if not keep_alive:
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


threads = [threading.Thread(target=client, args=(i, i < 4)) for i in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(f"requests={counts['requests']} failures={counts['failures']}")
for server, tag in sorted(etags, key=str):
    print(f"etag {server} {tag}")
for line in failures[:20]:
    print(line)
