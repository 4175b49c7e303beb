"""``berth volume ...`` as the installed command prints it, held to Docker's output."""

from __future__ import annotations

import json
import re

import pytest

HEX64 = re.compile(r"[0-9a-f]{64}\n")


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_create_ls_and_formats(berth) -> None:
    assert _ok(berth("volume", "create", "db", "--label", "tier=data", "--label", "keep")) == "db\n"
    assert _ok(berth("volume", "create", "-d", "local", "cache", "-o", "type=tmpfs",
                     "-o", "device=tmpfs", "-o", "o=size=1m,uid=1000")) == "cache\n"  # fmt: skip
    anonymous = _ok(berth("volume", "create"))
    assert HEX64.fullmatch(anonymous)
    rows = "".join(f"local     {name}\n" for name in sorted(["cache", "db", anonymous.strip()]))
    # by name, and padded to ten, as Docker
    assert _ok(berth("volume", "ls")) == "DRIVER    VOLUME NAME\n" + rows
    assert _ok(berth("volume", "ls", "-q", "--filter", "label=tier=data")) == "db\n"
    assert _ok(berth("volume", "ls", "-f", "name=^cach", "-f", "name=^db$", "-q")) == "cache\ndb\n"
    formatted = berth("volume", "ls", "--filter", "label=keep", "--format",
                      "{{.Name}}|{{.Driver}}|{{.Scope}}|{{.Labels}}|{{.Mountpoint}}")  # fmt: skip
    mountpoint = json.loads(_ok(berth("volume", "inspect", "db")))[0]["Mountpoint"]
    assert _ok(formatted) == f"db|local|local|keep=,tier=data|{mountpoint}\n"


def test_inspect_prints_what_it_found_and_fails_for_the_rest(berth) -> None:
    _ok(berth("volume", "create", "fast", "-o", "type=tmpfs", "-o", "device=tmpfs",
              "-o", "o=size=1m"))  # fmt: skip
    result = berth("volume", "inspect", "fast", "nope")
    assert result.returncode == 1
    assert result.stderr == 'berth: no such volume: "nope" (see berth volume ls)\n'
    [details] = json.loads(result.stdout)
    assert result.stdout.startswith('[\n    {\n        "CreatedAt": ')  # Docker's indent
    assert details["Name"] == "fast" and details["Driver"] == "local"
    assert details["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
    assert details["Mountpoint"].endswith("/volumes/fast/_data")
    assert _ok(berth("volume", "inspect", "-f", "{{.Options.o}} {{.Scope}}", "fast")) == (
        "size=1m local\n"
    )
    assert berth("volume", "inspect", "-f", "{{range .}}", "fast").returncode == 64


def test_rm_prints_each_name_and_exits_1_for_a_missing_one(berth) -> None:
    _ok(berth("volume", "create", "one"))
    _ok(berth("volume", "create", "two"))
    result = berth("volume", "rm", "one", "nope", "two")
    assert (result.returncode, result.stdout) == (1, "one\ntwo\n")
    assert result.stderr == 'berth: no such volume: "nope" (see berth volume ls)\n'
    assert _ok(berth("volume", "rm", "-f", "nope")) == "nope\n"
    assert _ok(berth("volume", "ls", "-q")) == ""


_QUESTION = "Are you sure you want to continue? [y/N] "


def test_prune_asks_first_and_reports_what_went(berth) -> None:
    _ok(berth("volume", "create", "named"))
    anonymous = _ok(berth("volume", "create")).strip()
    kept = berth("volume", "prune", input="n\n")
    assert _ok(kept) == (
        "WARNING! This will remove anonymous local volumes not used by at least one container.\n"
        + _QUESTION
    )
    assert len(_ok(berth("volume", "ls", "-q")).split()) == 2
    pruned = berth("volume", "prune", input="y\n")
    assert _ok(pruned).endswith(
        f"{_QUESTION}Deleted Volumes:\n{anonymous}\n\nTotal reclaimed space: 0B\n"
    )
    assert _ok(berth("volume", "ls", "-q")) == "named\n"
    everything = berth("volume", "prune", "--all", input="y\n")
    assert _ok(everything).startswith(
        "WARNING! This will remove all local volumes not used by at least one container.\n"
    )
    assert "Deleted Volumes:\nnamed\n\n" in everything.stdout
    assert _ok(berth("volume", "prune", "-a", "-f")) == "Total reclaimed space: 0B\n"


def test_prune_force_reports_the_bytes_in_dockers_units(berth, engine) -> None:
    anonymous = _ok(berth("volume", "create")).strip()
    (engine.paths.volume_dir(anonymous) / "_data" / "blob").write_bytes(b"x" * 1_234_567)
    _ok(berth("volume", "create", "labelled", "--label", "purge=yes"))
    _ok(berth("volume", "create", "other"))
    assert _ok(berth("volume", "prune", "-f")) == (
        f"Deleted Volumes:\n{anonymous}\n\nTotal reclaimed space: 1.235MB\n"
    )
    assert _ok(berth("volume", "prune", "-af", "--filter", "label=purge=yes")) == (
        "Deleted Volumes:\nlabelled\n\nTotal reclaimed space: 0B\n"
    )
    assert _ok(berth("volume", "ls", "-q")) == "other\n"


def test_a_volume_in_use_is_refused_by_rm_and_kept_by_prune(berth) -> None:
    _ok(berth("create", "--name", "holder", "-v", "kept:/data", "busybox", "true"))
    result = berth("volume", "rm", "-f", "kept")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        'berth: volume "kept" is in use by container(s) holder: remove them first (berth rm)\n'
    )
    assert _ok(berth("volume", "prune", "-af")) == "Total reclaimed space: 0B\n"
    assert _ok(berth("volume", "ls", "-q", "--filter", "dangling=false")) == "kept\n"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("create", "a"), 'berth: invalid volume name "a": '),
        (("create", "bad/name"), 'berth: invalid volume name "bad/name": '),
        (("create", "-d", "nfs", "vol"), 'berth: volume driver "nfs" is not available'),
        (("create", "-o", "type", "vol"), 'berth: invalid argument "type" for "-o, --opt" flag'),
        (("create", "-o", "size=1g", "vol"), 'berth: invalid volume option "size"'),
        (("create", "-o", "type=tmpfs", "vol"), 'berth: volume option "type" needs device'),
        (("create", "--label", "=x", "vol"), 'berth: invalid argument for "--label" flag'),
        (("ls", "--filter", "colour=red"), 'berth: invalid filter "colour=red" (volume ls takes'),
        (("ls", "--filter", "dangling"), 'berth: invalid filter "dangling" (volume ls takes'),
        (("prune", "-f", "--filter", "until=1h"), 'berth: invalid filter "until=1h" (volume'),
        (("rm", "nope"), 'berth: no such volume: "nope"'),
    ],
)
def test_bad_input_is_one_line_exit_1_and_makes_nothing(berth, args, says) -> None:
    result = berth("volume", *args)
    assert result.returncode == 1, result
    assert result.stderr.startswith(says) and result.stderr.count("\n") == 1, result.stderr
    assert _ok(berth("volume", "ls", "-q")) == ""
