"""Detach keys: the byte sequence that leaves an attach session (Ctrl-P Ctrl-Q by default).

Docker's syntax: comma-separated keys, each ``ctrl-a``..``ctrl-z``, ``ctrl-@``, ``ctrl-[``,
``ctrl-\\``, ``ctrl-]``, ``ctrl-^``, ``ctrl-_`` or one character; ``""`` disables.
Two of Docker's quirks are fixed: a byte that breaks a partial match is tried again as
the start of a new match, and bytes held back are delivered when input ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.errors import InvalidArgumentError

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
_CTRL_PUNCTUATION = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse_detach_keys(spec: str) -> bytes:
    """The bytes of a ``--detach-keys`` value; empty when detaching is disabled."""
    if spec == "":
        return b""
    keys = []
    for key in spec.split(","):
        keys.append(_parse_key(key))
    return bytes(keys)


def _parse_key(key: str) -> int:
    lowered = key.lower()
    if lowered.startswith("ctrl-") and len(key) == 6:
        char = lowered[5]
        if "a" <= char <= "z":
            return ord(char) - ord("a") + 1
        if char in _CTRL_PUNCTUATION:
            return _CTRL_PUNCTUATION[char]
    elif len(key) == 1 and key.isascii():
        return ord(key)
    raise InvalidArgumentError(
        f'invalid detach key "{key}": use ctrl-a..ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], '
        "ctrl-^, ctrl-_ or a single character, comma-separated"
    )


@dataclass
class DetachMatcher:
    """Filters a session's input: what to forward, and whether the sequence was typed."""

    sequence: bytes
    _held: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """Bytes to forward now, and True once the full sequence has been typed.

        On detach, bytes typed before the sequence are returned, the sequence and
        anything after it are not.
        """
        if not self.sequence:
            return data, False
        out = bytearray()
        for byte in data:
            self._held.append(byte)
            while self._held and not self.sequence.startswith(self._held):
                # Mismatch: the oldest held byte can't start a match; the rest might.
                out.append(self._held.pop(0))
            if self._held == self.sequence:
                self._held.clear()
                return bytes(out), True
        return bytes(out), False

    def flush(self) -> bytes:
        """Bytes still held back by a partial match, for when input ends."""
        held = bytes(self._held)
        self._held.clear()
        return held
