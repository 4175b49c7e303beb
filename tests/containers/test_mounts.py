"""run -v, --mount and --volumes-from: what the container sees, and what the kernel enforces."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest


def _rows(engine, table: str) -> list[tuple]:
    with sqlite3.connect(engine.paths.database) as conn:
        return conn.execute(f"SELECT * FROM {table}").fetchall()


def _volume_names(engine) -> list[str]:
    return sorted(path.name for path in engine.paths.volumes.iterdir())


def test_named_volume_keeps_data_across_containers_with_its_owner(berth, engine):
    write = berth("run", "--rm", "-v", "store:/data", "busybox", "sh", "-c",
                  "echo kept > /data/file && chown 1234:55 /data/file")  # fmt: skip
    assert write.returncode == 0, write.stderr
    read = berth("run", "--rm", "-v", "store:/data", "busybox", "stat", "-c", "%u:%g %n",
                 "/data/file")  # fmt: skip
    assert read.stdout == "1234:55 /data/file\n", read.stderr
    # a named volume outlives --rm, and its files are on the host, where Docker keeps them
    assert (engine.paths.volume_data("store") / "file").read_text() == "kept\n"


def test_read_only_mounts_refuse_writes_with_erofs(berth, tmp_path: Path):
    host = tmp_path / "host"
    host.mkdir()
    for flag in (["-v", f"{host}:/mnt:ro"], ["--mount", f"type=bind,src={host},dst=/mnt,ro"],
                 ["-v", "ro-volume:/mnt:ro"]):  # fmt: skip
        result = berth("run", "--rm", *flag, "busybox", "sh", "-c", "touch /mnt/x")
        assert result.returncode == 1, flag
        assert "Read-only file system" in result.stderr, flag
    assert list(host.iterdir()) == []


@pytest.mark.parametrize("runtime", ["berth", "runc"])
def test_a_read_only_bind_is_read_only_in_the_mounts_below_it_too(berth, tmp_path: Path, runtime):
    host = tmp_path / "tree"
    (host / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "below", str(host / "sub")], check=True)
    try:
        result = berth("run", "--rm", "--runtime", runtime, "-v", f"{host}:/h:ro", "busybox",
                       "sh", "-c", "touch /h/sub/x")  # fmt: skip
        assert "Read-only file system" in result.stderr, result.stderr
        assert list((host / "sub").iterdir()) == []
    finally:
        subprocess.run(["umount", str(host / "sub")], check=True)


def test_bind_mount_shows_host_changes_live(berth, tmp_path: Path):
    host = tmp_path / "live"
    host.mkdir()
    container = berth("run", "-d", "-v", f"{host}:/live", "busybox", "sleep", "30").stdout.strip()
    (host / "later").write_text("from the host\n")
    assert berth("exec", container, "cat", "/live/later").stdout == "from the host\n"
    assert berth("exec", container, "sh", "-c", "echo back > /live/reply").returncode == 0
    assert (host / "reply").read_text() == "back\n"
    berth("rm", "-f", container)


def test_v_makes_a_missing_host_directory_and_mount_refuses_one(berth, tmp_path: Path):
    missing = tmp_path / "made" / "by-v"
    assert berth("run", "--rm", "-v", f"{missing}:/x", "busybox", "true").returncode == 0
    assert missing.is_dir()
    absent = tmp_path / "absent"
    result = berth("run", "--rm", "--mount", f"type=bind,source={absent},target=/x", "busybox",
                   "true")  # fmt: skip
    assert result.returncode == 125
    assert result.stderr == (
        f'berth: invalid --mount "type=bind,source={absent},target=/x": '
        f"bind source path does not exist: {absent}\n"
    )
    assert not absent.exists()


@pytest.mark.parametrize(
    ("recursive", "top", "below"),
    [("enabled", "ro", "ro"), ("readonly", "ro", "ro"), ("writable", "ro", "rw"),
     ("disabled", "ro", "not mounted")],
)  # fmt: skip
def test_bind_recursive_decides_what_is_read_only_below(berth, tmp_path: Path, recursive: str,
                                                       top: str, below: str) -> None:  # fmt: skip
    host = tmp_path / "top"
    (host / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(host / "sub")], check=True)
    try:
        (host / "sub" / "marker").write_text("on the tmpfs\n")
        probe = ("touch /t/x 2>/dev/null && echo rw || echo ro; "
                 "[ -e /t/sub/marker ] || { echo not mounted; exit; }; "
                 "touch /t/sub/y 2>/dev/null && echo rw || echo ro")  # fmt: skip
        mount = f"type=bind,source={host},target=/t,readonly,bind-recursive={recursive}"
        result = berth("run", "--rm", "--mount", mount, "busybox", "sh", "-c", probe)
        assert result.stdout.splitlines() == [top, below], result.stderr
    finally:
        subprocess.run(["umount", "-l", str(host / "sub")], check=False)
    not_readonly = f"type=bind,source={host},target=/t,bind-recursive=readonly"
    refused = berth("run", "--rm", "--mount", not_readonly, "busybox")
    assert refused.returncode == 125
    assert "bind-recursive=readonly needs readonly as well" in refused.stderr


def test_a_bind_nested_in_a_volume_has_its_mount_point_made_in_the_volume(
    berth, engine, tmp_path: Path
):
    host = tmp_path / "conf"
    host.mkdir()
    (host / "app.ini").write_text("[app]\n")
    result = berth("run", "--rm", "-v", "outer:/srv", "-v", f"{host}:/srv/conf:ro",
                   "-v", f"{host / 'app.ini'}:/srv/deep/app.ini", "busybox", "sh", "-c",
                   "cat /srv/conf/app.ini /srv/deep/app.ini")  # fmt: skip
    assert result.stdout == "[app]\n[app]\n", result.stderr
    data = engine.paths.volume_data("outer")
    assert (data / "conf").is_dir() and (data / "deep" / "app.ini").is_file()
    assert sorted(path.name for path in host.iterdir()) == ["app.ini"]


def test_tmpfs_mount_refuses_the_second_megabyte(berth):
    result = berth("run", "--rm", "--mount", "type=tmpfs,destination=/scratch,tmpfs-size=1m",
                   "busybox", "sh", "-c",
                   "dd if=/dev/zero of=/scratch/a bs=1k count=1000 2>/dev/null && echo first;"
                   " dd if=/dev/zero of=/scratch/b bs=1k count=1024 2>&1")  # fmt: skip
    assert result.stdout.splitlines()[0] == "first"
    assert "No space left on device" in result.stdout


def test_copy_up_fills_a_fresh_volume_from_the_image_with_owners_and_modes(berth):
    made = berth("run", "--name", "maker", "busybox", "sh", "-c",
                 "mkdir -p /srv/app/sub && echo conf > /srv/app/app.conf && "
                 "ln -s app.conf /srv/app/link && chown -R 1000:1000 /srv/app && "
                 "chmod 0750 /srv/app && chmod 0600 /srv/app/app.conf")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert berth("commit", "maker", "withapp").returncode == 0
    listing = "stat -c '%a %u:%g %N' /srv/app /srv/app/app.conf /srv/app/sub /srv/app/link"
    expected = berth("run", "--rm", "withapp", "sh", "-c", listing).stdout
    copied = berth("run", "--rm", "-v", "appdata:/srv/app", "withapp", "sh", "-c",
                   f"{listing}; cat /srv/app/app.conf")  # fmt: skip
    assert copied.stdout == expected + "conf\n", copied.stderr
    # once used, never copied into again: an emptied volume stays empty
    berth("run", "--rm", "-v", "appdata:/srv/app", "withapp", "sh", "-c", "rm -rf /srv/app/*")
    again = berth("run", "--rm", "-v", "appdata:/srv/app", "withapp", "ls", "-A", "/srv/app")
    assert again.stdout == ""
    # nocopy: a fresh volume stays empty
    nocopy = berth("run", "--rm", "-v", "bare:/srv/app:nocopy", "withapp", "ls", "-A", "/srv/app")
    assert nocopy.returncode == 0 and nocopy.stdout == ""


def test_image_volume_becomes_an_anonymous_volume_removed_by_rm_v(berth, engine):
    assert berth("run", "--name", "base", "busybox", "true").returncode == 0
    assert berth("commit", "-c", "VOLUME /data", "base", "withvolume").returncode == 0
    berth("rm", "base")
    assert berth("run", "--name", "user", "withvolume", "sh", "-c",
                 "echo x > /data/f").returncode == 0  # fmt: skip
    mounts = json.loads(berth("inspect", "user").stdout)[0]["Mounts"]
    assert [(m["Type"], m["Destination"], m["Driver"], m["RW"]) for m in mounts] == [
        ("volume", "/data", "local", True)
    ]
    anonymous = mounts[0]["Name"]
    assert len(anonymous) == 64
    assert mounts[0]["Source"] == str(engine.paths.volume_data(anonymous))
    assert (Path(mounts[0]["Source"]) / "f").read_text() == "x\n"
    assert berth("run", "--name", "keeper", "-v", "named:/keep", "busybox", "true").returncode == 0
    assert berth("rm", "-v", "user", "keeper").returncode == 0
    assert _volume_names(engine) == ["named"]  # named volumes never go with a container
    assert _rows(engine, "container_mounts") == []


def test_run_rm_removes_its_anonymous_volumes(berth, engine):
    assert (
        berth("run", "--rm", "-v", "/anon", "-v", "kept:/kept", "busybox", "true").returncode == 0
    )
    assert _volume_names(engine) == ["kept"]


def test_volumes_from_shares_volumes_and_binds_with_the_mode_asked(berth, tmp_path: Path):
    host = tmp_path / "shared"
    host.mkdir()
    assert berth("create", "--name", "source", "-v", "shared-vol:/vol", "-v", f"{host}:/bind",
                 "busybox").returncode == 0  # fmt: skip
    writer = berth("run", "--rm", "--volumes-from", "source", "busybox", "sh", "-c",
                   "echo v > /vol/f && echo b > /bind/f")  # fmt: skip
    assert writer.returncode == 0, writer.stderr
    reader = berth("run", "--rm", "--volumes-from", "source:ro", "busybox", "sh", "-c",
                   "cat /vol/f /bind/f; touch /vol/g")  # fmt: skip
    assert reader.stdout == "v\nb\n"
    assert "Read-only file system" in reader.stderr
    assert (host / "f").read_text() == "b\n"


def test_inspect_shows_mounts_and_host_config_as_docker(berth, tmp_path: Path):
    host = tmp_path / "cfg"
    host.mkdir()
    created = berth(
        "create", "--name", "web", "-v", f"{host}:/etc/app:ro", "-v", "webdata:/data",
        "--mount", "type=tmpfs,target=/run/cache,tmpfs-size=64k",
        "--mount", f"type=bind,source={host},target=/opt,bind-propagation=rslave", "busybox",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    details = json.loads(berth("inspect", "web").stdout)[0]
    shown = {m["Destination"]: m for m in details["Mounts"]}
    assert shown["/etc/app"] == {
        "Type": "bind",
        "Source": str(host),
        "Destination": "/etc/app",
        "Mode": "ro",
        "RW": False,
        "Propagation": "rprivate",
    }
    assert shown["/data"]["Name"] == "webdata" and shown["/data"]["RW"]
    assert shown["/opt"]["Propagation"] == "rslave"
    assert shown["/run/cache"]["Type"] == "tmpfs"
    host_config = details["HostConfig"]
    assert host_config["Binds"] == [f"{host}:/etc/app:ro", "webdata:/data"]
    assert host_config["Mounts"] == [
        {"Type": "tmpfs", "Target": "/run/cache", "TmpfsOptions": {"SizeBytes": 65536}},
        {"Type": "bind", "Source": str(host), "Target": "/opt",
         "BindOptions": {"Propagation": "rslave"}},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["-v", "rel/dir:/x"], 'berth: invalid volume "rel/dir:/x": "rel/dir" is neither an '
         "absolute host path nor a volume name (letters, digits, _ . -); a bind mount needs an "
         "absolute path\n"),
        (["-v", "/a:relative"],
         'berth: invalid mount "/a:relative": the container path "relative" must be absolute\n'),
        (["-v", "one:/x", "--mount", "type=volume,source=two,target=/x"],
         "berth: duplicate mount point: /x (two mounts on one container path)\n"),
        (["-v", "one:/x", "--tmpfs", "/x"],
         "berth: duplicate mount point: /x (two mounts on one container path)\n"),
        (["--mount", "type=volume,source=one,target=/x,colour=blue"],
         "berth: invalid --mount \"type=volume,source=one,target=/x,colour=blue\": unexpected "
         "key 'colour' in 'colour=blue' (keys: type, source, target, readonly, "
         "bind-propagation, bind-recursive, volume-nocopy, volume-opt, volume-label, "
         "volume-driver, tmpfs-size, tmpfs-mode)\n"),
        (["-v", "good:/ok", "--volumes-from", "nosuch"],
         'berth: no such container: "nosuch" (see berth ps -a)\n'),
    ],
)  # fmt: skip
def test_bad_mounts_are_refused_in_one_line_with_nothing_made(berth, engine, flags, error):
    for command in ("run", "create"):
        result = berth(command, "--name", "bad", *flags, "busybox", "true")
        assert (result.returncode, result.stderr) == (125, error)
    assert _volume_names(engine) == []
    assert _rows(engine, "volumes") == [] and _rows(engine, "containers") == []
    assert str(engine.paths.root) not in Path("/proc/self/mounts").read_text()


def test_a_volume_made_for_a_create_that_fails_later_is_removed(berth, engine):
    assert berth("create", "--name", "taken", "busybox").returncode == 0
    result = berth("create", "--name", "taken", "-v", "fresh:/x", "-v", "/anon", "busybox")
    assert result.returncode == 125
    assert "already in use" in result.stderr
    assert _volume_names(engine) == []
