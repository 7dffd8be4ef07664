"""The channel between a worker and its sandbox: length-prefixed JSON messages over a socket.

Nothing but JSON crosses it. Each message is a 4-byte big-endian length and that many bytes of
UTF-8 JSON; a length over the reader's limit is refused before anything is read. Step records
travel as lists of their values in field order (no field names to write and read each time).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import operator
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from agentflow.checkpoints import StepRecord
from agentflow.errors import ChannelClosed

MAX_CHANNEL_BYTES = 64 * 1024 * 1024
"""The largest message either end of a sandbox channel reads."""

_HEADER = struct.Struct(">I")
_SLACK = 0.001
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)

PLAN_CACHE_SIZE = 64
"""Compiled plans a sandbox process keeps, by SHA-256, the oldest dropped first.

Its host keeps the same list of SHA-256s, and sends a plan's source only when it is not on it.
"""

ATTEMPT_KINDS = frozenset({"do", "map_child", "parallel_child"})
"""Step kinds whose `running` record is an attempt that may call tools."""
SLEEP_KINDS = frozenset({"sleep", "sleep_until"})
"""Step kinds whose `complete` record may ride with the next request (a sleep ends alike twice)."""

STEP_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(StepRecord))
"""The order of a `StepRecord`'s values in an activation's journal rows."""


journal_row: Callable[[StepRecord], tuple[Any, ...]] = operator.attrgetter(*STEP_RECORD_FIELDS)
"""A step record as the host sends it: its values in `STEP_RECORD_FIELDS` order."""


def encode(message: dict[str, Any]) -> bytes:
    """One framed message."""
    body = _ENCODER.encode(message).encode("utf-8")
    return _HEADER.pack(len(body)) + body


class Channel:
    """One end of a sandbox channel; `send` is safe from several threads."""

    def __init__(self, sock: socket.socket, max_bytes: int) -> None:
        self.sock = sock
        self.max_bytes = max_bytes
        self._send_lock = threading.Lock()
        self._buffer = bytearray()
        self._timeout: float | None = sock.gettimeout()

    def send(self, message: dict[str, Any]) -> None:
        """Send one message; raises ChannelClosed when the other end is gone."""
        data = encode(message)
        with self._send_lock:
            try:
                self._send_all(data)
            except OSError as exc:
                raise ChannelClosed(f"the channel is closed: {exc}") from None

    def _send_all(self, data: bytes) -> None:
        # A socket with a timeout polls before each send; most messages fit in its buffer, so
        # one write is tried first (its file descriptor is non-blocking then). What it leaves,
        # sendall sends within the timeout. The descriptor is read now: a closed socket's is -1.
        try:
            sent = os.write(self.sock.fileno(), data)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            self.sock.sendall(memoryview(data)[sent:])

    def receive(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message, or None if none arrived within `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        header = self._read(_HEADER.size, deadline)
        if header is None:
            return None
        (length,) = _HEADER.unpack(header)
        if length > self.max_bytes:
            raise ChannelClosed(
                f"a message of {length:,} bytes is over the channel's limit of "
                f"{self.max_bytes:,} bytes"
            )
        body = self._read(length, None if deadline is None else deadline + 5.0)
        if body is None:
            raise ChannelClosed("the channel stalled in the middle of a message")
        try:
            message = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ChannelClosed(f"an unreadable message: {exc}") from None
        if not isinstance(message, dict):
            raise ChannelClosed("a message must be a JSON object")
        return message

    def _read(self, size: int, deadline: float | None) -> bytes | None:
        while len(self._buffer) < size:
            if deadline is None:
                self._set_timeout(None)
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._set_timeout(left)
            try:
                chunk = self.sock.recv(max(65536, size - len(self._buffer)))
            except TimeoutError:
                return None
            except OSError as exc:
                raise ChannelClosed(f"the channel is closed: {exc}") from None
            if not chunk:
                raise ChannelClosed("the other end closed the channel")
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _set_timeout(self, timeout: float | None) -> None:
        # Each change costs a system call (and a turn of the GIL): a timeout within _SLACK of
        # the wanted one is kept.
        current = self._timeout
        if timeout is None or current is None:
            if timeout is current:
                return
        elif abs(current - timeout) <= _SLACK:
            return
        self.sock.settimeout(timeout)
        self._timeout = timeout

    def close(self) -> None:
        """Close this end."""
        with contextlib.suppress(OSError):
            self.sock.close()
