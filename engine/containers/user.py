"""Resolve ``-u USER[:GROUP]`` against the container's own /etc/passwd and /etc/group."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.errors import InvalidArgumentError
from engine.runtime.rootpath import resolve as resolve_in_root

# ids are 32 bits, and the last, (uid_t)-1, means "leave unchanged" to setresuid
MAX_ID = (1 << 32) - 2


@dataclass(frozen=True)
class ProcessUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


def _read_db(rootfs: Path, name: str) -> list[list[str]]:
    """Rows of a colon-separated account file in the container, [] when it is absent."""
    try:
        text = resolve_in_root(rootfs, f"/etc/{name}").read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(rootfs: Path, spec: str | None) -> ProcessUser:
    """uid, gid, supplementary groups and home for ``spec`` (default root), as Docker does.

    Numeric ids need no passwd entry; names must exist in the container's files.
    """
    user_part, _, group_part = (spec or "0").partition(":")
    # A line that is no well-formed entry (a non-numeric id) matches nothing.
    passwd = [row for row in _read_db(rootfs, "passwd")
              if len(row) >= 7 and _is_number(row[2]) and _is_number(row[3])]  # fmt: skip
    groups = [row for row in _read_db(rootfs, "group") if len(row) >= 4 and _is_number(row[2])]

    entry = next((row for row in passwd if row[0] == user_part or row[2] == user_part), None)
    if entry is None and not _is_number(user_part):
        raise InvalidArgumentError(
            f"unable to find user {user_part}: no matching entries in the container's /etc/passwd"
        )
    uid = int(entry[2]) if entry else int(user_part)
    gid = int(entry[3]) if entry else 0
    home = entry[5] if entry else "/"
    if group_part:
        gid = _group_id(groups, group_part)
    username = entry[0] if entry else None
    members = (
        int(row[2])
        for row in groups
        if username and username in row[3].split(",") and int(row[2]) != gid
    )
    # The primary group comes first among the supplementary ones, as containerd has done
    # since CVE-2023-25173: otherwise a process keeps no group it could drop.
    return _in_range(spec or "0", ProcessUser(uid, gid, (gid, *members), home))


def _in_range(spec: str, user: ProcessUser) -> ProcessUser:
    """``user``, or InvalidArgumentError naming an id the kernel cannot take."""
    for kind, value in (("uid", user.uid), *(("gid", gid) for gid in user.additional_gids)):
        if not 0 <= value <= MAX_ID:
            raise InvalidArgumentError(
                f'invalid user "{spec}": {kind} {value} is out of range (use 0 to {MAX_ID})'
            )
    return user


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()  # "²" is a digit to str.isdigit


def _group_id(groups: list[list[str]], group: str) -> int:
    row = next((row for row in groups if row[0] == group or row[2] == group), None)
    if row is not None:
        return int(row[2])
    if _is_number(group):
        return int(group)
    raise InvalidArgumentError(
        f"unable to find group {group}: no matching entries in the container's /etc/group"
    )
