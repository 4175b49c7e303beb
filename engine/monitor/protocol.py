"""The attach socket's wire format, shared by the monitor and every attach client.

Both directions carry frames: one byte of kind, four bytes of payload length (big
endian), the payload. The monitor sends output and, at the end, the exit status; a
client sends input, window sizes, end of input and signals to pass on.
"""

from __future__ import annotations

import enum
import json
import struct

HEADER = struct.Struct(">BI")
WINSIZE = struct.Struct(">HH")
MAX_PAYLOAD = 1 << 20


class Frame(enum.IntEnum):
    STDIN = 0
    STDOUT = 1
    STDERR = 2
    EXIT = 3  # payload: JSON {"code": int}
    RESIZE = 4  # payload: rows, columns as two unsigned shorts
    CLOSE_STDIN = 5
    SIGNAL = 6  # payload: the signal number as text


def encode(kind: Frame, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def encode_exit(code: int) -> bytes:
    return encode(Frame.EXIT, json.dumps({"code": code}).encode())


def encode_resize(rows: int, columns: int) -> bytes:
    return encode(Frame.RESIZE, WINSIZE.pack(rows, columns))


class FrameReader:
    """Reassembles frames from a byte stream that arrives in arbitrary pieces."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[Frame, bytes]]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buffer)
            if length > MAX_PAYLOAD:
                raise ValueError(f"attach frame of {length} bytes is larger than allowed")
            end = HEADER.size + length
            if len(self._buffer) < end:
                break
            frames.append((Frame(kind), bytes(self._buffer[HEADER.size : end])))
            del self._buffer[:end]
        return frames
