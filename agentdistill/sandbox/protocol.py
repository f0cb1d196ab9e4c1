"""Host side of the worker channel: length-prefixed JSON frames over pipes or a Docker attach socket.

Frames are produced and parsed by the same code as in the worker (:mod:`agentdistill.sandbox.worker`).
Everything that comes from the sandbox is untrusted: frames are size-capped and must be JSON objects.
"""

from __future__ import annotations

import abc
import contextlib
import os
import select
import socket
import struct
import time
from typing import Any

from agentdistill.sandbox.worker import Decoder, encode, write_all


class ChannelClosed(Exception):
    """The worker side went away (process died, container killed)."""


class Channel(abc.ABC):
    """A bidirectional message channel to one worker."""

    def __init__(self) -> None:
        self._dec = Decoder()

    def send(self, msg: dict[str, Any]) -> None:
        try:
            self._write(encode(msg))
        except OSError as e:
            raise ChannelClosed(f"cannot write to the worker: {e}") from None

    def recv(self, timeout: float | None) -> dict[str, Any] | None:
        """Next message, or None after ``timeout`` seconds; raises ChannelClosed on EOF or garbage."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                msg = self._dec.pop()
            except ValueError as e:
                raise ChannelClosed(f"bad frame from the worker: {e}") from None
            if msg is not None:
                if not isinstance(msg, dict):
                    raise ChannelClosed("bad frame from the worker: not a JSON object")
                return msg
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            data = self._read(left)
            if data is None:
                return None
            if not data:
                raise ChannelClosed("the worker closed its channel")
            self._dec.feed(data)

    @abc.abstractmethod
    def _write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def _read(self, timeout: float | None) -> bytes | None:
        """Some bytes; b"" on EOF; None on timeout."""

    @abc.abstractmethod
    def close(self) -> None: ...


class PipeChannel(Channel):
    """The worker's stdin/stdout pipes (local backends)."""

    def __init__(self, wfd: int, rfd: int) -> None:
        super().__init__()
        self.wfd, self.rfd = wfd, rfd

    def _write(self, data: bytes) -> None:
        write_all(self.wfd, data)

    def _read(self, timeout: float | None) -> bytes | None:
        ready, _, _ = select.select([self.rfd], [], [], timeout)
        if not ready:
            return None
        try:
            return os.read(self.rfd, 1 << 16)
        except OSError:
            return b""

    def close(self) -> None:
        for fd in (self.wfd, self.rfd):
            with contextlib.suppress(OSError):
                os.close(fd)


_DOCKER_HEADER = struct.Struct(">BxxxI")


class DockerAttachChannel(Channel):
    """A container's attached stdin/stdout; stdout arrives multiplexed in Docker's 8-byte-header frames."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self._raw = bytearray()

    def _write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read(self, timeout: float | None) -> bytes | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            payload = self._demux()
            if payload:
                return payload
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                return None
            try:
                chunk = self.sock.recv(1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                return b""
            self._raw += chunk

    def _demux(self) -> bytes:
        out = bytearray()
        while len(self._raw) >= _DOCKER_HEADER.size:
            stream, size = _DOCKER_HEADER.unpack_from(self._raw)
            if len(self._raw) < _DOCKER_HEADER.size + size:
                break
            if stream == 1:  # stdout; stderr (2) is the worker's own diagnostics, not protocol
                out += self._raw[_DOCKER_HEADER.size : _DOCKER_HEADER.size + size]
            del self._raw[: _DOCKER_HEADER.size + size]
        return bytes(out)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
