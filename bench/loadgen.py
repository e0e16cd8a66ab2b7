"""A small HTTP/1.1 load generator for the benchmarks: keep-alive sockets, requests encoded up front.

Why not httpx or a thread pool of clients: at ~1 ms per request the client's
own Python cost (header building, parsing, connection bookkeeping) would be a
large part of what is measured, and it would differ less between an empty
route and vecdex than the servers do. Here a request is bytes prepared before
the clock starts and a response is read by its Content-Length, so the client
costs a few tens of microseconds per request, the same for every server it is
pointed at. No load tool (wrk, hey) ships on these machines; this is enough for
loopback measurements.
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def post_request(path: str, body: Any, headers: dict[str, str] | None = None) -> bytes:
    """The bytes of one ``POST path`` with a JSON body (keep-alive)."""
    payload = json.dumps(body).encode()
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", f"Content-Length: {len(payload)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class Connection:
    """One keep-alive connection; ``send`` returns (status, body bytes)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, request: bytes) -> tuple[int, bytes]:
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buf:
            self._read()
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            self.sock.settimeout(60)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed the connection")
            rest += chunk
        self.buf = rest[length:]
        return status, rest[:length]

    def _read(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def close(self) -> None:
        self.sock.close()


def check(status: int, body: bytes) -> None:
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {body[:300]!r}")


def latencies_ms(port: int, requests: Sequence[bytes]) -> list[float]:
    """Each request once, one at a time on one connection; milliseconds each."""
    conn = Connection(port)
    out = []
    try:
        for request in requests:
            t0 = time.perf_counter()
            status, body = conn.send(request)
            out.append((time.perf_counter() - t0) * 1000)
            check(status, body)
    finally:
        conn.close()
    return out


@dataclass(frozen=True)
class Throughput:
    clients: int
    seconds: float
    requests: int
    qps: float
    p50_ms: float
    p95_ms: float


def throughput(port: int, requests: Sequence[bytes], clients: int, seconds: float) -> Throughput:
    """``clients`` threads, each on its own connection, cycling through ``requests`` for ``seconds``.

    The sockets release the GIL while they wait, so threads are enough to keep
    ``clients`` requests in flight against a server in another process.
    """
    stop = time.perf_counter() + seconds
    lat: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def worker(slot: int) -> None:
        conn = Connection(port)
        i = slot
        try:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                status, body = conn.send(requests[i % len(requests)])
                lat[slot].append((time.perf_counter() - t0) * 1000)
                check(status, body)
                i += clients
        except BaseException as exc:  # reported after the run
            errors.append(exc)
        finally:
            conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    every = sorted(x for per in lat for x in per)
    return Throughput(
        clients=clients,
        seconds=elapsed,
        requests=len(every),
        qps=len(every) / elapsed,
        p50_ms=statistics.median(every),
        p95_ms=every[int(0.95 * (len(every) - 1))],
    )
