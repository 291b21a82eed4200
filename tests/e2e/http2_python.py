#!/usr/bin/python3
"""The client of tests/e2e/http2_python.sh: HTTP/2 from Python's `h2` (Debian's python3-h2),
with raw frames where `h2` would refuse to send what a hostile client sends.

Usage: http2_python.py SCENARIO TLS_PORT PLAIN_PORT CA_FILE MASTER_PID

It prints what it saw as KEY=VALUE lines, one fact a line, and judges nothing: the shell
script's checks compare them with what they must be. Every socket read has a timeout and every
loop is bounded, so a scenario ends even when the server does something unexpected.

H2Connection (client side) encodes requests, keeps the HPACK state and answers SETTINGS and
PING. What the server sent is read apart from it, frame by frame, with a separate HPACK decoder
for the response heads: after a hostile frame `h2`'s own state machine may disagree with the
server (or give up), and the facts must not depend on that.
"""

import hashlib
import socket
import ssl
import subprocess
import sys
import time

import h2.config
import h2.connection
import h2.settings
import hpack

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS = 0x0, 0x1, 0x2, 0x3, 0x4
PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0x5, 0x6, 0x7, 0x8, 0x9
END_STREAM, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x4, 0x8, 0x20
IWS = h2.settings.SettingCodes.INITIAL_WINDOW_SIZE
CANCEL = 0x8
AUTHORITY = "a.test"


def fact(key, value):
    print(f"{key}={value}", flush=True)


def frame(kind, flags, stream, payload):
    head = len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big")
    return head + payload


class Env:
    def __init__(self, argv):
        self.tls_port = int(argv[2])
        self.plain_port = int(argv[3])
        self.ca = argv[4]
        self.pid = int(argv[5])


