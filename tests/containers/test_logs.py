"""Reading json-file logs: windows, tail, rotation, and following."""

from __future__ import annotations

import asyncio

import pytest

from engine.containers.logs import follow_logs, parse_time_filter, read_logs
from engine.errors import InvalidArgumentError
from engine.monitor.logfile import JsonLogWriter


def test_time_filters():
    assert parse_time_filter("1700000000") == 1700000000
    assert parse_time_filter("10m", now=1000.0) == 400.0
    assert parse_time_filter("1h30m", now=10000.0) == 4600.0
    assert parse_time_filter("2026-11-23T05:30:00Z") == 1795411800.0
    with pytest.raises(InvalidArgumentError, match="invalid time"):
        parse_time_filter("yesterday")


def test_read_across_rotation_with_tail(tmp_path):
    log = tmp_path / "ctr.log"
    writer = JsonLogWriter(log, max_size=600, max_files=5)
    for number in range(30):
        writer.write("stderr" if number % 2 else "stdout", f"{number}\n".encode())
    writer.close()
    assert [e.text for e in read_logs(log)] == [f"{n}\n" for n in range(30)]
    assert [(e.stream, e.text) for e in read_logs(log, tail=2)] == [
        ("stdout", "28\n"), ("stderr", "29\n")
    ]  # fmt: skip


def test_since_and_until(tmp_path):
    log = tmp_path / "ctr.log"
    writer = JsonLogWriter(log)
    writer.write("stdout", b"old\n")
    entries = read_logs(log)
    writer.write("stdout", b"new\n")
    writer.close()
    first = entries[0].timestamp
    assert [e.text for e in read_logs(log, since=first + 1e-6)] == ["new\n"]
    assert [e.text for e in read_logs(log, until=first + 1e-6)] == ["old\n"]


async def test_follow_sees_new_lines_and_ends_with_the_container(tmp_path):
    log = tmp_path / "ctr.log"
    writer = JsonLogWriter(log, max_size=1000, max_files=2)
    writer.write("stdout", b"before\n")
    running = True

    async def is_running() -> bool:
        return running

    async def produce() -> None:
        nonlocal running
        await asyncio.sleep(0.2)
        for number in range(20):  # enough to rotate several times
            writer.write("stdout", f"after {number}\n".encode())
            await asyncio.sleep(0.02)
        running = False

    producer = asyncio.create_task(produce())
    seen = [entry.text async for entry in follow_logs(log, is_running, tail=1)]
    await producer
    writer.close()
    assert seen == ["before\n"] + [f"after {n}\n" for n in range(20)]


async def test_follow_reads_what_was_written_just_before_the_stop(tmp_path):
    """The monitor writes its last lines and exits between the follower's empty read and
    its asking whether the container still runs: those lines still arrive."""
    log = tmp_path / "ctr.log"
    writer = JsonLogWriter(log, max_size=1 << 20, max_files=1)
    writer.write("stdout", b"first\n")

    async def is_running() -> bool:
        writer.write("stdout", b"last\n")  # written, then the monitor is gone
        writer.close()
        return False

    assert [entry.text async for entry in follow_logs(log, is_running)] == ["first\n", "last\n"]
