"""linux.seccomp as a BPF program, compiled once per profile and boot, as crun does.

Compiling costs a start tens of milliseconds (importing libseccomp's binding alone
runs ``ldconfig -p`` twice), so the program is kept under the runtime's state root,
which lives in the run dir (a tmpfs: gone at reboot): one file per key, the key being
the profile's canonical JSON, the kernel and the libseccomp version, since the program
libseccomp writes depends on each (the kernel's actions, the version's syscall
tables). A hit reads a file and never imports libseccomp; a miss compiles with
:mod:`engine.runtime.seccomp` before the fork, so a bad profile fails ``create`` as it
always did.

A file holds its whole key, then the program, then a CRC-32 of both; its name is the
key's CRC-32. An entry cut short, damaged or of another key (names can collide) is
compiled again, never loaded. The directory is root's alone, so the checks guard
against accidents, not against someone who could rewrite it. No hashlib: its import
(OpenSSL) would cost a start more than a hit does; zlib is loaded already.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import zlib
from pathlib import Path
from typing import Any

from engine.errors import UnsupportedError
from engine.linux.files import write_atomically
from engine.linux.syscalls import BPF_MAXINSNS, SOCK_FILTER_SIZE

#: under the state root; a dot, so no container id (letters or digits first) can take it
CACHE_DIR = ".seccomp"
#: first line of every key: a change of the file's layout makes old entries misses
_FORMAT = "berth-seccomp-bpf 1"
_CRC_SIZE = 4


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


def program(config: dict[str, Any], state_root: Path) -> bytes:
    """The BPF program of ``config`` (a linux.seccomp object), from the cache if it can."""
    key = _key(config)
    path = _path(key, state_root)
    cached = _read(path, key)
    if cached is not None:
        return cached
    from engine.runtime.seccomp import export_program  # libseccomp: only on a miss

    compiled = export_program(config)
    _store(path, key, compiled)
    return compiled


def entry(config: dict[str, Any], state_root: Path) -> Path:
    """The cache file of ``config`` on this kernel and libseccomp."""
    return _path(_key(config), state_root)


def _key(config: dict[str, Any]) -> bytes:
    # ASCII JSON: no NUL byte, which ends the key in the file
    profile = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    uname = os.uname()
    return "\n".join(
        (_FORMAT, uname.release, uname.machine, _libseccomp_version(), profile)
    ).encode()


def _path(key: bytes, state_root: Path) -> Path:
    return state_root / CACHE_DIR / f"{zlib.crc32(key):08x}.bpf"


@functools.cache
def _libseccomp_version() -> str:
    # By soname: ctypes.util.find_library would run ldconfig, the cost this module avoids.
    try:
        library = ctypes.CDLL("libseccomp.so.2")
    except OSError as error:
        raise UnsupportedError(f"seccomp needs libseccomp (libseccomp2): {error}") from None
    library.seccomp_version.restype = ctypes.POINTER(_Version)
    version = library.seccomp_version().contents
    return f"{version.major}.{version.minor}.{version.micro}"


def _read(path: Path, key: bytes) -> bytes | None:
    """The program cached for ``key``, or None when no entry passes the checks."""
    try:
        data = path.read_bytes()
    except OSError:  # none yet, or unreadable: compiling again does no harm
        return None
    body, crc = data[:-_CRC_SIZE], data[-_CRC_SIZE:]
    stored_key, _, code = body.partition(b"\0")
    count, partial = divmod(len(code), SOCK_FILTER_SIZE)
    if stored_key != key or partial or not 0 < count <= BPF_MAXINSNS or _crc(body) != crc:
        return None
    return code


def _store(path: Path, key: bytes, code: bytes) -> None:
    body = key + b"\0" + code
    # The cache only saves time: a run dir that cannot take it must not stop a container.
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        write_atomically(path, body + _crc(body))
    except OSError:
        pass


def _crc(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(_CRC_SIZE, "little")