class Client:
    """One HTTP/2 connection to the server, over TLS (ALPN h2) or cleartext (prior knowledge)."""

    def __init__(self, env, tls, settings=None, validate=True):
        port = env.tls_port if tls else env.plain_port
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.alpn = None
        if tls:
            context = ssl.create_default_context(cafile=env.ca)
            context.set_alpn_protocols(["h2"])
            sock = context.wrap_socket(sock, server_hostname=AUTHORITY)
            self.alpn = sock.selected_alpn_protocol()
        self.sock = sock
        self.scheme = "https" if tls else "http"
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=validate,
            normalize_outbound_headers=validate,
            validate_inbound_headers=False,
        )
        self.h2 = h2.connection.H2Connection(config=config)
        if settings:
            values = dict(self.h2.local_settings.items())
            values.update(settings)
            self.h2.local_settings = h2.settings.Settings(client=True, initial_values=values)
        self.h2.initiate_connection()
        self.h2_error = None
        self.out = b""
        self.send_failed = False
        # What the server sent, read from the bytes themselves.
        self.inbuf = b""
        self.frames = []  # (kind, flags, stream, payload), in order
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 20
        self.block = None  # (stream, bytes, end_stream) of a header block awaiting CONTINUATION
        self.status = {}  # stream -> :status of its response
        self.body = {}  # stream -> bytes of DATA
        self.ended = set()  # streams the server ended (END_STREAM)
        self.resets = {}  # stream -> RST_STREAM error code
        self.goaway = None  # GOAWAY error code
        self.goaway_at = None  # and when it came
        self.eof = False
        self.server_settings = {}
        # Flow-control windows as the server must see them, when tracked: the client's window
        # for each stream and for the connection, less every DATA byte received.
        self.windows = None
        self.conn_window = 65535
        self.overruns = 0
        self.flush()

    # -- sending

    def queue(self, raw=b""):
        """What h2 has to send, then `raw`, kept in order, sent at the next flush."""
        self.out += self.h2.data_to_send() + raw

    def flush(self, raw=b""):
        self.queue(raw)
        if self.out and not self.send_failed:
            try:
                self.sock.settimeout(10)
                self.sock.sendall(self.out)
            except OSError:
                self.send_failed = True
        self.out = b""

    def fields(self, path, extra=()):
        return [
            (b":method", b"GET"),
            (b":scheme", self.scheme.encode()),
            (b":authority", AUTHORITY.encode()),
            (b":path", path.encode()),
        ] + [(n.encode(), v.encode()) for n, v in extra]

    def request(self, path="/", extra=(), flush=True, fields=None):
        """Sends a GET (or the fields given) ending the stream; its stream id."""
        stream = self.h2.get_next_available_stream_id()
        self.h2.send_headers(stream, fields or self.fields(path, extra), end_stream=True)
        if self.windows is not None:
            self.windows[stream] = self.h2.local_settings.initial_window_size
        if flush:
            self.flush()
        return stream

    def open_window(self, stream, increment, connection=True):
        """WINDOW_UPDATE for the stream and (unless told not to) for the connection."""
        if stream is not None:
            self.h2.increment_flow_control_window(increment, stream_id=stream)
            if self.windows is not None:
                self.windows[stream] = self.windows.get(stream, 0) + increment
        if connection:
            self.h2.increment_flow_control_window(increment)
            self.conn_window += increment
        self.flush()

    # -- receiving

    def closed(self):
        return self.eof or self.goaway is not None

    def pump(self, until=lambda: False, timeout=5.0):
        """Reads and handles what the server sends until `until()` holds, the connection ends,
        or `timeout` seconds pass; whether `until()` held."""
        deadline = time.monotonic() + timeout
        while not until():
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                return until()
            try:
                self.sock.settimeout(min(left, 1.0))
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except (ConnectionError, ssl.SSLError, OSError):
                data = b""
            if not data:
                self.eof = True
                continue
            self.feed(data)
        return True

    def feed(self, data):
        if self.h2_error is None:
            try:
                self.h2.receive_data(data)
            except Exception as error:  # h2 gave up on the connection; the frames still count
                self.h2_error = type(error).__name__
        self.inbuf += data
        while len(self.inbuf) >= 9:
            length = int.from_bytes(self.inbuf[:3], "big")
            if len(self.inbuf) < 9 + length:
                break
            kind, flags = self.inbuf[3], self.inbuf[4]
            stream = int.from_bytes(self.inbuf[5:9], "big") & 0x7FFFFFFF
            payload = self.inbuf[9 : 9 + length]
            self.inbuf = self.inbuf[9 + length :]
            self.frames.append((kind, flags, stream, payload))
            self.handle(kind, flags, stream, payload)
        # SETTINGS and PING acknowledgements, and anything else h2 answers with.
        if self.h2_error is None and not self.closed():
            self.flush()

    def handle(self, kind, flags, stream, payload):
        if kind == DATA:
            self.body[stream] = self.body.get(stream, b"") + self.unpad(flags, payload)
            if self.windows is not None:
                # The whole payload counts against both windows (RFC 9113 §6.9.1).
                self.windows[stream] = self.windows.get(stream, 0) - len(payload)
                self.conn_window -= len(payload)
                if self.windows[stream] < 0 or self.conn_window < 0:
                    self.overruns += 1
            if flags & END_STREAM:
                self.ended.add(stream)
        elif kind in (HEADERS, CONTINUATION):
            if kind == HEADERS:
                block = self.unpad(flags, payload)
                if flags & PRIORITY_FLAG:
                    block = block[5:]
                self.block = (stream, block, bool(flags & END_STREAM))
            elif self.block is not None:
                self.block = (self.block[0], self.block[1] + payload, self.block[2])
            if flags & END_HEADERS and self.block is not None:
                stream, block, end = self.block
                self.block = None
                for name, value in self.decoder.decode(block, raw=True):
                    if name == b":status":
                        self.status.setdefault(stream, int(value))
                if end:
                    self.ended.add(stream)
        elif kind == RST_STREAM and len(payload) == 4:
            self.resets.setdefault(stream, int.from_bytes(payload, "big"))
        elif kind == GOAWAY and len(payload) >= 8 and self.goaway is None:
            self.goaway = int.from_bytes(payload[4:8], "big")
            self.goaway_at = time.monotonic()
        elif kind == SETTINGS and not flags & 0x1:
            for at in range(0, len(payload) - 5, 6):
                key = int.from_bytes(payload[at : at + 2], "big")
                self.server_settings[key] = int.from_bytes(payload[at + 2 : at + 6], "big")

    @staticmethod
    def unpad(flags, payload):
        if flags & PADDED and payload:
            return payload[1 : len(payload) - payload[0]]
        return payload

    def outcome(self, stream):
        """What became of a stream: status:N, rst:CODE, goaway:CODE, eof or none."""
        if stream in self.status:
            return f"status:{self.status[stream]}"
        if stream in self.resets:
            return f"rst:{self.resets[stream]}"
        if self.goaway is not None:
            return f"goaway:{self.goaway}"
        return "eof" if self.eof else "none"

    def result(self, stream):
        """200 for a whole 200 answer, else what became of the stream."""
        if stream in self.ended and self.status.get(stream) == 200:
            return 200
        return self.outcome(stream)

    def done(self, stream):
        return stream in self.ended or stream in self.resets or self.closed()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def get(env, path="/", tls=True):
    """A normal GET on a connection of its own: its status, or what happened instead."""
    try:
        client = Client(env, tls)
        stream = client.request(path)
        client.pump(lambda: client.done(stream), 10)
        client.close()
        return client.result(stream)
    except OSError as error:
        return f"error:{type(error).__name__}"


