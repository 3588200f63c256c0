"""Is a service answering? Socket-level probes with no client library and no event loop.

The embedded launcher waits on them before it hands out an endpoint; the API's readiness check
asks the broker the same question.
"""

from __future__ import annotations

import socket
import struct

_METADATA_API_KEY = 3


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        chunks += chunk
    return bytes(chunks)


def kafka_metadata_ok(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a Kafka ``Metadata`` v0 request is answered with at least one broker.

    A hand-written request keeps readiness checks free of an event loop, so the launcher works
    the same from sync code, async code and test fixtures.
    """
    client_id = b"wismo-probe"
    correlation_id = 7
    body = struct.pack(">hhih", _METADATA_API_KEY, 0, correlation_id, len(client_id))
    body += client_id + struct.pack(">i", 0)  # an empty topic list: metadata for all topics
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
            response = _recv_exactly(sock, size)
    except OSError:
        return False
    answered_id, brokers = struct.unpack(">ii", response[:8])
    return bool(answered_id == correlation_id and brokers >= 1)


def redis_ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a Redis server answers ``PING`` at host:port (no client library needed)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False
