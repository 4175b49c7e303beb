"""The seccomp filter's cache: compiled once per profile, loaded from the run dir after.

Real containers (root): a profile that denies mkdir, and what a start does with the
cache entry it finds — none, a good one, a damaged one, one of another profile. Then
the seccomp(2) loader itself, in forked children (no root needed).
"""

from __future__ import annotations

import copy
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from engine.errors import InvalidArgumentError
from engine.linux import syscalls
from engine.runtime import seccomp, seccomp_cache
from engine.runtime.seccomp import export_program

if TYPE_CHECKING:
    from tests.runtime.conftest import Bundle, Containers

DENY_MKDIR = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
}
ALLOW_ALL = {"defaultAction": "SCMP_ACT_ALLOW"}
DENIED = "Operation not permitted"


def _confined(containers: Containers, profile: dict[str, Any], *args: str) -> Bundle:
    bundle = containers.bundle(*(args or ("mkdir", "/x")))
    bundle.config["linux"]["seccomp"] = copy.deepcopy(profile)
    (bundle.rootfs / "bin" / "mkdir").symlink_to("busybox")
    return bundle


def _entry(containers: Containers, profile: dict[str, Any]) -> Path:
    return seccomp_cache.entry(profile, containers.state_root)


def test_the_first_start_caches_the_program_and_the_second_uses_it(
    containers: Containers,
) -> None:
    first = containers.run(_confined(containers, DENY_MKDIR))
    assert first.code != 0 and DENIED in first.stderr
    entry = _entry(containers, DENY_MKDIR)
    written = entry.stat()
    second = containers.run(_confined(containers, DENY_MKDIR))
    assert second.code != 0 and DENIED in second.stderr
    assert entry.stat().st_ino == written.st_ino  # read, not compiled and written again


def test_a_start_loads_what_the_cache_holds(
    containers: Containers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A miss that caches the mkdir-denying program for the allow-all profile: a later
    # start that reads the entry, rather than compiling, confines mkdir.
    with monkeypatch.context() as patch:
        patch.setattr(seccomp, "export_program", lambda config: export_program(DENY_MKDIR))
        containers.run(_confined(containers, ALLOW_ALL))
    result = containers.run(_confined(containers, ALLOW_ALL))
    assert result.code != 0 and DENIED in result.stderr


def test_an_entry_of_another_key_is_not_loaded(containers: Containers) -> None:
    # As if the two keys' names collided: the file says whose program it is.
    assert containers.run(_confined(containers, DENY_MKDIR)).code != 0
    entry = _entry(containers, ALLOW_ALL)
    shutil.copyfile(_entry(containers, DENY_MKDIR), entry)
    assert containers.run(_confined(containers, ALLOW_ALL)).code == 0
    assert entry.read_bytes() != _entry(containers, DENY_MKDIR).read_bytes()


def test_the_key_follows_the_profile_not_its_key_order(containers: Containers) -> None:
    reordered = dict(reversed(list(DENY_MKDIR.items())))
    assert _entry(containers, reordered) == _entry(containers, DENY_MKDIR)
    assert _entry(containers, ALLOW_ALL) != _entry(containers, DENY_MKDIR)
    assert containers.run(_confined(containers, DENY_MKDIR)).code != 0
    assert containers.run(_confined(containers, ALLOW_ALL)).code == 0
    entries = {path.name for path in (containers.state_root / seccomp_cache.CACHE_DIR).iterdir()}
    assert entries == {_entry(containers, p).name for p in (DENY_MKDIR, ALLOW_ALL)}


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-3],  # cut short: no longer whole instructions
        lambda data: data[:-8],  # cut at an instruction: the CRC no longer matches
        lambda data: data[:-5] + bytes([data[-5] ^ 1]) + data[-4:],  # a bit of the program
        lambda data: b"",
    ],
    ids=["partial-instruction", "whole-instructions", "flipped-bit", "empty"],
)
def test_a_damaged_entry_is_compiled_again(containers: Containers, damage: Any) -> None:
    assert containers.run(_confined(containers, DENY_MKDIR)).code != 0
    entry = _entry(containers, DENY_MKDIR)
    good = entry.read_bytes()
    entry.write_bytes(damage(good))
    result = containers.run(_confined(containers, DENY_MKDIR))
    assert result.code != 0 and DENIED in result.stderr
    assert entry.read_bytes() == good


