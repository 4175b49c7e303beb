"""Open a tarball that may be compressed, telling the format by its first bytes."""

from __future__ import annotations

import bz2
import gzip
import lzma
from typing import BinaryIO

from engine.errors import InvalidArgumentError

_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}


class _Prefixed:
    """A stream with bytes already read put back in front (stdin cannot seek)."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._rest.read(size)
        if size < 0:
            data, self._head = self._head + self._rest.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        if len(data) < size:
            data += self._rest.read(size - len(data))
        return data


def decompressed(stream: BinaryIO, name: str) -> BinaryIO:
    """``stream`` as plain tar bytes, whatever compression it came in."""
    head = stream.read(6)
    source = _Prefixed(head, stream)
    kind = next((k for magic, k in _MAGIC.items() if head.startswith(magic)), "tar")
    if kind == "gzip":
        return gzip.GzipFile(fileobj=source, mode="rb")
    if kind == "bzip2":
        return bz2.BZ2File(source, mode="rb")
    if kind == "xz":
        return lzma.LZMAFile(source, mode="rb")
    if kind == "zstd":
        raise InvalidArgumentError(
            f'"{name}" is zstd-compressed, which berth cannot read yet: '
            "decompress it first (zstd -d) or use gzip or xz"
        )
    return source  # type: ignore[return-value]
