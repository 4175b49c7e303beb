"""Open a tarball that may be compressed (gzip, bzip2, xz, zstd), telling which by its
first bytes.

The name of a file says nothing reliable (``rootfs.tar`` is often gzip), and stdin has
no name at all, so the magic bytes decide. Streams are never seeked: stdin is a pipe.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from typing import BinaryIO

from engine.errors import InvalidArgumentError

_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}
_HEAD = max(len(magic) for magic in _MAGIC)
_CHUNK = 1 << 20
_GZIP_WINDOW = 16 + zlib.MAX_WBITS  # a gzip header and trailer around deflate
# What a decompressor raises on damaged or truncated input.
_CORRUPT: tuple[type[Exception], ...] = (EOFError, OSError, lzma.LZMAError, zlib.error)


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


class _Named:
    """The source stream, whose read errors name it: EIO alone says nothing of which file."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self._stream = stream
        self._name = name

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except OSError as error:
            raise InvalidArgumentError(
                f'cannot read "{self._name}": {error.strerror or error}'
            ) from None


class _Checked:
    """A decompressing stream whose failures read as the user's input being damaged."""

    def __init__(
        self, stream: BinaryIO, kind: str, name: str,
        corrupt: tuple[type[Exception], ...] = _CORRUPT,
    ) -> None:  # fmt: skip
        self._stream = stream
        self._kind = kind
        self._name = name
        self._corrupt = corrupt

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except self._corrupt as error:
            raise InvalidArgumentError(
                f'"{self._name}" is not valid {self._kind} data: {error}'
            ) from None


def decompressed(stream: BinaryIO, name: str) -> BinaryIO:
    """``stream`` as plain tar bytes, whatever compression it came in.

    ``name`` only labels errors.
    """
    named = _Named(stream, name)
    head = _read_head(named)
    source = _Prefixed(head, named)
    kind = next((k for magic, k in _MAGIC.items() if head.startswith(magic)), "tar")
    if kind == "tar":
        return source  # type: ignore[return-value]
    # The caller closes the tar stream; these only wrap ``source`` and own no descriptor.
    if kind == "gzip":
        opened = _Inflating(source)
    elif kind == "bzip2":
        opened = bz2.BZ2File(source)
    elif kind == "zstd":
        # Python 3.11 has no zstd; layers of current images often are (podman, buildkit).
        # Imported here: every berth command loads this module, few read zstd.
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)
        return _Checked(reader, kind, name, (*_CORRUPT, zstandard.ZstdError))  # type: ignore[arg-type]
    else:
        opened = lzma.LZMAFile(source)  # noqa: SIM115
    return _Checked(opened, kind, name)  # type: ignore[arg-type, return-value]


class _Inflating:
    """A gzip stream (members in a row, as pigz and Go write them) decompressed a
    megabyte at a time. GzipFile hands out 8 KiB per call and checks the CRC in Python;
    here zlib checks each member's trailer itself, and callers make few calls."""

    def __init__(self, source: _Prefixed) -> None:
        self._source = source
        self._inflater = zlib.decompressobj(_GZIP_WINDOW)
        self._output = b""
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        while self._offset >= len(self._output):
            if not self._inflate():
                return b""
        end = len(self._output) if size < 0 else self._offset + size
        data = self._output[self._offset : end]
        self._offset += len(data)
        return data

    def _inflate(self) -> bool:
        """Decompress the next piece (at most a megabyte, whatever the input holds: no
        bomb fills memory); False at the clean end of the last member."""
        inflater = self._inflater
        if inflater.unconsumed_tail:
            data = inflater.unconsumed_tail
        elif inflater.eof:
            data = inflater.unused_data or self._source.read(_CHUNK)
            if not data:
                return False
            self._inflater = inflater = zlib.decompressobj(_GZIP_WINDOW)  # the next member
        else:
            data = self._source.read(_CHUNK)
            if not data:
                raise EOFError("compressed file ended before the end-of-stream marker")
        self._output = inflater.decompress(data, _CHUNK)
        self._offset = 0
        return True


def _read_head(stream: BinaryIO) -> bytes:
    """The first bytes, even from a pipe that hands them out a few at a time."""
    head = b""
    while len(head) < _HEAD:
        chunk = stream.read(_HEAD - len(head))
        if not chunk:
            break
        head += chunk
    return head