def test_exec_gets_the_cached_filter(containers: Containers) -> None:
    bundle = _confined(containers, DENY_MKDIR, "sleep", "100")
    containers.start(bundle)
    assert _entry(containers, DENY_MKDIR).exists()
    result = containers.exec(bundle, "mkdir", "/y")
    assert result.code != 0 and DENIED in result.stderr
    assert containers.exec(bundle, "touch", "/y").code == 0  # only what the profile denies


def test_a_bad_profile_fails_create_and_caches_nothing(containers: Containers) -> None:
    bundle = _confined(containers, {"defaultAction": "SCMP_ACT_BOGUS"})
    with pytest.raises(InvalidArgumentError, match="seccomp defaultAction: unknown action"):
        containers.create(bundle)
    assert not (containers.state_root / bundle.container_id).exists()
    assert not (containers.state_root / seccomp_cache.CACHE_DIR).exists()


_RUN_AND_REPORT_IMPORTS = """
import json, sys
from pathlib import Path
from engine import runtime
code = runtime.run(sys.argv[1], Path(sys.argv[2]), state_root=Path(sys.argv[3]))
print(json.dumps({"code": code, "pyseccomp": "pyseccomp" in sys.modules}), file=sys.stderr)
"""


def test_a_hit_never_imports_libseccomp(containers: Containers, tmp_path: Path) -> None:
    def run() -> dict[str, Any]:
        bundle = _confined(containers, DENY_MKDIR)
        bundle.write()
        command = [sys.executable, "-c", _RUN_AND_REPORT_IMPORTS, bundle.container_id,
                   str(bundle.path), str(containers.state_root)]  # fmt: skip
        # files, not pipes: the container inherits them (see the berth_runtime fixture)
        with open(tmp_path / "out", "w+") as out:
            subprocess.run(command, stdout=out, stderr=out, timeout=30, check=True)
            out.seek(0)
            return json.loads(out.read().splitlines()[-1])

    assert run() == {"code": 1, "pyseccomp": True}  # a miss compiles
    assert run() == {"code": 1, "pyseccomp": False}


# -- the loader --------------------------------------------------------------------------


def _in_child(body: Any) -> int:
    """The exit code of ``body()`` (an errno, 0 for none) run in a forked child."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(body())
        finally:
            os._exit(255)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _mkdir_after_loading(program: bytes, directory: Path) -> int:
    syscalls.set_no_new_privs()  # loading as anyone, CAP_SYS_ADMIN or not
    syscalls.load_seccomp_filter(program)
    try:
        os.mkdir(directory / "x")
    except OSError as error:
        return error.errno
    return 0


def test_load_seccomp_filter_confines_the_caller(tmp_path: Path) -> None:
    program = export_program(DENY_MKDIR)
    assert _in_child(lambda: _mkdir_after_loading(program, tmp_path)) == errno.EPERM
    assert not (tmp_path / "x").exists()
    os.mkdir(tmp_path / "x")  # the parent is not confined


def test_load_seccomp_filter_falls_back_to_prctl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without a syscall number the loader sees ENOSYS, as on a kernel before 3.17.
    monkeypatch.setattr(syscalls, "_SYSCALL_NUMBERS", {})
    program = export_program(DENY_MKDIR)
    assert _in_child(lambda: _mkdir_after_loading(program, tmp_path)) == errno.EPERM


@pytest.mark.parametrize("size", [0, 7, 8 * (syscalls.BPF_MAXINSNS + 1)])
def test_load_seccomp_filter_refuses_what_is_no_program(size: int) -> None:
    with pytest.raises(OSError, match="is no BPF program") as caught:
        syscalls.load_seccomp_filter(bytes(size))
    assert caught.value.errno == errno.EINVAL
