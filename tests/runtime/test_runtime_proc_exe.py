"""Nothing of the host is openable through /proc while a process enters a container.

From its fork to its execve, the runtime's child (an exec'd process, or a container's
init) is the host's Python in the container's pid namespace, and from the moment it
drops to the container's capabilities, a container process with the same uid passes
the kernel's ptrace check on it: it could open its /proc/PID/exe and overwrite the
host's binary (runc's CVE-2019-5736) — unless the child is not dumpable. A reader in
the container races many starts here, and must never get the host's binary.
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine.containers.security import DEFAULT_CAPABILITIES
from engine.linux import syscalls
from tests.runtime.conftest import BUSYBOX

if TYPE_CHECKING:
    from tests.runtime.conftest import Bundle, Containers

EXECS = 150
INITS = 40
# Opens /proc/PID/exe of every process but itself, as fast as it can (the shell opens
# it: no fork per try), and checksums what it opened; notes each /proc/PID/fd/N above
# stdio it can follow ([ -e ] passes the same check as open; a started process has only
# stdio once its program runs). Until /tmp/stop appears.
READER = """
while [ ! -e /tmp/stop ]; do
    for p in /proc/[0-9]*; do
        [ "$p" = "/proc/$$" ] && continue
        { echo "$(md5sum <&3)"; } 3<"$p/exe"
        for f in "$p"/fd/*; do
            case "$f" in */fd/[012]) ;; *) [ -e "$f" ] && echo "$f" >&4 ;; esac
        done
    done
done 2>/tmp/refused >/tmp/reads 4>/tmp/fds
true
"""
_SUM = re.compile(r"^([0-9a-f]{32})  -$", re.M)
_REFUSED = re.compile(r"^sh: can't open /proc/\d+/exe: Permission denied$", re.M)
# The shell's /proc/PID/ is its user's, and its children (same user, same capabilities)
# can open its exe and fd/: what ps, pgrep or lsof in a container need.
DUMPABLE = "stat -c %u /proc/$$; readlink /proc/$$/exe; ls /proc/$$/fd; true"


def test_execs_never_show_the_host_binary(containers: Containers) -> None:
    reader = _confined(containers.bundle("sh", "-c", READER))
    init = containers.start(reader)

    def exec_one() -> None:
        assert containers.wait(containers.exec_process(reader, "sleep", "0.01")) == 0

    _race(containers, reader, init, exec_one, EXECS)


def test_inits_in_a_shared_pid_namespace_never_show_the_host_binary(
    containers: Containers,
) -> None:
    """``--pid container:X``: the reader sees the inits of other containers start."""
    reader = _confined(containers.bundle("sh", "-c", READER))
    init = containers.start(reader)

    def run_one() -> None:
        bundle = _confined(containers.bundle("sleep", "0.01"))
        for namespace in bundle.config["linux"]["namespaces"]:
            if namespace["type"] == "pid":
                namespace["path"] = f"/proc/{init}/ns/pid"
        assert containers.run(bundle).code == 0

    _race(containers, reader, init, run_one, INITS)


@pytest.mark.parametrize("uid", [0, 1000])
def test_the_containers_program_is_dumpable_again(containers: Containers, uid: int) -> None:
    expected = (0, [str(uid), "/bin/busybox", "0", "1", "2"], "")
    bundle = _confined(containers.bundle("sh", "-c", DUMPABLE))
    bundle.process["user"] = {"uid": uid, "gid": uid}
    ran = containers.run(bundle)
    assert (ran.code, ran.stdout.split(), ran.stderr) == expected

    running = _confined(containers.bundle("sleep", "100"))
    containers.start(running)
    done = containers.exec(running, "sh", "-c", DUMPABLE, user={"uid": uid, "gid": uid})
    assert (done.code, done.stdout.split(), done.stderr) == expected
    assert syscalls.is_dumpable()  # the caller, not dumpable only while it forked


def _confined(bundle: Bundle) -> Bundle:
    """Docker's default capabilities for the bundle's processes (no CAP_SYS_PTRACE)."""
    capabilities = list(DEFAULT_CAPABILITIES)
    bundle.process["capabilities"] = {
        "bounding": capabilities, "effective": capabilities, "permitted": capabilities,
    }  # fmt: skip
    (bundle.rootfs / "bin" / "md5sum").symlink_to("busybox")
    return bundle


def _race(
    containers: Containers, reader: Bundle, init: int, start_one: Callable[[], None], count: int
) -> None:
    started = time.monotonic()
    for _ in range(count):
        start_one()
    took = time.monotonic() - started
    tmp = reader.rootfs / "tmp"
    (tmp / "stop").touch()
    assert containers.wait(init) == 0
    sums = _SUM.findall((tmp / "reads").read_text())
    refused = len(_REFUSED.findall((tmp / "refused").read_text()))
    fds = (tmp / "fds").read_text().split()

    host, busybox = _md5(Path(sys.executable).resolve()), _md5(BUSYBOX)
    print(f"{count} started in {took:.1f}s; {len(sums)} exe read, {sums.count(host)} of them "
          f"the host's binary; {refused} refused; {len(fds)} fds reached")  # fmt: skip
    assert host not in sums, f"the container read the host's binary {sums.count(host)} times"
    assert not fds, f"the container reached the runtime's descriptors: {fds[:5]}"
    assert set(sums) <= {busybox}
    # Not vacuous: the reader opened the exe of the processes started (busybox: they
    # are dumpable again after execve), and found some before their execve (refused).
    assert sums.count(busybox) > 0 and refused > 0


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()
