"""The pure pieces of container creation: names, environment, users, paths in a rootfs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.containers.environment import (
    container_env,
    merge_env,
    read_env_file,
    resolve_user_entries,
)
from engine.containers.names import generate_name, validate_name
from engine.containers.user import resolve_user
from engine.errors import InvalidArgumentError, NotFoundError


def test_generated_names_look_like_dockers():
    assert all(re.fullmatch(r"[a-z]+_[a-z]+", generate_name()) for _ in range(50))


@pytest.mark.parametrize("name", ["web", "/web", "a.b_c-1"])
def test_valid_names(name):
    assert validate_name(name) == name.removeprefix("/")


@pytest.mark.parametrize("name", ["a", "-web", "we b", "wéb"])
def test_invalid_names(name):
    with pytest.raises(InvalidArgumentError, match="invalid container name"):
        validate_name(name)


def test_env_file(tmp_path: Path):
    path = tmp_path / "env"
    path.write_text("# c\n\nA=1\n  B=two words\nC\n")
    assert read_env_file(str(path)) == ["A=1", "B=two words", "C"]
    with pytest.raises(NotFoundError):
        read_env_file(str(tmp_path / "missing"))
    path.write_text("BAD KEY=1\n")
    with pytest.raises(InvalidArgumentError, match="line 1"):
        read_env_file(str(path))


def test_bare_keys_come_from_the_host():
    assert resolve_user_entries(["A=1", "HOST", "ABSENT"], {"HOST": "h"}) == ["A=1", "HOST=h"]


def test_later_layers_win_and_order_is_kept():
    assert merge_env(["A=1", "B=2"], ["A=3", "C=4"]) == ["A=3", "B=2", "C=4"]
    env = container_env(["PATH=/bin"], ["X=1"], "host", "/root")
    assert env == ["PATH=/bin", "HOSTNAME=host", "X=1", "HOME=/root"]


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
    )
    (etc / "group").write_text("root:x:0:\napp:x:1000:\nwheel:x:10:app\naudio:x:29:app,root\n")
    return tmp_path


def test_user_by_name_gets_groups_and_home(rootfs):
    user = resolve_user(rootfs, "app")
    assert (user.uid, user.gid, user.additional_gids, user.home) == (
        1000,
        1000,
        (1000, 10, 29),
        "/home/app",
    )


def test_numeric_user_needs_no_entry(rootfs):
    user = resolve_user(rootfs, "4242:wheel")
    assert (user.uid, user.gid, user.additional_gids, user.home) == (4242, 10, (10,), "/")


def test_default_is_root(rootfs):
    assert resolve_user(rootfs, None).uid == 0
    assert resolve_user(rootfs, None).additional_gids == (0, 29)


def test_unknown_names_are_errors(rootfs):
    with pytest.raises(InvalidArgumentError, match="unable to find user ghost"):
        resolve_user(rootfs, "ghost")
    with pytest.raises(InvalidArgumentError, match="unable to find group ghosts"):
        resolve_user(rootfs, "app:ghosts")


def test_malformed_entries_match_nothing_rather_than_crash(rootfs):
    with (rootfs / "etc" / "passwd").open("a") as passwd:
        passwd.write("bad:x:abc:0::/:/bin/sh\nshort:x:7\n")
    with (rootfs / "etc" / "group").open("a") as group:
        group.write("odd:x:zz:app\nthree:x:3\n")
    for spec in ("bad", "short", "app:odd", "app:three"):
        with pytest.raises(InvalidArgumentError, match="unable to find"):
            resolve_user(rootfs, spec)
    assert resolve_user(rootfs, "app").additional_gids == (1000, 10, 29)
