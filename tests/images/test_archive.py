"""docker save and docker load, against archives skopeo writes and reads.

The images are written in plain Python (tests/oci_images.py) and turned into archives
by skopeo (docker-archive, oci-archive), a tool berth did not write; berth's own
archives are read back by skopeo and checked against the OCI image-spec's JSON schemas.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from engine.errors import IntegrityError, InvalidArgumentError, NotFoundError
from engine.images.progress import Progress
from tests.image_spec import validate
from tests.oci_images import busybox_rootfs_layer, file_layer, skopeo, write_oci_layout

BUSYBOX = busybox_rootfs_layer()
V1 = file_layer({"app/version": b"one\n"})
V2 = file_layer({"app/version": b"two\n"})

pytestmark = pytest.mark.skipif(shutil.which("skopeo") is None, reason="needs skopeo")


def _diff_id(layer: bytes) -> str:
    return "sha256:" + hashlib.sha256(layer).hexdigest()


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OCI layout with app:v1 and app:v2, which share their busybox base layer."""
    directory = tmp_path_factory.mktemp("layout")
    write_oci_layout(directory, [BUSYBOX, V1], tag="v1")
    write_oci_layout(directory, [BUSYBOX, V2], tag="v2")
    return directory


def _archive(layout: Path, path: Path, transport: str, tag: str = "v1", *flags: str) -> Path:
    skopeo("copy", *flags, f"oci:{layout}:{tag}", f"{transport}:{path}:app:{tag}")
    return path


async def _load(images, source) -> tuple[list[str], list[Progress]]:
    operation = images.load(source)
    events = [event async for event in operation]
    return await operation.result(), events


def _version(images, image) -> bytes:
    return (images.layer_paths(image)[-1] / "app" / "version").read_bytes()


# -- load: archives other tools made ------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
async def test_skopeo_docker_archive_loads(images, layout, tmp_path, compress):
    archive = _archive(layout, tmp_path / "app.tar", "docker-archive")
    if compress:
        archive.write_bytes(gzip.compress(archive.read_bytes(), compresslevel=1))
    names, events = await _load(images, archive)
    assert names == ["app:v1"]
    image = await images.resolve("app:v1")
    assert image.layers == (_diff_id(BUSYBOX), _diff_id(V1))
    assert _version(images, image) == b"one\n"
    loading = [event for event in events if event.status == "Loading layer"]
    assert loading and loading[-1].current == loading[-1].total > 0


@pytest.mark.parametrize("compression", ["gzip", "zstd", "plain-archive-gzip"])
async def test_skopeo_oci_archive_loads(images, layout, tmp_path, compression):
    flags = [f"--dest-compress-format={compression}"] if compression == "zstd" else []
    archive = _archive(layout, tmp_path / "app.tar", "oci-archive", "v1", *flags)
    if compression == "plain-archive-gzip":  # the whole archive gzip'd, its layers too
        archive.write_bytes(gzip.compress(archive.read_bytes(), compresslevel=1))
    names, _ = await _load(images, archive)
    assert names == ["app:v1"]
    image = await images.resolve("app:v1")
    assert image.layers == (_diff_id(BUSYBOX), _diff_id(V1))
    assert _version(images, image) == b"one\n"


async def test_old_docker_layout_loads(images, layout, tmp_path):
    """Docker before 25 named layers <v1 id>/layer.tar (skopeo's archive has them as links)."""
    archive = _archive(layout, tmp_path / "app.tar", "docker-archive")
    old = tmp_path / "old.tar"
    with tarfile.open(archive) as source, tarfile.open(old, "w") as target:
        links = {m.linkname.removeprefix("../"): m.name for m in source if m.issym()}
        for member in source:
            if member.name == "manifest.json":
                [item] = json.load(source.extractfile(member))  # type: ignore[arg-type]
                item["Layers"] = [links[path] for path in item["Layers"]]
                data = json.dumps([item]).encode()
                member.size = len(data)
                target.addfile(member, io.BytesIO(data))
            else:
                target.addfile(member, source.extractfile(member) if member.isfile() else None)
    names, _ = await _load(images, old)
    assert names == ["app:v1"]
    assert _version(images, await images.resolve("app:v1")) == b"one\n"


async def test_load_from_a_pipe(images, layout, tmp_path):
    archive = _archive(layout, tmp_path / "app.tar", "docker-archive")
    with subprocess.Popen(["gzip", "-c", str(archive)], stdout=subprocess.PIPE) as gzip_cat:
        names, _ = await _load(images, gzip_cat.stdout)
    assert names == ["app:v1"]
    assert list((images._paths.tmp).iterdir()) == []  # the spool had no name


