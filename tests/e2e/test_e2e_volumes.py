"""Named volumes as a user keeps data in them: each step a fresh ``berth`` process."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.berth_cli import Berth, describe
from tests.e2e.conftest import settled_leaks


def _nothing_left(berth: Berth) -> None:
    """No volume row, directory or mount, nor anything else of berth's, remains."""
    assert berth.ok("volume", "ls", "-q").stdout == ""
    assert list((berth.root / "volumes").iterdir()) == []
    assert settled_leaks(berth) == []


def test_data_outlives_its_container_with_its_owner_and_an_in_use_volume_stays(
    berth: Berth,
) -> None:
    assert berth.ok("volume", "create", "appdata", "--label", "app=shop").stdout == "appdata\n"
    write = "echo order-1 > /var/lib/app/orders && chown 1234:5678 /var/lib/app/orders"
    berth.ok("run", "--name", "writer", "-v", "appdata:/var/lib/app", "busybox", "sh", "-c", write)
    # a stopped container still uses its volumes: Docker refuses, -f or not
    for force in ([], ["-f"]):
        refused = berth("volume", "rm", *force, "appdata")
        assert (refused.returncode, refused.stdout) == (1, ""), describe(refused)
        assert refused.stderr == (
            'berth: volume "appdata" is in use by container(s) writer: remove them first '
            "(berth rm)\n"
        )
    berth.ok("rm", "-v", "writer")  # -v takes anonymous volumes only
    read = berth.ok("run", "--rm", "-v", "appdata:/data", "busybox", "sh", "-c",
                    "cat /data/orders; stat -c %u:%g /data/orders")  # fmt: skip
    assert read.stdout == "order-1\n1234:5678\n"
    [details] = json.loads(berth.ok("volume", "inspect", "appdata").stdout)
    assert details["Labels"] == {"app": "shop"}
    assert berth.ok("volume", "rm", "appdata").stdout == "appdata\n"
    _nothing_left(berth)


def test_tmpfs_volume_refuses_the_2nd_mb_and_goes_with_volume_rm(berth: Berth) -> None:
    berth.ok("volume", "create", "scratch", "-o", "type=tmpfs", "-o", "device=tmpfs",
             "-o", "o=size=1m,mode=1777")  # fmt: skip
    fill = berth("run", "--rm", "-v", "scratch:/scratch", "busybox", "sh", "-c",
                 "dd if=/dev/zero of=/scratch/one bs=1k count=1000 2>/dev/null && echo 1st MB;"
                 "dd if=/dev/zero of=/scratch/two bs=1k count=1024")  # fmt: skip
    assert fill.returncode != 0 and fill.stdout == "1st MB\n", describe(fill)
    assert "No space left on device" in fill.stderr
    # the file system stays with the volume: the next container sees the first MB
    size = ("busybox", "stat", "-c", "%s", "/s/one")
    assert berth.ok("run", "--name", "reader", "-v", "scratch:/s", *size).stdout == "1024000\n"
    # a refused volume rm leaves its file system mounted, the files in it
    assert berth("volume", "rm", "scratch").returncode == 1
    assert berth.ok("run", "--rm", "-v", "scratch:/s", *size).stdout == "1024000\n"
    berth.ok("rm", "reader")
    mode = berth.ok("volume", "inspect", "-f", "{{.Options.o}}", "scratch")
    assert mode.stdout == "size=1m,mode=1777\n"
    assert berth.ok("volume", "rm", "scratch").stdout == "scratch\n"
    _nothing_left(berth)


def test_prune_takes_the_anonymous_volume_a_removed_container_left(berth: Berth) -> None:
    berth.ok("run", "--name", "job", "-v", "/cache", "busybox", "sh", "-c",
             "head -c 2000000 /dev/zero > /cache/blob")  # fmt: skip
    berth.ok("volume", "create", "named")
    anonymous = berth.ok("volume", "ls", "-q", "--filter", "dangling=false").stdout.strip()
    berth.ok("rm", "job")  # without -v: its anonymous volume stays, unused
    assert berth.ok("volume", "ls", "-q", "--filter", "dangling=true").stdout.split() == sorted(
        [anonymous, "named"]
    )
    pruned = berth("volume", "prune", input="y\n")
    assert pruned.returncode == 0, describe(pruned)
    assert pruned.stdout.endswith(
        f"Deleted Volumes:\n{anonymous}\n\nTotal reclaimed space: 2MB\n"
    ), describe(pruned)
    assert berth.ok("volume", "prune", "-af").stdout == (
        "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n"
    )
    _nothing_left(berth)


def test_ps_shows_each_containers_mounts_when_asked(berth: Berth, tmp_path: Path) -> None:
    source = tmp_path / "a-rather-long-source"
    source.mkdir()
    berth.ok("create", "--name", "holder", "-v", "named:/data", "-v", f"{source}:/src",
             "busybox", "true")  # fmt: skip
    short = berth.ok("ps", "-a", "--format", "{{.Names}} {{.Mounts}}").stdout
    assert short == f"holder named,{str(source)[:14]}…\n"
    full = berth.ok("ps", "-a", "--no-trunc", "--format", "{{.Mounts}}").stdout
    assert full == f"named,{source}\n"
    berth.ok("rm", "holder")
    berth.ok("volume", "rm", "named")
    _nothing_left(berth)
