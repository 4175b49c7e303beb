"""An asyncio client of a monitor's attach socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from engine.errors import ConflictError
from engine.monitor.protocol import Frame, FrameReader, encode, encode_resize
from engine.monitor.socket_path import reachable


@dataclass
class AttachClient:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def connect(cls, socket_path: str, name: str) -> AttachClient:
        try:
            with reachable(socket_path) as address:
                reader, writer = await asyncio.open_unix_connection(address)
        except (FileNotFoundError, ConnectionRefusedError):
            raise ConflictError(
                f"cannot attach to {name}: it is not running (start it with berth start -a)"
            ) from None
        return cls(reader, writer)

    async def frames(self) -> AsyncIterator[tuple[Frame, bytes]]:
        """Output frames until the monitor closes the connection."""
        decoder = FrameReader()
        while data := await self.reader.read(65536):
            for frame in decoder.feed(data):
                yield frame

    async def send(self, kind: Frame, payload: bytes = b"") -> None:
        self.writer.write(encode(kind, payload))
        await self.writer.drain()

    async def resize(self, rows: int, columns: int) -> None:
        self.writer.write(encode_resize(rows, columns))
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def exit_code_of(payload: bytes) -> int:
    return int(json.loads(payload)["code"])