def rss_kib(master):
    """VmRSS of the master and its workers, in KiB, and how many processes that is."""
    pids = [master]
    try:
        children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
        pids += [int(p) for p in children.stdout.split()]
    except OSError:
        pass
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total, len(pids)


# -- scenarios


def flow(env):
    """Initial window 0, a 1 MiB file, the window opened step by step."""
    client = Client(env, tls=True, settings={IWS: 0})
    fact("alpn", client.alpn)
    client.windows = {}
    stream = client.request("/big.bin")
    client.pump(lambda: stream in client.status or client.done(stream), 5)
    fact("status", client.status.get(stream))
    # Well within the send timeout (2 s): nothing may come while the window is 0.
    client.pump(lambda: client.done(stream), 1.0)
    fact("data_before_window", len(client.body.get(stream, b"")))

    def received():
        return len(client.body.get(stream, b""))

    # The stream's window opened wider than the connection's (65,535 bytes, never opened):
    # the connection's window bounds what comes.
    client.open_window(stream, 100_000, connection=False)
    client.pump(lambda: received() >= 65_535 or client.done(stream), 3)
    client.pump(lambda: received() > 65_535 or client.done(stream), 0.3)
    fact("data_at_connection_window", received())
    client.open_window(None, 100_000 - 65_535)
    client.pump(lambda: received() >= 100_000 or client.done(stream), 3)
    client.pump(lambda: received() > 100_000 or client.done(stream), 0.3)
    fact("data_at_stream_window", received())
    # Then both windows together, in steps of odd sizes, each waited for in full.
    granted = 100_000
    steps = [1, 7, 1000, 16_383, 16_384, 16_385, 50_000, 65_535, 100_000, 131_072, 250_000]
    short_steps = 0
    for n in range(200):
        if stream in client.ended or client.closed():
            break
        step = steps[n % len(steps)]
        granted += step
        client.open_window(stream, step)
        if not client.pump(lambda: received() >= granted or client.done(stream), 1.5):
            short_steps += 1
    fact("steps", n)
    fact("short_steps", short_steps)
    fact("ended", "yes" if stream in client.ended else "no")
    fact("reset", client.resets.get(stream, "none"))
    fact("overruns", client.overruns)
    fact("bytes", received())
    fact("sha256", hashlib.sha256(client.body.get(stream, b"")).hexdigest())
    fact("h2_error", client.h2_error or "none")
    client.close()


def stuck(env):
    """Initial window 0 and never a WINDOW_UPDATE; a normal request on a second connection."""
    client = Client(env, tls=True, settings={IWS: 0})
    start = time.monotonic()
    stream = client.request("/big.bin")
    client.pump(lambda: stream in client.status or client.done(stream), 5)
    fact("status", client.status.get(stream))
    fact("second_status", get(env, "/", tls=True))
    client.pump(lambda: stream in client.resets or client.closed(), 30)
    fact("reset", client.resets.get(stream, "none"))
    fact("reset_after_s", f"{time.monotonic() - start:.1f}")
    client.pump(lambda: client.closed(), 30)
    fact("goaway", "none" if client.goaway is None else client.goaway)
    if client.goaway_at is not None:
        fact("goaway_after_s", f"{client.goaway_at - start:.1f}")
    # After GOAWAY the server closes; EOF should follow soon.
    client.pump(lambda: client.eof, 10)
    fact("eof", "yes" if client.eof else "no")
    fact("closed", "yes" if client.closed() else "no")
    fact("closed_after_s", f"{time.monotonic() - start:.1f}")
    fact("data", len(client.body.get(stream, b"")))
    client.close()


