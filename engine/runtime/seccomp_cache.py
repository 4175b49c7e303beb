"""linux.seccomp as a BPF program, compiled once per profile and boot, as crun does.

Compiling costs a start tens of milliseconds (importing libseccomp's binding alone
runs ``ldconfig -p`` twice), so the program is kept under the runtime's state root,
which lives in the run dir (a tmpfs: gone at reboot): one file per profile, named by
a hash of the profile's canonical JSON, the kernel and the libseccomp version, since
the program libseccomp writes depends on each (the kernel's actions, the version's
syscall tables). A hit reads a file and never imports libseccomp; a miss compiles
with :mod:`engine.runtime.seccomp` before the fork, so a bad profile fails ``create``
as it always did.

A file is the program followed by its SHA-256: an entry cut short or damaged is
compiled again, never loaded. The directory is root's alone, so the check guards
against accidents, not against someone who could rewrite it.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from engine.errors import UnsupportedError
from engine.linux.files import write_atomically
from engine.linux.syscalls import BPF_MAXINSNS, SOCK_FILTER_SIZE

#: under the state root; a dot, so no container id (letters or digits first) can take it
CACHE_DIR = ".seccomp"
#: part of every key: a change of the file's layout makes old entries misses
_FORMAT = "bpf+sha256"
_DIGEST_SIZE = hashlib.sha256().digest_size


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


def program(config: dict[str, Any], state_root: Path) -> bytes:
    """The BPF program of ``config`` (a linux.seccomp object), from the cache if it can."""
    path = entry(config, state_root)
    cached = _read(path)
    if cached is not None:
        return cached
    from engine.runtime.seccomp import export_program  # libseccomp: only on a miss

    compiled = export_program(config)
    _store(path, compiled)
    return compiled


def entry(config: dict[str, Any], state_root: Path) -> Path:
    """The cache file of ``config`` on this kernel and libseccomp."""
    profile = json.dumps(config, sort_keys=True, separators=(",", ":"))
    uname = os.uname()
    key = "\n".join((_FORMAT, uname.release, uname.machine, _libseccomp_version(), profile))
    return state_root / CACHE_DIR / f"{hashlib.sha256(key.encode()).hexdigest()}.bpf"


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


def _read(path: Path) -> bytes | None:
    """The cached program, or None when there is none that passes the checks."""
    try:
        data = path.read_bytes()
    except OSError:  # none yet, or unreadable: compiling again does no harm
        return None
    code, digest = data[:-_DIGEST_SIZE], data[-_DIGEST_SIZE:]
    count, partial = divmod(len(code), SOCK_FILTER_SIZE)
    if partial or not 0 < count <= BPF_MAXINSNS or hashlib.sha256(code).digest() != digest:
        return None
    return code


def _store(path: Path, code: bytes) -> None:
    # The cache only saves time: a run dir that cannot take it must not stop a container.
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        write_atomically(path, code + hashlib.sha256(code).digest())
    except OSError:
        pass
