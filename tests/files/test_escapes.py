"""Symlinks inside a container never let cp read or write the host (CVE-2018-15664).

The host's /etc is never the target: a scratch directory (``victim``) stands for it,
and the container's links aim at its absolute path, directly, through a ".." chain,
or swapped in while copies run. Its snapshot must not change.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import BerthError
from tests.files.conftest import ok, snapshot

DOTS = "../" * 12


def plant_links(berth, container: str, victim: Path) -> None:
    """/tmp/evil -> /etc, /tmp/host -> the victim, /tmp/dots -> ../../..<victim>; and a
    directory of the container at the victim's path, as the links see it."""
    ok(berth, "exec", container, "sh", "-c",
       f"ln -s /etc /tmp/evil && ln -s {victim} /tmp/host && ln -s {DOTS}{victim} /tmp/dots"
       f" && mkdir -p {victim} && echo container-side > {victim}/passwd")  # fmt: skip


@pytest.mark.parametrize("stopped", [False, True], ids=["running", "stopped"])
def test_links_to_host_paths_resolve_inside_the_container(
    berth, web, victim: Path, tmp_path: Path, stopped: bool
) -> None:
    plant_links(berth, "web", victim)
    container_passwd = ok(berth, "exec", "web", "cat", "/etc/passwd")
    if stopped:
        ok(berth, "stop", "-t", "0", "web")
    before = snapshot(victim)
    out = tmp_path / "out"
    out.mkdir()
    ok(berth, "cp", "-q", "web:/tmp/evil/passwd", str(out / "evil"))
    ok(berth, "cp", "-q", "web:/tmp/host/passwd", str(out / "host"))
    ok(berth, "cp", "-q", "web:/tmp/dots/passwd", str(out / "dots"))
    ok(berth, "cp", "-q", "-L", "web:/tmp/host", str(out / "followed"))
    assert (out / "evil").read_text() == container_passwd
    assert (out / "host").read_text() == (out / "dots").read_text() == "container-side\n"
    assert (out / "followed" / "passwd").read_text() == "container-side\n"

    planted = tmp_path / "planted"
    planted.write_text("planted\n")
    for target in ("web:/tmp/evil/planted", "web:/tmp/host/", "web:/tmp/dots/"):
        ok(berth, "cp", "-q", str(planted), target)
    assert snapshot(victim) == before
    if stopped:
        ok(berth, "start", "web")
    found = ok(berth, "exec", "web", "cat", "/etc/planted", f"{victim}/planted")
    assert found == "planted\n" * 2


async def test_a_link_swapped_in_during_copies_never_reaches_the_host(
    engine, berth, web, victim: Path, tmp_path: Path
) -> None:
    """The container swaps /tmp/sw between a directory and a link to the victim's path
    (which, inside it, does not exist) as fast as it can, while copies run both ways."""
    before = snapshot(victim)
    ok(berth, "exec", "-d", "web", "sh", "-c",
       f"while :; do mkdir /tmp/d && echo inside > /tmp/d/passwd && mv -T /tmp/d /tmp/sw;"
       f" rm -rf /tmp/sw; ln -s {DOTS}{victim} /tmp/sw; rm /tmp/sw; done")  # fmt: skip
    planted = tmp_path / "planted"
    planted.write_text("planted\n")
    out = tmp_path / "out"
    out.mkdir()
    for attempt in range(15):
        with contextlib.suppress(BerthError):  # the path may be a link, or gone: fine
            await engine.files.copy_to("web", str(planted), f"/tmp/sw/x{attempt}")
        with contextlib.suppress(BerthError):
            await engine.files.copy_from("web", "/tmp/sw/passwd", str(out / f"p{attempt}"))
        await asyncio.sleep(0)
    assert snapshot(victim) == before
    for copied in out.iterdir():
        assert copied.read_text() == "inside\n"  # never the host's


_EVIL_NSS = """
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void planted(void) {
    int fd = open("/pwned", O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) close(fd);
}
"""
_LIBRARY_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
                 "/usr/lib/aarch64-linux-gnu", "/lib64", "/lib", "/usr/lib")  # fmt: skip


def test_no_user_or_group_name_is_looked_up_in_the_container(berth, web, tmp_path: Path) -> None:
    """CVE-2019-14271: a lookup would load the container's libnss modules into a host
    process. The container plants one that leaves /pwned wherever it is loaded; a lookup
    made from inside the container's root proves the trap works, then the copies (owners
    1234:5678 both ways, with and without -a) must not spring it."""
    if shutil.which("cc") is None:
        pytest.skip("needs a C compiler (cc) to build the planted libnss module")
    source = tmp_path / "evil.c"
    source.write_text(_EVIL_NSS)
    library = tmp_path / "libnss_evil.so.2"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    ok(berth, "exec", "web", "sh", "-c",
       "printf 'passwd: evil\\ngroup: evil\\n' > /etc/nsswitch.conf && mkdir -p "
       + " ".join(_LIBRARY_DIRS) + " && echo x > /owned && chown 1234:5678 /owned")  # fmt: skip
    for directory in _LIBRARY_DIRS:
        ok(berth, "cp", "-q", str(library), f"web:{directory}/")

    pid = berth("inspect", "-f", "{{.State.Pid}}", "web").stdout.strip()
    trap = (f"import os, pwd; os.chroot('/proc/{pid}/root'); os.chdir('/')\n"
            "try:\n    pwd.getpwuid(1234)\nexcept KeyError:\n    pass")  # fmt: skip
    subprocess.run([sys.executable, "-c", trap], check=True)
    assert ok(berth, "exec", "web", "sh", "-c", "ls /pwned && rm /pwned") == "/pwned\n"

    owned = tmp_path / "owned"
    owned.write_text("y")
    os.chown(owned, 1234, 5678)
    for flags in ((), ("-a",)):
        ok(berth, "cp", "-q", *flags, "web:/owned", str(tmp_path / f"back{len(flags)}"))
        ok(berth, "cp", "-q", *flags, str(owned), "web:/tmp/")
        ok(berth, "cp", "-q", *flags, "web:/etc", str(tmp_path / f"etc{len(flags)}"))
    ok(berth, "stop", "-t", "0", "web")
    ok(berth, "cp", "-q", "-a", str(owned), "web:/tmp/again")
    ok(berth, "cp", "-q", "-a", "web:/owned", str(tmp_path / "stopped"))
    ok(berth, "start", "web")
    assert ok(berth, "exec", "web", "sh", "-c", "ls /pwned 2>/dev/null; true") == ""