async def test_a_layer_already_stored_is_not_extracted_again(images, layout, tmp_path):
    await _load(images, _archive(layout, tmp_path / "v1.tar", "docker-archive"))
    _, events = await _load(images, _archive(layout, tmp_path / "v2.tar", "docker-archive", "v2"))
    loaded = {event.id for event in events if event.status == "Loading layer"}
    assert loaded == {_diff_id(V2)[7:19]}  # the shared busybox layer was skipped
    assert _version(images, await images.resolve("app:v2")) == b"two\n"


# -- save: what skopeo and the OCI schemas accept -----------------------------------------


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


async def test_save_is_an_oci_layout_and_a_docker_archive(images, layout, tmp_path):
    for tag in ("v1", "v2"):
        await _load(images, _archive(layout, tmp_path / f"{tag}.tar", "docker-archive", tag))
    v1, v2 = await images.resolve("app:v1"), await images.resolve("app:v2")
    saved = tmp_path / "saved.tar"
    await images.save(["app:v1", "app:v2"], saved)
    files = _members(saved)
    layers = {_diff_id(BUSYBOX), _diff_id(V1), _diff_id(V2)}
    blobs = [name for name in files if name.startswith("blobs/")]
    assert len(blobs) == len(set(blobs)) == 3 + 2 + 2  # the shared layer once; configs, manifests
    for name, data in files.items():  # every blob named by its digest
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]

    validate(json.loads(files["oci-layout"]), "layout")
    index = json.loads(files["index.json"])
    validate(index, "index")
    assert [m["annotations"] for m in index["manifests"]] == [
        {"io.containerd.image.name": f"docker.io/library/app:{tag}",
         "org.opencontainers.image.ref.name": tag} for tag in ("v1", "v2")
    ]  # fmt: skip
    for entry, image in zip(index["manifests"], (v1, v2), strict=True):
        manifest = json.loads(files["blobs/sha256/" + entry["digest"][7:]])
        validate(manifest, "manifest")
        assert manifest["config"]["digest"] == image.id
        assert [layer["digest"] for layer in manifest["layers"]] == list(image.layers)
        validate(json.loads(files["blobs/sha256/" + image.id[7:]]), "config")
    assert {layer for image in (v1, v2) for layer in image.layers} == layers

    docker = json.loads(files["manifest.json"])
    assert [item["RepoTags"] for item in docker] == [["app:v1"], ["app:v2"]]
    assert docker[0]["Layers"] == ["blobs/sha256/" + layer[7:] for layer in v1.layers]
    tops = {"v1": v1.layers[-1][7:], "v2": v2.layers[-1][7:]}
    assert json.loads(files["repositories"]) == {"app": tops}  # Docker's: the top diffID

    inspected = json.loads(skopeo("inspect", f"docker-archive:{saved}:app:v2"))
    assert inspected["Layers"] == list(v2.layers)
    skopeo("copy", f"docker-archive:{saved}:app:v1", f"oci:{tmp_path / 'out'}:v1")
    skopeo("copy", f"oci-archive:{saved}:v2", f"oci:{tmp_path / 'out'}:v2")


async def test_save_rmi_load_gives_the_same_image(images, layout, tmp_path):
    await _load(images, _archive(layout, tmp_path / "v1.tar", "docker-archive"))
    await images.tag("app:v1", "other/app:latest")
    before = await images.resolve("app:v1")
    saved = tmp_path / "saved.tar"
    await images.save(["app:v1", "other/app"], saved)
    await images.remove(before.id, force=True)
    names, _ = await _load(images, saved)
    assert names == ["app:v1", "other/app:latest"]
    after = await images.resolve("other/app")
    assert (after.id, after.tags, after.layers) == (before.id, before.tags, before.layers)


async def test_an_image_saved_by_id_loads_untagged(images, layout, tmp_path):
    await _load(images, _archive(layout, tmp_path / "v1.tar", "docker-archive"))
    image = await images.resolve("app:v1")
    saved = tmp_path / "saved.tar"
    await images.save([image.id[7:19]], saved)
    assert json.loads(_members(saved)["manifest.json"])[0]["RepoTags"] is None
    await images.remove("app:v1")
    names, _ = await _load(images, saved)
    assert names == [image.id]


