"""The json-file log writer: Docker's line format, 16 KiB splitting, rotation."""

from __future__ import annotations

import json
import re

from engine.monitor.logfile import MAX_LINE, JsonLogWriter


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
