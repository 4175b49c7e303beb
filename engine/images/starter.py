"""The starter image: busybox:latest built offline from the host's static busybox.

The tar is deterministic (sorted entries, the binary's own mtime for every entry), so
the same busybox binary always gives the same layer and image ids.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from engine.errors import NotFoundError, UnsupportedError

STARTER_REFERENCE = "busybox:latest"
STARTER_CONFIG = {
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "Cmd": ["sh"],
}

_DIRECTORIES = {
    "bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o555, "root": 0o700,
    "run": 0o755, "sbin": 0o755, "sys": 0o555, "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755,
    "usr/sbin": 0o755, "var": 0o755, "var/log": 0o755, "var/spool": 0o755, "var/www": 0o755,
}  # fmt: skip
_PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
_GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
www-data:x:33:
staff:x:50:
users:x:100:
nogroup:x:65534:
"""


def starter_layer(busybox: Path) -> bytes:
    """The uncompressed tar of busybox's root file system."""
    binary = _static_busybox(busybox)
    mtime = int(busybox.stat().st_mtime)
    applets = subprocess.run(
        [str(busybox), "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, mode in sorted(_DIRECTORIES.items()):
            tar.addfile(_entry(name, tarfile.DIRTYPE, mode, mtime))
        tar.addfile(_entry("bin/busybox", tarfile.REGTYPE, 0o755, mtime, len(binary)),
                    io.BytesIO(binary))  # fmt: skip
        for name, text in (("etc/passwd", _PASSWD), ("etc/group", _GROUP)):
            data = text.encode()
            tar.addfile(_entry(name, tarfile.REGTYPE, 0o644, mtime, len(data)), io.BytesIO(data))
        for applet in sorted(set(applets) - {"bin/busybox"}):
            link = _entry(applet, tarfile.SYMTYPE, 0o777, mtime)
            link.linkname = "/bin/busybox"
            tar.addfile(link)
    return buffer.getvalue()


def _entry(name: str, kind: bytes, mode: int, mtime: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.size = kind, mode, mtime, size
    info.uname = info.gname = "root"
    return info


def _static_busybox(busybox: Path) -> bytes:
    try:
        binary = busybox.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(
            f"busybox-static is not installed (no {busybox}): apt-get install busybox-static"
        ) from None
    if _needs_interpreter(binary):
        raise UnsupportedError(
            f"{busybox} is dynamically linked; the starter image needs busybox-static "
            "(apt-get install busybox-static)"
        )
    return binary


def _needs_interpreter(binary: bytes) -> bool:
    """Whether an ELF file asks for a dynamic loader (has a PT_INTERP program header)."""
    if binary[:4] != b"\x7fELF" or binary[4] != 2:  # 64-bit ELF only
        return True
    little = binary[5] == 1
    order = "little" if little else "big"
    offset = int.from_bytes(binary[0x20:0x28], order)
    size = int.from_bytes(binary[0x36:0x38], order)
    count = int.from_bytes(binary[0x38:0x3A], order)
    for index in range(count):
        header = offset + index * size
        if int.from_bytes(binary[header : header + 4], order) == 3:  # PT_INTERP
            return True
    return False
