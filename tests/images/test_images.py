"""Images and layers: import formats, content addressing, tags, rmi, the starter image."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import os
import stat
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import AmbiguousError, ConflictError, InvalidArgumentError, NotFoundError
from engine.images.config import apply_changes
from engine.images.reference import parse_reference
from tests.conftest import BERTH


def make_tar(entries: dict[str, bytes | None], *, extra: list[tarfile.TarInfo] = ()) -> bytes:
    """A tar with files (bytes) and directories (None), in the given order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return buffer.getvalue()


@pytest.fixture
def empty_engine(engine_paths) -> Engine:
    return Engine(engine_paths)


# -- references -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "repository", "tag"),
    [("busybox", "busybox", "latest"), ("busybox:1.36", "busybox", "1.36"),
     ("ns/app:v1", "ns/app", "v1"), ("localhost:5000/ns/app", "localhost:5000/ns/app", "latest"),
     ("registry.example.com:5000/a/b:c-d.e_f", "registry.example.com:5000/a/b", "c-d.e_f")],
)  # fmt: skip
def test_references(text, repository, tag):
    reference = parse_reference(text)
    assert (reference.repository, reference.tag) == (repository, tag)


@pytest.mark.parametrize("text", ["Busybox", "a:b:c", "bad tag", "-lead", "x:", "app@sha256:00"])
def test_bad_references(text):
    with pytest.raises(InvalidArgumentError):
        parse_reference(text)


# -- --change ---------------------------------------------------------------------


