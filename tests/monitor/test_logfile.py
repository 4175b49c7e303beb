"""The json-file log writer: Docker's line format, 16 KiB splitting, rotation."""

from __future__ import annotations

import json
import re

import pytest

from engine.monitor import logfile
from engine.monitor.logfile import MAX_LINE, JsonLogWriter
from tests.small_fs import fill, small_tmpfs


def entries(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_lines_become_entries_with_stream_and_time(tmp_path):
    log = tmp_path / "ctr.log"
    writer = JsonLogWriter(log)
    writer.write("stdout", b"one\ntw")
    writer.write("stderr", b"oops\n")
    writer.write("stdout", b"o\n")
    writer.close()
    got = entries(log)
    assert [(e["stream"], e["log"]) for e in got] == [
        ("stdout", "one\n"), ("stderr", "oops\n"), ("stdout", "two\n")
    ]  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", got[0]["time"])


def test_unterminated_output_is_kept_at_close(tmp_path):
    log = tmp_path / "ctr.log"
    writer = JsonLogWriter(log)
    writer.write("stdout", b"no newline")
    writer.close()
    assert [e["log"] for e in entries(log)] == ["no newline"]


def test_long_lines_split_at_16k(tmp_path):
    log = tmp_path / "ctr.log"
    writer = JsonLogWriter(log)
    writer.write("stdout", b"x" * (MAX_LINE * 2 + 10) + b"\n")
    writer.close()
    assert [len(e["log"]) for e in entries(log)] == [MAX_LINE, MAX_LINE, 11]


def test_rotation_keeps_max_files(tmp_path):
    log = tmp_path / "ctr.log"
    writer = JsonLogWriter(log, max_size=1000, max_files=3)
    for number in range(100):
        writer.write("stdout", f"line {number:03d}\n".encode())
    writer.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["ctr.log", "ctr.log.1", "ctr.log.2"]
    assert all(p.stat().st_size <= 1000 for p in tmp_path.iterdir())
    assert entries(log)[-1]["log"] == "line 099\n"
    oldest = entries(tmp_path / "ctr.log.2")[0]["log"]
    newest_of_1 = entries(tmp_path / "ctr.log.1")[-1]["log"]
    assert int(oldest.split()[1]) < int(newest_of_1.split()[1]) < 99


def test_single_file_rotation_starts_over(tmp_path):
    log = tmp_path / "ctr.log"
    writer = JsonLogWriter(log, max_size=500, max_files=1)
    for number in range(50):
        writer.write("stdout", f"line {number}\n".encode())
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["ctr.log"]
    assert entries(log)[-1]["log"] == "line 49\n"


# -- a full disk: the container goes on, its output is dropped meanwhile ----------------


@pytest.fixture
def small_fs(tmp_path):
    with small_tmpfs(tmp_path / "fs", "size=64k") as directory:
        yield directory


@pytest.fixture
def clock(monkeypatch):
    """The writer's monotonic clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(logfile.time, "monotonic", lambda: now[0])
    return now


def test_a_full_disk_drops_output_until_space_returns(small_fs, clock, capsys):
    log = small_fs / "ctr.log"
    writer = JsonLogWriter(log)
    writer.write("stdout", b"before\n")
    ballast = fill(small_fs)
    for number in range(100):  # the first fill the file's last page, the rest are lost
        writer.write("stdout", f"lost {number:02d}\n".encode())
    assert "cannot write the log (No space left on device)" in capsys.readouterr().err
    ballast.unlink()
    late = b"lost too: a failed write is tried again a second later\n"
    writer.write("stdout", late)
    clock[0] += logfile.RETRY_SECONDS
    writer.write("stderr", b"after\n")
    writer.close()
    got = [e["log"] for e in entries(log)]
    kept = len(got) - 2
    assert got == ["before\n", *(f"lost {n:02d}\n" for n in range(kept)), "after\n"]
    assert 0 < kept < 100
    dropped = (100 - kept) * len(b"lost 00\n") + len(late)
    assert (
        f"writing again after 1 s; {101 - kept} lines ({dropped} bytes) of output were dropped"
        in (capsys.readouterr().err)
    )


def test_a_record_cut_short_by_a_full_disk_is_not_left_torn(small_fs, clock):
    log = small_fs / "ctr.log"
    writer = JsonLogWriter(log)
    writer.write("stdout", b"whole\n")
    ballast = fill(small_fs, leave=6000)
    writer.write("stdout", b"y" * 12000 + b"\n")  # more than fits: written in part, then not
    assert log.read_bytes().endswith(b"\n")
    assert [e["log"] for e in entries(log)] == ["whole\n"]
    ballast.unlink()
    clock[0] += logfile.RETRY_SECONDS
    writer.write("stdout", b"next\n")
    writer.close()
    assert [e["log"] for e in entries(log)] == ["whole\n", "next\n"]


def test_rotation_on_a_full_disk_neither_raises_nor_tears(small_fs, clock):
    log = small_fs / "ctr.log"
    writer = JsonLogWriter(log, max_size=2000, max_files=3)
    ballast = fill(small_fs, leave=4096)
    for number in range(300):
        writer.write("stdout", f"line {number:03d}\n".encode())
        clock[0] += 0.1
    ballast.unlink()
    clock[0] += logfile.RETRY_SECONDS
    writer.write("stdout", b"last\n")
    writer.close()
    assert entries(log)[-1]["log"] == "last\n"
    for path in small_fs.glob("ctr.log*"):
        assert path.stat().st_size <= 2000
        entries(path)  # every line whole JSON


def test_a_log_that_cannot_be_created_is_dropped_then_written(small_fs, clock):
    ballast = fill(small_fs)
    with small_tmpfs(small_fs / "noinodes", "size=64k,nr_inodes=1"):
        log = small_fs / "noinodes" / "ctr.log"  # the mount's root took the one inode
        writer = JsonLogWriter(log)
        writer.write("stdout", b"lost\n")
        assert not log.exists()
        writer.close()
    ballast.unlink()


def test_a_log_torn_by_a_crash_gets_its_line_ended(tmp_path):
    log = tmp_path / "ctr.log"
    log.write_bytes(b'{"log":"whole\\n","stream":"stdout","time":"x"}\n{"log":"tor')
    writer = JsonLogWriter(log)
    writer.write("stdout", b"next\n")
    writer.close()
    lines = log.read_bytes().splitlines()
    assert lines[1] == b'{"log":"tor'
    assert json.loads(lines[2])["log"] == "next\n"


def test_a_log_that_could_never_be_written_is_an_error_at_once(tmp_path):
    with pytest.raises(FileNotFoundError):
        JsonLogWriter(tmp_path / "missing" / "ctr.log")