def concurrency(env):
    """12 streams at once, each held open by a window of 0, against a limit of 8."""
    client = Client(env, tls=False, settings={IWS: 0})
    # Sent before the server's SETTINGS are read: h2 would otherwise refuse to open more
    # streams than the server allows (TooManyStreamsError).
    streams = [client.request("/big.bin", flush=False) for _ in range(12)]
    client.flush()
    # Well within the send timeout (2 s), after which the held streams would be reset.
    client.pump(lambda: all(s in client.status or s in client.resets for s in streams), 1.5)
    fact("max_concurrent_streams", client.server_settings.get(0x3, "none"))
    answered = [s for s in streams if client.status.get(s) == 200]
    refused = [s for s in streams if s in client.resets]
    fact("answered", len(answered))
    fact("answered_streams", ",".join(map(str, answered)))
    fact("refused", len(refused))
    fact("refused_streams", ",".join(map(str, refused)))
    fact("refused_codes", ",".join(sorted({str(client.resets[s]) for s in refused})))
    fact("data", sum(len(client.body.get(s, b"")) for s in streams))
    fact("goaway", "none" if client.goaway is None else client.goaway)
    # The held streams cancelled, the window back to normal: the connection serves again.
    for s in answered:
        client.h2.reset_stream(s, CANCEL)
    client.h2.update_settings({IWS: 65535})
    client.flush()
    stream = client.request("/")
    client.pump(lambda: client.done(stream), 5)
    fact("after", client.result(stream))
    client.close()


MALFORMED = {
    # RFC 9113 §8.2.2: connection-specific fields.
    "connection": [("connection", "keep-alive")],
    "transfer_encoding": [("transfer-encoding", "chunked")],
    # §8.2.2: TE may carry only "trailers".
    "te_gzip": [("te", "gzip")],
    # §8.2.1: field names must be lowercase.
    "uppercase": [("X-Upper", "1")],
}


def malformed_fields(client, case):
    base = client.fields("/")
    if case in MALFORMED:
        return base + [(n.encode(), v.encode()) for n, v in MALFORMED[case]]
    if case == "no_path":  # §8.3.1: a GET must have :path
        return [f for f in base if f[0] != b":path"]
    if case == "pseudo_after_regular":  # §8.3: pseudo-header fields come first
        return base[:3] + [(b"user-agent", b"py")] + base[3:]
    raise ValueError(case)


MALFORMED_CASES = list(MALFORMED) + ["no_path", "pseudo_after_regular"]


def malformed(env):
    """Each malformed request on a connection of its own, then a good one after it."""
    for case in MALFORMED_CASES:
        client = Client(env, tls=True, validate=False)
        bad = client.request(fields=malformed_fields(client, case))
        good = client.request("/")
        client.pump(lambda: client.done(bad) and client.done(good), 5)
        fact(f"{case}.bad", client.outcome(bad))
        if client.result(good) == 200:
            fact(f"{case}.after", 200)
            fact(f"{case}.after_on", "same")
        else:
            fact(f"{case}.good_on_same", client.outcome(good))
            fact(f"{case}.after", get(env, "/", tls=True))
            fact(f"{case}.after_on", "new")
        client.close()


def madeyoureset(env):
    """Streams the server must reset for the client's errors (CVE-2025-8671), up to 40 on one
    connection against a limit of 16 (http2_max_error_resets), in three ways: one offence at a
    time, each waited for, so that each reset can be counted; then the same 40 offences in one
    write."""
    for variant in ["data_on_half_closed", "window_overflow", "malformed_headers", "burst"]:
        settings = {IWS: 0} if variant in ("data_on_half_closed", "window_overflow") else None
        client = Client(env, tls=True, settings=settings, validate=False)
        offences = 0
        for _ in range(40):
            if client.closed() or client.send_failed:
                break
            offences += 1
            if variant in ("malformed_headers", "burst"):
                # A connection-specific field: PROTOCOL_ERROR (RFC 9113 §8.2.2).
                fields = client.fields("/") + [(b"connection", b"keep-alive")]
                stream = client.request(fields=fields, flush=False)
            else:
                # A stream held open by the window of 0: the server waits to send its body.
                stream = client.request("/big.bin", flush=False)
            if variant == "data_on_half_closed":
                # DATA on a stream the client ended: STREAM_CLOSED (RFC 9113 §5.1).
                client.queue(frame(DATA, 0, stream, b"x"))
            elif variant == "window_overflow":
                # The stream's window past 2^31-1: FLOW_CONTROL_ERROR (RFC 9113 §6.9.1).
                client.queue(frame(WINDOW_UPDATE, 0, stream, (0x7FFFFFFF).to_bytes(4, "big")))
                client.queue(frame(WINDOW_UPDATE, 0, stream, (1).to_bytes(4, "big")))
            if variant != "burst":
                client.flush()
                client.pump(lambda: stream in client.resets or client.closed(), 5)
        client.flush()
        client.pump(lambda: client.closed(), 10)
        fact(f"{variant}.offences", offences)
        fact(f"{variant}.second_status", get(env, "/", tls=True))
        client.pump(lambda: client.eof, 10)
        # The RST_STREAM frames the server sent before its GOAWAY.
        resets = []
        for kind, _, stream, payload in client.frames:
            if kind == GOAWAY:
                break
            if kind == RST_STREAM:
                resets.append(int.from_bytes(payload, "big"))
        fact(f"{variant}.resets", len(resets))
        fact(f"{variant}.reset_codes", ",".join(sorted({str(c) for c in resets})) or "none")
        fact(f"{variant}.goaway", "none" if client.goaway is None else client.goaway)
        fact(f"{variant}.eof", "yes" if client.eof else "no")
        client.close()


