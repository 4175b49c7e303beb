"""A layer's tar, kept as the bytes that are not file contents, so the exact tar (and so
its diffID) can be made again from the extracted files: Docker's tar-split idea.

Pushing and saving an image need its layers as tars whose sha256 is the diffID its
config names. Writing a new tar from the extracted files would not reproduce the
original's headers, order and padding, so while a layer is extracted everything but
regular files' data is recorded ("layout"); to rebuild the tar, the recorded bytes are
interleaved with the files' contents read back from the layer's directory.

The layout is a gzip stream of records: ``R`` + u32 length + raw bytes, or ``F`` + u64
size + u16 length + the file's path in the layer (its contents come from there).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from engine.errors import IntegrityError, UnsupportedError

LAYOUT_NAME = "tar-layout.gz"
_RAW = b"R"
_FILE = b"F"
_RAW_HEADER = struct.Struct(">I")
_FILE_HEADER = struct.Struct(">QH")
_CHUNK = 1 << 20


class LayoutRecorder:
    """Reads through to ``stream`` (the plain tar), recording what is not file data.

    The extractor calls :meth:`file_data` for each regular file before it reads the
    file's contents; those bytes are then left out of the record.
    """

    def __init__(self, stream: BinaryIO, layout: BinaryIO) -> None:
        self._stream = stream
        self._out = gzip.GzipFile(fileobj=layout, mode="wb", compresslevel=1, mtime=0)
        self._pending = bytearray()  # raw bytes read but not yet recorded
        self._pending_start = 0  # stream offset of _pending[0]
        self._skip = 0  # bytes of file data still to come, not recorded

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if self._skip:
            skipped = min(self._skip, len(data))
            self._skip -= skipped
            self._pending_start += skipped
            self._pending += data[skipped:]
        else:
            self._pending += data
        return data

    def file_data(self, path: str, offset: int, size: int) -> None:
        """The contents of the file ``path`` (relative to the layer) are the ``size`` bytes
        at ``offset`` of the stream."""
        head = offset - self._pending_start
        if head < 0:
            raise AssertionError("the tar reader went back before recorded data")
        self._raw(bytes(self._pending[:head]))
        encoded = path.encode("utf-8", "surrogateescape")
        self._out.write(_FILE + _FILE_HEADER.pack(size, len(encoded)) + encoded)
        already = len(self._pending) - head  # read ahead already: drop what is data
        dropped = min(already, size)
        del self._pending[: head + dropped]
        self._pending_start = offset + dropped
        self._skip = size - dropped

    def close(self) -> None:
        """Record what is left (the end-of-archive blocks) and finish the layout."""
        self._raw(bytes(self._pending))
        self._pending.clear()
        self._out.close()

    def _raw(self, data: bytes) -> None:
        if data:
            self._out.write(_RAW + _RAW_HEADER.pack(len(data)) + data)


def rebuilt_tar(layer_dir: Path, layer_id: str) -> Iterator[bytes]:
    """The layer's original tar, in chunks, from its layout and its files (``diff/``).

    The last chunk is yielded only once the sha256 of all of them is ``layer_id``: a
    consumer that stops at an IntegrityError has not been given a wrong tar whole.
    """
    layout = layer_dir / LAYOUT_NAME
    short = layer_id.removeprefix("sha256:")[:12]
    if not layout.exists():
        raise UnsupportedError(
            f"layer {short} was stored by an older berth, which kept no tar layout: "
            "remove the image and pull or import it again"
        )
    digest = hashlib.sha256()
    held = b""
    with gzip.open(layout, "rb") as records:
        for chunk in _chunks(records, layer_dir / "diff", short):
            if held:
                yield held
            digest.update(chunk)
            held = chunk
    if "sha256:" + digest.hexdigest() != layer_id:
        raise IntegrityError(
            f"layer {short}: its files changed since it was stored (the rebuilt tar's "
            "digest differs); remove the image and pull or import it again"
        )
    if held:
        yield held


def tar_size(layer_dir: Path) -> int:
    """The bytes of the layer's tar, from its layout alone (a tar header needs it first)."""
    total = 0
    with gzip.open(layer_dir / LAYOUT_NAME, "rb") as records:
        while kind := records.read(1):
            if kind == _RAW:
                (length,) = _RAW_HEADER.unpack(records.read(_RAW_HEADER.size))
                records.seek(length, 1)
                total += length
            else:
                size, length = _FILE_HEADER.unpack(records.read(_FILE_HEADER.size))
                records.seek(length, 1)
                total += size
    return total


def _chunks(records: BinaryIO, diff: Path, short: str) -> Iterator[bytes]:
    while kind := records.read(1):
        if kind == _RAW:
            (length,) = _RAW_HEADER.unpack(records.read(_RAW_HEADER.size))
            yield records.read(length)
        elif kind == _FILE:
            size, length = _FILE_HEADER.unpack(records.read(_FILE_HEADER.size))
            path = records.read(length).decode("utf-8", "surrogateescape")
            yield from _file_contents(diff / path, size, short)
        else:
            raise IntegrityError(f"layer {short}: its tar layout is damaged")


def _file_contents(path: Path, size: int, short: str) -> Iterator[bytes]:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as file:
        remaining = size
        while remaining:
            chunk = file.read(min(remaining, _CHUNK))
            if not chunk:
                raise IntegrityError(f"layer {short}: {path.name} is shorter than when stored")
            remaining -= len(chunk)
            yield chunk