def test_changes_in_both_forms():
    config = apply_changes({}, [
        'CMD ["echo", "hi"]', "ENTRYPOINT /bin/app --flag", 'ENV A=1 B="two words"',
        "ENV LEGACY some value", "WORKDIR /srv", "WORKDIR app", "USER nobody:nogroup",
        "EXPOSE 80 53/udp 8000-8001", 'LABEL org.example="x y" v=1',
    ])  # fmt: skip
    assert config == {
        "Cmd": ["echo", "hi"],
        "Entrypoint": ["/bin/sh", "-c", "/bin/app --flag"],
        "Env": ["A=1", "B=two words", "LEGACY=some value"],
        "WorkingDir": "/srv/app",
        "User": "nobody:nogroup",
        "ExposedPorts": {"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}},
        "Labels": {"org.example": "x y", "v": "1"},
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [("RUN make", 'unsupported --change instruction: "RUN"'), ("EXPOSE http", "invalid port"),
     ("LABEL novalue", "is not KEY=VALUE"), ("CMD", "needs an argument")],
)  # fmt: skip
def test_bad_changes(change, message):
    with pytest.raises(InvalidArgumentError, match=message):
        apply_changes({}, [change])


# -- import -----------------------------------------------------------------------

TREE = {"etc/": None, "etc/motd": b"hello\n", "bin/": None, "bin/tool": b"#!/bin/sh\n"}


@pytest.mark.parametrize("compress", [lambda b: b, gzip.compress, lzma.compress])
async def test_import_any_compression(empty_engine, tmp_path, compress):
    raw = make_tar(TREE)
    path = tmp_path / "rootfs.tar.x"
    path.write_bytes(compress(raw))
    image = await empty_engine.images.import_(str(path), "mine:v1", changes=["CMD sh"])
    assert image.layers == ("sha256:" + hashlib.sha256(raw).hexdigest(),)
    assert image.tags == ("mine:v1",)
    assert image.config["config"]["Cmd"] == ["/bin/sh", "-c", "sh"]
    [diff] = empty_engine.images.layer_paths(image)
    assert (diff / "etc" / "motd").read_bytes() == b"hello\n"


async def test_image_id_is_the_hash_of_the_stored_config(empty_engine, tmp_path):
    path = tmp_path / "a.tar"
    path.write_bytes(make_tar(TREE))
    image = await empty_engine.images.import_(str(path))
    [row] = empty_engine.db.query("SELECT config FROM images")
    assert image.id == "sha256:" + hashlib.sha256(row["config"]).hexdigest()
    assert json.loads(row["config"])["rootfs"]["diff_ids"] == list(image.layers)


def test_import_from_a_pipe(empty_engine, tmp_path):
    path = tmp_path / "a.tar.gz"
    path.write_bytes(gzip.compress(make_tar(TREE)))
    paths = empty_engine.paths
    with open(path, "rb") as source:  # stdin is a pipe here: it cannot seek
        result = subprocess.run(
            [BERTH, "--root", str(paths.root), "--runroot", str(paths.runroot), "import", "-",
             "piped"],
            stdin=source, capture_output=True, text=True, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sha256:")


async def test_same_layer_is_stored_once(empty_engine, tmp_path):
    path = tmp_path / "a.tar"
    path.write_bytes(make_tar(TREE))
    first = await empty_engine.images.import_(str(path), "one")
    second = await empty_engine.images.import_(str(path), "two", changes=["CMD x"])
    assert first.id != second.id and first.layers == second.layers
    assert len(list(empty_engine.paths.layers.iterdir())) == 1


async def test_concurrent_imports_of_one_layer(empty_engine, tmp_path):
    path = tmp_path / "a.tar"
    path.write_bytes(make_tar(TREE))
    errors = []

    def run(name: str) -> None:
        try:
            empty_engine.images._import(str(path), str(path), name, {}, "test")
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(f"t{i}:latest",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(empty_engine.db.query("SELECT id FROM layers")) == 1
    assert len(list(empty_engine.paths.layers.iterdir())) == 1
    assert not list(empty_engine.paths.tmp.iterdir())


async def test_whiteouts_become_overlay_format(empty_engine, tmp_path):
    path = tmp_path / "w.tar"
    path.write_bytes(make_tar({"etc/": None, "etc/.wh.gone": b"", "opaque/": None,
                               "opaque/.wh..wh..opq": b"", "opaque/kept": b"k"}))  # fmt: skip
    image = await empty_engine.images.import_(str(path))
    [diff] = empty_engine.images.layer_paths(image)
    gone = os.lstat(diff / "etc" / "gone")
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0
    assert os.getxattr(diff / "opaque", "trusted.overlay.opaque") == b"y"
    assert not (diff / "etc" / ".wh.gone").exists()


async def test_import_errors(empty_engine, tmp_path):
    with pytest.raises(NotFoundError, match=r'no such file: ".*missing\.tar"'):
        await empty_engine.images.import_(str(tmp_path / "missing.tar"))
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tar archive" * 100)
    with pytest.raises(InvalidArgumentError, match="not a valid tar"):
        await empty_engine.images.import_(str(junk))
    assert not list(empty_engine.paths.tmp.iterdir())
    assert empty_engine.db.query("SELECT * FROM images") == []


def _evil(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize(
    "entries",
    [
        [_evil("../../escaped")],
        [_evil("a/../../escaped")],
        [_evil("link", tarfile.SYMTYPE, "/tmp"), _evil("link/escaped")],
        [_evil("hard", tarfile.LNKTYPE, "../../../etc/passwd")],
    ],
    ids=["dotdot", "nested-dotdot", "through-symlink", "hardlink-out"],
)
async def test_extraction_never_leaves_the_layer(empty_engine, tmp_path, entries):
    path = tmp_path / "evil.tar"
    path.write_bytes(make_tar({}, extra=entries))
    with pytest.raises(InvalidArgumentError):
        await empty_engine.images.import_(str(path))
    assert not Path("/tmp/escaped").exists()
    assert not (tmp_path / "escaped").exists()
    assert not list(empty_engine.paths.tmp.iterdir())


async def test_absolute_names_stay_inside(empty_engine, tmp_path):
    path = tmp_path / "abs.tar"
    path.write_bytes(make_tar({"/etc/": None, "/etc/absolute": b"x"}))
    image = await empty_engine.images.import_(str(path))
    [diff] = empty_engine.images.layer_paths(image)
    assert (diff / "etc" / "absolute").read_bytes() == b"x"


# -- names, listing, removal ------------------------------------------------------


async def test_resolve_by_tag_id_and_prefix(engine):
    [summary] = await engine.images.list()
    full = summary.id
    for ref in ("busybox", "busybox:latest", full, full.removeprefix("sha256:"), full[7:12]):
        assert (await engine.images.resolve(ref)).id == full
    with pytest.raises(NotFoundError, match='no such image: "nope"'):
        await engine.images.resolve("nope")


async def test_ambiguous_prefix(empty_engine, tmp_path):
    ids = []
    for number in range(20):
        path = tmp_path / f"{number}.tar"
        path.write_bytes(make_tar({f"f{number}": b"x"}))
        ids.append((await empty_engine.images.import_(str(path))).id[7:])
    shared = next(i[0] for i in ids if sum(j[0] == i[0] for j in ids) > 1)
    with pytest.raises(AmbiguousError):
        await empty_engine.images.resolve(shared)


async def test_rmi_untags_then_deletes(engine):
    await engine.images.tag("busybox", "other:1")
    assert await engine.images.remove("other:1") == ["Untagged: other:1"]
    image = await engine.images.resolve("busybox")
    lines = await engine.images.remove("busybox")
    assert lines == [
        "Untagged: busybox:latest",
        f"Deleted: {image.id}",
        f"Deleted: {image.layers[0]}",
    ]
    assert not list(engine.paths.layers.iterdir())
    assert not list(engine.paths.links.iterdir())


async def test_rmi_by_id_with_several_names_needs_force(engine):
    await engine.images.tag("busybox", "other:1")
    image = await engine.images.resolve("busybox")
    with pytest.raises(ConflictError, match="referenced by 2 names"):
        await engine.images.remove(image.id)
    assert len(await engine.images.remove(image.id, force=True)) == 4


async def test_rmi_refuses_an_image_in_use(engine, berth):
    assert berth("create", "--name", "user", "busybox", "true").returncode == 0
    result = berth("rmi", "busybox")
    assert result.returncode == 1
    assert "container" in result.stderr and "(user) uses it" in result.stderr
    forced = berth("rmi", "-f", "busybox")
    assert forced.stdout == "Untagged: busybox:latest\n"
    images = berth("images").stdout.splitlines()
    assert images[1].split()[:2] == ["<none>", "<none>"]  # dangling, kept for its container
    assert berth("start", "-a", "user").returncode == 0  # the container still runs


async def test_images_output(berth):
    lines = berth("images").stdout.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[1].split()[:2] == ["busybox", "latest"]
    assert berth("images", "-q").stdout.strip() == lines[1].split()[2]
    assert berth("images", "--format", "{{.Repository}}:{{.Tag}}").stdout == "busybox:latest\n"
    [details] = json.loads(berth("inspect", "busybox").stdout)
    assert details["RepoTags"] == ["busybox:latest"]
    assert details["Config"]["Cmd"] == ["sh"]
    assert details["RootFS"]["Type"] == "layers"


# -- the starter image -------------------------------------------------------------


async def test_starter_is_reproducible_and_complete(engine, engine_paths):
    first = await engine.images.resolve("busybox")
    again = await engine.images.create_starter()
    assert again.id == first.id
    [diff] = engine.images.layer_paths(first)
    assert os.readlink(diff / "bin" / "sh") == "/bin/busybox"
    assert "root:x:0:0" in (diff / "etc" / "passwd").read_text()
    assert stat.S_IMODE((diff / "tmp").stat().st_mode) == 0o1777


async def test_starter_needs_a_static_busybox(empty_engine, tmp_path):
    with pytest.raises(NotFoundError, match="busybox-static"):
        await empty_engine.images.create_starter(busybox=tmp_path / "missing")
    from engine.errors import UnsupportedError

    with pytest.raises(UnsupportedError, match="busybox-static"):
        await empty_engine.images.create_starter(busybox=Path("/bin/ls"))
