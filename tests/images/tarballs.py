"""Building small layer tarballs for the image tests."""

from __future__ import annotations

import io
import tarfile

MTIME = 1_700_000_000


def member(
    name: str, kind: bytes = tarfile.REGTYPE, *, data: bytes = b"", mode: int | None = None,
    link: str = "", **attributes: object,
) -> tuple[tarfile.TarInfo, bytes]:  # fmt: skip
    """One tar entry; ``attributes`` set TarInfo fields (uid, mtime, pax_headers, ...)."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mtime = kind, link, MTIME
    info.mode = mode if mode is not None else (0o755 if kind == tarfile.DIRTYPE else 0o644)
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    for key, value in attributes.items():
        setattr(info, key, value)
    return info, data


def make_tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def tree_tar(tree: dict[str, bytes | None]) -> bytes:
    """A tar of files (bytes) and directories (None), in the given order."""
    return make_tar(*(
        member(name, tarfile.DIRTYPE) if data is None else member(name, data=data)
        for name, data in tree.items()
    ))  # fmt: skip


TREE = {"etc/": None, "etc/motd": b"hello\n", "bin/": None, "bin/tool": b"#!/bin/sh\n"}
