"""The monitor's attach socket: many clients at once, output to all, input from any."""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.monitor.protocol import Frame, FrameReader, encode
from engine.monitor.socket_path import reachable

# A client that falls this far behind is dropped rather than stalling the container.
_MAX_BACKLOG = 8 << 20


@dataclass
class _Client:
    sock: socket.socket
    reader: FrameReader = field(default_factory=FrameReader)
    outgoing: bytearray = field(default_factory=bytearray)


class AttachServer:
    """Serves ``path``; ``on_frame(kind, payload)`` receives what clients send."""

    def __init__(
        self, path: str, selector: selectors.BaseSelector,
        on_frame: Callable[[Frame, bytes], None],
    ) -> None:  # fmt: skip
        self._selector = selector
        self._on_frame = on_frame
        self._clients: dict[socket.socket, _Client] = {}
        if os.path.exists(path):
            os.unlink(path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with reachable(path) as address:
            self._listener.bind(address)
        os.chmod(path, 0o600)
        self._listener.listen(64)
        self._listener.setblocking(False)
        selector.register(self._listener, selectors.EVENT_READ, self._accept)
        self.path = path

    def wait_for_client(self, timeout: float) -> bool:
        """Wait for a first client (so a foreground run misses no output); False on timeout."""
        self._listener.settimeout(timeout)
        try:
            self._add(self._listener.accept()[0])
        except TimeoutError:
            return False
        finally:
            self._listener.setblocking(False)
        return True

    def broadcast(self, data: bytes) -> None:
        for client in list(self._clients.values()):
            client.outgoing += data
            if len(client.outgoing) > _MAX_BACKLOG:
                self._drop(client)
            else:
                self._flush(client)

    def send_output(self, kind: Frame, data: bytes) -> None:
        self.broadcast(encode(kind, data))

    def close(self, final: bytes = b"") -> None:
        """Send ``final`` to every client (best effort, blocking briefly), then close all."""
        for client in list(self._clients.values()):
            client.outgoing += final
            client.sock.setblocking(True)
            client.sock.settimeout(2)
            with contextlib.suppress(OSError):
                client.sock.sendall(client.outgoing)
            self._drop(client)
        self._selector.unregister(self._listener)
        self._listener.close()
        os.unlink(self.path)

    def _accept(self, _mask: int) -> None:
        try:
            sock, _ = self._listener.accept()
        except BlockingIOError:
            return
        self._add(sock)

    def _add(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        client = _Client(sock)
        self._clients[sock] = client
        self._selector.register(sock, selectors.EVENT_READ, lambda mask: self._ready(client, mask))

    def _ready(self, client: _Client, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush(client)
        if mask & selectors.EVENT_READ:
            try:
                data = client.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._drop(client)
                return
            try:
                frames = client.reader.feed(data)
            except ValueError:
                self._drop(client)
                return
            for kind, payload in frames:
                self._on_frame(kind, payload)

    def _flush(self, client: _Client) -> None:
        try:
            sent = client.sock.send(client.outgoing)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._drop(client)
            return
        del client.outgoing[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.outgoing else 0)
        self._selector.modify(client.sock, events, self._selector.get_key(client.sock).data)

    def _drop(self, client: _Client) -> None:
        if self._clients.pop(client.sock, None) is None:
            return
        self._selector.unregister(client.sock)
        client.sock.close()
