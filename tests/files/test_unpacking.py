"""Docker's cp rules and the unpacker's refusals, on host directories (no container).

Each stream is what the cp helper sends: the source first, under its base name or ".".
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from engine.errors import InvalidArgumentError, NotFoundError
from engine.files import packing, unpacking

OWN = (os.getuid(), os.getgid())


def tree_tar(path: Path, name: str) -> io.BytesIO:
    out = io.BytesIO()
    packing.write_tree(out, str(path), name)
    out.seek(0)
    return out


def crafted(*members: tuple[str, str, bytes | str]) -> io.BytesIO:
    """A tar of (name, type, data|link target) members: "file", "dir", "symlink", "link"."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            info.mode = 0o755 if kind == "dir" else 0o644
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "file":
                assert isinstance(data, bytes)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = str(data)
                tar.addfile(info)
    out.seek(0)
    return out


def place(stream: io.BytesIO, destination: Path | str, *, follow: bool = False) -> None:
    unpacking.place(stream, str(destination), owner=OWN, follow_links=follow,
                    shown=str(destination))  # fmt: skip


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """src/ holding a file, a subdirectory with a file, a relative symlink, a hard link."""
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "top.txt").write_text("top")
    (src / "sub" / "deep.txt").write_text("deep")
    (src / "sub" / "deep.txt").chmod(0o600)
    os.symlink("top.txt", src / "link")
    os.link(src / "top.txt", src / "hard")
    return src


def listing(root: Path) -> dict[str, str]:
    found = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            found[relative] = "-> " + os.readlink(path)
        elif path.is_dir():
            found[relative] = "dir"
        else:
            found[relative] = f"{path.read_text()} {oct(path.stat().st_mode & 0o777)}"
    return found


def test_a_file_to_a_missing_name_is_written_as_that_name(source: Path, tmp_path: Path) -> None:
    place(tree_tar(source / "top.txt", "top.txt"), tmp_path / "new.txt")
    assert (tmp_path / "new.txt").read_text() == "top"


def test_a_file_into_an_existing_directory_keeps_its_name(source: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    place(tree_tar(source / "top.txt", "top.txt"), f"{tmp_path}/out/")
    assert (tmp_path / "out" / "top.txt").read_text() == "top"


def test_a_file_over_an_existing_file_replaces_it(source: Path, tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("old contents, longer")
    place(tree_tar(source / "top.txt", "top.txt"), tmp_path / "old.txt")
    assert (tmp_path / "old.txt").read_text() == "top"


def test_a_file_to_a_missing_directory_is_refused(source: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="destination directory must exist"):
        place(tree_tar(source / "top.txt", "top.txt"), f"{tmp_path}/nodir/")
    assert not (tmp_path / "nodir").exists()


def test_the_destination_parent_must_exist(source: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="parent directory must exist"):
        place(tree_tar(source, "src"), tmp_path / "no" / "where")
    assert not (tmp_path / "no").exists()


def test_a_directory_to_a_missing_name_is_created_with_its_contents(
    source: Path, tmp_path: Path
) -> None:
    place(tree_tar(source, "src"), tmp_path / "copy")
    assert listing(tmp_path / "copy") == listing(source)
    hard, top = (tmp_path / "copy" / "hard").stat(), (tmp_path / "copy" / "top.txt").stat()
    assert hard.st_ino == top.st_ino  # the hard link stays one


def test_a_directory_into_an_existing_directory_goes_under_its_name(
    source: Path, tmp_path: Path
) -> None:
    (tmp_path / "out").mkdir()
    place(tree_tar(source, "src"), tmp_path / "out")
    assert listing(tmp_path / "out" / "src") == listing(source)


def test_dir_dot_copies_the_contents_into_an_existing_directory(
    source: Path, tmp_path: Path
) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "kept").write_text("kept")
    place(tree_tar(source, "."), tmp_path / "out")
    assert listing(tmp_path / "out") == {**listing(source), "kept": "kept 0o644"}


def test_a_directory_to_a_file_is_refused(source: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidArgumentError, match="cannot copy a directory to a file"):
        place(tree_tar(source, "src"), tmp_path / "file")
    assert (tmp_path / "file").read_text() == "x"


def test_absolute_and_climbing_names_are_refused(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    for stream in (crafted(("/etc", "dir", b"")),
                   crafted(("d", "dir", b""), ("d/../../escaped", "file", b"x"))):  # fmt: skip
        with pytest.raises(InvalidArgumentError):
            place(stream, tmp_path / "out")
    with pytest.raises(InvalidArgumentError, match="climbs out"):
        unpacking.extract(crafted(("../escaped", "file", b"x")), str(tmp_path / "out"),
                          owner=OWN, follow_links=False, shown="out")  # fmt: skip
    assert not (tmp_path / "escaped").exists()


def test_nothing_is_written_through_a_link_the_archive_made(tmp_path: Path) -> None:
    """The container's tar makes "d/evil" a link to the host, then writes "d/evil/x"."""
    victim = tmp_path / "victim"
    victim.mkdir()
    stream = crafted(("d", "dir", b""), ("d/evil", "symlink", str(victim)),
                     ("d/evil/x", "file", b"owned"))  # fmt: skip
    with pytest.raises(InvalidArgumentError, match="symlink"):
        place(stream, tmp_path / "out")
    assert list(victim.iterdir()) == []
    assert os.readlink(tmp_path / "out" / "evil") == str(victim)  # the link itself is data


def test_a_hard_link_to_outside_the_copy_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s")
    stream = crafted(("d", "dir", b""), ("d/l", "link", "../secret"))
    with pytest.raises(InvalidArgumentError):
        place(stream, tmp_path / "out")


def test_an_entry_replaces_a_link_rather_than_writing_through_it(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "target").write_text("untouched")
    os.symlink(tmp_path / "target", tmp_path / "out" / "f")
    unpacking.extract(crafted(("f", "file", b"new")), str(tmp_path / "out"), owner=OWN,
                      follow_links=False, shown="out")  # fmt: skip
    assert (tmp_path / "target").read_text() == "untouched"
    assert (tmp_path / "out" / "f").read_text() == "new"


def test_extract_needs_an_existing_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match='destination "nope" must be a directory'):
        unpacking.extract(crafted(("f", "file", b"x")), str(tmp_path / "nope"), owner=OWN,
                          follow_links=False, shown="nope")  # fmt: skip


def test_an_entry_below_a_file_is_refused_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(InvalidArgumentError, match=f'"{tmp_path}/out/d/f" is not a directory'):
        place(crafted(("d", "dir", b""), ("d/f", "file", b"x"), ("d/f/x", "file", b"y")),
              tmp_path / "out")  # fmt: skip
