"""Mounts as a user meets them: each step a fresh ``berth`` process, nothing alive between."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.berth_cli import Berth


def test_dev_container_with_bound_source_and_a_database_volume(
    berth: Berth, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "main.c").write_text("int main() {}\n")
    # from the project's directory, with a relative source as Docker's client (23+) takes it
    started = subprocess.run(
        berth.argv("run", "-d", "--name", "dev", "-v", "./src:/src", "-v", "db:/var/lib/db",
                   "--mount", "type=bind,source=/etc/os-release,target=/host-os,readonly",
                   "busybox", "sleep", "60"),
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    dev = started.stdout.strip()
    berth.seen.add(dev)
    # the editor on the host, the build in the container: both see the other's writes
    (source / "main.c").write_text("int main() { return 0; }\n")
    assert berth.ok("exec", "dev", "cat", "/src/main.c").stdout == "int main() { return 0; }\n"
    berth.ok("exec", "dev", "sh", "-c", "echo built > /src/a.out && echo row > /var/lib/db/t")
    assert (source / "a.out").read_text() == "built\n"
    refused = berth("exec", "dev", "sh", "-c", "echo x > /host-os")
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    berth.ok("rm", "-f", "-v", dev)
    # the named volume outlived its container; the next one finds the row
    assert berth.ok("run", "--rm", "-v", "db:/data", "busybox", "cat", "/data/t").stdout == "row\n"
    assert berth.ok("volume", "ls", "-q").stdout == "db\n"
    berth.ok("volume", "rm", "db")


def test_bad_mount_flags_leave_nothing(berth: Berth, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    for flags in (["-v", "rel/dir:/x"], ["-v", "/a:relative"], ["-v", "a1:/x", "-v", "a2:/x"],
                  ["--mount", "type=volume,src=a1,dst=/x,shiny=yes"],
                  ["--mount", f"type=bind,src={missing},dst=/x"]):  # fmt: skip
        result = berth("run", "--rm", *flags, "busybox", "true")
        assert result.returncode == 125, flags
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("berth: "), flags
    assert berth.ok("volume", "ls", "-q").stdout == ""
    assert berth.ok("ps", "-aq").stdout == ""
    assert not missing.exists()
    assert list((berth.root / "volumes").iterdir()) == []
