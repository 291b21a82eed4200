#!/usr/bin/env python3
"""Clients that never retry, across reloads and a graceful stop.

Usage: reload_clients.py PORT MASTER_PID RELOADS

CLIENTS threads, each an http.client.HTTPConnection (keep-alive; reconnects by itself after a
response that says Connection: close, and never retries a request), send GET / in a loop.
Meanwhile the master gets SIGHUP RELOADS times, a second apart, then SIGTERM. A request that
was sent and got no complete answer (RemoteDisconnected, a reset, a cut body) is a failure; a
connection refused after the stop began is not a request, and ends that client.
Prints: requests=N failures=N closes=N refused_after_stop=N, then one line per failure.
"""
import http.client
import os
import signal
import sys
import threading
import time

port, master, reloads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
CLIENTS = 8  # two clients' worth of 4 keep-alive connections each
BODY = open(sys.argv[4], "rb").read() if len(sys.argv) > 4 else None

lock = threading.Lock()
counts = {"requests": 0, "failures": 0, "closes": 0, "refused_after_stop": 0}
failures = []
stopping = threading.Event()
done = threading.Event()


def client(index):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    # Bounded: at most this many requests per client, and the loop ends at the stop.
    for _ in range(200000):
        if done.is_set():
            break
        try:
            conn.request("GET", "/")
        except ConnectionRefusedError:
            if stopping.is_set():
                with lock:
                    counts["refused_after_stop"] += 1
                break
            with lock:
                counts["failures"] += 1
                failures.append(f"client {index}: connection refused before the stop")
            time.sleep(0.01)
            continue
        except OSError as error:
            # The request could not even be written: the connection was already closed.
            with lock:
                counts["failures"] += 1
                failures.append(f"client {index}: sending: {error!r}")
            conn.close()
            continue
        try:
            response = conn.getresponse()
            body = response.read()
            ok = response.status == 200 and (BODY is None or body == BODY)
            with lock:
                counts["requests"] += 1
                if response.will_close:
                    counts["closes"] += 1
                if not ok:
                    counts["failures"] += 1
                    failures.append(f"client {index}: status {response.status}, {len(body)} bytes")
        except (http.client.HTTPException, OSError) as error:
            with lock:
                counts["requests"] += 1
                counts["failures"] += 1
                failures.append(f"client {index}: {error!r}")
            conn.close()
    conn.close()


threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
for thread in threads:
    thread.start()
time.sleep(1)
for _ in range(reloads):
    os.kill(master, signal.SIGHUP)
    time.sleep(1)
stopping.set()
os.kill(master, signal.SIGTERM)
# The clients end on their refused connections; a bound in case one never gets there.
for thread in threads:
    thread.join(timeout=30)
done.set()
for thread in threads:
    thread.join(timeout=10)
print(" ".join(f"{key}={value}" for key, value in counts.items()))
for line in failures[:20]:
    print(line)