async def test_save_to_a_stream(images, tmp_path):
    await images.create_starter()
    out = io.BytesIO()
    await images.save(["busybox"], out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        assert json.load(tar.extractfile("manifest.json"))[0]["RepoTags"] == ["busybox:latest"]  # type: ignore[arg-type]


# -- bad input ----------------------------------------------------------------------------


async def test_save_of_a_missing_image_leaves_no_file(images, tmp_path):
    await images.create_starter()
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(NotFoundError, match='no such image: "nope" \\(see berth images\\)'):
        await images.save(["busybox", "nope"], out / "saved.tar")
    assert list(out.iterdir()) == []


async def test_a_save_failing_midway_leaves_no_file(images, layout, tmp_path):
    await _load(images, _archive(layout, tmp_path / "v1.tar", "docker-archive"))
    image = await images.resolve("app:v1")
    (images.layer_paths(image)[-1] / "app" / "version").write_bytes(b"six\n")  # same size
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(IntegrityError, match="its files changed"):
        await images.save(["app:v1"], out / "saved.tar")
    assert list(out.iterdir()) == []


async def test_junk_is_not_an_image_archive(images, tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tar\n" * 100)
    with pytest.raises(InvalidArgumentError, match="is not an image archive"):
        await _load(images, junk)
    plain = tmp_path / "plain.tar"  # a tar, but of neither format
    plain.write_bytes(file_layer({"etc/motd": b"hi\n"}))
    with pytest.raises(InvalidArgumentError, match=f'"{plain}" is not an image archive'):
        await _load(images, plain)


def _assert_nothing_loaded(images) -> None:
    assert images.db.query("SELECT id FROM images") == []
    assert images.db.query("SELECT id FROM layers") == []
    assert list(images._paths.tmp.iterdir()) == []
    assert list(images._paths.layers.iterdir()) == []


async def test_a_truncated_archive_loads_nothing(images, layout, tmp_path):
    archive = _archive(layout, tmp_path / "app.tar", "docker-archive")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) * 3 // 4])
    with pytest.raises((InvalidArgumentError, IntegrityError)):
        await _load(images, archive)
    _assert_nothing_loaded(images)


async def test_an_altered_layer_loads_nothing(images, layout, tmp_path):
    archive = _archive(layout, tmp_path / "app.tar", "docker-archive")
    data = bytearray(archive.read_bytes())
    at = data.index(b"one\n")  # the file in the top layer's tar
    data[at : at + 3] = b"bad"
    archive.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="refused, nothing loaded"):
        await _load(images, archive)
    _assert_nothing_loaded(images)


async def test_an_altered_oci_blob_loads_nothing(images, layout, tmp_path):
    archive = _archive(
        layout, tmp_path / "app.tar", "oci-archive", "v1", "--dest-compress-format=zstd"
    )
    raw = archive.read_bytes()
    with tarfile.open(archive) as tar:
        biggest = max(tar.getmembers(), key=lambda member: member.size)
    middle = biggest.offset_data + biggest.size // 2
    archive.write_bytes(raw[:middle] + bytes([raw[middle] ^ 0xFF]) + raw[middle + 1 :])
    with pytest.raises((IntegrityError, InvalidArgumentError)):
        await _load(images, archive)
    _assert_nothing_loaded(images)


# -- podman: a real engine's own save and load --------------------------------------------

PODMAN_CONF = """[engine]
runtime = "runc"
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
"""


@pytest.fixture
def podman(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``podman`` with a store of its own under the test's directory (vfs: no mounts)."""
    if shutil.which("podman") is None:
        pytest.skip("needs podman (Debian package podman)")
    conf = tmp_path / "containers.conf"
    conf.write_text(PODMAN_CONF)  # podman here runs only with runc and these ulimits
    monkeypatch.setenv("CONTAINERS_CONF", str(conf))
    runroot = tempfile.mkdtemp(prefix="podman-")  # podman wants it under 50 characters
    base = ["podman", "--root", str(tmp_path / "podman-root"), "--runroot", runroot,
            "--storage-driver", "vfs"]  # fmt: skip

    def run(*args: str) -> str:
        done = subprocess.run([*base, *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    yield run
    shutil.rmtree(runroot, ignore_errors=True)


@pytest.mark.parametrize("format_", ["docker-archive", "oci-archive"])
async def test_podman_save_loads(images, layout, tmp_path, podman, format_):
    podman("pull", "-q", f"oci:{layout}:v2")
    podman("tag", podman("images", "-q").split()[0], "localhost/app:v2")
    archive = tmp_path / "podman.tar"
    podman("save", "--format", format_, "-o", str(archive), "localhost/app:v2")
    loaded, _ = await _load(images, archive)
    image = await images.resolve(loaded[0])
    assert list(image.layers) == [_diff_id(BUSYBOX), _diff_id(V2)]
    assert _version(images, image) == b"two\n"


async def test_what_berth_saves_podman_loads(images, layout, tmp_path, podman):
    await _load(images, _archive(layout, tmp_path / "v1.tar", "docker-archive"))
    saved = tmp_path / "saved.tar"
    await images.save(["app:v1"], saved)
    podman("load", "-q", "-i", str(saved))
    [inspected] = json.loads(podman("image", "inspect", "app:v1"))
    assert inspected["RootFS"]["Layers"] == [_diff_id(BUSYBOX), _diff_id(V1)]
    assert inspected["Id"] == (await images.resolve("app:v1")).id.removeprefix("sha256:")