def window_update_zero(env):
    """WINDOW_UPDATE with increment 0 on an open stream (RFC 9113 §6.9: PROTOCOL_ERROR)."""
    client = Client(env, tls=True, settings={IWS: 0})
    stream = client.request("/big.bin", flush=False)
    client.flush(frame(WINDOW_UPDATE, 0, stream, bytes(4)))
    client.pump(lambda: stream in client.resets or client.closed(), 10)
    fact("stream", client.resets.get(stream, "none"))
    fact("goaway", "none" if client.goaway is None else client.goaway)
    fact("after", get(env, "/", tls=True))
    client.close()


def rapid_reset(env):
    """Thousands of HEADERS, each followed at once by RST_STREAM (CVE-2023-44487)."""
    before, _ = rss_kib(env.pid)
    client = Client(env, tls=False)
    pairs = 0
    for n in range(10_000):
        if client.send_failed:
            break
        stream = client.h2.get_next_available_stream_id()
        client.h2.send_headers(stream, client.fields("/"), end_stream=True)
        client.h2.reset_stream(stream, CANCEL)
        pairs += 1
        if n % 500 == 499:
            client.flush()
    client.flush()
    fact("pairs", pairs)
    fact("send_failed", "yes" if client.send_failed else "no")
    during, processes = rss_kib(env.pid)
    fact("second_status", get(env, "/", tls=False))
    # Until the server ends the connection, or has said nothing for 3 s.
    quiet_since, count = time.monotonic(), 0
    deadline = time.monotonic() + 20
    while not client.closed() and time.monotonic() < deadline:
        client.pump(lambda: client.closed() or len(client.frames) != count, 1.0)
        if len(client.frames) != count:
            quiet_since, count = time.monotonic(), len(client.frames)
        elif time.monotonic() - quiet_since > 3:
            break
    if client.goaway is not None:
        fact("outcome", f"goaway:{client.goaway}")
    else:
        # Still open: it must still serve.
        stream = client.h2.get_next_available_stream_id()
        client.h2.send_headers(stream, client.fields("/"), end_stream=True)
        client.flush()
        client.pump(lambda: client.done(stream), 5)
        fact("outcome", "served" if client.status.get(stream) == 200 else client.outcome(stream))
    fact("answered", sum(1 for s in client.status if client.status[s] == 200))
    client.close()
    fact("rss_before_kib", before)
    fact("rss_during_kib", during)
    fact("rss_after_kib", rss_kib(env.pid)[0])
    fact("rss_processes", processes)


def header_size(env):
    """Header lists under, over and far over max_head_bytes (8,192 in the script's config)."""
    for case, fill in [("under", 6000), ("over", 10_000), ("far_over", 40_000)]:
        client = Client(env, tls=True)
        client.pump(lambda: bool(client.server_settings), 5)
        if case == "under":
            fact("max_header_list_size", client.server_settings.get(0x6, "none"))
        stream = client.request("/", extra=[("x-fill", "a" * fill)])
        client.pump(lambda: client.done(stream), 5)
        fact(f"{case}.result", client.outcome(stream))
        fact(f"{case}.body", len(client.body.get(stream, b"")))
        if case != "under":
            if client.closed():
                fact(f"{case}.after", get(env, "/", tls=True))
            else:
                good = client.request("/")
                client.pump(lambda: client.done(good), 5)
                fact(f"{case}.after", client.result(good))
        client.close()


SCENARIOS = {
    "flow": flow,
    "stuck": stuck,
    "concurrency": concurrency,
    "malformed": malformed,
    "window_update_zero": window_update_zero,
    "madeyoureset": madeyoureset,
    "rapid_reset": rapid_reset,
    "header_size": header_size,
}

if __name__ == "__main__":
    SCENARIOS[sys.argv[1]](Env(sys.argv))
