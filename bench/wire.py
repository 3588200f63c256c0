"""Lean HTTP/1.1 and websocket clients for load generation, as asyncio protocols.

A load generator written with a full client library spends more CPU per request than the server
under test, and on a small machine it shares the cores with it. These clients do only what the
benchmarks need: keep-alive requests with a ``Content-Length`` answer, and websockets that
timestamp each frame in ``data_received`` (no task wake-up per frame), answer pings, offer
``permessage-deflate`` like a browser, and can stop reading to play a slow client.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import time
import zlib
from collections.abc import Callable
from typing import cast

_HEAD_END = b"\r\n\r\n"
_DEFLATE_TAIL = b"\x00\x00\xff\xff"
_TEXT, _BINARY, _CLOSE, _PING = 0x1, 0x2, 0x8, 0x9

FrameHandler = Callable[[bytes, float], None]


class WireError(Exception):
    """The server answered something these clients do not speak."""


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise WireError(f"an answer without Content-Length: {head[:200]!r}")


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection, one request at a time."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._waiter is None or self._waiter.done():
            return
        end = self._buffer.find(_HEAD_END)
        if end < 0:
            return
        head = bytes(self._buffer[:end])
        start = end + len(_HEAD_END)
        length = _content_length(head)
        if len(self._buffer) < start + length:
            return
        body = bytes(self._buffer[start : start + length])
        del self._buffer[: start + length]
        self._waiter.set_result((int(head[9:12]), body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("the server closed the connection"))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send one whole request (see :func:`http_request`); returns status and body."""
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self._waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def http_request(
    method: str, path: str, port: int, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def open_http(port: int) -> HttpConnection:
    _, protocol = await asyncio.get_running_loop().create_connection(
        HttpConnection, "127.0.0.1", port
    )
    return protocol


def _mask(opcode: int, payload: bytes) -> bytes:
    """A client frame: final, masked (as the protocol requires of clients)."""
    key = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    mask = (key * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(size, "big")
    return head + key + masked


class WsConnection(asyncio.Protocol):
    """A websocket client; ``on_frame(payload, arrived)`` is called for every data frame."""

    def __init__(self, path: str, port: int, on_frame: FrameHandler, *, deflate: bool) -> None:
        self.on_frame = on_frame
        self.frames = 0
        self.close_code: int | None = None
        self.transport: asyncio.Transport | None = None
        self._request = self._handshake(path, port, deflate)
        self._buffer = bytearray()
        self._upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflate: zlib._Decompress | None = None

    @property
    def compressed(self) -> bool:
        """Whether the server accepted permessage-deflate."""
        return self._inflate is not None

    @staticmethod
    def _handshake(path: str, port: int, deflate: bool) -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        headers = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Version": "13",
        }
        if deflate:
            headers["Sec-WebSocket-Extensions"] = "permessage-deflate; client_max_window_bits"
        return http_request("GET", path, port, headers)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._upgraded.done():
            end = self._buffer.find(_HEAD_END)
            if end < 0:
                return
            head = bytes(self._buffer[:end])
            del self._buffer[: end + len(_HEAD_END)]
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                self._upgraded.set_exception(WireError(head.split(b"\r\n", 1)[0].decode()))
                return
            if b"permessage-deflate" in head.lower():
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            self._upgraded.set_result(None)
        self._frames(time.perf_counter())

    def _frames(self, arrived: float) -> None:
        buffer = self._buffer
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            size, start = second & 0x7F, 2
            if size == 126:
                if len(buffer) < 4:
                    return
                (size,), start = struct.unpack_from("!H", buffer, 2), 4
            elif size == 127:
                if len(buffer) < 10:
                    return
                (size,), start = struct.unpack_from("!Q", buffer, 2), 10
            if len(buffer) < start + size:
                return
            payload = bytes(buffer[start : start + size])
            del buffer[: start + size]
            self._frame(first, payload, arrived)

    def _frame(self, first: int, payload: bytes, arrived: float) -> None:
        opcode = first & 0x0F
        if opcode in (_TEXT, _BINARY):
            if first & 0x40 and self._inflate is not None:  # RSV1: a compressed message
                payload = self._inflate.decompress(payload + _DEFLATE_TAIL)
            self.frames += 1
            self.on_frame(payload, arrived)
        elif opcode == _PING:
            self._write(0xA, payload)
        elif opcode == _CLOSE:
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self._write(_CLOSE, payload[:2])
            if self.transport is not None:
                self.transport.close()

    def _write(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_mask(opcode, payload))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.close_code is None:
            self.close_code = 1006
        if not self._upgraded.done():
            self._upgraded.set_exception(ConnectionError("closed during the handshake"))

    async def upgraded(self) -> None:
        await self._upgraded

    def send_text(self, text: bytes) -> None:
        self._write(_TEXT, text)

    def stall(self) -> None:
        """Stop reading: the server's writes pile up in the socket buffers, then block."""
        assert self.transport is not None
        self.transport.pause_reading()

    def resume(self) -> None:
        assert self.transport is not None
        self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._write(_CLOSE, struct.pack("!H", 1000))
            self.transport.close()


async def open_ws(
    path: str,
    port: int,
    on_frame: FrameHandler,
    *,
    deflate: bool = True,
    receive_buffer: int | None = None,
) -> WsConnection:
    """Connect and upgrade; ``receive_buffer`` shrinks the socket's buffer (a slow client)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    _, protocol = await loop.create_connection(
        lambda: WsConnection(path, port, on_frame, deflate=deflate), sock=sock
    )
    await protocol.upgraded()
    return protocol
